/**
 * Suspect windows' deadlines, grouped by their time: every path whose window opened in
 * the same pass for the same reason ends at the same instant (the pass's clock plus
 * the reason's hold-down), so the 10k paths of a lost address are one timer entry
 * with a list of members, not 10k heap entries to insert at the loss and to take out
 * and sort at the deadline.
 *
 * Members keep the order they joined (the order their verdicts are heard in); one that
 * leaves leaves a hole, and a group that is mostly holes is compacted.
 */
import type { TimerEntry, TimerQueue } from './timer-queue';

/** What a grouped path holds: its group and its position there. */
export interface DeadlineMember {
  deadline: DeadlineGroup<DeadlineMember> | null;
  deadlineSlot: number;
}

export interface DeadlineGroup<M extends DeadlineMember> {
  readonly kind: 'deadline';
  readonly at: number;
  /** Joined members; null where one left. */
  members: Array<M | null>;
  live: number;
  entry: TimerEntry<unknown> | null;
}

export class DeadlineGroups<M extends DeadlineMember, Other = never> {
  private readonly byTime = new Map<number, DeadlineGroup<M>>();

  constructor(private readonly timers: TimerQueue<DeadlineGroup<M> | Other>) {}

  /** Puts `m` in the group of time `at` (null: in none). */
  set(m: M, at: number | null): void {
    const current = m.deadline as DeadlineGroup<M> | null;
    if (current && current.at === at) return;
    if (current) this.leave(m);
    if (at === null) return;
    let g = this.byTime.get(at);
    if (!g) {
      g = { kind: 'deadline', at, members: [], live: 0, entry: null };
      this.byTime.set(at, g);
      g.entry = this.timers.schedule(at, g);
    }
    m.deadline = g as DeadlineGroup<DeadlineMember>;
    m.deadlineSlot = g.members.push(m) - 1;
    g.live++;
  }

  /** Takes `m` out of its group; the last member out cancels the group's timer. */
  leave(m: M): void {
    const g = m.deadline as DeadlineGroup<M> | null;
    if (!g) return;
    g.members[m.deadlineSlot] = null;
    m.deadline = null;
    m.deadlineSlot = -1;
    if (--g.live === 0) {
      this.timers.cancel(g.entry);
      this.byTime.delete(g.at);
      return;
    }
    if (g.live * 2 < g.members.length && g.members.length > 32) this.compact(g);
  }

  /** A group's timer fired: its members in the order they joined; the group is no more. */
  take(g: DeadlineGroup<M>): M[] {
    if (this.byTime.get(g.at) === g) this.byTime.delete(g.at);
    const out: M[] = [];
    const members = g.members;
    // Indexed, not for-of: this loop starts in the interpreter (it runs once per deadline),
    // where each step of an iterator allocates its result (~40 B a path).
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (m === null) continue;
      m.deadline = null;
      m.deadlineSlot = -1;
      out.push(m);
    }
    g.members = [];
    g.live = 0;
    return out;
  }

  /** Forgets every group (the judge closed; its timer queue is stopped). */
  clear(): void {
    for (const g of this.byTime.values()) this.take(g);
  }

  private compact(g: DeadlineGroup<M>): void {
    let n = 0;
    for (const m of g.members) {
      if (m === null) continue;
      m.deadlineSlot = n;
      g.members[n++] = m;
    }
    g.members.length = n;
  }
}
