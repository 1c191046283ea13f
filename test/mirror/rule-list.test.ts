/**
 * RuleList: the kernel's rule order (fib_nl_newrule inserts after every rule of lower or
 * equal priority), rule_find deletion of the first match, and mark-and-sweep with duplicates.
 */
import { describe, expect, it } from 'vitest';
import { RuleList, ruleKey } from '../../src/mirror/rule-list';
import type { Rule } from '../../src/netlink/types';

function rule(priority: number, extra: Partial<Rule> = {}): Rule {
  return {
    family: 4, priority, action: 'to-table', table: 254, flags: 0, invert: false, source: null, sourceLength: 0,
    destination: null, destinationLength: 0, tos: 0, fwmark: null, fwmask: null, iifName: null, oifName: null,
    suppressPrefixLength: null, suppressIfGroup: null, goto: null, uidRange: null, ipProtocol: null,
    sourcePorts: null, destinationPorts: null, l3mdev: false, protocol: 0, ...extra,
  };
}

const tables = (list: RuleList, family: 4 | 6 = 4) => list.rules(family).map((r) => `${r.priority}:${r.table}`);

describe('RuleList', () => {
  it('keeps rules by priority, and rules of one priority in the order they were added', () => {
    const list = new RuleList();
    for (const [priority, table] of [[100, 1], [50, 2], [100, 3], [100, 4], [0, 255], [32766, 254]]) {
      list.add(rule(priority, { table }), 1);
    }
    expect(tables(list)).toEqual(['0:255', '50:2', '100:1', '100:3', '100:4', '32766:254']);
    expect(list.rules(6)).toEqual([]);
    expect(list.size).toBe(6);
  });

  it('deletes the first rule of the identity, as rule_find does, and keeps duplicates apart', () => {
    const list = new RuleList();
    list.add(rule(10, { table: 7, protocol: 4 }), 1);
    list.add(rule(10, { table: 8 }), 1);
    list.add(rule(10, { table: 7, protocol: 3 }), 1); // same identity, added without NLM_F_EXCL
    expect(list.remove(rule(10, { table: 7 }))).toMatchObject({ protocol: 4 });
    expect(list.rules(4).map((r) => `${r.table}/${r.protocol}`)).toEqual(['8/0', '7/3']);
    expect(list.remove(rule(11, { table: 7 }))).toBeNull();
  });

  it('identity covers selectors, action and table but not state flags or the installer', () => {
    const base = rule(1000, { fwmark: 0xca6c, fwmask: 0xffffffff, table: 51820 });
    expect(ruleKey({ ...base, flags: 0x8, protocol: 4 })).toBe(ruleKey(base)); // IIF_DETACHED, proto
    expect(ruleKey({ ...base, invert: true, flags: 0x2 })).not.toBe(ruleKey(base));
    expect(ruleKey({ ...base, suppressPrefixLength: 0 })).not.toBe(ruleKey(base));
    expect(ruleKey({ ...base, action: 'prohibit' })).not.toBe(ruleKey(base));
    expect(ruleKey({ ...base, uidRange: { start: 1, end: 2 } })).not.toBe(ruleKey(base));
  });

  it('a dump reports only differences, sweeps what it did not see and takes the kernel order', () => {
    const list = new RuleList();
    list.add(rule(100, { table: 1 }), 1);
    list.add(rule(100, { table: 2 }), 1);
    list.add(rule(200, { table: 3 }), 1);
    list.beginDump();
    // The kernel holds 100:0 (missed, added before 100:1), 100:1, 100:2 with a state flag, and no 200:3.
    const changes = [
      list.dumped(rule(100, { table: 9 }), 2),
      list.dumped(rule(100, { table: 1 }), 2),
      list.dumped(rule(100, { table: 2, flags: 0x4 }), 2),
    ];
    expect(changes.map((c) => c && `${c.action} ${c.rule.table}`)).toEqual(['added 9', null, 'changed 2']);
    expect(changes[2]!.previous).toMatchObject({ flags: 0 });
    expect(list.sweep(2).map((r) => r.table)).toEqual([3]);
    expect(tables(list)).toEqual(['100:9', '100:1', '100:2']);
  });

  it('a rule added live during a dump is neither doubled nor swept', () => {
    const list = new RuleList();
    list.add(rule(100, { table: 1 }), 1);
    list.beginDump();
    expect(list.dumped(rule(100, { table: 1 }), 2)).toBeNull();
    list.add(rule(50, { table: 5 }), 2); // before the dump's position: the dump will not see it
    list.add(rule(300, { table: 6 }), 2); // ahead of the dump's position: the dump reports it too
    expect(list.dumped(rule(300, { table: 6 }), 2)).toBeNull();
    expect(list.sweep(2)).toEqual([]);
    expect(tables(list)).toEqual(['50:5', '100:1', '300:6']);
  });

  it('two identical rules in a dump claim two entries', () => {
    const list = new RuleList();
    list.add(rule(10, { table: 7 }), 1);
    list.beginDump();
    expect(list.dumped(rule(10, { table: 7 }), 2)).toBeNull();
    expect(list.dumped(rule(10, { table: 7 }), 2)).toMatchObject({ action: 'added' });
    expect(list.sweep(2)).toEqual([]);
    expect(list.size).toBe(2);
  });

  it('hands out the same frozen array until the next change', () => {
    const list = new RuleList();
    list.add(rule(1), 1);
    const first = list.rules(4);
    expect(list.rules(4)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    list.add(rule(2), 1);
    expect(list.rules(4)).not.toBe(first);
  });
});
