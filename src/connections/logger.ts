/**
 * The logger interface routeguard writes to: pino's (a pino logger can be passed
 * as it is). Quiet by default: without a logger nothing is written anywhere.
 */

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

/** A child of `logger` (or of the silent logger) bound to a component name. */
export function componentLogger(logger: Logger | undefined, component: string): Logger {
  return (logger ?? silentLogger).child({ component });
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
