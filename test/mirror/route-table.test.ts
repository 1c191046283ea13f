/**
 * RouteTable's two slot sizes: the common IPv4 route in a 64-byte compact slot, every
 * other route in a 128-byte full one. Records are built word by word as the addon writes
 * them (native/record_format.h), so the test covers what the slots must give back.
 */
import { describe, expect, it } from 'vitest';
import { readRoute, type RecordView } from '../../src/netlink/decode';
import * as F from '../../src/netlink/record-format';
import { fitsCompact } from '../../src/mirror/route-slots';
import { ADDED, APPEND, CHANGED, PREPEND, RouteTable, SAME } from '../../src/mirror/route-table';
import { mulberry32 } from '../helpers/seeded-random.mjs';

interface RouteWords {
  family?: 2 | 10;
  dst: number[]; // bytes
  dstLen: number;
  table?: number;
  metric?: number;
  oif?: number;
  gateway?: number[];
  type?: number;
  expires?: number;
  mtu?: number;
  nhId?: number;
}

/** One route payload (30 words) in a view of its own, at word 0. */
function record(r: RouteWords): RecordView {
  const u32 = new Uint32Array(F.ROUTE_FIXED_WORDS);
  const u8 = new Uint8Array(u32.buffer);
  const family = r.family ?? 2;
  u32[F.ROUTE_FAMILY_DLEN_SLEN_TOS] = family | (r.dstLen << 8);
  u32[F.ROUTE_PROTO_SCOPE_TYPE_PREF] = 186 | ((r.type ?? 1) << 16); // proto bgp, unicast
  u32[F.ROUTE_TABLE] = r.table ?? 254;
  let present = F.ROUTE_HAS_DST | F.ROUTE_HAS_PRIORITY | F.ROUTE_HAS_OIF;
  u32[F.ROUTE_PRIORITY] = r.metric ?? 20;
  u32[F.ROUTE_OIF] = r.oif ?? 2;
  u8.set(r.dst, F.ROUTE_DST * 4);
  let gwFamily = 0;
  if (r.gateway) {
    present |= F.ROUTE_HAS_GATEWAY;
    gwFamily = r.gateway.length === 16 ? 10 : 2;
    u8.set(r.gateway, F.ROUTE_GATEWAY * 4);
  }
  if (r.expires !== undefined) {
    present |= F.ROUTE_HAS_EXPIRES;
    u32[F.ROUTE_EXPIRES] = r.expires;
  }
  if (r.mtu !== undefined) {
    present |= F.ROUTE_HAS_MTU;
    u32[F.ROUTE_MTU] = r.mtu;
  }
  if (r.nhId !== undefined) {
    present |= F.ROUTE_HAS_NH_ID;
    u32[F.ROUTE_NH_ID] = r.nhId;
  }
  u32[F.ROUTE_PRESENT_GWFAMILY] = present | (gwFamily << 16);
  return { u32, u8 };
}

const v4 = (a: number, b: number, c: number, d: number, extra: Partial<RouteWords> = {}) =>
  record({ dst: [a, b, c, d], dstLen: 24, gateway: [192, 0, 2, 1], ...extra });

