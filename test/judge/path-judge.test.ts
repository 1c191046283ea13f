/** PathJudge's API: validation, shared evaluations, options, evidence, counters, ENOBUFS resyncs. */
import { describe, expect, it } from 'vitest';
import { RouteguardError } from '../../src/errors';
import { PathJudge } from '../../src/judge/path-judge';
import { VirtualClock } from '../../src/judge/clock';
import { parseHoldDowns } from '../../src/judge/hold-downs';
import { FakeNetwork } from '../helpers/fake-network';
import { addSecondUplink, CAP, makeHost, V4, V6 } from './scenario-helpers';

describe('PathSpec validation', () => {
  const h = makeHost();
  const cases: Array<[string, unknown, RegExp]> = [
    ['non-IP local', { local: 'localhost', remote: V4.peer }, /PathSpec\.local must be an IPv4 or IPv6 address/],
    ['non-IP remote', { local: V4.local, remote: '198.51.100.300' }, /PathSpec\.remote must be/],
    ['zone suffix', { local: 'fe80::10%eth0', remote: 'fe80::1' }, /as `ifindex`, not as a "%zone" suffix/],
    ['mixed families', { local: V4.local, remote: V6.peer }, /mixes families/],
    ['link-local without ifindex', { local: 'fe80::10', remote: 'fe80::1' }, /needs ifindex/],
    ['link-local remote without ifindex', { local: V6.local, remote: 'fe80::1' }, /remote fe80::1 needs ifindex/],
    ['bad ifindex', { local: V4.local, remote: V4.peer, ifindex: 0 }, /ifindex must be an integer from 1/],
    ['bad mark', { local: V4.local, remote: V4.peer, mark: -1 }, /mark must be an integer from 0/],
    ['ifindex past the kernel int', { local: V4.local, remote: V4.peer, ifindex: 2 ** 31 }, /ifindex must be an integer from 1 to 2147483647/],
    ['mark past u32', { local: V4.local, remote: V4.peer, mark: 2 ** 32 }, /mark must be an integer from 0 to 4294967295/],
    ['unspecified', { local: '0.0.0.0', remote: V4.peer }, /concrete address/],
    ['not an object', null, /must be an object/],
  ];
  for (const [name, spec, message] of cases) {
    it(`rejects ${name} with ERR_INVALID_ARG`, () => {
      let error: unknown;
      try {
        h.judge.watch(spec as never);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RouteguardError);
      expect((error as RouteguardError).code).toBe('ERR_INVALID_ARG');
      expect((error as Error).message).toMatch(message);
    });
  }

  it('canonicalises addresses (IPv4-mapped, upper case) and shares the evaluation', () => {
    const a = h.judge.watch({ local: '::ffff:192.0.2.10', remote: V4.peer });
    const b = h.judge.watch({ local: V4.local, remote: '198.51.100.7' });
    expect(a.path).toEqual({ local: V4.local, remote: V4.peer });
    expect(b.path).toEqual(a.path);
    const c = h.judge.watch({ local: '2001:DB8:1::10', remote: V6.peer });
    expect(c.path.local).toBe(V6.local);
    // A zone on global addresses is dropped (the kernel ignores it there): the same path.
    const d = h.judge.watch({ local: V6.local, remote: V6.peer, ifindex: h.eth0 });
    expect(d.path).toEqual({ local: V6.local, remote: V6.peer });
    expect(d.key).toBe(c.key);
    expect(h.judge.counters().paths).toBe(2);
    for (const w of [a, b, c, d]) w.close();
    expect(h.judge.counters().paths).toBe(0);
  });

  it('rejects unknown hold-down reasons and negative values', () => {
    const net = new FakeNetwork(new VirtualClock());
    expect(() => new PathJudge(net, { holdDowns: { 'link-sad': 1 } as never })).toThrow(/unknown reason "link-sad"/);
    expect(() => new PathJudge(net, { holdDowns: { 'link-down': -5 } })).toThrow(/milliseconds >= 0/);
    // Names every object has are no reasons; a hold-down that is not an object is refused, not ignored.
    for (const name of ['toString', 'constructor', 'hasOwnProperty']) {
      expect(() => new PathJudge(net, { holdDowns: { [name]: 5 } as never })).toThrow(new RegExp(`unknown reason "${name}"`));
      expect(() => parseHoldDowns([`${name}=5`])).toThrow(/unknown reason/);
    }
    expect(() => new PathJudge(net, { holdDowns: 5 as never })).toThrow(/holdDowns must be an object/);
    expect(() => new PathJudge(net, { holdDowns: { 'link-down': '5' } as never })).toThrow(/got "5"/);
  });
});

