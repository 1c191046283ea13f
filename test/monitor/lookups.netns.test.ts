/**
 * Batched kernel route lookups (lookupRoutes, lookupBatch) against the real kernel in a
 * private namespace: every answer must equal what lookupRoute() says for the same query,
 * in query order, on a started monitor (its own lookup socket) and an unstarted one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkMonitor } from '../../src/monitor';
import { RouteQueryBatch } from '../../src/netlink/query-batch';
import { parseIp } from '../../src/netlink/ip';
import type { RouteQuery } from '../../src/netlink/types';
import type { RouteLookupResult } from '../../src/netlink/view';
import { createNetns, createVeth, describeNetns, type NetNs } from '../helpers/netns';

const FWMARK = 7;

function bytesOf(ip: string): Uint8Array {
  const parsed = parseIp(ip);
  if (!parsed) throw new Error(`bad test address ${ip}`);
  return parsed.bytes;
}

describeNetns('NetlinkMonitor batched lookups (real kernel, private namespace)', () => {
  let ns: NetNs;
  let v0: number;
  let v1: number;
  /** Every kind of answer: routes, unreachable, blackhole, prohibit, policy rules. */
  let mixed: RouteQuery[];

  beforeAll(() => {
    ns = createNetns('rglk');
    createVeth(ns, 'v0', null, 'v1');
    ns.ipBatch([
      'addr add 192.0.2.1/24 dev v0',
      'addr add 198.51.100.1/24 dev v1',
      'addr add 2001:db8:1::1/64 dev v0 nodad',
      'addr add 2001:db8:2::1/64 dev v1 nodad',
      'route add unreachable 203.0.113.0/25',
      'route add blackhole 203.0.113.128/26',
      'route add prohibit 203.0.113.192/26',
      'route add 2001:db8:7::/48 via 2001:db8:1::2',
      'route add unreachable 2001:db8:8::/48',
      'route add blackhole 2001:db8:9::/48',
      // Marked packets to 198.51.100.0/24 leave through v0 (table 100) instead of v1.
      `rule add fwmark ${FWMARK} lookup 100 pref 100`,
      'route add 198.51.100.0/24 via 192.0.2.2 table 100',
    ]);
    v0 = ns.ifindex('v0');
    v1 = ns.ifindex('v1');
    mixed = [
      { to: '192.0.2.77' },
      { to: '2001:db8:1::77' },
      { to: '198.51.100.9' },
      { to: '2001:db8:7::1' },
      { to: '203.0.113.5' }, // unreachable: EHOSTUNREACH
      { to: '203.0.113.130' }, // blackhole: EINVAL for IPv4
      { to: '203.0.113.200' }, // prohibit: EACCES
      { to: '2001:db8:8::1' }, // IPv6 unreachable
      { to: '2001:db8:9::1' }, // IPv6 blackhole
      { to: '10.0.0.1' }, // no route at all: ENETUNREACH (a lookup only, nothing is sent)
      { to: '2001:db8:ff::1' }, // no IPv6 route: ENETUNREACH
      { to: '192.0.2.77', from: '192.0.2.1' }, // local source
      { to: '192.0.2.77', from: '192.0.2.200' }, // non-local source
      { to: '2001:db8:1::77', from: '2001:db8:1::1' },
      { to: '2001:db8:1::77', from: '2001:db8:ff::9' }, // non-local IPv6 source
      { to: '198.51.100.9', mark: FWMARK }, // policy rule: table 100, via v0
      { to: '198.51.100.9', oif: 0 }, // filled in below with real indexes
      { to: '192.0.2.77', oif: 0 },
      { to: '2001:db8:2::5', oif: 0 },
      { to: '127.0.0.1', uid: 1000 },
      { to: '192.0.2.77', iif: 0, from: '198.51.100.50' }, // forwarding lookup from v1
    ];
    mixed[16].oif = v0;
    mixed[17].oif = v1;
    mixed[18].oif = v0;
    mixed[20].iif = v1;
  });

  afterAll(() => ns?.destroy());

  function expectSameAsOneByOne(monitor: NetlinkMonitor, queries: RouteQuery[], results: RouteLookupResult[]) {
    expect(results).toHaveLength(queries.length);
    expect(results).toEqual(queries.map((q) => monitor.lookupRoute(q)));
  }

  for (const started of [true, false]) {
    describe(started ? 'started monitor' : 'unstarted monitor (standalone lookup socket)', () => {
      let monitor: NetlinkMonitor;
      beforeAll(async () => {
        monitor = new NetlinkMonitor({ netns: ns.path, routes: 'events' });
        if (started) await monitor.start();
      });
      afterAll(() => monitor?.close());

      it('answers a mixed IPv4/IPv6 batch exactly as lookupRoute() one by one, in order', () => {
        const results = monitor.lookupRoutes(mixed);
        expectSameAsOneByOne(monitor, mixed, results);
        const codes = results.map((r) => (r.ok ? 'ok' : r.code));
        // The kernel's verdicts this batch was built to cover.
        expect(codes.slice(0, 4)).toEqual(['ok', 'ok', 'ok', 'ok']);
        expect(codes.slice(4, 11)).toEqual([
          'EHOSTUNREACH', 'EINVAL', 'EACCES', 'EHOSTUNREACH', 'EINVAL', 'ENETUNREACH', 'ENETUNREACH',
        ]);
        // IPv4 refuses a source that is not local (ip route get ... from: unreachable); IPv6 takes it.
        expect(codes.slice(11, 15)).toEqual(['ok', 'ENETUNREACH', 'ok', 'ok']);
        // Forwarding is off in a new namespace: a lookup as if arriving on v1 finds no route.
        expect(codes[20]).toBe('EHOSTUNREACH');
        const marked = results[15];
        expect(marked.ok && [marked.route.oif, marked.route.gateway, marked.route.table]).toEqual([v0, '192.0.2.2', 100]);
        const unmarked = results[2];
        expect(unmarked.ok && unmarked.route.oif).toBe(v1);
        const failed = results[4];
        expect(!failed.ok && failed).toMatchObject({ errno: 113, message: expect.stringContaining('203.0.113.5') });
      });

      it('answers a packed RouteQueryBatch as lookupRoutes() does', () => {
        const batch = new RouteQueryBatch(2); // grows while filled
        for (const q of mixed) {
          const to = parseIp(q.to)!;
          const index = batch.add(to.family, to.bytes, q.from ? bytesOf(q.from) : null, q.oif, q.mark, q.iif, q.uid);
          expect(index).toBe(batch.length - 1);
        }
        expect(monitor.lookupBatch(batch)).toEqual(monitor.lookupRoutes(mixed));
        // Reused after clear(): 4-byte IPv4 addresses, no leftovers of the longer batch.
        batch.clear();
        batch.add(4, Uint8Array.of(192, 0, 2, 77), Uint8Array.of(192, 0, 2, 1));
        batch.add(6, bytesOf('2001:db8:8::1'));
        expect(monitor.lookupBatch(batch)).toEqual(
          monitor.lookupRoutes([{ to: '192.0.2.77', from: '192.0.2.1' }, { to: '2001:db8:8::1' }]),
        );
      });

      it('answers take the texts a batch names for their addresses, when the bytes match', () => {
        const batch = new RouteQueryBatch();
        const queries: RouteQuery[] = [{ to: '192.0.2.77', from: '192.0.2.1' }, { to: '2001:db8:7::1' }, { to: '2001:db8:8::1' }];
        batch.add(4, bytesOf('192.0.2.77'), bytesOf('192.0.2.1'));
        batch.nameAddresses('192.0.2.77', '192.0.2.1');
        batch.add(6, bytesOf('2001:db8:7::1'));
        batch.nameAddresses('2001:db8:7::1', null);
        batch.add(6, bytesOf('2001:db8:8::1')); // an error answer: names unused
        batch.nameAddresses('2001:db8:8::1', null);
        expect(monitor.lookupBatch(batch)).toEqual(monitor.lookupRoutes(queries));
        // A name is taken as given when the answer's bytes are the query's (so it must be canonical).
        batch.clear();
        batch.add(6, bytesOf('2001:db8:7::1'));
        batch.nameAddresses('2001:DB8:7::1', null);
        batch.add(4, bytesOf('192.0.2.77'), bytesOf('192.0.2.1'));
        const [upper, unnamed] = monitor.lookupBatch(batch);
        expect(upper.ok && upper.route.destination).toBe('2001:DB8:7::1');
        expect(unnamed.ok && [unnamed.route.destination, unnamed.route.source]).toEqual(['192.0.2.77', '192.0.2.1']);
      });

      it('answers 20,000 queries (many chunks) all in order', () => {
        const queries: RouteQuery[] = [];
        for (let i = 0; i < 20_000; i++) {
          const n = i % 4;
          const host = (i >> 2) & 0xff;
          const to =
            n === 0 ? `192.0.2.${host}` :
            n === 1 ? `2001:db8:1::${i.toString(16)}` :
            n === 2 ? `203.0.113.${host}` :
            `2001:db8:7::${i.toString(16)}`;
          queries.push({ to });
        }
        const results = monitor.lookupRoutes(queries);
        expect(results).toHaveLength(queries.length);
        // Each answer names the address it answers (RTM_GETROUTE echoes it as the destination).
        // And its own gateway and source: answers alternate families and gateways, which the
        // decoder's per-field memory of the last address must not blur.
        const expected = [
          [null, '192.0.2.1'],
          [null, '2001:db8:1::1'],
          null,
          ['2001:db8:1::2', '2001:db8:1::1'],
        ];
        for (let i = 0; i < queries.length; i++) {
          const r = results[i];
          // Only the 203.0.113.0/24 queries (every 4th from the 3rd) have no route.
          expect(r.ok, queries[i].to).toBe(i % 4 !== 2);
          if (r.ok) {
            expect(r.route.destination).toBe(queries[i].to);
            expect([r.route.gateway, r.route.preferredSource]).toEqual(expected[i % 4]);
          } else {
            expect(r.message).toContain(`route lookup for ${queries[i].to}:`);
          }
        }
        const sample = queries.filter((_, i) => i % 97 === 0);
        expectSameAsOneByOne(monitor, sample, sample.map((q) => results[queries.indexOf(q)]));
      });

      it('returns nothing for an empty batch', () => {
        expect(monitor.lookupRoutes([])).toEqual([]);
        expect(monitor.lookupBatch(new RouteQueryBatch())).toEqual([]);
      });

      it('rejects a bad query naming its index, and asks nothing', () => {
        const bad = () => monitor.lookupRoutes([{ to: '192.0.2.1' }, { to: '192.0.2.2', from: '::1' }]);
        expect(bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('queries[1]') }));
        expect(() => monitor.lookupRoutes([{ to: '192.0.2.1' }, { to: '192.0.2.1', mark: -1 }])).toThrow(/queries\[1\]: "mark"/);
        expect(() => monitor.lookupRoutes('x' as unknown as RouteQuery[])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
        expect(() => monitor.lookupBatch({} as RouteQueryBatch)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
      });
    });
  }

  it('throws ERR_MONITOR_CLOSED once closed', async () => {
    const monitor = new NetlinkMonitor({ netns: ns.path, routes: 'events' });
    await monitor.start();
    monitor.close();
    const batch = new RouteQueryBatch();
    batch.add(4, bytesOf('192.0.2.1'));
    expect(() => monitor.lookupRoutes([{ to: '192.0.2.1' }])).toThrow(expect.objectContaining({ code: 'ERR_MONITOR_CLOSED' }));
    expect(() => monitor.lookupBatch(batch)).toThrow(expect.objectContaining({ code: 'ERR_MONITOR_CLOSED' }));
    const unstarted = new NetlinkMonitor({ netns: ns.path });
    unstarted.close();
    expect(() => unstarted.lookupRoutes([])).toThrow(expect.objectContaining({ code: 'ERR_MONITOR_CLOSED' }));
  });
});
