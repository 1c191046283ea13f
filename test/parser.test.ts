/**
 * The C++ parser on real kernel bytes: datagrams captured in a namespace
 * (test/fixtures/netlink/capture.py) with the facts `ip -j` gave at capture
 * time (manifest.json). The addon's parse() runs the same parser as the socket.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBinding } from '../src/native/binding';
import { decodeBatch, type DecodedRecord } from '../src/netlink/decode';

interface ManifestMessage {
  kind: 'link' | 'address' | 'route' | 'nexthop' | 'rule' | 'neighbour' | 'done' | 'error' | 'other';
  removed?: boolean;
  fromDump?: boolean;
  [object: string]: unknown;
}
interface Manifest {
  files: Array<{ file: string; scenario: string; messages: ManifestMessage[] }>;
}

const dir = path.resolve(__dirname, 'fixtures', 'netlink');
const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
const binding = loadBinding();
const OBJECT_KINDS = new Set(['link', 'address', 'route', 'nexthop', 'rule', 'neighbour']);

function parse(bytes: Uint8Array): DecodedRecord[] {
  return decodeBatch(binding.parse(bytes));
}

describe('netlink parser on captured kernel datagrams', () => {
  it('has fixtures for every object kind', () => {
    const kinds = new Set(manifest.files.flatMap((f) => f.messages.map((m) => m.kind)));
    expect([...kinds].sort()).toEqual(['address', 'done', 'error', 'link', 'neighbour', 'nexthop', 'other', 'route', 'rule']);
  });

  it.each(manifest.files.map((f) => [f.file, f] as const))('%s', (_name, file) => {
    const bytes = new Uint8Array(readFileSync(path.join(dir, file.file)));
    const records = parse(bytes);
    const expected = file.messages.filter((m) => OBJECT_KINDS.has(m.kind));
    // Control messages (DONE, ERROR), non-AF_UNSPEC link messages and bridge fdb entries
    // produce no object record.
    expect(records.map((r) => r.kind)).toEqual(expected.map((m) => m.kind));
    records.forEach((record, i) => {
      const want = expected[i];
      expect(record).toMatchObject({ removed: want.removed, fromDump: want.fromDump });
      // The manifest gives every fact ip could confirm (carrier only for links that are up).
      expect((record as Record<string, unknown>)[want.kind]).toMatchObject(want[want.kind] as object);
    });
  });

  it('never reads past a truncated datagram: every prefix parses to whole records or none', () => {
    for (const file of manifest.files) {
      const bytes = new Uint8Array(readFileSync(path.join(dir, file.file)));
      const full = parse(bytes);
      for (let cut = 0; cut < bytes.length; cut += 3) {
        const partial = parse(bytes.subarray(0, cut));
        expect(partial.length).toBeLessThanOrEqual(full.length);
        // What is delivered from a prefix is a prefix of what the whole delivers.
        expect(partial).toEqual(full.slice(0, partial.length));
      }
    }
  });

  it('skips a corrupted attribute length without delivering garbage', () => {
    const file = manifest.files.find((f) => f.file === 'route4-multipath.bin')!;
    const bytes = new Uint8Array(readFileSync(path.join(dir, file.file)));
    // First attribute starts after nlmsghdr (16) + rtmsg (12): claim it runs past the message.
    const corrupt = bytes.slice();
    new DataView(corrupt.buffer).setUint16(28, 0xfff0, true);
    expect(parse(corrupt)).toEqual([]);
  });

  it('rejects non-Uint8Array input with a TypeError', () => {
    expect(() => binding.parse('nope' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('netlink parser on messages that are not what they seem', () => {
  /** An RTM_NEWLINK (AF_UNSPEC) for ifindex 3, flags UP|RUNNING, with the given attributes. */
  function newlink(attrs: Array<[type: number, data: Uint8Array]>): Uint8Array {
    const body: number[] = [0, 0, 1, 0, 3, 0, 0, 0, 0x43, 0x10, 0, 0, 0xff, 0xff, 0xff, 0xff]; // ifinfomsg
    for (const [type, data] of attrs) {
      const len = 4 + data.length;
      body.push(len & 0xff, len >> 8, type & 0xff, type >> 8, ...data);
      while (body.length % 4) body.push(0);
    }
    const total = 16 + body.length;
    const header = [total & 0xff, (total >> 8) & 0xff, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // RTM_NEWLINK
    return new Uint8Array([...header, ...body]);
  }
  const IFLA_IFNAME = 3;
  const IFLA_MTU = 4;
  const IFLA_WIRELESS = 11;
  const name = new TextEncoder().encode('wlan0\0');
  const mtu = new Uint8Array(new Uint32Array([1500]).buffer);

  it('ignores wireless-extension events (IFLA_IFNAME + IFLA_WIRELESS only), which say nothing about the link', () => {
    // wireless_nlevent sends one on every scan when CONFIG_CFG80211_WEXT is set.
    const iwEvent = new Uint8Array([16, 0, 0x19, 0x8b, 0, 0, 0, 0]); // iw_event: len 16, SIOCGIWSCAN
    expect(parse(newlink([[IFLA_IFNAME, name], [IFLA_WIRELESS, iwEvent]]))).toEqual([]);
    // The same message without IFLA_WIRELESS is a link.
    expect(parse(newlink([[IFLA_IFNAME, name], [IFLA_MTU, mtu]]))).toMatchObject([
      { kind: 'link', link: { index: 3, name: 'wlan0', mtu: 1500 } },
    ]);
  });
});
