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
