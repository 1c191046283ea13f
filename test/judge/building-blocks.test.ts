/** The judge's building blocks: timer queue, virtual clock, path index, hold-down parsing, route resolver. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AddressAtoms } from '../../src/judge/address-atoms';
import { realClock, VirtualClock } from '../../src/judge/clock';
import { DEFAULT_HOLD_DOWNS, parseHoldDowns } from '../../src/judge/hold-downs';
import { PathIndex } from '../../src/judge/path-index';
import { canonicalPath, normalizePathSpec, parsePathArgument } from '../../src/judge/path-spec';
import { TimerQueue } from '../../src/judge/timer-queue';
import { TupleMemo } from '../../src/judge/tuple-memo';
import { IFA_F_DEPRECATED, IFA_F_PERMANENT, IFA_F_TENTATIVE } from '../../src/netlink/flags';
import { parseIp } from '../../src/netlink/ip';
import { FakeNetwork } from '../helpers/fake-network';

describe('VirtualClock and TimerQueue', () => {
  it('fires due items together, in time order, on one clock timer; moves and cancels', () => {
    const clock = new VirtualClock(100);
    const fired: Array<[number, string[]]> = [];
    const q = new TimerQueue<string>(clock, (due) => fired.push([clock.now(), due]));
    const a = q.schedule(150, 'a');
    q.schedule(150, 'b');
    const c = q.schedule(120, 'c');
    q.schedule(300, 'd');
    expect(clock.pending).toBe(1);
    q.schedule(200, 'c', c); // moved later
    q.cancel(a);
    clock.advance(1000);
    expect(fired).toEqual([
      [150, ['b']],
      [200, ['c']],
      [300, ['d']],
    ]);
    expect(q.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('many items due at once come out in one sweep, in time and schedule order, and the rest stays a valid heap', () => {
    // A clock that fires late, as a real one behind a busy loop does: everything due by then comes at once.
    let now = 0;
    let armed: (() => void) | null = null;
    const lateClock = {
      now: () => now,
      setTimeout: (fn: () => void) => ((armed = fn), fn),
      clearTimeout: () => (armed = null),
    };
    const fire = (at: number) => {
      now = at;
      const fn = armed;
      armed = null;
      fn?.();
    };
    const fired: number[][] = [];
    const q = new TimerQueue<number>(lateClock, (due) => fired.push(due));
    // 3,000 items over 30 instants in a scrambled order, some cancelled or moved first.
    const entries = [];
    for (let i = 0; i < 3000; i++) entries.push(q.schedule(1000 + ((i * 7919) % 30) * 10, i));
    for (let i = 0; i < 3000; i += 97) q.cancel(entries[i]);
    q.schedule(1000, 5, entries[5]);
    // 1,000 hold-downs that began in one pass end together.
    for (let i = 0; i < 1000; i++) q.schedule(1150, 10_000 + i);
    // The order they must come out in: time, then scheduling order (a move reschedules).
    const order: Array<[number, number, number]> = [];
    entries.forEach((e, i) => {
      if (i % 97 !== 0) order.push([e.at, e.seq, i]);
    });
    for (let i = 0; i < 1000; i++) order.push([1150, 1e9 + i, 10_000 + i]);
    order.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const due = order.filter(([at]) => at <= 1150);
    const rest = order.filter(([at]) => at > 1150);

    fire(1155);
    expect(fired).toEqual([due.map(([, , item]) => item)]);
    expect(due.length).toBeGreaterThan(1000);
    expect(q.size).toBe(rest.length);
    // Cancelling works on the re-heapified rest, and the rest comes out in order.
    q.cancel(entries[rest[0][2]]);
    const after: number[] = [];
    for (let t = 1160; t <= 1300; t += 10) {
      fired.length = 0;
      fire(t);
      after.push(...fired.flat());
    }
    expect(after).toEqual(rest.slice(1).map(([, , item]) => item));
    expect(q.size).toBe(0);
    expect(armed).toBeNull();
  });

  it('timers scheduled while firing run in the same advance; the clock never goes back', () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 10);
    clock.advance(20);
    expect(seen).toEqual([10, 15]);
    expect(clock.now()).toBe(20);
    expect(() => clock.advanceTo(5)).toThrow(RangeError);
  });
});

describe('realClock', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  /** Node's timers and performance.now() faked together; the delays realClock asks of setTimeout, in order. */
  function fakeNode(): number[] {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const asked: number[] = [];
    const fake = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
      asked.push(ms);
      return fake(fn, ms);
    }) as typeof setTimeout);
    return asked;
  }

  it("wakes a long timer early by the kernel's padding, sleeps the rest, and never fires early", () => {
    const asked = fakeNode();
    const start = performance.now();
    const firedAt: number[] = [];
    realClock.setTimeout(() => firedAt.push(performance.now() - start), 3000);
    // Twice 0.1% of 3 s (select_estimate_accuracy) and 5 ms: 11 ms early.
    expect(asked).toEqual([2989]);
    vi.advanceTimersByTime(2989);
    expect(firedAt).toEqual([]);
    expect(asked).toHaveLength(2);
    expect(asked[1]).toBeCloseTo(11, 6);
    vi.advanceTimersByTime(10);
    expect(firedAt).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(firedAt).toEqual([3000]);
    vi.advanceTimersByTime(10_000);
    expect(firedAt).toHaveLength(1);
  });

  it("caps the early wake at twice the kernel's 100 ms and leaves short timers to Node as they are", () => {
    const asked = fakeNode();
    realClock.setTimeout(() => {}, 600_000);
    realClock.setTimeout(() => {}, 29);
    expect(asked).toEqual([600_000 - 205, 29]);
  });

  it("sleeps past Node's longest timer in steps, and never fires a timer set for Infinity", () => {
    const asked = fakeNode();
    const start = performance.now();
    const firedAt: number[] = [];
    const days40 = 40 * 86_400_000;
    realClock.setTimeout(() => firedAt.push(performance.now() - start), days40);
    realClock.setTimeout(() => firedAt.push(-1), Infinity);
    expect(asked).toEqual([0x7fffffff, 0x7fffffff]);
    vi.advanceTimersByTime(days40 - 1);
    expect(firedAt).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(firedAt).toEqual([days40]);
    vi.advanceTimersByTime(days40);
    expect(firedAt).toEqual([days40]);
    // Every sleep is a long one: no busy loop.
    expect(asked.length).toBeLessThan(10);
  });

  it('cancels a timer in either of its sleeps', () => {
    fakeNode();
    let fired = 0;
    const early = realClock.setTimeout(() => fired++, 1000);
    realClock.clearTimeout(early);
    const late = realClock.setTimeout(() => fired++, 1000);
    vi.advanceTimersByTime(999);
    realClock.clearTimeout(late);
    vi.advanceTimersByTime(5000);
    expect(fired).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('PathIndex', () => {
  const path = (local: string, remote: string) => ({
    path: normalizePathSpec({ local, remote }),
    peerSlot: -1,
    localSlot: -1,
    ifaceA: -1,
    slotA: -1,
    ifaceRest: null as number[] | null,
    nextHopSlot: -1,
  });

  it('finds the paths whose peer a prefix covers, and no others', () => {
    const index = new PathIndex<ReturnType<typeof path>>();
    const a = path('192.0.2.10', '198.51.100.7');
    const b = path('192.0.2.11', '198.51.100.7');
    const c = path('192.0.2.10', '198.51.100.200');
    const d = path('192.0.2.10', '203.0.113.9');
    const e = path('2001:db8:1::10', '2001:db8:ff::7');
    for (const p of [a, b, c, d, e]) index.add(p);
    const covered = (prefix: string, len: number) => {
      const out: unknown[] = [];
      index.forEachCovered(parseIp(prefix)!.family, parseIp(prefix)!.bytes, len, (p) => out.push(p));
      return out;
    };
    expect(covered('198.51.100.0', 24)).toEqual([a, b, c]);
    expect(covered('198.51.100.0', 25)).toEqual([a, b]);
    expect(covered('198.51.100.7', 32)).toEqual([a, b]);
    expect(covered('0.0.0.0', 0)).toEqual([a, b, c, d]);
    expect(covered('192.0.2.0', 24)).toEqual([]);
    expect(covered('::', 0)).toEqual([e]);
    index.remove(a);
    index.remove(c);
    expect(covered('198.51.100.0', 24)).toEqual([b]);
    index.add(c);
    expect(covered('198.51.100.0', 24)).toEqual([b, c]);
    expect([...index.withLocal('192.0.2.10')!]).toEqual([d, c]);
    // Address on 3, egress 4; then both on 4: 3 is left, 4 listed once.
    index.moveInterfaces(b, null, null, 3, 4, null, null);
    index.moveInterfaces(b, 3, 4, 4, 4, null, null);
    expect(index.onInterface(3)).toBeUndefined();
    expect([...index.onInterface(4)!]).toEqual([b]);
    // A scoped path (ifindex 5) and a bound one (device 6) stay listed there whatever moves,
    // even when the address or egress they left was that interface.
    index.moveInterfaces(d, null, null, 5, 7, 5, 6);
    expect([5, 6, 7].map((i) => [...(index.onInterface(i) ?? [])])).toEqual([[d], [d], [d]]);
    index.moveInterfaces(d, 5, 7, 8, 6, 5, 6);
    expect([5, 6, 7, 8].map((i) => [...(index.onInterface(i) ?? [])])).toEqual([[d], [d], [], [d]]);
    index.leaveInterfaces(d, 8, 6, 5, 6);
    expect([5, 6, 8].map((i) => index.onInterface(i))).toEqual([undefined, undefined, undefined]);
  });
});

describe('PathIndex.find', () => {
  // As in a judge: atoms shared through AddressAtoms, held while a path names them.
  const atoms = new AddressAtoms();
  const make = (spec: { local: string; remote: string; mark?: number }) => {
    const path = canonicalPath(spec, (s, f) => atoms.resolve(s, f));
    atoms.hold(path.localAtom);
    atoms.hold(path.remoteAtom);
    return { path, peerSlot: -1, localSlot: -1, ifaceA: -1, slotA: -1, ifaceRest: null as number[] | null, nextHopSlot: -1 };
  };
  const spec = (local: string, remote: string, mark?: number) => (mark === undefined ? { local, remote } : { local, remote, mark });

  it('finds the same path from either side: many peers of one local (a server), many locals to one peer (a client with many sources)', () => {
    const index = new PathIndex<ReturnType<typeof make>>();
    const server = Array.from({ length: 50 }, (_, i) => make(spec('192.0.2.10', `198.51.100.${i + 1}`)));
    const client = Array.from({ length: 50 }, (_, i) => make(spec(`203.0.113.${i + 1}`, '198.51.100.1')));
    const marked = make(spec('192.0.2.10', '198.51.100.1', 7));
    for (const p of [...server, ...client, marked]) index.add(p);
    const find = (local: string, remote: string, mark?: number) => index.find(canonicalPath(spec(local, remote, mark), (s, f) => atoms.resolve(s, f)));
    for (const p of server) expect(find(p.path.local, p.path.remote)).toBe(p);
    for (const p of client) expect(find(p.path.local, p.path.remote)).toBe(p);
    expect(find('192.0.2.10', '198.51.100.1', 7)).toBe(marked);
    expect(find('192.0.2.10', '198.51.100.1', 8)).toBeUndefined();
    expect(find('203.0.113.1', '198.51.100.2')).toBeUndefined(); // both ends known, never together
    // Removing keeps the others findable (slots move with swaps).
    for (const p of server.slice(0, 25)) index.remove(p);
    for (const p of client.filter((_, i) => i % 2 === 0)) index.remove(p);
    for (const p of server) expect(find(p.path.local, p.path.remote)).toBe(server.indexOf(p) < 25 ? undefined : p);
    client.forEach((p, i) => expect(find(p.path.local, p.path.remote)).toBe(i % 2 === 0 ? undefined : p));
    expect(index.withLocal('192.0.2.10')).toHaveLength(26);
    expect(index.hasLocal('203.0.113.1')).toBe(false);
    expect(index.hasLocal('203.0.113.2')).toBe(true);
  });
});

describe('TupleMemo', () => {
  it('computes each tuple once, whatever the interleaving of names, past its recent slots and across a limit reset', () => {
    const memo = new TupleMemo(50);
    let computed = 0;
    const atoms = Array.from({ length: 30 }, (_, i) => ({ i }));
    const value = (name: string, a: object, n: number) => memo.get([name, a, n], () => (computed++, `${name}:${(a as { i: number }).i}:${n}`));
    // 12 names (more than the recent slots) interleaved path after path, as a deadline pass asks them.
    const names = Array.from({ length: 12 }, (_, k) => `fact-${k}`);
    for (let round = 0; round < 3; round++) {
      for (const a of atoms.slice(0, 3)) for (const name of names) expect(value(name, a, 7)).toBe(`${name}:${(a as { i: number }).i}:7`);
    }
    expect(computed).toBe(3 * 12); // 36 tuples, each computed once (under the limit of 50)
    // Same name, other keys: a different value, never the recent one.
    expect(value('fact-0', atoms[0], 8)).toBe('fact-0:0:8');
    expect(value('fact-0', atoms[0], 7)).toBe('fact-0:0:7');
    // Past the limit everything is forgotten once, and values stay right.
    for (const a of atoms) expect(value('other', a, 1)).toBe(`other:${(a as { i: number }).i}:1`);
    for (const a of atoms) expect(value('other', a, 1)).toBe(`other:${(a as { i: number }).i}:1`);
    expect(computed).toBeGreaterThan(3 * 12 + 1 + 30);
  });

  it('get5 shares its tuples with get(), computes once per tuple, and tells every key apart (doubles and nulls too)', () => {
    const memo = new TupleMemo();
    const calls: unknown[][] = [];
    const make = (x: string, y: number, z: null) => (calls.push([x, y, z]), `${x}/${y}`);
    const atom = { i: 1 };
    const since = 1_700_000_000_123.25; // a double, as a lookback start is
    expect(memo.get5('address', atom, null, 7, since, null, make, 'a', 1, null)).toBe('a/1');
    // A hit never calls make, whatever x, y, z say (they only feed a miss).
    expect(memo.get5('address', atom, null, 7, since, null, make, 'other', 2, null)).toBe('a/1');
    // The same tuple asked through get() finds the same value: one memo, two ways in.
    expect(memo.get(['address', atom, null, 7, since, null], () => 'never')).toBe('a/1');
    // Each key counts: another atom, a null against 0, another double, another name.
    expect(memo.get5('address', { i: 1 }, null, 7, since, null, make, 'b', 2, null)).toBe('b/2');
    expect(memo.get5('address', atom, 0, 7, since, null, make, 'c', 3, null)).toBe('c/3');
    expect(memo.get5('address', atom, null, 7, since + 0.5, null, make, 'd', 4, null)).toBe('d/4');
    expect(memo.get5('window', atom, null, 7, since, null, make, 'e', 5, null)).toBe('e/5');
    // Interleaved, each is still found (the recent slots hold the last tuple per name).
    expect(memo.get5('address', atom, null, 7, since, null, make, 'x', 0, null)).toBe('a/1');
    expect(memo.get5('window', atom, null, 7, since, null, make, 'x', 0, null)).toBe('e/5');
    expect(calls).toEqual([['a', 1, null], ['b', 2, null], ['c', 3, null], ['d', 4, null], ['e', 5, null]]);
  });
});

describe('AddressAtoms', () => {
  const spec = (remote: string) => ({ local: '192.0.2.10', remote });

  it('one atom per address while held; other spellings (IPv4-mapped, upper case) find it and are remembered', () => {
    const atoms = new AddressAtoms();
    const a = atoms.resolve(spec('198.51.100.7'), 'remote');
    expect(a.refs).toBe(0);
    atoms.hold(a);
    expect(atoms.resolve(spec('198.51.100.7'), 'remote')).toBe(a);
    // A dual-stack server's sockets report the mapped form: the same atom, without a new one.
    expect(atoms.resolve(spec('::ffff:198.51.100.7'), 'remote')).toBe(a);
    expect(atoms.resolve(spec('::FFFF:198.51.100.7'), 'remote')).toBe(a);
    const six = atoms.resolve(spec('2001:DB8::7'), 'remote');
    expect(six.text).toBe('2001:db8::7');
    atoms.hold(six);
    expect(atoms.resolve(spec('2001:DB8::7'), 'remote')).toBe(six);
    expect(atoms.size).toBe(2);
  });

  it('a released atom is not found again, by either spelling: the next path gets a fresh one', () => {
    const atoms = new AddressAtoms();
    const a = atoms.resolve(spec('::ffff:198.51.100.7'), 'remote');
    atoms.hold(a);
    atoms.release(a);
    expect(atoms.size).toBe(0);
    const b = atoms.resolve(spec('::ffff:198.51.100.7'), 'remote');
    expect(b).not.toBe(a);
    expect(b.text).toBe('198.51.100.7');
    expect(atoms.resolve(spec('198.51.100.7'), 'remote')).not.toBe(a);
  });

  it('keeps rejecting what is not an address, whatever was resolved before', () => {
    const atoms = new AddressAtoms();
    atoms.hold(atoms.resolve(spec('198.51.100.7'), 'remote'));
    expect(() => atoms.resolve(spec('198.51.100.7 '), 'remote')).toThrow(/PathSpec\.remote must be an IPv4 or IPv6 address/);
  });

  it('sweeps the spellings of atoms nobody holds once they outnumber the held ones', () => {
    const atoms = new AddressAtoms();
    for (let i = 0; i < 3000; i++) {
      const a = atoms.resolve(spec(`::ffff:198.51.${i >> 8}.${i & 0xff}`), 'remote');
      atoms.hold(a);
      atoms.release(a);
    }
    const aliases = (atoms as unknown as { aliases: Map<string, unknown> }).aliases;
    expect(aliases.size).toBeLessThanOrEqual(1024);
  });
});

describe('argument parsing', () => {
  it('--hold-down: MS for all, REASON=MS for one, comma lists', () => {
    const all = parseHoldDowns(['1500']);
    expect(Object.values(all).every((v) => v === 1500)).toBe(true);
    expect(Object.keys(all)).toEqual(Object.keys(DEFAULT_HOLD_DOWNS));
    expect(parseHoldDowns(['2000', 'link-down=100,no-route=50'])).toMatchObject({ 'link-down': 100, 'no-route': 50, unreachable: 2000 });
    expect(() => parseHoldDowns(['link-down='])).toThrow(/is not MS or REASON=MS/);
    expect(() => parseHoldDowns(['fast'])).toThrow(/is not MS or REASON=MS/);
    expect(() => parseHoldDowns(['gone=1'])).toThrow(/unknown reason "gone"/);
  });

  it('--path LOCAL,REMOTE[,IFINDEX[,MARK[,BOUND_IFINDEX]]]', () => {
    expect(parsePathArgument('192.0.2.10,198.51.100.7')).toEqual({ local: '192.0.2.10', remote: '198.51.100.7' });
    expect(parsePathArgument('192.0.2.10,198.51.100.7,,,3')).toEqual({ local: '192.0.2.10', remote: '198.51.100.7', boundIfindex: 3 });
    expect(() => parsePathArgument('192.0.2.10,198.51.100.7,,,0')).toThrow(/boundIfindex must be an integer from 1/);
    expect(parsePathArgument('fe80::10,fe80::1,4,7')).toEqual({ local: 'fe80::10', remote: 'fe80::1', ifindex: 4, mark: 7 });
    expect(() => parsePathArgument('192.0.2.10')).toThrow(/LOCAL,REMOTE/);
    expect(() => parsePathArgument('fe80::10,fe80::1')).toThrow(/needs ifindex/);
    // Decimal digits only: Number() would read a blank as 0 and take hex, binary or exponents.
    for (const bad of ['192.0.2.10,198.51.100.7,,  ', '192.0.2.10,198.51.100.7,,0x10', '192.0.2.10,198.51.100.7,1e1', '192.0.2.10,198.51.100.7,, 3']) {
      expect(() => parsePathArgument(bad)).toThrow(/must be an integer in decimal digits/);
    }
  });
});

describe('resolveRoute (the fake network\'s and replay\'s kernel)', () => {
  function net() {
    const clock = new VirtualClock(0);
    const n = new FakeNetwork(clock);
    const eth0 = n.addLink('eth0');
    n.addAddress(eth0, '192.0.2.10/24');
    n.addAddress(eth0, '2001:db8:1::10/64');
    n.addRoute({ to: 'default', via: '192.0.2.1', dev: eth0 });
    n.addRoute({ to: 'default6', via: 'fe80::1', dev: eth0, expires: 10 });
    return { clock, n, eth0 };
  }

  it('longest prefix, then metric; kernel errnos for unreachable, prohibit, blackhole, no route', () => {
    const { n, eth0 } = net();
    const eth1 = n.addLink('eth1');
    n.addAddress(eth1, '203.0.113.10/24');
    n.addRoute({ to: '198.51.100.0/24', via: '203.0.113.1', dev: eth1, metric: 10 });
    n.addRoute({ to: '198.51.100.0/24', via: '192.0.2.1', dev: eth0, metric: 5 });
    const r = n.lookupRoute({ to: '198.51.100.7' });
    expect(r).toMatchObject({ ok: true, route: { oif: eth0, gateway: '192.0.2.1', preferredSource: '192.0.2.10', table: 254 } });
    n.addRoute({ to: '198.51.100.7/32', type: 'prohibit' });
    expect(n.lookupRoute({ to: '198.51.100.7' })).toMatchObject({ ok: false, code: 'EACCES' });
    n.addRoute({ to: '198.51.100.8/32', type: 'unreachable' });
    expect(n.lookupRoute({ to: '198.51.100.8' })).toMatchObject({ ok: false, code: 'EHOSTUNREACH' });
    n.addRoute({ to: '198.51.100.9/32', type: 'blackhole' });
    expect(n.lookupRoute({ to: '198.51.100.9' })).toMatchObject({ ok: false, code: 'EINVAL' });
    n.removeRoute({ to: 'default', via: '192.0.2.1', dev: eth0 });
    expect(n.lookupRoute({ to: '8.8.8.8' })).toMatchObject({ ok: false, code: 'ENETUNREACH', errno: 101 });
  });

  it('an IPv4 source that is not local is refused with EINVAL; IPv6 sources are not checked', () => {
    const { n } = net();
    expect(n.lookupRoute({ to: '198.51.100.7', from: '192.0.2.99' })).toMatchObject({ ok: false, code: 'EINVAL' });
    expect(n.lookupRoute({ to: '2001:db8:ff::7', from: '2001:db8:1::99' })).toMatchObject({ ok: true });
  });

  it('skips expired routes and routes on admin-down links; keeps routes on links without carrier', () => {
    const { clock, n, eth0 } = net();
    expect(n.lookupRoute({ to: '2001:db8:ff::7' }).ok).toBe(true);
    clock.advance(10_000);
    expect(n.lookupRoute({ to: '2001:db8:ff::7' })).toMatchObject({ ok: false, code: 'ENETUNREACH' });
    n.setCarrier(eth0, false);
    expect(n.lookupRoute({ to: '198.51.100.7' })).toMatchObject({ ok: true, route: { oif: eth0 } });
    n.setAdminUp(eth0, false);
    expect(n.lookupRoute({ to: '198.51.100.7' })).toMatchObject({ ok: false, code: 'ENETUNREACH' });
  });

  it('source selection prefers usable, non-deprecated addresses of the destination scope', () => {
    const { n, eth0 } = net();
    n.addAddress(eth0, 'fe80::10/64');
    n.addAddress(eth0, '2001:db8:1::20/64', { flags: IFA_F_PERMANENT | IFA_F_TENTATIVE });
    expect(n.lookupRoute({ to: 'fe80::1', oif: eth0 })).toMatchObject({ ok: true, route: { preferredSource: 'fe80::10' } });
    expect(n.lookupRoute({ to: '2001:db8:ff::7' })).toMatchObject({ route: { preferredSource: '2001:db8:1::10' } });
    n.changeAddress(eth0, '2001:db8:1::10', { flags: IFA_F_DEPRECATED });
    n.changeAddress(eth0, '2001:db8:1::20', { flags: IFA_F_PERMANENT });
    expect(n.lookupRoute({ to: '2001:db8:ff::7' })).toMatchObject({ route: { preferredSource: '2001:db8:1::20' } });
  });
});
