/**
 * Batched lookups: a source that offers lookupRoutes (the monitor) gets the first
 * checks of a burst of watches, and the checks of big passes (events, deadlines), asked
 * in one batch. Verdicts must be those a source without batching gets.
 */
import { describe, expect, it } from 'vitest';
import type { RouteQuery } from '../../src/netlink/types';
import type { RouteLookupResult } from '../../src/netlink/view';
import { PathJudge } from '../../src/judge/path-judge';
import type { PathWatch } from '../../src/judge/types';
import { FakeNetwork } from '../helpers/fake-network';
import { CAP, configureHost, HOLD, makeHost, V4, V6 } from './scenario-helpers';

/** The fake network with the monitor's batch entry point, counting how it is asked. */
class BatchingNetwork extends FakeNetwork {
  batches: number[] = [];
  singles = 0;
  failBatches = false;

  override lookupRoute(query: RouteQuery): RouteLookupResult {
    this.singles++;
    return super.lookupRoute(query);
  }

  lookupRoutes(queries: readonly RouteQuery[]): RouteLookupResult[] {
    if (this.failBatches) throw Object.assign(new Error('the lookup socket is closed'), { code: 'ERR_MONITOR_CLOSED' });
    this.batches.push(queries.length);
    return queries.map((q) => super.lookupRoute(q));
  }
}

const peerOf = (i: number) => `198.51.100.${i + 1}`;
const peer6Of = (i: number) => `2001:db8:ff::${(i + 1).toString(16)}`;

/** The scenario host (eth0 with V4/V6 locals and defaults) on a batching or plain fake, plus a second local of each family. */
function hosts() {
  const build = (net: FakeNetwork, eth0: number) => {
    net.addAddress(eth0, '192.0.2.11/24');
    net.addAddress(eth0, '2001:db8:1::11/64');
  };
  const plain = makeHost({}, build);
  const clock = plain.clock;
  const batching = new BatchingNetwork(clock);
  const eth0 = configureHost(batching);
  build(batching, eth0);
  const judge = new PathJudge(batching, { clock });
  return { plain, batching, judge, clock, eth0 };
}

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

function record(watch: PathWatch, t0: number, clock: { now(): number }): string[] {
  const seen: string[] = [];
  for (const e of ['suspect', 'recovered', 'gone'] as const) watch.on(e, (i: { reason: string }) => seen.push(`${clock.now() - t0} ${e} ${i.reason}`));
  return seen;
}

