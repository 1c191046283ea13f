/**
 * RouteQueryBatch, the packer of batched route lookups: records laid out as
 * native/query_format.h reads them (src/netlink/query-format.ts), growth, reuse, and
 * errors that name the query.
 */
import { describe, expect, it } from 'vitest';
import { parseIp } from '../src/netlink/ip';
import { RouteQueryBatch } from '../src/netlink/query-batch';
import * as Q from '../src/netlink/query-format';

const bytes = (ip: string) => parseIp(ip)!.bytes;

function record(batch: RouteQueryBatch, i: number) {
  const packed = batch.packed();
  const r = packed.subarray(i * Q.QUERY_RECORD_BYTES, (i + 1) * Q.QUERY_RECORD_BYTES);
  const words = new Uint32Array(r.buffer, r.byteOffset, Q.QUERY_RECORD_WORDS);
  return {
    family: r[Q.QUERY_FAMILY],
    present: r[Q.QUERY_PRESENT],
    reserved: [r[2], r[3]],
    to: Array.from(r.subarray(Q.QUERY_TO, Q.QUERY_TO + 16)),
    from: Array.from(r.subarray(Q.QUERY_FROM, Q.QUERY_FROM + 16)),
    oif: words[Q.QUERY_OIF_WORD],
    iif: words[Q.QUERY_IIF_WORD],
    mark: words[Q.QUERY_MARK_WORD],
    uid: words[Q.QUERY_UID_WORD],
  };
}

describe('RouteQueryBatch', () => {
  it('packs each query into a 52-byte record with its presence bits, growing as needed', () => {
    const batch = new RouteQueryBatch(1);
    expect(batch.add(4, bytes('192.0.2.7'))).toBe(0);
    expect(batch.add(6, bytes('2001:db8::1'), bytes('2001:db8::2'), 3, 0xffffffff, 9, 1000)).toBe(1);
    expect(batch.add(4, Uint8Array.of(203, 0, 113, 9), null, 0, undefined)).toBe(2);
    expect(batch.length).toBe(3);
    expect(batch.packed().byteLength).toBe(3 * 52);
    expect(record(batch, 0)).toEqual({
      family: 4, present: 0, reserved: [0, 0], to: [192, 0, 2, 7, ...new Array(12).fill(0)],
      from: new Array(16).fill(0), oif: 0, iif: 0, mark: 0, uid: 0,
    });
    expect(record(batch, 1)).toMatchObject({
      family: 6,
      present: Q.QUERY_HAS_FROM | Q.QUERY_HAS_OIF | Q.QUERY_HAS_MARK | Q.QUERY_HAS_IIF | Q.QUERY_HAS_UID,
      to: Array.from(bytes('2001:db8::1')), from: Array.from(bytes('2001:db8::2')),
      oif: 3, mark: 0xffffffff, iif: 9, uid: 1000,
    });
    // oif 0 is a value (present), mark undefined is not.
    expect(record(batch, 2)).toMatchObject({ present: Q.QUERY_HAS_OIF, oif: 0, to: [203, 0, 113, 9, ...new Array(12).fill(0)] });
  });

  it('clear() keeps the buffer and a reused record carries nothing of the old query', () => {
    const batch = new RouteQueryBatch();
    batch.add(6, bytes('2001:db8::1'), bytes('2001:db8::2'), 3, 4, 5, 6);
    batch.clear();
    expect(batch.length).toBe(0);
    expect(batch.packed().byteLength).toBe(0);
    batch.add(4, bytes('192.0.2.1'));
    expect(record(batch, 0)).toEqual({
      family: 4, present: 0, reserved: [0, 0], to: [192, 0, 2, 1, ...new Array(12).fill(0)],
      from: new Array(16).fill(0), oif: 0, iif: 0, mark: 0, uid: 0,
    });
  });

  it('gives a named address back only for the same bytes, and forgets names when a record is reused', () => {
    const batch = new RouteQueryBatch();
    const words = (ip: string) => new Uint32Array(Uint8Array.from(bytes(ip)).buffer);
    batch.add(6, bytes('2001:db8::1'), bytes('2001:db8::2'));
    batch.nameAddresses('2001:db8::1', '2001:db8::2');
    batch.add(4, bytes('192.0.2.1'));
    batch.nameAddresses('192.0.2.1', null);
    expect(batch.knownText(0, false, words('2001:db8::1'), 0)).toBe('2001:db8::1');
    expect(batch.knownText(0, true, words('2001:db8::2'), 0)).toBe('2001:db8::2');
    // One word in four differs: not the query's address.
    expect(batch.knownText(0, false, words('2001:db8::2'), 0)).toBeNull();
    expect(batch.knownText(0, false, words('2001:db9::1'), 0)).toBeNull();
    expect(batch.knownText(1, false, words('192.0.2.1'), 0)).toBe('192.0.2.1');
    expect(batch.knownText(1, false, words('192.0.2.2'), 0)).toBeNull();
    expect(batch.knownText(1, true, words('192.0.2.1'), 0)).toBeNull();
    batch.clear();
    batch.add(6, bytes('2001:db8::1'));
    expect(batch.knownText(0, false, words('2001:db8::1'), 0)).toBeNull();
    expect(() => new RouteQueryBatch().nameAddresses('192.0.2.1', null)).toThrow(/add a query first/);
  });

  it('rejects bad arguments with ERR_INVALID_ARG naming the query, and adds nothing', () => {
    const batch = new RouteQueryBatch();
    batch.add(4, bytes('192.0.2.1'));
    const bad = (fn: () => unknown, message: RegExp) =>
      expect(fn).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(message) }));
    bad(() => batch.add(5 as 4, bytes('192.0.2.1')), /query 1: family must be 4 or 6, got 5/);
    bad(() => batch.add(6, Uint8Array.of(1, 2, 3, 4)), /query 1: to must be a Uint8Array of 16 bytes for IPv6/);
    bad(() => batch.add(4, new Uint8Array(5)), /query 1: to must be a Uint8Array of 4 or 16 bytes/);
    bad(() => batch.add(4, [192, 0, 2, 1] as unknown as Uint8Array), /query 1: to must be/);
    bad(() => batch.add(4, bytes('192.0.2.1'), new Uint8Array(3)), /query 1: from must be/);
    bad(() => batch.add(4, bytes('192.0.2.1'), null, -1), /query 1: oif must be an unsigned 32-bit integer, got -1/);
    bad(() => batch.add(4, bytes('192.0.2.1'), null, 1, 2 ** 32), /query 1: mark must be/);
    bad(() => batch.add(4, bytes('192.0.2.1'), null, 1, 1, 0.5), /query 1: iif must be/);
    bad(() => batch.add(4, bytes('192.0.2.1'), null, 1, 1, 1, Number.NaN), /query 1: uid must be/);
    expect(batch.length).toBe(1);
    expect(() => new RouteQueryBatch(Number.NaN)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => new RouteQueryBatch(-1)).toThrow(/capacity must be an integer >= 0, got -1/);
    expect(new RouteQueryBatch(0).add(4, bytes('192.0.2.1'))).toBe(0);
  });
});