describe('shared evaluations', () => {
  it('many watchers of one path share one evaluation; it ends with its last handle', () => {
    const h = makeHost();
    const one = h.watch({ local: V4.local, remote: V4.peer });
    const two = h.watch({ local: V4.local, remote: V4.peer });
    const lookups = h.judge.counters().kernelLookups;
    expect(h.judge.counters()).toMatchObject({ watches: 2, paths: 1 });
    h.net.setCarrier(h.eth0, false);
    expect(one.seen).toEqual(two.seen);
    expect(one.seen).toHaveLength(1);
    one.watch.close();
    one.watch.close();
    expect(h.judge.counters()).toMatchObject({ watches: 1, paths: 1 });
    h.runUntil(CAP + 1000);
    expect(two.seen.map((s) => s.event)).toEqual(['suspect', 'gone']);
    expect(one.seen).toHaveLength(1);
    expect(one.watch.state).toBe('suspect'); // its last state before close
    two.watch.close();
    expect(h.judge.counters()).toMatchObject({ watches: 0, paths: 0 });
    // A second watcher added nothing to the cost of the first check.
    expect(lookups).toBeLessThanOrEqual(2);
  });

  it('a gone path stays gone; watching it again starts a fresh evaluation', () => {
    const h = makeHost();
    const first = h.watch({ local: V4.local, remote: V4.peer });
    h.net.removeAddress(h.eth0, V4.local);
    h.runUntil(CAP + 1000);
    expect(first.watch.state).toBe('gone');
    h.net.addAddress(h.eth0, `${V4.local}/24`);
    h.net.addRoute({ to: 'default', via: V4.gateway, dev: h.eth0 });
    expect(first.watch.state).toBe('gone');
    const again = h.judge.watch({ local: V4.local, remote: V4.peer });
    expect(again.state).toBe('viable');
  });


  it("a 'gone' listener that watches the path again (a reconnect) gets a fresh evaluation; the gone one is dropped", () => {
    const h = makeHost();
    const first = h.judge.watch({ local: V4.local, remote: V4.peer });
    const other = h.judge.watch({ local: V4.local, remote: '203.0.113.9' });
    let again: ReturnType<typeof h.judge.watch> | null = null;
    let stateThen = '';
    first.on('gone', () => {
      // The address is back with another way to the peer by now: the new watch is judged afresh.
      h.net.addAddress(h.eth0, `${V4.local}/24`);
      h.net.addRoute({ to: 'default', via: V4.gateway, dev: h.eth0 });
      again = h.judge.watch({ local: V4.local, remote: V4.peer });
      stateThen = again.state;
    });
    h.net.removeAddress(h.eth0, V4.local);
    h.runUntil(CAP + 1000);
    expect(first.state).toBe('gone');
    expect(other.state).toBe('gone');
    expect(stateThen).toBe('viable');
    expect(again!.state).toBe('viable');
    // The two gone evaluations were dropped; the fresh one is the only path left.
    expect(h.judge.counters()).toMatchObject({ paths: 1 });
    first.close();
    other.close();
    again!.close();
    expect(h.judge.counters()).toMatchObject({ paths: 0, watches: 0 });
  });
  it('a path that is already broken when watched starts suspect', () => {
    const h = makeHost();
    const { watch, seen } = h.watch({ local: '192.0.2.99', remote: V4.peer });
    expect(watch.state).toBe('suspect');
    expect(watch.reason).toBe('local-address-removed');
    h.runUntil(10_000);
    expect(seen).toEqual([{ at: 3000, event: 'gone', reason: 'local-address-removed' }]);
  });

  it('a listener that throws does not stop the others from hearing', async () => {
    const h = makeHost();
    const a = h.judge.watch({ local: V4.local, remote: V4.peer });
    const b = h.watch({ local: V4.local, remote: V4.peer });
    a.on('suspect', () => {
      throw new Error('listener bug');
    });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.prependListener('uncaughtException', onUncaught);
    try {
      h.net.setCarrier(h.eth0, false);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(b.seen).toHaveLength(1);
    expect(uncaught.map((e) => (e as Error).message)).toEqual(['listener bug']);
  });

  it('delivers as EventEmitter does: once, several listeners, one removed while it runs', () => {
    const h = makeHost();
    const w = h.judge.watch({ local: V4.local, remote: V4.peer });
    const heard: string[] = [];
    w.once('suspect', () => heard.push('once'));
    const second = () => heard.push('second');
    w.on('suspect', () => {
      heard.push('first');
      w.off('suspect', second); // Node copies the list before calling: `second` still hears this one
    });
    w.on('suspect', second);
    w.prependListener('suspect', () => heard.push('prepended'));
    h.net.setCarrier(h.eth0, false);
    expect(heard).toEqual(['prepended', 'once', 'first', 'second']);
    expect(w.listenerCount('suspect')).toBe(2);
    h.net.setCarrier(h.eth0, true);
    h.net.setCarrier(h.eth0, false);
    expect(heard).toEqual(['prepended', 'once', 'first', 'second', 'prepended', 'first']);
  });

  it("leaves delivery to Node's emit when a handle's emit is replaced or rejections are captured", async () => {
    const h = makeHost();
    const w = h.judge.watch({ local: V4.local, remote: V4.peer });
    const traced: string[] = [];
    const base = w.emit.bind(w);
    w.emit = ((name: string, ...args: unknown[]) => (traced.push(name), base(name as never, ...(args as [never])))) as typeof w.emit;
    let heard = 0;
    w.on('suspect', () => heard++);
    h.net.setCarrier(h.eth0, false);
    expect(traced).toEqual(['suspect']);
    expect(heard).toBe(1);

    const { EventEmitter } = await import('node:events');
    const was = EventEmitter.captureRejections;
    EventEmitter.captureRejections = true;
    try {
      const h2 = makeHost();
      const v = h2.judge.watch({ local: V6.local, remote: V6.peer });
      const errors: unknown[] = [];
      v.on('error', (err) => errors.push(err));
      v.on('suspect', async () => {
        throw new Error('async listener bug');
      });
      h2.net.removeAddress(h2.eth0, V6.local);
      await new Promise((r) => setImmediate(r));
      expect(errors.map((e) => (e as Error).message)).toEqual(['async listener bug']);
    } finally {
      EventEmitter.captureRejections = was;
    }
  });

  it('close() stops all judging; handles keep their last state', () => {
    const h = makeHost();
    const { watch, seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.setCarrier(h.eth0, false);
    h.judge.close();
    h.runUntil(60_000);
    expect(seen.map((s) => s.event)).toEqual(['suspect']);
    expect(watch.state).toBe('suspect');
    expect(() => h.judge.watch({ local: V4.local, remote: V4.peer })).toThrow(/closed/);
  });
});

describe('options, link-local, marks', () => {
  it('hold-downs are configurable per reason', () => {
    const h = makeHost({ holdDowns: { 'local-address-removed': 800 } }, (net) => addSecondUplink(net));
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.removeAddress(h.eth0, V4.local);
    h.runUntil(10_000);
    expect(seen.at(-1)).toEqual({ at: 800, event: 'gone', reason: 'local-address-removed' });
  });

  it('maxSuspectMs caps the patience given when no other path exists', () => {
    const h = makeHost({ maxSuspectMs: 5000 });
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.setCarrier(h.eth0, false);
    h.net.at(10, () => h.net.removeAddress(h.eth0, V4.local));
    h.net.at(300, () => h.net.setCarrier(h.eth0, true));
    h.runUntil(60_000);
    expect(seen.at(-1)).toEqual({ at: 5000, event: 'gone', reason: 'local-address-removed' });
  });

  it('link-local paths are judged on their own interface', () => {
    const h = makeHost({}, (net) => {
      const eth1 = net.addLink('eth1');
      net.addAddress(eth1, 'fe80::10/64'); // the same link-local address on another interface
    });
    const { watch, seen } = h.watch({ local: 'fe80::10', remote: 'fe80::1', ifindex: h.eth0 });
    expect(watch.route?.oif).toBe(h.eth0);
    h.net.removeAddress(h.eth0, 'fe80::10');
    h.runUntil(10_000);
    expect(seen.at(-1)).toEqual({ at: 3000, event: 'gone', reason: 'local-address-removed' });
  });

  it('the evidence timeline holds the events and checks behind a verdict, bounded by evidenceLimit', () => {
    const h = makeHost({ evidenceLimit: 5 });
    const { watch } = h.watch({ local: V4.local, remote: V4.peer });
    let gone: readonly { kind: string; summary: string }[] = [];
    watch.on('gone', (g) => (gone = g.evidence));
    for (let i = 0; i < 9; i++) {
      h.net.at(i * 10, () => h.net.setCarrier(h.eth0, i % 2 === 1));
    }
    h.runUntil(CAP + 1000);
    expect(watch.evidence.length).toBeLessThanOrEqual(5);
    expect(gone.map((e) => e.kind)).toContain('timer');
    expect(gone[0].time).toBeGreaterThanOrEqual(h.t0 + 80); // within the window opened by the last carrier loss
    expect(gone.at(-1)!.summary).toMatch(/gone \(link-down\)/);
  });
});

describe('ENOBUFS resync inside a suspect window', () => {
  it('events lost and netted out (address re-added then removed again): window, deadline and evidence kept', () => {
    const h = makeHost();
    const { watch, seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.removeAddress(h.eth0, V4.local);
    const removal = watch.evidence.filter((e) => e.kind === 'event');
    h.net.at(1000, () =>
      h.net.overflow(() => {
        h.net.addAddress(h.eth0, `${V4.local}/24`);
        h.net.removeAddress(h.eth0, V4.local);
      }),
    );
    h.runUntil(CAP + 1000);
    expect(seen.map((s) => [s.at, s.event, s.reason])).toEqual([
      [0, 'suspect', 'local-address-removed'],
      [CAP, 'gone', 'local-address-removed'],
    ]);
    const evidence = watch.evidence;
    expect(evidence).toEqual(expect.arrayContaining(removal));
    expect(evidence.some((e) => /re-checked after a resync/.test(e.summary))).toBe(true);
    expect(h.judge.counters().churnSuppressed['local-address-removed']).toBe(0);
  });

  it('the address came back during the overflow: the diff event recovers the path', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V4.local, remote: V4.peer });
    h.net.removeAddress(h.eth0, V4.local);
    h.net.at(1000, () =>
      h.net.overflow(() => {
        h.net.addAddress(h.eth0, `${V4.local}/24`);
        h.net.addRoute({ to: 'default', via: V4.gateway, dev: h.eth0, protocol: 16 });
      }),
    );
    h.runUntil(20_000);
    expect(seen.map((s) => [s.at, s.event])).toEqual([
      [0, 'suspect'],
      [1000, 'recovered'],
    ]);
  });

  it('unrelated differences in the resync neither recover nor re-time the window', () => {
    const h = makeHost();
    const { seen } = h.watch({ local: V6.local, remote: V6.peer });
    h.net.removeAddress(h.eth0, V6.local);
    h.net.at(2000, () =>
      h.net.overflow(() => {
        h.net.addAddress(h.eth0, '2001:db8:1::99/64', { flags: 0x40 }); // tentative: not a replacement
        h.net.addRoute({ to: '203.0.113.0/24', via: V4.gateway, dev: h.eth0, table: 100 });
      }),
    );
    h.runUntil(CAP + 1000);
    expect(seen.map((s) => [s.at, s.event, s.reason])).toEqual([
      [0, 'suspect', 'local-address-removed'],
      [CAP, 'gone', 'local-address-removed'],
    ]);
  });
});

describe('judge created before the initial sync', () => {
  it('waits for synced, then evaluates what was watched', () => {
    const clock = new VirtualClock();
    const net = new FakeNetwork(clock);
    net.synced = false;
    const eth0 = net.addLink('eth0');
    const judge = new PathJudge(net, { clock });
    const w = judge.watch({ local: V4.local, remote: V4.peer });
    expect(w.state).toBe('viable');
    expect(judge.counters().checks).toBe(0);
    net.addAddress(eth0, `${V4.local}/24`);
    net.addRoute({ to: 'default', via: V4.gateway, dev: eth0 });
    net.synced = true;
    net.emit('event', { type: 'synced', links: 2, addresses: 3, routes: 2, nexthops: 0, time: clock.now() });
    expect(judge.counters().checks).toBe(1);
    expect(w.state).toBe('viable');
    expect(w.route?.oif).toBe(eth0);
  });
});