describe('batched lookups', () => {
  it('a burst of 100 watches is checked in one batch at the end of the microtask queue, with the same states', async () => {
    const { plain, batching, judge } = hosts();
    const specs = Array.from({ length: 50 }, (_, i) => [
      { local: V4.local, remote: peerOf(i) },
      { local: '2001:db8:1::11', remote: peer6Of(i) },
    ]).flat();
    specs.push({ local: '192.0.2.99', remote: peerOf(0) }); // no such address: suspect from the start
    const watches = specs.map((s) => judge.watch(s));
    expect(batching.batches).toEqual([]);
    await tick();
    // One batch: each path's own lookup and one new-connection lookup per peer (the
    // absent address asks only the latter, which its peer shares with another path).
    expect(batching.batches).toEqual([100 + 100]);
    // Only the absent address asks one more: whether the kernel takes it as a local source (AnyIP).
    expect(batching.singles).toBe(1);
    const reference = specs.map((s) => plain.judge.watch(s));
    expect(watches.map((w) => [w.state, w.reason, w.route])).toEqual(reference.map((w) => [w.state, w.reason, w.route]));
    expect(watches.at(-1)!.state).toBe('suspect');
  });

  it('reading the state settles the burst at once, and the first check notifies nobody', () => {
    const { batching, judge } = hosts();
    const broken = judge.watch({ local: '192.0.2.99', remote: V4.peer });
    const heard: string[] = [];
    broken.on('suspect', () => heard.push('suspect'));
    const fine = judge.watch({ local: V4.local, remote: V4.peer });
    expect(broken.state).toBe('suspect');
    expect(broken.reason).toBe('local-address-removed');
    expect(fine.state).toBe('viable');
    // Two paths are too few to batch: asked one by one.
    expect(batching.batches).toEqual([]);
    expect(heard).toEqual([]);
  });

  it('a handle closed before the burst is checked costs no lookup', async () => {
    const { batching, judge } = hosts();
    judge.watch({ local: V4.local, remote: V4.peer }).close();
    await tick();
    expect(batching.batches).toEqual([]);
    expect(batching.singles).toBe(0);
    expect(judge.counters().paths).toBe(0);
  });

  it('an address removal touching 40 paths asks their peers in one batch, with the verdicts of a plain source', async () => {
    const { plain, batching, judge, clock, eth0 } = hosts();
    const t0 = clock.now();
    const specs = Array.from({ length: 20 }, (_, i) => [
      { local: V4.local, remote: peerOf(i) },
      { local: '192.0.2.11', remote: peerOf(i) },
    ]).flat();
    const seen = specs.map((s) => record(judge.watch(s), t0, clock));
    const expected = specs.map((s) => record(plain.judge.watch(s), t0, clock));
    await tick();
    batching.batches = [];
    const singles = batching.singles;
    batching.removeAddress(eth0, V4.local);
    plain.net.removeAddress(plain.eth0, V4.local);
    // All 40 paths are on eth0: the 20 that lost their address ask only the peers'
    // new-connection lookups. For the 20 others (another address of their interface
    // went) those answers moved: new connections would now leave from 192.0.2.11, so
    // their paths are checked again ('changed'), their own lookups in a second batch.
    expect(batching.batches).toEqual([20, 20]);
    expect(batching.singles).toBe(singles);
    plain.runUntil(30_000);
    expect(seen).toEqual(expected);
    // Another local address (192.0.2.11) reaches the peers: confirmed at the hold-down.
    expect(seen[0]).toEqual([`0 suspect local-address-removed`, `${HOLD['local-address-removed']} gone local-address-removed`]);
    expect(seen[1]).toEqual([]);
  });

  it('10 deadlines due at once reuse the ways found at the event, until a route over the peers changes them', async () => {
    for (const routeChange of [false, true]) {
      const { batching, judge, clock, eth0 } = hosts();
      const t0 = clock.now();
      const seen = Array.from({ length: 10 }, (_, i) => record(judge.watch({ local: V4.local, remote: peerOf(i) }), t0, clock));
      await tick();
      // The address event asks the peers' ways (the paths skip their own lookups): a new
      // connection would leave from 192.0.2.11. The kernel's removal of the address's
      // local and prefix routes covers no peer, so those ways stay known.
      batching.removeAddress(eth0, V4.local);
      expect(batching.batches.at(-1)).toBe(10);
      // An unreachable route over the peers: their ways are asked again, at that event.
      if (routeChange) {
        batching.addRoute({ to: '198.51.100.0/24', type: 'unreachable' });
        expect(batching.batches.at(-1)).toBe(10);
      }
      batching.batches = [];
      clock.advanceTo(t0 + CAP);
      // No deadline asked anything: nothing changed since the last answers.
      expect(batching.batches).toEqual([]);
      expect(batching.singles).toBe(0);
      // Reused stale ways would have confirmed the unreachable peers at the hold-down.
      const at = routeChange ? CAP : HOLD['local-address-removed'];
      expect(seen.every((s) => s.at(-1) === `${at} gone local-address-removed`)).toBe(true);
    }
  });

  it('an address that becomes every peer\'s source re-checks their paths in batches, with the changes of a plain source', async () => {
    const { plain, batching, judge, eth0 } = hosts();
    type Change = { previous: { preferredSource: string }; current: { preferredSource: string } };
    const changes = (w: PathWatch, out: string[]) => w.on('changed', (i: Change) => out.push(`${i.previous.preferredSource} -> ${i.current.preferredSource}`));
    const seen: string[][] = [];
    const expected: string[][] = [];
    for (let i = 0; i < 20; i++) {
      for (const local of [V6.local, '2001:db8:1::11']) {
        changes(judge.watch({ local, remote: peer6Of(i) }), (seen[seen.length] = []));
        changes(plain.judge.watch({ local, remote: peer6Of(i) }), (expected[expected.length] = []));
      }
    }
    await tick();
    batching.batches = [];
    const singles = batching.singles;
    // Longer prefix shared with every peer (RFC 6724 rule 8), outside their subnet (no route
    // over them changes): new connections to all 20 peers would now leave from it.
    batching.addAddress(eth0, '2001:db8:ff:1::5/64');
    plain.net.addAddress(plain.eth0, '2001:db8:ff:1::5/64');
    expect(batching.singles).toBe(singles);
    // The peers' ways once, then the 40 paths whose source moved, their own lookups together.
    expect(batching.batches).toEqual([20, 40]);
    expect(seen).toEqual(expected);
    expect(seen.every((s) => s.length === 1 && s[0] === `${V6.local} -> 2001:db8:ff:1::5`)).toBe(true);
  });

  it('a batch that throws ends the judge for every watch, like a failed single lookup', async () => {
    const { batching, judge } = hosts();
    batching.failBatches = true;
    const watches = Array.from({ length: 10 }, (_, i) => judge.watch({ local: V4.local, remote: peerOf(i) }));
    const ended: string[] = [];
    for (const w of watches) w.on('ended', (info) => ended.push(info.code));
    await tick();
    expect(ended).toEqual(Array(10).fill('ERR_MONITOR_CLOSED'));
    expect(() => judge.watch({ local: V4.local, remote: V4.peer })).toThrow(/closed/);
  });

  it('a source without batches that fails at a first check: watch() throws its code, no handle says viable', () => {
    const { plain } = hosts();
    plain.net.lookupRoute = () => {
      throw Object.assign(new Error('the lookup socket is closed'), { code: 'ERR_MONITOR_CLOSED' });
    };
    expect(() => plain.judge.watch({ local: V4.local, remote: V4.peer })).toThrow(
      expect.objectContaining({ code: 'ERR_MONITOR_CLOSED', message: expect.stringContaining('watch(): a kernel lookup failed') }),
    );
    expect(() => plain.judge.watch({ local: V4.local, remote: V4.peer })).toThrow(expect.objectContaining({ code: 'ERR_JUDGE_CLOSED' }));
  });

  it('a first check that throws something else drops its path: counters stay true, the next watch is checked', () => {
    const { plain } = hosts();
    const lookup = plain.net.lookupRoute.bind(plain.net);
    plain.net.lookupRoute = () => ({ ok: true, route: null }) as never; // bad data from a source, not a failure of it
    expect(() => plain.judge.watch({ local: V4.local, remote: V4.peer })).toThrow(TypeError);
    expect(plain.judge.counters()).toMatchObject({ paths: 0, watches: 0 });
    plain.net.lookupRoute = lookup;
    const w = plain.judge.watch({ local: V4.local, remote: V4.peer });
    expect(w.state).toBe('viable');
    expect(w.route).not.toBeNull();
  });
});
