/**
 * The addon's routeJson (native/route_json.cc: what `routeguard dump --json` writes for
 * each dumped route) is `,` + JSON.stringify(readRoute(...)), byte for byte, in chunks
 * of any size: on every
 * captured route message (plain, blackhole, table 100, multipath, nexthop object, IPv6
 * gateway of an IPv4 route, IPv6 with expiry) and on records of those messages with
 * their fields rewritten (addresses of every zero-run shape, types past the named ones,
 * each optional field present or absent).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBinding } from '../../src/native/binding';
import { forEachRecord, readRoute, viewOf } from '../../src/netlink/decode';
import * as F from '../../src/netlink/record-format';

const binding = loadBinding();
const fixtures = path.resolve(__dirname, '..', 'fixtures', 'netlink');
const routeFixtures = readdirSync(fixtures).filter((f) => /^route[46]-.*\.bin$/.test(f));

function parseFixture(file: string): ArrayBuffer {
  return binding.parse(new Uint8Array(readFileSync(path.join(fixtures, file))));
}

/** Payload words of the route records in `batch`. */
function routeRecords(batch: ArrayBuffer): number[] {
  const at: number[] = [];
  forEachRecord(viewOf(batch), (kind, _flags, p) => {
    if (kind === F.Kind.RouteNew) at.push(p);
  });
  return at;
}

/** Flags every route record as a dump reply (event captures are formatted as if dumped). */
function asDumped(batch: ArrayBuffer): ArrayBuffer {
  const u32 = new Uint32Array(batch);
  for (const p of routeRecords(batch)) u32[p - F.HEADER_WORDS] |= F.FLAG_FROM_DUMP << 16;
  return batch;
}

/**
 * What `dump --json` wrote per route before the addon formatted them: JSON.stringify of
 * the Route; null for a batch without dumped routes, as routeJson.
 */
function expectedText(batch: ArrayBuffer): string | null {
  const view = viewOf(batch);
  let text = '';
  forEachRecord(view, (kind, flags, p) => {
    if (kind === F.Kind.RouteNew && flags & F.FLAG_FROM_DUMP) text += `,${JSON.stringify(readRoute(view, p))}`;
  });
  return text === '' ? null : text;
}

/** routeJson over a whole batch, chunk by chunk into an `out` of `capacity` bytes (grown when a route needs it). */
function nativeText(batch: ArrayBuffer, byteLength = batch.byteLength, capacity = 1 << 16): string | null {
  let out = new Uint8Array(capacity);
  let text = '';
  for (let at = 0; at < byteLength; ) {
    const { written, next, needed } = binding.routeJson(batch, byteLength, at, out);
    expect(written > 0 || needed > out.length || next === byteLength).toBe(true); // always progress
    text += Buffer.from(out.buffer, 0, written).toString('utf8');
    if (needed > out.length) out = new Uint8Array(needed);
    at = next;
  }
  return text === '' ? null : text;
}

/** A deterministic PRNG (mulberry32), so a failure names a reproducible case. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 16 address bytes shaped to hit formatIp's cases: zero runs of each length and place, v4-mapped, all zero. */
function addressBytes(next: () => number): number[] {
  const groups = Array.from({ length: 8 }, () => (next() < 0.5 ? 0 : Math.floor(next() * 0x10000)));
  const shape = Math.floor(next() * 5);
  if (shape === 0) groups.fill(0);
  if (shape === 1) groups.splice(0, 6, 0, 0, 0, 0, 0, 0xffff);
  if (shape === 2) groups.fill(0, 0, 7);
  const bytes: number[] = [];
  for (const g of groups) bytes.push(g >> 8, g & 0xff);
  return bytes;
}

