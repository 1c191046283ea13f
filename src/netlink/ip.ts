/**
 * IP address text <-> bytes. Addresses travel as 16-byte arrays (IPv4 in the
 * first 4 bytes) between the addon and JS, and as canonical text everywhere
 * else: dotted quad for IPv4, RFC 5952 (lowercase, longest zero run as "::")
 * for IPv6, so that equal addresses compare equal as strings.
 */
import type { Family } from './types';

export interface ParsedIp {
  family: Family;
  /** 16 bytes; IPv4 in the first 4. */
  bytes: Uint8Array;
}

/**
 * Parses a dotted quad into bytes[offset..offset+4]: four decimal parts 0-255 without
 * leading zeros (as node:net's isIPv4 accepts). Returns false when it is not one.
 */
function parseV4Into(text: string, from: number, to: number, bytes: Uint8Array, offset: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = from; i <= to; i++) {
    const c = i === to ? 46 : text.charCodeAt(i); // a virtual '.' ends the last part
    if (c === 46) {
      if (digits === 0 || part > 3) return false;
      bytes[offset + part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** RFC 4291 text: 8 groups of 1-4 hex digits, at most one "::", optionally a dotted-quad tail. */
function parseV6(text: string, bytes: Uint8Array): boolean {
  const n = text.length;
  const groups: number[] = [];
  let gap = -1; // index in `groups` where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) return fillV6(groups, gap, bytes, -1);
  }
  for (;;) {
    // One group, or the dotted-quad tail.
    let value = 0;
    let digits = 0;
    let j = i;
    for (; j < n; j++) {
      const d = hexDigit(text.charCodeAt(j));
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
    }
    if (j < n && text.charCodeAt(j) === 46) {
      // IPv4 tail: must end the text and leave room for two groups.
      if (groups.length > 6 || !parseV4Into(text, i, n, bytes, 12)) return false;
      return fillV6(groups, gap, bytes, 6);
    }
    if (digits === 0 || digits > 4) return false;
    groups.push(value);
    if (j === n) return fillV6(groups, gap, bytes, -1);
    if (text.charCodeAt(j) !== 58) return false;
    if (text.charCodeAt(j + 1) === 58) {
      if (gap >= 0) return false;
      gap = groups.length;
      i = j + 2;
      if (i === n) return fillV6(groups, gap, bytes, -1);
    } else {
      i = j + 1;
      if (i === n) return false; // a trailing single ':'
    }
    if (groups.length > 8) return false;
  }
}

/** Writes the groups (with the "::" gap expanded) into bytes; `limit` 6 when an IPv4 tail holds the last 4 bytes. */
function fillV6(groups: number[], gap: number, bytes: Uint8Array, limit: number): boolean {
  const total = limit < 0 ? 8 : limit;
  if (gap < 0 ? groups.length !== total : groups.length > total - 1) return false;
  const zeros = total - groups.length;
  let g = 0;
  for (let k = 0; k < groups.length; k++) {
    if (k === gap) g += zeros;
    bytes[g * 2] = groups[k] >> 8;
    bytes[g * 2 + 1] = groups[k] & 0xff;
    g++;
  }
  return true;
}

/** Parses an IPv4/IPv6 literal (an IPv6 zone "%eth0" is not accepted). Returns null if invalid. */
export function parseIp(text: string): ParsedIp | null {
  if (typeof text !== 'string' || text.length < 2 || text.length > 45) return null;
  const bytes = new Uint8Array(16);
  if (text.indexOf(':') < 0) return parseV4Into(text, 0, text.length, bytes, 0) ? { family: 4, bytes } : null;
  // A zone ("fe80::1%eth0") names an interface, not part of the address: callers split it off.
  return parseV6(text, bytes) ? { family: 6, bytes } : null;
}

/** Formats 4 or 16 bytes at `offset` of `bytes` as canonical text (RFC 5952, as inet_ntop). */
export function formatIp(bytes: Uint8Array, family: Family, offset = 0): string {
  if (family === 4) {
    return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  }
  // No array or closure per address: a dump or a lookup batch formats 100k of them.
  const group = (i: number) => (bytes[offset + i * 2] << 8) | bytes[offset + i * 2 + 1];
  // IPv4-mapped addresses keep their dotted tail (::ffff:192.0.2.1), as inet_ntop does.
  if (group(0) === 0 && group(1) === 0 && group(2) === 0 && group(3) === 0 && group(4) === 0 && group(5) === 0xffff) {
    return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 1; // RFC 5952 4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (group(i) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && group(j) === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLen) out += ':';
    out += group(i).toString(16);
  }
  return out;
}

/** Recent normalizeIp answers: the same gateways and neighbours are normalised on every check. */
const canonical = new Map<string, string | null>();

/** Canonical text of an address, or null if it is not an IP literal. Maps ::ffff:a.b.c.d to a.b.c.d. */
export function normalizeIp(text: string): string | null {
  let out = canonical.get(text);
  if (out !== undefined) return out;
  const parsed = parseIp(text);
  if (!parsed) out = null;
  else if (parsed.family === 6 && isV4Mapped(parsed.bytes)) out = formatIp(parsed.bytes, 4, 12);
  else out = formatIp(parsed.bytes, parsed.family);
  if (canonical.size >= 4096) canonical.clear();
  canonical.set(text, out);
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** True when `ip` lies inside prefix/length (same family). */
export function prefixContains(prefix: Uint8Array, length: number, ip: Uint8Array): boolean {
  let bits = length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((prefix[i] & mask) !== (ip[i] & mask)) return false;
  }
  return true;
}

/** fe80::/10 */
export function isIPv6LinkLocal(text: string): boolean {
  const p = parseIp(text);
  return !!p && p.family === 6 && p.bytes[0] === 0xfe && (p.bytes[1] & 0xc0) === 0x80;
}
