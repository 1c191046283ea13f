/** The index's slot lists against a model of Sets, through random adds and deletes. */
import { describe, expect, it } from 'vitest';
import { InterfaceLists, NextHopLists, SuspectList, type SlotHolder } from '../../src/judge/slot-lists';

type Member = SlotHolder & { id: number };
const member = (id: number): Member => ({ id, ifaceA: -1, slotA: -1, ifaceRest: null, nextHopSlot: -1 });

/** A small deterministic generator (no flaky seeds). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const ids = (list: readonly Member[] | undefined) => (list ?? []).map((m) => m.id).sort((a, b) => a - b);

describe('slot lists', () => {
  it('InterfaceLists: each path listed at most once per interface, up to 4 interfaces, same members as Sets would hold', () => {
    const rand = lcg(7);
    const lists = new InterfaceLists<Member>();
    const model = new Map<number, Set<number>>();
    const members = Array.from({ length: 60 }, (_, i) => member(i));
    for (let step = 0; step < 20_000; step++) {
      const m = members[Math.floor(rand() * members.length)];
      const iface = 1 + Math.floor(rand() * 5);
      const set = model.get(iface) ?? new Set<number>();
      if (rand() < 0.55) {
        lists.add(iface, m);
        set.add(m.id);
      } else {
        lists.delete(iface, m);
        set.delete(m.id);
      }
      if (set.size) model.set(iface, set);
      else model.delete(iface);
      if (step % 97 === 0) {
        for (let i = 1; i <= 5; i++) {
          expect(ids(lists.get(i))).toEqual([...(model.get(i) ?? [])].sort((a, b) => a - b));
          if (!model.has(i)) expect(lists.get(i)).toBeUndefined();
        }
      }
    }
    // Every member's recorded positions point at itself.
    for (let i = 1; i <= 5; i++) {
      lists.get(i)?.forEach((m, slot) => {
        const pairs = [m.ifaceA, m.slotA, ...(m.ifaceRest ?? [])];
        const at = pairs.findIndex((x, k) => k % 2 === 0 && x === i);
        expect(pairs[at + 1]).toBe(slot);
      });
    }
  });

  it('NextHopLists: one next hop per path; deleting under the wrong key changes nothing', () => {
    const rand = lcg(11);
    const lists = new NextHopLists<Member>();
    const members = Array.from({ length: 40 }, (_, i) => member(i));
    const where = new Map<number, string | null>(members.map((m) => [m.id, null]));
    for (let step = 0; step < 10_000; step++) {
      const m = members[Math.floor(rand() * members.length)];
      const key = `2|192.0.2.${1 + Math.floor(rand() * 4)}`;
      const now = where.get(m.id)!;
      if (now === null) {
        lists.add(key, m);
        where.set(m.id, key);
      } else if (now === key || rand() < 0.3) {
        expect(lists.delete(key, m)).toBe(now === key);
        if (now === key) where.set(m.id, null);
      }
    }
    for (let h = 1; h <= 4; h++) {
      const key = `2|192.0.2.${h}`;
      const expected = members.filter((m) => where.get(m.id) === key).map((m) => m.id);
      expect(ids(lists.get(key))).toEqual(expected);
      lists.get(key)?.forEach((m, slot) => expect(m.nextHopSlot).toBe(slot));
    }
  });

  it('SuspectList: a set of paths (adds and deletes idempotent), iterable, cleared with its positions', () => {
    const rand = lcg(3);
    const list = new SuspectList<{ id: number; suspectSlot: number }>();
    const members = Array.from({ length: 30 }, (_, id) => ({ id, suspectSlot: -1 }));
    const model = new Set<number>();
    for (let step = 0; step < 5000; step++) {
      const m = members[Math.floor(rand() * members.length)];
      if (rand() < 0.5) {
        list.add(m);
        model.add(m.id);
      } else {
        list.delete(m);
        model.delete(m.id);
      }
      expect(list.has(m)).toBe(model.has(m.id));
    }
    expect([...list].map((m) => m.id).sort((a, b) => a - b)).toEqual([...model].sort((a, b) => a - b));
    expect(list.size).toBe(model.size);
    list.clear();
    expect(list.size).toBe(0);
    expect(members.every((m) => m.suspectSlot === -1 && !list.has(m))).toBe(true);
  });
});