describe('routeJson', () => {
  it('writes every captured route exactly as JSON.stringify(readRoute) does', () => {
    let routes = 0;
    for (const file of routeFixtures) {
      const batch = asDumped(parseFixture(file));
      routes += routeRecords(batch).length;
      expect(nativeText(batch), file).toBe(expectedText(batch));
    }
    expect(routes).toBeGreaterThan(5);
  });

  it('skips route events and every other record: only dump replies are written', () => {
    const events = parseFixture('route4-multipath.bin');
    expect(routeRecords(events).length).toBeGreaterThan(0);
    expect(nativeText(events)).toBeNull();
    const dump = parseFixture('route4-dump-table100-0.bin');
    expect(expectedText(dump)).not.toBeNull();
    expect(nativeText(dump)).toBe(expectedText(dump));
    // Non-route records around dumped routes (a link capture) change nothing.
    const link = parseFixture(readdirSync(fixtures).find((f) => /^link-.*\.bin$/.test(f))!);
    const mixed = new Uint8Array(link.byteLength + dump.byteLength + events.byteLength);
    mixed.set(new Uint8Array(link), 0);
    mixed.set(new Uint8Array(dump), link.byteLength);
    mixed.set(new Uint8Array(events), link.byteLength + dump.byteLength);
    expect(nativeText(mixed.buffer)).toBe(expectedText(dump));
  });

  it('matches on rewritten fields: addresses of every shape, family, type, optional fields', () => {
    const next = random(20261201);
    const sources = routeFixtures.map((f) => asDumped(parseFixture(f))).filter((b) => routeRecords(b).length > 0);
    expect(sources.length).toBeGreaterThan(5);
    for (let i = 0; i < 3000; i++) {
      const source = sources[i % sources.length];
      const batch = source.slice(0);
      const u32 = new Uint32Array(batch);
      const u8 = new Uint8Array(batch);
      for (const p of routeRecords(batch)) {
        // family (AF_INET / AF_INET6) and prefix lengths; protocol, scope, type (named and not), pref
        u32[p + F.ROUTE_FAMILY_DLEN_SLEN_TOS] =
          (next() < 0.5 ? 2 : 10) | Math.floor(next() * 129) << 8 | Math.floor(next() * 129) << 16 | Math.floor(next() * 256) << 24;
        u32[p + F.ROUTE_PROTO_SCOPE_TYPE_PREF] = Math.floor(next() * 2 ** 32) >>> 0;
        // Keep the multipath bit as captured (its nexthops are only there when it is set).
        const present = u32[p + F.ROUTE_PRESENT_GWFAMILY] & F.ROUTE_HAS_MULTIPATH;
        const gwFamily = [0, 2, 10][Math.floor(next() * 3)];
        u32[p + F.ROUTE_PRESENT_GWFAMILY] = present | (Math.floor(next() * 0x10000) & ~F.ROUTE_HAS_MULTIPATH) | gwFamily << 16;
        for (const w of [F.ROUTE_TABLE, F.ROUTE_PRIORITY, F.ROUTE_OIF, F.ROUTE_IIF, F.ROUTE_EXPIRES, F.ROUTE_NH_ID, F.ROUTE_MTU, F.ROUTE_FLAGS]) {
          u32[p + w] = next() < 0.2 ? 0xffffffff : Math.floor(next() * 10 ** Math.floor(next() * 10));
        }
        for (const w of [F.ROUTE_DST, F.ROUTE_SRC, F.ROUTE_GATEWAY, F.ROUTE_PREFSRC]) u8.set(addressBytes(next), (p + w) * 4);
        for (let h = 0; present && h < u32[p + F.ROUTE_NH_COUNT]; h++) {
          const n = p + F.ROUTE_FIXED_WORDS + h * F.ROUTE_NEXTHOP_WORDS;
          u32[n] = Math.floor(next() * 2 ** 32) >>> 0;
          u32[n + 1] = (Math.floor(next() * 0x10000) | [0, 2, 10][Math.floor(next() * 3)] << 16) >>> 0;
          u8.set(addressBytes(next), (n + 2) * 4);
        }
      }
      const expected = expectedText(batch);
      expect(expected).not.toBeNull();
      expect(nativeText(batch), `case ${i}`).toBe(expected);
    }
  });

  it('reads only the first byteLength bytes (the addon reuses a larger batch buffer)', () => {
    const one = asDumped(parseFixture('route4-blackhole.bin'));
    const two = new Uint8Array(one.byteLength * 2);
    two.set(new Uint8Array(one), 0);
    two.set(new Uint8Array(one), one.byteLength);
    expect(nativeText(two.buffer, one.byteLength)).toBe(expectedText(one));
    expect(nativeText(two.buffer)).toBe(expectedText(one)!.repeat(2));
  });

  it('fills the caller\'s buffer chunk by chunk, never past its end, and says when a route needs a larger one', () => {
    const batches = routeFixtures.map((f) => asDumped(parseFixture(f)));
    const all = new Uint8Array(batches.reduce((n, b) => n + b.byteLength, 0));
    batches.reduce((at, b) => (all.set(new Uint8Array(b), at), at + b.byteLength), 0);
    const expected = expectedText(all.buffer);
    // From a buffer too small for any route (every route asks for more) to one for all at once.
    for (const capacity of [0, 16, 1024, 1500, 3000, 1 << 20]) expect(nativeText(all.buffer, all.byteLength, capacity)).toBe(expected);
    const [p] = routeRecords(all.buffer);
    const guarded = new Uint8Array(2048).fill(0xee);
    const { written, next, needed } = binding.routeJson(all.buffer, all.byteLength, 0, guarded.subarray(0, 1000));
    expect({ written, needed }).toEqual({ written: 0, needed: expect.any(Number) });
    expect(needed).toBeGreaterThan(1000);
    expect(next).toBe((p - F.HEADER_WORDS) * 4); // stopped at the first route record
    expect(guarded.every((b) => b === 0xee)).toBe(true);
  });

  it('rejects a malformed batch with an error instead of reading past it', () => {
    const batch = asDumped(parseFixture('route4-multipath.bin'));
    const [p] = routeRecords(batch);
    const tooManyHops = batch.slice(0);
    new Uint32Array(tooManyHops)[p + F.ROUTE_NH_COUNT] = 1000;
    expect(() => nativeText(tooManyHops)).toThrow(/malformed record batch/);
    const tooLong = batch.slice(0);
    new Uint32Array(tooLong)[p - F.HEADER_WORDS + 1] += 4;
    expect(() => nativeText(tooLong)).toThrow(/malformed record batch/);
    const tooShort = batch.slice(0);
    new Uint32Array(tooShort)[p - F.HEADER_WORDS + 1] = 4 * (F.HEADER_WORDS + F.ROUTE_FIXED_WORDS - 1);
    expect(() => nativeText(tooShort)).toThrow(/malformed record batch/);
    expect(() => nativeText(batch, batch.byteLength - 4)).toThrow(/malformed record batch/);
    const out = new Uint8Array(4096);
    expect(() => binding.routeJson(batch, 6, 0, out)).toThrow(RangeError);
    expect(() => binding.routeJson(batch, batch.byteLength + 4, 0, out)).toThrow(RangeError);
    expect(() => binding.routeJson(batch, batch.byteLength, 2, out)).toThrow(RangeError);
    expect(() => binding.routeJson(batch, batch.byteLength, batch.byteLength + 4, out)).toThrow(RangeError);
    const untyped = binding.routeJson as (...args: unknown[]) => unknown;
    expect(() => untyped(new Uint8Array(8), 8, 0, out)).toThrow(TypeError);
    expect(() => untyped(batch, batch.byteLength, 0, new Uint32Array(8))).toThrow(TypeError);
  });
});
