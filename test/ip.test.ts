import { describe, expect, it } from 'vitest';
import { isIPv4, isIPv6 } from 'node:net';
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

describe('parseIp accepts exactly what node:net accepts', () => {
  // A seeded generator of near-addresses: groups of 0-5 hex digits, "::" anywhere,
  // dotted tails with parts up to 299 and leading zeros, stray ':', '.', '%'.
  function* nearAddresses(count: number): Generator<string> {
    let seed = 0x2545f491;
    const r = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (let k = 0; k < count; k++) {
      const groups: string[] = [];
      for (let i = r(10); i > 0; i--) {
        let g = '';
        for (let j = r(6); j > 0; j--) g += '0123456789abcdefABCDEF'[r(22)];
        groups.push(g);
      }
      let t = groups.join(':');
      if (r(2)) {
        const p = r(t.length + 1);
        t = `${t.slice(0, p)}::${t.slice(p)}`;
      }
      const quad = () => [r(300), r(300), r(300), r(300)].slice(0, 3 + r(3)).map((x) => (r(8) === 0 ? `0${x}` : `${x}`)).join('.');
      if (r(4) === 0) t += `${t.endsWith(':') ? '' : ':'}${quad()}`;
      if (r(10) === 0) {
        const p = r(t.length + 1);
        t = t.slice(0, p) + ':.%'[r(3)] + t.slice(p);
      }
      if (r(5) === 0) t = quad();
      yield t;
    }
  }

  it('agrees with isIPv4/isIPv6 on 200,000 generated strings, and round-trips the valid ones', () => {
    let valid = 0;
    for (const t of nearAddresses(200_000)) {
      const expected = isIPv4(t) || (isIPv6(t) && !t.includes('%'));
      const parsed = parseIp(t);
      if (!!parsed !== expected) throw new Error(`parseIp(${JSON.stringify(t)}) gave ${parsed ? 'an address' : 'null'}, node:net says ${expected}`);
      if (!parsed) continue;
      valid++;
      // Canonical text parses back to the same bytes.
      expect(parseIp(formatIp(parsed.bytes, parsed.family))!.bytes).toEqual(parsed.bytes);
    }
    expect(valid).toBeGreaterThan(10_000);
  });

  it('formats 100,000 IPv6 addresses rich in zero runs as the WHATWG URL serializer does (RFC 5952 compression)', () => {
    let seed = 7;
    const r = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const bytes = new Uint8Array(24);
    let compared = 0;
    for (let n = 0; n < 100_000; n++) {
      for (let i = 0; i < 16; i++) bytes[4 + i] = r(2) === 0 ? 0 : r(256);
      if (r(4) === 0) bytes.fill(0, 4 + r(16), 4 + r(17));
      const text = formatIp(bytes, 6, 4);
      if (text.startsWith('::ffff:') && text.includes('.')) continue; // dotted tail: inet_ntop's form, not the URL's
      expect(text).toBe(new URL(`http://[${text}]`).hostname.slice(1, -1));
      const words = Array.from({ length: 8 }, (_, g) => ((bytes[4 + g * 2] << 8) | bytes[5 + g * 2]).toString(16));
      expect(text).toBe(new URL(`http://[${words.join(':')}]`).hostname.slice(1, -1));
      compared++;
    }
    expect(compared).toBeGreaterThan(90_000);
  });
});
