/**
 * NetworkState fed with captured kernel datagrams (test/fixtures/netlink) through the
 * addon's parser: rules and neighbours as typed events, a silent initial sync, counts in
 * 'synced', and never a request for a confirmation dump.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NetworkState, type ApplyHooks } from '../../src/mirror/network-state';
import { loadBinding } from '../../src/native/binding';
import { DumpObject, Kind } from '../../src/netlink/record-format';
import type { NeighbourEvent, NetworkEvent, RuleEvent } from '../../src/netlink/types';

const dir = path.resolve(__dirname, '..', 'fixtures', 'netlink');
const binding = loadBinding();

/** The addon's records for one captured datagram. */
const records = (file: string) => binding.parse(new Uint8Array(readFileSync(path.join(dir, file))));

/** A control record as the socket layer writes it (record_format.h: header + two words). */
function control(kind: number, w0 = 0, w1 = 0): ArrayBuffer {
  return new Uint32Array([kind, 16, w0, w1]).buffer;
}

function setup() {
  const state = new NetworkState();
  const events: NetworkEvent[] = [];
  let confirmations = 0;
  const hooks: ApplyHooks = {
    emit: (e) => events.push(e),
    silentChangesPossible: () => confirmations++,
    overflow: () => undefined,
    error: () => undefined,
  };
  const apply = (batch: ArrayBuffer) => state.apply(batch, 1000, hooks);
  /** An initial sync with only the rule and neighbour dumps. */
  const sync = () => {
    apply(control(Kind.DumpBegin, DumpObject.Rule, 0));
    apply(records('rule-dump-0.bin'));
    apply(control(Kind.DumpEnd, DumpObject.Rule));
    apply(control(Kind.DumpBegin, DumpObject.Neigh, 0));
    apply(records('neigh-dump-0.bin'));
    apply(control(Kind.DumpEnd, DumpObject.Neigh));
    apply(control(Kind.Synced, 0));
  };
  return { state, events, apply, sync, confirmations: () => confirmations };
}

describe('NetworkState: rules and neighbours from captured kernel datagrams', () => {
  it('syncs silently, counts rules and non-NOARP neighbours, keeps the dumped order', () => {
    const { state, events, sync } = setup();
    sync();
    expect(events).toHaveLength(1);
    const v4 = state.rules(4);
    const v6 = state.rules(6);
    expect(events[0]).toMatchObject({ type: 'synced', rules: v4.length + v6.length, neighbours: [...state.neighbours()].length });
    expect(v4.map((r) => r.priority)).toEqual([...v4.map((r) => r.priority)].sort((a, b) => a - b));
    expect(v4.find((r) => r.suppressPrefixLength === 0)).toMatchObject({ table: 254, priority: 32765 });
    expect(v6.find((r) => r.action === 'goto')).toMatchObject({ goto: 32766, source: '2001:db8::', sourceLength: 32 });
    // The dump holds NOARP multicast entries too; the kernel creates those without a message.
    expect([...state.neighbours()].every((n) => (n.state & 0x40) === 0)).toBe(true);
    expect([...state.neighbours()].length).toBeGreaterThan(0);
  });

  it('reports rule and neighbour events and never asks for a confirmation dump', () => {
    const { state, events, apply, sync, confirmations } = setup();
    sync();
    events.length = 0;
    // The dump was captured after the prohibit rule's deletion: add it back, then delete it.
    apply(records('rule4-prohibit-from.bin'));
    apply(records('rule4-del.bin'));
    const ruleEvents = events.filter((e): e is RuleEvent => e.type === 'rule');
    expect(ruleEvents.map((e) => `${e.action} ${e.rule.action} ${e.rule.priority}`)).toEqual([
      'added prohibit 1100', 'removed prohibit 1100',
    ]);
    expect(ruleEvents[1].previous).toEqual(ruleEvents[0].rule);
    expect(state.rules(4).some((r) => r.action === 'prohibit')).toBe(false);

    apply(records('neigh4-permanent.bin'));
    apply(records('neigh4-del-0.bin')); // forced to FAILED first
    apply(records('neigh4-del-1.bin'));
    apply(records('neigh-bridge-fdb.bin')); // AF_BRIDGE: no record at all
    // The dump already holds 192.0.2.99 FAILED: the same notification again is not an event.
    apply(records('neigh4-failed.bin'));
    const neighbourEvents = events.filter((e): e is NeighbourEvent => e.type === 'neighbour');
    expect(neighbourEvents.map((e) => `${e.action} ${e.neighbour.address} ${e.neighbour.stateName}`)).toEqual([
      'added 192.0.2.2 permanent', 'changed 192.0.2.2 failed', 'removed 192.0.2.2 failed',
    ]);
    expect(state.neighbour(3, '192.0.2.99')).toMatchObject({ stateName: 'failed', linkAddress: null });
    expect(confirmations()).toBe(0);
  });

  it('a resync that finds nothing new reports nothing; a finished dump sweeps what is gone', () => {
    const { state, events, apply, sync } = setup();
    sync();
    apply(records('neigh4-permanent.bin'));
    events.length = 0;
    apply(control(Kind.DumpBegin, DumpObject.Rule, 1));
    apply(records('rule-dump-0.bin'));
    apply(control(Kind.DumpEnd, DumpObject.Rule));
    apply(control(Kind.DumpBegin, DumpObject.Neigh, 1));
    apply(records('neigh-dump-0.bin'));
    apply(control(Kind.DumpEnd, DumpObject.Neigh));
    apply(control(Kind.Synced, 1));
    // 192.0.2.2 was not in the captured dump: the only difference.
    expect(events.map((e) => (e.type === 'neighbour' ? `${e.action} ${e.neighbour.address}` : e.type))).toEqual([
      'removed 192.0.2.2', 'resync',
    ]);
    expect(events[1]).toMatchObject({ added: 0, changed: 0, removed: 1 });
    expect(state.neighbour(3, '192.0.2.2')).toBeUndefined();
  });
});
