/**
 * IP address text <-> bytes. Addresses travel as 16-byte arrays (IPv4 in the
 * first 4 bytes) between the addon and JS, and as canonical text everywhere
 * else: dotted quad for IPv4, RFC 5952 (lowercase, longest zero run as "::")
 * for IPv6, so that equal addresses compare equal as strings.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Family } from './types';

export interface ParsedIp {
  family: Family;
  /** 16 bytes; IPv4 in the first 4. */
  bytes: Uint8Array;
}

/** Parses an IPv4/IPv6 literal (an IPv6 zone "%eth0" is not accepted). Returns null if invalid. */
export function parseIp(text: string): ParsedIp | null {
  const bytes = new Uint8Array(16);
  if (isIPv4(text)) {
    const parts = text.split('.');
    for (let i = 0; i < 4; i++) bytes[i] = Number(parts[i]);
    return { family: 4, bytes };
  }
  // A zone ("fe80::1%eth0") names an interface, not part of the address: callers split it off.
  if (!isIPv6(text) || text.includes('%')) return null;
  let head = text;
  let tailV4: number[] | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    tailV4 = text.slice(lastColon + 1).split('.').map(Number);
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, null];
  const leftGroups = left ? left.split(':') : [];
  const rightGroups = right ? right.split(':') : [];
  const groups = right === null
    ? leftGroups
    : [...leftGroups, ...new Array<string>(8 - leftGroups.length - rightGroups.length).fill('0'), ...rightGroups];
  for (let i = 0; i < 8; i++) {
    const v = parseInt(groups[i] || '0', 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  }
  if (tailV4) for (let i = 0; i < 4; i++) bytes[12 + i] = tailV4[i];
  return { family: 6, bytes };
}

/** Formats 4 or 16 bytes at `offset` of `bytes` as canonical text. */
export function formatIp(bytes: Uint8Array, family: Family, offset = 0): string {
  if (family === 4) {
    return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  }
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (bytes[offset + i * 2] << 8) | bytes[offset + i * 2 + 1];
  // IPv4-mapped addresses keep their dotted tail (::ffff:192.0.2.1), as inet_ntop does.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 1; // RFC 5952 4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((v) => v.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Canonical text of an address, or null if it is not an IP literal. Maps ::ffff:a.b.c.d to a.b.c.d. */
export function normalizeIp(text: string): string | null {
  const parsed = parseIp(text);
  if (!parsed) return null;
  if (parsed.family === 6 && isV4Mapped(parsed.bytes)) return formatIp(parsed.bytes, 4, 12);
  return formatIp(parsed.bytes, parsed.family);
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
