/**
 * New watches wait here for their first check, so that a burst of watches (a
 * server's accept backlog, a reconnect storm, a guard adopting 10k sockets) is
 * checked in one pass whose kernel lookups go out together. The burst is flushed
 * at the end of the current microtask queue, or earlier when anything needs the
 * answers: a watcher reads the state, an event or a timer comes, counters are read.
 *
 * "The state at watch time is in `watch.state`; events report what changes
 * afterwards" holds as before: a first check flushed at watch time (the microtask, a
 * read) notifies nobody. One flushed because an event or timer came first (a source
 * that emits synchronously, as fakes do; the monitor's events are macrotasks, so the
 * microtask always comes first there) may already see that event's effect, so its
 * notifications are delivered.
 */
export class WatchIntake<T> {
  private pending: T[] = [];
  private scheduled = false;
  private flushing = false;

  /** `check(batch, quiet)`: quiet when the batch is checked at watch time (notify nobody). */
  constructor(private readonly check: (batch: readonly T[], quiet: boolean) => void) {}

  add(item: T): void {
    this.pending.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush(true);
    });
  }

  /**
   * Checks everything pending now; `atWatchTime` false when an event or timer is
   * about to be handled. Re-entrant calls (from inside a check) do nothing.
   */
  flush(atWatchTime: boolean): void {
    if (this.flushing || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.flushing = true;
    try {
      this.check(batch, atWatchTime);
    } finally {
      this.flushing = false;
    }
  }

  clear(): void {
    this.pending = [];
  }
}