describe('RouteTable slots', () => {
  it('stores a plain IPv4 route compactly and reads it back exactly', () => {
    const r = v4(198, 51, 100, 0);
    expect(fitsCompact(r.u32, 0)).toBe(true);
    const t = new RouteTable();
    expect(t.upsert(r, 0, 1, false)).toBe(ADDED);
    const slot = t.find(r, 0);
    expect(slot & 1).toBe(1); // the compact arena
    expect(t.read(slot)).toEqual(readRoute(r, 0));
    expect(t.word(slot, F.ROUTE_EXPIRES)).toBe(0);
    expect(t.upsert(r, 0, 2, false)).toBe(SAME);
    expect(t.generationOf(slot)).toBe(2);
  });

  it('keeps IPv6 routes and IPv4 routes with an expiry, an IPv6 gateway or an MTU in full slots', () => {
    const t = new RouteTable();
    const cases = [
      record({ family: 10, dst: [0x20, 0x01, 0x0d, 0xb8, ...Array(12).fill(0)], dstLen: 32 }),
      v4(203, 0, 113, 0, { expires: 300 }),
      v4(203, 0, 113, 0, { gateway: [0xfe, 0x80, ...Array(13).fill(0), 1], metric: 30 }),
      v4(203, 0, 113, 0, { mtu: 1400, metric: 40 }),
    ];
    for (const r of cases) {
      expect(fitsCompact(r.u32, 0)).toBe(false);
      t.upsert(r, 0, 1, false);
      const slot = t.find(r, 0);
      expect(slot & 1).toBe(0);
      expect(t.read(slot)).toEqual(readRoute(r, 0));
    }
  });

  it('moves a compact route that gains an expiry, keeping its place among the routes of its key', () => {
    const t = new RouteTable();
    const unicast = v4(198, 51, 100, 0);
    const blackhole = v4(198, 51, 100, 0, { type: 6, gateway: undefined, oif: 0 });
    t.upsert(unicast, 0, 1, false, APPEND);
    t.upsert(blackhole, 0, 1, false, PREPEND); // `ip route prepend`: first of the key
    expect(t.firstWithKey(unicast, 0)).toBe(t.find(blackhole, 0));
    const withExpiry = v4(198, 51, 100, 0, { expires: 60 });
    expect(t.upsert(withExpiry, 0, 2, true)).toBe(CHANGED);
    const moved = t.find(withExpiry, 0);
    expect(moved & 1).toBe(0);
    expect(t.read(moved).expires).toBe(60);
    expect(t.size).toBe(2);
    expect(t.orderOf(moved)).toBeGreaterThan(t.orderOf(t.find(blackhole, 0)));
    expect([...t.slots()].sort()).toEqual([moved, t.find(blackhole, 0)].sort());
    expect(t.slotsTo(254, 4, new Uint8Array([198, 51, 100, 0, ...Array(12).fill(0)]), 24)).toHaveLength(2);
    t.remove(moved);
    expect(t.find(withExpiry, 0)).toBe(-1);
    expect(t.size).toBe(1);
  });

  it('finds the routes a dump did not stamp, in both slot sizes', () => {
    const t = new RouteTable();
    const fresh = [v4(198, 51, 100, 0), v4(203, 0, 113, 0, { expires: 5 })];
    const stale = [v4(192, 0, 2, 0), record({ family: 10, dst: [0x20, 0x01, 0x0d, 0xb8, ...Array(12).fill(0)], dstLen: 48 })];
    for (const r of [...fresh, ...stale]) t.upsert(r, 0, 1, false);
    for (const r of fresh) t.upsert(r, 0, 2, false);
    expect(t.slotsNotStamped(2).sort()).toEqual(stale.map((r) => t.find(r, 0)).sort());
    t.remove(t.find(stale[0], 0));
    expect(t.slotsNotStamped(2)).toEqual([t.find(stale[1], 0)]);
  });

  it('spends 56 bytes of slot per compact route', () => {
    const t = new RouteTable();
    const n = 16384 * 2; // two compact chunks
    for (let i = 0; i < n; i++) t.upsert(v4(10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff), 0, 1, false);
    const indexBytes = 8 * 2 ** Math.ceil(Math.log2(2 * n)); // [slot, hash] pairs, at most half full
    expect(t.byteSize - indexBytes).toBe(n * 56);
    expect(t.size).toBe(n);
  });
});

describe('RouteTable nexthop-object counts', () => {
  /** What a walk of the table finds for nexthop object `id`: routes naming it, and those also listing a gateway. */
  function scan(t: RouteTable, id: number): [number, number] {
    let naming = 0;
    let listing = 0;
    for (const slot of t.slots()) {
      const present = t.word(slot, F.ROUTE_PRESENT_GWFAMILY);
      if ((present & F.ROUTE_HAS_NH_ID) === 0 || t.word(slot, F.ROUTE_NH_ID) !== id) continue;
      naming++;
      if ((present & F.ROUTE_HAS_GATEWAY) !== 0 || t.word(slot, F.ROUTE_NH_COUNT) > 0) listing++;
    }
    return [naming, listing];
  }

  it('match a walk of the table through adds, replacements that change the id, and removals', () => {
    const random = mulberry32(11);
    const t = new RouteTable();
    for (let step = 0; step < 3000; step++) {
      const third = Math.floor(random() * 40);
      const roll = random();
      const nhId = roll < 0.3 ? undefined : 1 + Math.floor(random() * 4);
      // With compat mode the kernel lists the object's gateway too; without, only the id.
      const gateway = nhId === undefined || random() < 0.5 ? [192, 0, 2, 1 + Math.floor(random() * 3)] : undefined;
      const r = record({ dst: [198, 51, third, 0], dstLen: 24, nhId, gateway });
      if (random() < 0.25) {
        const slot = t.find(r, 0);
        if (slot >= 0) t.remove(slot);
      } else {
        t.upsert(r, 0, step, false);
      }
      if (step % 100 === 0 || step === 2999) {
        for (let id = 1; id <= 4; id++) {
          expect([t.nexthopUse.routesNaming(id), t.nexthopUse.routesListing(id)], `step ${step}, id ${id}`).toEqual(scan(t, id));
        }
      }
    }
    expect(scan(t, 1)[0] + scan(t, 2)[0]).toBeGreaterThan(0);
    t.clear();
    expect(t.nexthopUse.routesNaming(1)).toBe(0);
  });
});
