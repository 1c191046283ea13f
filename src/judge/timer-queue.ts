/**
 * All of the judge's timers (hold-down deadlines, foreseen expiries) in one
 * indexed min-heap behind a single clock timer: 10k paths with the same deadline
 * cost one clock timer, and moving or cancelling a deadline is O(log n).
 */
import type { Clock } from './types';

/** More due entries than this are taken out in one sweep instead of popped one by one. */
const BULK_MIN = 64;

const byTime = (a: TimerEntry<unknown>, b: TimerEntry<unknown>) => a.at - b.at || a.seq - b.seq;

export interface TimerEntry<T> {
  at: number;
  readonly item: T;
  /** Heap position; -1 when not queued. */
  pos: number;
  seq: number;
}

export class TimerQueue<T> {
  private readonly heap: TimerEntry<T>[] = [];
  private seq = 0;
  private handle: unknown = null;
  private armedAt = Infinity;
  private firing = false;

  /** `fire` receives every item due at once, in time order. */
  constructor(
    private readonly clock: Clock,
    private readonly fire: (due: T[]) => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** Queues `item` at `at`, or moves it there when `entry` is already queued. */
  schedule(at: number, item: T, entry?: TimerEntry<T> | null): TimerEntry<T> {
    if (entry && entry.pos >= 0) {
      const earlier = at < entry.at;
      entry.at = at;
      entry.seq = this.seq++;
      if (earlier) this.up(entry.pos);
      else this.down(entry.pos);
    } else {
      entry = { at, item, pos: this.heap.length, seq: this.seq++ };
      this.heap.push(entry);
      this.up(entry.pos);
    }
    this.arm();
    return entry;
  }

  cancel(entry: TimerEntry<unknown> | null | undefined): void {
    if (!entry || entry.pos < 0) return;
    const i = entry.pos;
    const last = this.heap.pop()!;
    entry.pos = -1;
    if (last !== entry) {
      this.heap[i] = last;
      last.pos = i;
      this.up(i);
      this.down(last.pos);
    }
    this.arm();
  }

  /** Stops the clock timer; entries stay queued but never fire. */
  stop(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.armedAt = Infinity;
    for (const e of this.heap) e.pos = -1;
    this.heap.length = 0;
  }

  private arm(): void {
    if (this.firing) return;
    const next = this.heap.length ? this.heap[0].at : Infinity;
    if (next === this.armedAt) return;
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.armedAt = next;
    if (next === Infinity) return;
    this.handle = this.clock.setTimeout(() => this.onTimer(), Math.max(0, next - this.clock.now()));
  }

  private onTimer(): void {
    this.handle = null;
    this.armedAt = Infinity;
    // A real timer that fires a hair early finds nothing due and is simply re-armed.
    this.firing = true;
    const due = this.takeDue(this.clock.now());
    this.firing = false;
    try {
      if (due.length) this.fire(due);
    } finally {
      this.arm();
    }
  }

  /**
   * Removes and returns the items due at `now`, in time order. A few are popped one by
   * one; many (10k hold-downs that began in one pass end together) are found by walking
   * the heap's due subtree, and the rest re-heapified once: O(n) instead of k pops of
   * O(log n), each touching entries all over the heap.
   */
  private takeDue(now: number): T[] {
    const heap = this.heap;
    const found: TimerEntry<T>[] = [];
    // The due entries form a subtree at the root: a child is due only if its parent is.
    if (heap.length > 0 && heap[0].at <= now) found.push(heap[0]);
    for (let i = 0; i < found.length; i++) {
      const l = 2 * found[i].pos + 1;
      if (l < heap.length && heap[l].at <= now) found.push(heap[l]);
      if (l + 1 < heap.length && heap[l + 1].at <= now) found.push(heap[l + 1]);
    }
    if (found.length <= BULK_MIN) {
      const due: T[] = [];
      while (heap.length && heap[0].at <= now) {
        const top = heap[0];
        this.cancel(top);
        due.push(top.item);
      }
      return due;
    }
    found.sort(byTime);
    for (const e of found) e.pos = -1;
    let n = 0;
    for (const e of heap) if (e.pos >= 0) heap[n++] = e;
    heap.length = n;
    for (let i = 0; i < n; i++) heap[i].pos = i;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.down(i);
    return found.map((e) => e.item);
  }

  private less(a: TimerEntry<T>, b: TimerEntry<T>): boolean {
    return byTime(a, b) < 0;
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i];
    const b = h[j];
    h[i] = b;
    h[j] = a;
    b.pos = i;
    a.pos = j;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(this.heap[i], this.heap[p])) return;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(this.heap[l], this.heap[m])) m = l;
      if (r < n && this.less(this.heap[r], this.heap[m])) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
