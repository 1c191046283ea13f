/**
 * Time for the judge. `realClock` uses the monotonic clock (epoch-based, like the
 * monitor's event times) and Node's timers; `VirtualClock` only moves when told
 * to, so a whole churn scenario runs in microseconds and deterministically.
 */
import { MAX_TIMER_MS } from '../timer-ms';
import type { Clock } from './types';

/** Timers at least this long wake early and sleep the rest (below, the padding is under 0.03 ms). */
const LONG_MS = 30;

/**
 * How early a long timer wakes, to sleep the rest with a short timer. Linux lets a sleeping
 * poll's timeout run late by up to 0.1% of it, at most 100 ms (fs/select.c,
 * select_estimate_accuracy); libuv sleeps whole milliseconds, and an idle virtual CPU
 * wakes late too. On this project's 2-CPU VM a 3 s sleep woke 5.1–7.1 ms late, past the
 * 4 ms early that 0.1% + 1 ms gave: the hold-down's verdicts came ~3 ms late (median of
 * 11 processes). Twice the padding and 5 ms leave room for both.
 */
function leadMs(ms: number): number {
  return 2 * Math.min(100, ms / 1000) + 5;
}


/** One timer of `realClock`: the Node timer it is waiting on now (the early wake, then the rest). */
interface PreciseTimer {
  node: NodeJS.Timeout | null;
}

function sleep(timer: PreciseTimer, fn: () => void, ms: number): void {
  // Longer waits than Node's longest timer sleep in steps (wake() sleeps again).
  timer.node = setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
  timer.node.unref();
}

export const realClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => {
    const timer: PreciseTimer = { node: null };
    if (!(ms >= LONG_MS)) {
      sleep(timer, fn, ms);
      return timer;
    }
    const at = performance.now() + ms;
    const wake = (): void => {
      const rest = at - performance.now();
      // Never early (Node truncates a delay to whole ms, and sleeps at least 1 ms).
      if (rest > 0) sleep(timer, wake, rest);
      else fn();
    };
    sleep(timer, wake, ms - leadMs(ms));
    return timer;
  },
  clearTimeout: (handle) => {
    const timer = handle as PreciseTimer | null;
    if (timer?.node) clearTimeout(timer.node);
  },
};

interface VirtualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that advances only through `advance()`/`advanceTo()`, firing due timers in order. */
export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<VirtualTimer>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: VirtualTimer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as VirtualTimer);
  }

  /** Number of timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /** Time of the next timer, or null when none is set. */
  nextTimerAt(): number | null {
    return this.earliest()?.at ?? null;
  }

  /** Moves time forward by `ms`, firing every timer due on the way (timers set meanwhile included). */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  /** Moves time to `time` (never backwards), firing due timers at their own times. */
  advanceTo(time: number): void {
    if (time < this.time) throw new RangeError(`VirtualClock cannot go back from ${this.time} to ${time}`);
    for (let t = this.earliest(); t && t.at <= time; t = this.earliest()) {
      this.timers.delete(t);
      this.time = t.at;
      t.fn();
    }
    this.time = time;
  }

  private earliest(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.timers) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  }
}
