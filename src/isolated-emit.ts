/**
 * Listener isolation. A listener that throws inside `emit()` normally unwinds
 * into whoever emitted: the judge delivering a verdict to 10,000 connections,
 * ws's frame parser, libuv's accept path. An async listener that rejects becomes
 * an unhandled rejection, which ends the process. Emitters patched here call
 * every listener on its own: a failure (thrown or rejected) is handed to
 * `onFailure` and the remaining listeners still run.
 */
import { EventEmitter, errorMonitor } from 'node:events';

/** Told of each failing listener, with the event and its arguments. */
export type ListenerFailureHandler = (error: unknown, event: string | symbol, args: unknown[]) => void;

const isolated = Symbol('routeguard.isolated');

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/**
 * `emitter.emit(event, ...args)` with isolated listeners. An 'error' without a
 * listener is reported to `onFailure` instead of being thrown.
 */
export function emitIsolated(
  emitter: EventEmitter,
  event: string | symbol,
  args: unknown[],
  onFailure: ListenerFailureHandler,
): boolean {
  if (event === 'error') {
    for (const monitor of emitter.rawListeners(errorMonitor)) callOne(emitter, monitor, event, args, onFailure);
  }
  // rawListeners() is a copy, with once() wrappers that remove themselves: the same
  // semantics as EventEmitter#emit when listeners are added or removed mid-emit.
  const listeners = emitter.rawListeners(event);
  if (listeners.length === 0) {
    if (event === 'error') onFailure(args[0], event, args);
    return false;
  }
  for (const listener of listeners) callOne(emitter, listener, event, args, onFailure);
  return true;
}

function callOne(
  emitter: EventEmitter,
  listener: Function, // eslint-disable-line @typescript-eslint/no-unsafe-function-type -- rawListeners()' own type
  event: string | symbol,
  args: unknown[],
  onFailure: ListenerFailureHandler,
): void {
  try {
    const result: unknown = Reflect.apply(listener, emitter, args);
    if (isThenable(result)) result.then(undefined, (err: unknown) => onFailure(err, event, args));
  } catch (err) {
    onFailure(err, event, args);
  }
}

export interface IsolationHooks {
  /** Called for every failing listener. Must not throw. */
  onFailure: ListenerFailureHandler;
  /**
   * Runs before the listeners; returning false swallows the event (no listener
   * runs, emit() returns true). A hook that throws is reported as a failure and
   * the event is swallowed.
   */
  before?: (event: string | symbol, args: unknown[]) => boolean;
}

/**
 * Replaces `emitter.emit` (on this instance only) with the isolated version.
 * Idempotent: an emitter already isolated keeps its first hooks and false is returned.
 */
export function isolateListeners(emitter: EventEmitter, hooks: IsolationHooks): boolean {
  const target = emitter as EventEmitter & { [isolated]?: true };
  if (target[isolated]) return false;
  target[isolated] = true;
  const { onFailure, before } = hooks;
  emitter.emit = function isolatedEmit(this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
    if (before) {
      let proceed: boolean;
      try {
        proceed = before(event, args);
      } catch (err) {
        onFailure(err, event, args);
        return true;
      }
      if (!proceed) return true;
    }
    return emitIsolated(this, event, args, onFailure);
  };
  return true;
}

/** Undoes isolateListeners: the prototype's emit() is used again. */
export function restoreListeners(emitter: EventEmitter): void {
  const target = emitter as EventEmitter & { [isolated]?: true };
  if (!target[isolated]) return;
  delete target[isolated];
  delete (target as { emit?: unknown }).emit;
}
