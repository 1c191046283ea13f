import { describe, expect, it } from 'vitest';
import { formatIp, isIPv6LinkLocal, normalizeIp, parseIp, prefixContains } from '../src/netlink/ip';

describe('ip text <-> bytes', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal-length zero runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['::ffff:192.0.2.7', '192.0.2.7'], // dual-stack sockets report IPv4 peers mapped
    ['fd00::ffff:c000:207', 'fd00::ffff:c000:207'],
  ])('normalizes %s to %s', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  it.each(['', 'localhost', '192.0.2.256', '2001:db8::1::2', 'fe80::1%eth0', '1.2.3'])('rejects %j', (input) => {
    expect(parseIp(input)).toBeNull();
    expect(normalizeIp(input)).toBeNull();
  });

  it('round-trips through bytes', () => {
    for (const text of ['203.0.113.9', '2001:db8:1:2:3:4:5:6', 'fd00::1', '::ffff:1.2.3.4']) {
      const parsed = parseIp(text)!;
      expect(formatIp(parsed.bytes, parsed.family)).toBe(text);
    }
  });

  it('tests prefix membership bit by bit', () => {
    const net = parseIp('198.51.100.0')!.bytes;
    expect(prefixContains(net, 24, parseIp('198.51.100.200')!.bytes)).toBe(true);
    expect(prefixContains(net, 25, parseIp('198.51.100.200')!.bytes)).toBe(false);
    expect(prefixContains(net, 0, parseIp('203.0.113.1')!.bytes)).toBe(true);
    const v6 = parseIp('2001:db8:8000::')!.bytes;
    expect(prefixContains(v6, 33, parseIp('2001:db8:ffff::1')!.bytes)).toBe(true);
    expect(prefixContains(v6, 33, parseIp('2001:db8:7fff::1')!.bytes)).toBe(false);
  });

  it('recognizes IPv6 link-local', () => {
    expect(isIPv6LinkLocal('fe80::1')).toBe(true);
    expect(isIPv6LinkLocal('febf::1')).toBe(true);
    expect(isIPv6LinkLocal('fec0::1')).toBe(false);
    expect(isIPv6LinkLocal('192.0.2.1')).toBe(false);
  });
});
