/**
 * Delays Node's timers can wait. A longer one fires after 1 ms (Node warns with a
 * TimeoutOverflowWarning), so an option of 30 days would act at once.
 */

import { InvalidArgumentError } from './errors';

/** Node's longest timer, in milliseconds (2^31 - 1, ~24.8 days). */
export const MAX_TIMER_MS = 0x7fffffff;

/** A finite number of milliseconds from `min` to MAX_TIMER_MS. */
export function isTimerMs(v: unknown, min = 0): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= MAX_TIMER_MS;
}

/** Throws InvalidArgumentError naming the option `name` when `v` is given and is not such a delay. */
export function checkTimerMs(name: string, v: unknown, min = 0): void {
  if (v !== undefined && !isTimerMs(v, min)) {
    throw new InvalidArgumentError(`${name} must be a number of milliseconds from ${min} to ${MAX_TIMER_MS} (Node's longest timer), got ${String(v)}`);
  }
}
