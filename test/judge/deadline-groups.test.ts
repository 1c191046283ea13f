/** Deadline groups over a real TimerQueue on a virtual clock, against a model of per-member timers. */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/judge/clock';
import { DeadlineGroups, type DeadlineGroup, type DeadlineMember } from '../../src/judge/deadline-groups';
import { TimerQueue } from '../../src/judge/timer-queue';

type Member = DeadlineMember & { id: number };
const member = (id: number): Member => ({ id, deadline: null, deadlineSlot: -1 });

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function setup() {
  const clock = new VirtualClock(0);
  const fired: Array<[number, number[]]> = [];
  let groups: DeadlineGroups<Member> | null = null;
  const timers = new TimerQueue<DeadlineGroup<Member>>(clock, (due) => {
    for (const g of due) fired.push([clock.now(), groups!.take(g).map((m) => m.id)]);
  });
  groups = new DeadlineGroups<Member>(timers);
  return { clock, fired, groups, timers };
}

describe('DeadlineGroups', () => {
  it('one timer entry for members sharing a deadline; they fire in the order they joined', () => {
    const { clock, fired, groups, timers } = setup();
    const ms = Array.from({ length: 5 }, (_, i) => member(i));
    for (const m of [ms[3], ms[1], ms[4], ms[0]]) groups.set(m, 100);
    groups.set(ms[2], 50);
    expect(timers.size).toBe(2);
    groups.set(ms[1], 100); // same time: stays where it is
    groups.set(ms[4], 50); // moves: leaves a hole at 100, joins 50 after 2
    clock.advance(100);
    expect(fired).toEqual([
      [50, [2, 4]],
      [100, [3, 1, 0]],
    ]);
    expect(timers.size).toBe(0);
    for (const m of ms) expect([m.deadline, m.deadlineSlot]).toEqual([null, -1]);
  });

  it('the last member out cancels the group; leaving twice or from no group is harmless', () => {
    const { clock, fired, groups, timers } = setup();
    const a = member(1);
    const b = member(2);
    groups.set(a, 10);
    groups.set(b, 10);
    groups.leave(a);
    groups.leave(a);
    expect(timers.size).toBe(1);
    groups.set(b, null);
    expect(timers.size).toBe(0);
    groups.leave(b);
    clock.advance(20);
    expect(fired).toEqual([]);
    // A later member at the same time gets a fresh group and timer.
    groups.set(a, 30);
    clock.advance(20);
    expect(fired).toEqual([[30, [1]]]);
  });

  it('matches per-member timers through random moves, leaves and firings (groups compacted on the way)', () => {
    const rand = lcg(11);
    const { clock, fired, groups } = setup();
    const members = Array.from({ length: 200 }, (_, i) => member(i));
    // The model: each member's deadline and the order it (re)joined at that time.
    const model = new Map<number, { at: number; seq: number }>();
    let seq = 0;
    const expected: Array<[number, number[]]> = [];
    const fireModel = (until: number) => {
      const due = [...model].filter(([, v]) => v.at <= until);
      const times = [...new Set(due.map(([, v]) => v.at))].sort((x, y) => x - y);
      for (const t of times) {
        const ids = due.filter(([, v]) => v.at === t).sort((x, y) => x[1].seq - y[1].seq).map(([id]) => id);
        expected.push([t, ids]);
        for (const id of ids) model.delete(id);
      }
    };
    for (let step = 0; step < 5000; step++) {
      const m = members[Math.floor(rand() * members.length)];
      const r = rand();
      if (r < 0.6) {
        // Few distinct times, so groups are big and holes many.
        const at = clock.now() + 1 + Math.floor(rand() * 4) * 10;
        const cur = model.get(m.id);
        if (!cur || cur.at !== at) model.set(m.id, { at, seq: seq++ });
        groups.set(m, at);
      } else if (r < 0.9) {
        model.delete(m.id);
        groups.leave(m);
      } else {
        const to = clock.now() + Math.floor(rand() * 15);
        fireModel(to);
        clock.advanceTo(to);
      }
    }
    fireModel(clock.now() + 1000);
    clock.advance(1000);
    expect(fired).toEqual(expected);
    expect(expected.length).toBeGreaterThan(100);
  });
});
