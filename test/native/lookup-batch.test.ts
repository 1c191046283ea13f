/**
 * The addon's batched route lookups (RouteLookup.getMany, Monitor.lookupMany) at the
 * Node-API boundary: malformed packed buffers fail with clear errors, never a crash, and
 * answers the kernel dropped because the receive buffer was full are asked again.
 * Runs under the sanitizer build too (npm run test:asan; see addon.test.ts).
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NativeBinding, NativeError } from '../../src/native/binding-types';
import { parseIp } from '../../src/netlink/ip';
import { readLookupAnswers } from '../../src/netlink/lookup-answers';
import { RouteQueryBatch } from '../../src/netlink/query-batch';
import { QUERY_RECORD_BYTES } from '../../src/netlink/query-format';
import { createNetns, createVeth, describeNetns, type NetNs, createLookupNetns } from '../helpers/netns';

const repoRoot = path.resolve(__dirname, '..', '..');
const addonDir = path.resolve(repoRoot, process.env.ROUTEGUARD_ADDON_DIR || '.');
const binding = createRequire(__filename)('node-gyp-build')(addonDir) as NativeBinding;

function packed(...ips: string[]): Uint8Array {
  const batch = new RouteQueryBatch();
  for (const ip of ips) {
    const parsed = parseIp(ip)!;
    batch.add(parsed.family, parsed.bytes);
  }
  return batch.packed().slice();
}

function thrown(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (err) {
    return err as NativeError;
  }
  throw new Error('expected an exception');
}

describe('addon: packed route queries', () => {
  it('getMany rejects what is not whole, known query records, naming the record', () => {
    // Lookups only, in this process's namespace: nothing is changed.
    const lookup = new binding.RouteLookup({});
    try {
      expect(() => lookup.getMany('x' as unknown as Uint8Array)).toThrow(
        new TypeError('queries must be a Uint8Array of packed query records (RouteQueryBatch)'),
      );
      expect(() => lookup.getMany(new Uint16Array(26) as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => lookup.getMany(undefined as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => lookup.getMany(new Uint8Array(QUERY_RECORD_BYTES - 1))).toThrow(
        new RangeError('the packed queries are 51 bytes, not a multiple of the 52-byte query record'),
      );
      const three = packed('127.0.0.1', '::1', '127.0.0.2');
      three[2 * QUERY_RECORD_BYTES] = 5;
      expect(() => lookup.getMany(three)).toThrow(new RangeError('query 2: family must be 4 or 6, got 5'));
      const zeroed = new Uint8Array(QUERY_RECORD_BYTES); // family 0
      expect(() => lookup.getMany(zeroed)).toThrow(/query 0: family must be 4 or 6, got 0/);
      const flags = packed('127.0.0.1');
      flags[1] = 0x80;
      expect(() => lookup.getMany(flags)).toThrow(/query 0: unknown presence flags/);
      const reserved = packed('127.0.0.1');
      reserved[3] = 1;
      expect(() => lookup.getMany(reserved)).toThrow(/query 0: .*non-zero reserved bytes/);
      // Still usable; a record at an odd offset is read as well as an aligned one.
      const odd = new Uint8Array(QUERY_RECORD_BYTES + 1);
      odd.set(packed('127.0.0.1'), 1);
      const [answer] = readLookupAnswers(lookup.getMany(odd.subarray(1)), 1);
      expect(answer).toMatchObject({ ok: true, route: { type: 'local', destination: '127.0.0.1' } });
      expect(lookup.getMany(new Uint8Array(0)).byteLength).toBe(0);
    } finally {
      lookup.close();
    }
    const closed = thrown(() => lookup.getMany(packed('127.0.0.1')));
    expect(closed).toMatchObject({ code: 'ERR_INVALID_STATE', message: 'getMany(): the route lookup is closed' });
  });
});

/** The netlink port id of the one NETLINK_ROUTE socket without groups this process has in `ns`. */
function lookupPortId(ns: NetNs): number {
  const ours = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) ours.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
  const rows = ns.exec('cat', ['/proc/net/netlink']).trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const found = rows.filter((f) => f[1] === '0' && f[3] === '00000000' && ours.has(f[9]));
  if (found.length !== 1) throw new Error(`expected one lookup socket in ${ns.name}, found ${found.length}`);
  return Number(found[0][2]);
}

function socketDrops(ns: NetNs, portId: number): number {
  const rows = ns.exec('cat', ['/proc/net/netlink']).trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  return Number(rows.find((f) => f[1] === '0' && f[2] === String(portId))![8]);
}

describeNetns('addon: batched lookups in a private namespace', () => {
  let ns: NetNs;

  beforeEach(() => {
    ns = createLookupNetns('rglb');
  });

  afterEach(() => ns.destroy());

  it('Monitor.lookupMany validates like getMany and answers in order; closed: ERR_INVALID_STATE', () => {
    const monitor = new binding.Monitor({ netns: ns.path }, () => {});
    try {
      expect(() => monitor.lookupMany(new Uint8Array(7))).toThrow(RangeError);
      expect(() => monitor.lookupMany([] as unknown as Uint8Array)).toThrow(TypeError);
      const answers = readLookupAnswers(monitor.lookupMany(packed('192.0.2.9', '198.51.100.1', '2001:db8:1::9')), 3);
      expect(answers.map((a) => (a.ok ? a.route.destination : a.code))).toEqual(['192.0.2.9', 'ENETUNREACH', '2001:db8:1::9']);
    } finally {
      monitor.close();
    }
    expect(thrown(() => monitor.lookupMany(packed('192.0.2.9')))).toMatchObject({ code: 'ERR_INVALID_STATE' });
  });

  it('asks again for answers the kernel dropped because the receive buffer was full', () => {
    const lookup = new binding.RouteLookup({ netns: ns.path });
    try {
      const portId = lookupPortId(ns);
      // Anyone may send to a netlink port id: fill the lookup socket's receive buffer with
      // datagrams from a user process until the kernel refuses more (EAGAIN). The first
      // chunk's answers are then dropped (netlink_overrun: ENOBUFS), and must be asked again.
      const script = `
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
msg = struct.pack('=IHHII', 4096, 3, 0, 1, 4242) + b'\\0' * 4080
n = 0
while True:
    try:
        s.sendto(msg, socket.MSG_DONTWAIT, (${portId}, 0))
        n += 1
    except BlockingIOError:
        break
print(n)
`;
      const sent = Number(ns.exec('python3', ['-c', script]).trim());
      expect(sent).toBeGreaterThan(10);
      const ips: string[] = [];
      for (let i = 0; i < 3000; i++) ips.push(i % 2 ? `192.0.2.${i % 250}` : `2001:db8:1::${(i + 1).toString(16)}`);
      const answers = readLookupAnswers(lookup.getMany(packed(...ips)), ips.length);
      expect(answers.map((a) => (a.ok ? a.route.destination : a.message))).toEqual(ips);
      expect(socketDrops(ns, portId)).toBeGreaterThan(0); // the overflow did happen
    } finally {
      lookup.close();
    }
  });
});
