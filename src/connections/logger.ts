/**
 * The logger interface routeguard writes to: pino's (a pino logger can be passed
 * as it is). Quiet by default: without a logger nothing is written anywhere.
 */

import { InvalidArgumentError } from '../errors';

/** `log(obj, msg?)` or `log(msg)`, as pino does. */
export type LogFn = (objOrMsg: object | string, msg?: string, ...args: unknown[]) => void;

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const nothing: LogFn = () => undefined;

/** Writes nothing: the default. */
export const silentLogger: Logger = {
  trace: nothing,
  debug: nothing,
  info: nothing,
  warn: nothing,
  error: nothing,
  fatal: nothing,
  child: () => silentLogger,
};

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'child'] as const;

/**
 * A child of `logger` (or of the silent logger) bound to a component name. A logger
 * without pino's methods is refused here, when it is given: at the first verdict or
 * bad connection it would throw inside the code that must not.
 */
export function componentLogger(logger: Logger | undefined, component: string): Logger {
  if (logger !== undefined) {
    const missing = LEVELS.filter((m) => typeof (logger as unknown as Record<string, unknown> | null)?.[m] !== 'function');
    if (missing.length > 0) {
      throw new InvalidArgumentError(`logger must be a pino-like logger; it lacks ${missing.join(', ')}()`);
    }
  }
  const child = (logger ?? silentLogger).child({ component });
  if (child === null || typeof child !== 'object' || typeof child.error !== 'function') {
    throw new InvalidArgumentError('logger: its child() must return a logger');
  }
  return child;
}

const LOG_BURST = 10;

/**
 * Warnings at most LOG_BURST a second, then one line with the count of those
 * suppressed: a flood of bad connections must not become a flood of log lines.
 */
export class ThrottledWarn {
  private window = { start: 0, count: 0, suppressed: 0 };

  constructor(private readonly log: Logger) {}

  warn(fields: object, message: string): void {
    const now = Date.now();
    const w = this.window;
    if (now - w.start >= 1000) {
      if (w.suppressed > 0) this.log.warn({ suppressed: w.suppressed }, 'similar messages suppressed');
      this.window = { start: now, count: 0, suppressed: 0 };
    }
    if (this.window.count++ < LOG_BURST) this.log.warn(fields, message);
    else this.window.suppressed++;
  }
}
