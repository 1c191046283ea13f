/**
 * The Node-API addon against the real kernel: Monitor (the netlink socket layer),
 * RouteLookup and parse, through the interface of src/native/binding-types.ts.
 * Every network change happens inside namespaces these tests create and remove.
 *
 * Another build can be tested by pointing ROUTEGUARD_ADDON_DIR at a directory that
 * node-gyp-build searches (DIR/build/Release, DIR/build/Debug), as src/native/binding.ts
 * does. The sanitizer run (`npm run test:asan` does both steps):
 *   npm run build:asan
 *   ROUTEGUARD_ADDON_DIR=build-asan ASAN_OPTIONS=detect_leaks=0 \
 *     LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) \
 *     npx vitest run test/native
 * The node child processes (and the workers inside them) get the same preload; the tools
 * the tests run (ip, python3) do not: ASan would report their own bugs (iproute2's
 * print_route has an overlapping strncpy) and abort them.
 */
import { spawn } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NativeBinding, NativeError, NativeMonitor, NativeMonitorOptions } from '../../src/native/binding-types';
import { decodeBatch, type DecodedRecord } from '../../src/netlink/decode';
import { parseIp } from '../../src/netlink/ip';
import { runNode, type ChildOptions, type ChildResult } from '../helpers/child';
import { createNetns, createVeth, describeNetns, waitFor, type NetNs, createLookupNetns } from '../helpers/netns';

const repoRoot = path.resolve(__dirname, '..', '..');
const addonDir = path.resolve(repoRoot, process.env.ROUTEGUARD_ADDON_DIR || '.');
const requireHere = createRequire(__filename);
const nodeGypBuild = requireHere.resolve('node-gyp-build');
const binding = requireHere('node-gyp-build')(addonDir) as NativeBinding;

type Control = Exclude<DecodedRecord, { kind: 'link' | 'address' | 'route' | 'nexthop' | 'rule' | 'neighbour' }>;
const isControl = (r: DecodedRecord): r is Control =>
  !['link', 'address', 'route', 'nexthop', 'rule', 'neighbour'].includes(r.kind);

const ENOENT = 2;
const EINVAL = 22;
const ENETUNREACH = 101;
const EHOSTUNREACH = 113;

function bytes(ip: string): Uint8Array {
  const parsed = parseIp(ip);
  if (!parsed) throw new Error(`bad test address ${ip}`);
  return parsed.bytes;
}

function thrown(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (err) {
    return err as NativeError;
  }
  throw new Error('expected an exception');
}

/** Runs a node script with `binding` (this addon build) preloaded. */
function runChild(script: string, opts: ChildOptions = {}): Promise<ChildResult> {
  const prelude = `const binding = require(${JSON.stringify(nodeGypBuild)})(${JSON.stringify(addonDir)});\n`;
  return runNode(prelude + script, opts);
}

describe('addon: argument validation and parse()', () => {
  it('parse() turns captured datagrams into records, and rejects non-Uint8Array input', () => {
    const datagram = readFileSync(path.join(repoRoot, 'test/fixtures/netlink/addr4-new.bin'));
    const records = decodeBatch(binding.parse(new Uint8Array(datagram)));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ kind: 'address', removed: false, address: { family: 4 } });
    expect(decodeBatch(binding.parse(new Uint8Array(0)))).toEqual([]);
    expect(() => binding.parse('abc' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => binding.parse(new Uint16Array(4) as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('Monitor rejects bad options and callbacks with TypeError/RangeError', () => {
    const M = binding.Monitor;
    const noop = () => {};
    expect(() => new M({ netns: 5 as unknown as string }, noop)).toThrow(new TypeError(
      'netns must be a string path (/run/netns/NAME or /proc/PID/ns/net)',
    ));
    expect(() => new M({ netns: '' }, noop)).toThrow(TypeError);
    expect(() => new M(null as unknown as NativeMonitorOptions, noop)).toThrow(/options must be an object/);
    expect(() => new M({}, 'x' as unknown as () => void)).toThrow(new TypeError('onBatch must be a function'));
    expect(() => new M({ receiveBufferBytes: '1' as unknown as number }, noop)).toThrow(TypeError);
    expect(() => new M({ receiveBufferBytes: -1 }, noop)).toThrow(RangeError);
    expect(() => new M({ receiveBufferBytes: 1.5 }, noop)).toThrow(RangeError);
    expect(() => (M as unknown as (o: object, f: () => void) => void)({}, noop)).toThrow(TypeError);
  });

  it('a bad namespace path fails with errno, code and syscall, naming the path', () => {
    const missing = thrown(() => new binding.Monitor({ netns: '/run/netns/routeguard-no-such-ns' }, () => {}));
    expect(missing).toBeInstanceOf(Error);
    expect(missing).toMatchObject({ code: 'ENOENT', errno: ENOENT, syscall: 'open' });
    expect(missing.message).toContain("'/run/netns/routeguard-no-such-ns'");
    const notNs = thrown(() => new binding.RouteLookup({ netns: '/etc/hostname' }));
    expect(notNs).toMatchObject({ code: 'EINVAL', errno: EINVAL, syscall: 'setns' });
    expect(notNs.message).toMatch(/'\/etc\/hostname' is not a network namespace/);
    const notDir = thrown(() => new binding.Monitor({ netns: '/etc/hostname/x' }, () => {}));
    expect(notDir).toMatchObject({ code: 'ENOTDIR', syscall: 'open' });
  });

  it('RouteLookup.get rejects invalid queries with TypeError/RangeError', () => {
    const lookup = new binding.RouteLookup({});
    try {
      const to = bytes('127.0.0.1');
      type Q = Parameters<typeof lookup.get>[0];
      const bad = (q: unknown) => () => lookup.get(q as Q);
      expect(bad(undefined)).toThrow(new TypeError('query must be an object'));
      expect(bad({ family: 5, to })).toThrow(new TypeError('query.family must be 4 or 6'));
      expect(bad({ family: '4', to })).toThrow(TypeError);
      expect(bad({ family: 4 })).toThrow(/query.to must be a Uint8Array of 16 bytes/);
      expect(bad({ family: 4, to: new Uint8Array(4) })).toThrow(TypeError);
      expect(bad({ family: 4, to: Array.from(to) })).toThrow(TypeError);
      expect(bad({ family: 4, to, from: 'x' })).toThrow(/query.from/);
      expect(bad({ family: 4, to, oif: '1' })).toThrow(new TypeError('query.oif must be a number'));
      expect(bad({ family: 4, to, mark: -1 })).toThrow(RangeError);
      expect(bad({ family: 4, to, uid: 2 ** 32 })).toThrow(RangeError);
      expect(bad({ family: 4, to, iif: 0.5 })).toThrow(RangeError);
      // A valid query on the same object still works: the loopback route.
      expect(decodeBatch(lookup.get({ family: 4, to }))).toMatchObject([{ kind: 'route', route: { type: 'local' } }]);
    } finally {
      lookup.close();
    }
  });

  it('tcpKeepalive() takes an integer descriptor only: NaN, 1.9 or fd + 2^32 would name another one', () => {
    const keep = (fd: unknown, set?: Int32Array) => () => binding.tcpKeepalive(fd as number, set);
    // Set values that would be applied to descriptor 0, 1 or `fd` if the number were coerced.
    const set = Int32Array.of(1, 77, 7, 3, -1);
    for (const fd of [Number.NaN, 1.9, 2 ** 32 + 3, -1, 2 ** 31, Infinity]) {
      expect(keep(fd, set)).toThrow(new RangeError('tcpKeepalive(): the socket descriptor must be an integer from 0 to 2147483647'));
    }
    expect(keep('3')).toThrow(new TypeError('tcpKeepalive(): the socket descriptor must be a number'));
    // A valid descriptor that is no socket: the getsockopt errno (ENOTSOCK, 88) is the answer.
    const file = openSync('/dev/null', 'r');
    try {
      expect(binding.tcpKeepalive(file)[0]).toBe(88);
    } finally {
      closeSync(file);
    }
  });
});

describeNetns('addon: Monitor in a private namespace', () => {
  let ns: NetNs;
  let monitors: NativeMonitor[];

  beforeEach(() => {
    ns = createNetns('rgaddon');
    createVeth(ns, 'v0', null, 'v1');
    monitors = [];
  });

  afterEach(() => {
    for (const m of monitors) m.close();
    ns.destroy();
  });

  /** A started monitor collecting decoded records (and raw batch count). */
  function watch(options: NativeMonitorOptions = {}) {
    const records: DecodedRecord[] = [];
    let batches = 0;
    const monitor = new binding.Monitor({ netns: ns.path, ...options }, (batch) => {
      batches++;
      records.push(...decodeBatch(batch));
    });
    monitors.push(monitor);
    monitor.start();
    return { monitor, records, batches: () => batches };
  }

  const synced = (records: DecodedRecord[], reason = 'initial') =>
    records.findIndex((r) => r.kind === 'synced' && r.reason === reason) >= 0;

  it('frames the initial dump: begin/end for links, addresses, routes, nexthops, rules, neighbours, then synced', async () => {
    ns.ip('addr add 192.0.2.1/24 dev v0');
    const { monitor, records } = watch();
    await waitFor(() => synced(records), 5000, 'kSynced');
    expect(records.filter(isControl)).toEqual([
      { kind: 'dump-begin', object: 'link', reason: 'initial' },
      { kind: 'dump-end', object: 'link' },
      { kind: 'dump-begin', object: 'address', reason: 'initial' },
      { kind: 'dump-end', object: 'address' },
      { kind: 'dump-begin', object: 'route', reason: 'initial' },
      { kind: 'dump-end', object: 'route' },
      { kind: 'dump-begin', object: 'nexthop', reason: 'initial' },
      { kind: 'dump-end', object: 'nexthop' },
      { kind: 'dump-begin', object: 'rule', reason: 'initial' },
      { kind: 'dump-end', object: 'rule' },
      { kind: 'dump-begin', object: 'neighbour', reason: 'initial' },
      { kind: 'dump-end', object: 'neighbour' },
      { kind: 'synced', reason: 'initial' },
    ]);
    // Each object's records sit inside its own frame, flagged as dump replies.
    const begin = (o: string) => records.findIndex((r) => r.kind === 'dump-begin' && r.object === o);
    const end = (o: string) => records.findIndex((r) => r.kind === 'dump-end' && r.object === o);
    const links = records.slice(begin('link'), end('link')).filter((r) => r.kind === 'link');
    expect(links.map((r) => (r.kind === 'link' ? r.link.name : '')).sort()).toEqual(['lo', 'v0', 'v1']);
    expect(links.every((r) => r.kind === 'link' && r.fromDump && !r.removed)).toBe(true);
    const addrs = records.slice(begin('address'), end('address'));
    expect(addrs).toContainEqual(expect.objectContaining({ kind: 'address', address: expect.objectContaining({ address: '192.0.2.1' }) }));
    // The three default IPv4 rules and two IPv6 ones, flagged as dump replies.
    const rules = records.slice(begin('rule'), end('rule')).filter((r) => r.kind === 'rule');
    expect(rules.map((r) => (r.kind === 'rule' ? `${r.rule.family}:${r.rule.priority}` : ''))).toEqual([
      '4:0', '4:32766', '4:32767', '6:0', '6:32766',
    ]);
    expect(rules.every((r) => r.kind === 'rule' && r.fromDump && !r.removed)).toBe(true);
    const routes = records.slice(begin('route'), end('route'));
    expect(routes).toContainEqual(
      expect.objectContaining({ kind: 'route', fromDump: true, route: expect.objectContaining({ destination: '192.0.2.0', table: 254 }) }),
    );
    const stats = monitor.stats();
    expect(stats.portId).toBeGreaterThan(0);
    expect(stats.receiveBufferBytes).toBeGreaterThanOrEqual(8 * 1024 * 1024); // the default
    expect(stats.batches).toBeGreaterThan(0);
    expect(stats.messages).toBeGreaterThan(5);
  });

  it('streams an address added in the namespace as a kAddrNew event record', async () => {
    const { records } = watch();
    await waitFor(() => synced(records));
    const from = records.length;
    ns.ip('addr add 198.51.100.7/24 dev v0');
    const rec = await waitFor(() =>
      records.slice(from).find((r) => r.kind === 'address' && !r.removed && r.address.address === '198.51.100.7'),
    );
    expect(rec).toMatchObject({ kind: 'address', fromDump: false, address: { family: 4, prefixLength: 24, index: ns.ifindex('v0') } });
    ns.ip('addr del 198.51.100.7/24 dev v0');
    await waitFor(() => records.slice(from).find((r) => r.kind === 'address' && r.removed && r.address.address === '198.51.100.7'));
  });

  it('resync() re-dumps everything framed with the resync reason', async () => {
    const { monitor, records } = watch();
    monitor.resync(); // queued behind the initial sync
    await waitFor(() => synced(records, 'resync'), 5000, 'resync');
    const controls = records.filter(isControl).map((r) => `${r.kind}:${'object' in r ? r.object : ''}:${'reason' in r ? r.reason : ''}`);
    expect(controls).toEqual([
      ...['link', 'address', 'route', 'nexthop', 'rule', 'neighbour'].flatMap((o) => [`dump-begin:${o}:initial`, `dump-end:${o}:`]),
      'synced::initial',
      ...['link', 'address', 'route', 'nexthop', 'rule', 'neighbour'].flatMap((o) => [`dump-begin:${o}:resync`, `dump-end:${o}:`]),
      'synced::resync',
    ]);
    expect(() => monitor.start()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
  });

  it('runs onBatch in the AsyncLocalStorage context the monitor was created in', async () => {
    const als = new AsyncLocalStorage<string>();
    const stores: Array<string | undefined> = [];
    const monitor = als.run('created-here', () => new binding.Monitor({ netns: ns.path }, () => stores.push(als.getStore())));
    monitors.push(monitor);
    monitor.start();
    await waitFor(() => stores.length > 0);
    expect(stores.every((s) => s === 'created-here')).toBe(true);
  });

  it('close() is idempotent, works from inside onBatch, and no batch arrives after it', async () => {
    const { monitor, records, batches } = watch();
    await waitFor(() => synced(records));
    monitor.close();
    monitor.close();
    const seen = batches();
    ns.ip('addr add 203.0.113.9/24 dev v0');
    ns.ip('link set v1 down');
    await new Promise((r) => setTimeout(r, 300));
    expect(batches()).toBe(seen);
    expect(monitor.stats().batches).toBe(seen); // stats stay readable
    expect(() => monitor.resync()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    monitor.ref();
    monitor.unref();

    let inside = 0;
    const self: NativeMonitor = new binding.Monitor({ netns: ns.path }, () => {
      inside++;
      self.close();
      self.close();
    });
    monitors.push(self);
    self.start();
    await waitFor(() => inside > 0);
    for (let i = 0; i < 5; i++) ns.ip(`addr add 203.0.113.${20 + i}/24 dev v0`);
    await new Promise((r) => setTimeout(r, 300));
    expect(inside).toBe(1);
  });

  it('drops and counts a forged message sent to its port id, producing no object record', async () => {
    const { monitor, records } = watch();
    await waitFor(() => synced(records));
    const { portId } = monitor.stats();
    const from = records.length;
    // An RTM_NEWLINK for a fake interface 4242, from an ordinary process in the namespace.
    ns.exec('python3', [
      '-c',
      `
import socket, struct
ifi = struct.pack('=BxHiII', 0, 1, 4242, 0x1, 0xffffffff)
name = b'forged0\\0'
rta = struct.pack('=HH', 4 + len(name), 3) + name
body = ifi + rta
msg = struct.pack('=IHHII', 16 + len(body), 16, 0, 1, 0) + body
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
s.sendto(msg, (${portId}, 0))
`,
    ]);
    const dropped = await waitFor(() => records.slice(from).find((r) => r.kind === 'dropped'));
    expect(dropped).toEqual({ kind: 'dropped', reason: 'not-from-kernel', count: 1 });
    expect(records.some((r) => r.kind === 'link' && r.link.index === 4242)).toBe(false);
    expect(monitor.stats().droppedNotFromKernel).toBe(1);
  });

  it('restarts a dump interrupted by changes (NLM_F_DUMP_INTR) with kDumpBegin(obj, kRetry)', async () => {
    // Many links make the link dump span many datagrams; creating and deleting a
    // device between two of them changes dev_base_seq, and the kernel flags the
    // next part NLM_F_DUMP_INTR. Re-dump until that happens (usually a few passes).
    const pairs = 100;
    ns.ipBatch(Array.from({ length: pairs }, (_, i) => `link add a${i} type veth peer name b${i}`));
    const churn = spawn('ip', ['-n', ns.name, '-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
    churn.stdin.on('error', () => {}); // EPIPE once the churn is killed
    churn.stdin.end(Array.from({ length: 20_000 }, () => 'link add t0 type veth peer name t1\nlink del t0').join('\n') + '\n');
    try {
      const { monitor, records } = watch();
      let passes = 0;
      await waitFor(
        () => {
          const done = records.filter((r) => r.kind === 'synced').length;
          if (monitor.stats().dumpRetries > 0 && done > passes) return true;
          if (done > passes) {
            passes = done;
            monitor.resync();
          }
          return false;
        },
        20_000,
        'an interrupted dump',
      );
      const retry = records.findIndex((r) => r.kind === 'dump-begin' && r.reason === 'retry');
      expect(retry).toBeGreaterThan(0);
      const { object } = records[retry] as Extract<DecodedRecord, { kind: 'dump-begin' }>;
      // The interrupted pass was never closed: no kDumpEnd between its begin and the retry.
      const before = records.slice(0, retry).map((r) => r.kind === 'dump-begin' || r.kind === 'dump-end');
      const previousFrame = records[before.lastIndexOf(true)];
      expect(previousFrame).toMatchObject({ kind: 'dump-begin', object });
      // The retried dump ends normally and holds every link.
      const end = records.findIndex((r, i) => i > retry && r.kind === 'dump-end');
      expect(records[end]).toEqual({ kind: 'dump-end', object });
      if (object === 'link') {
        const names = new Set(records.slice(retry, end).map((r) => (r.kind === 'link' ? r.link.name : '')));
        for (let i = 0; i < pairs; i++) expect(names.has(`a${i}`) && names.has(`b${i}`)).toBe(true);
      }
    } finally {
      churn.kill();
    }
  });

  it('recovers from a forced overflow: kOverflow, then a full dump framed kResync ... kSynced', async () => {
    ns.ip('addr add fd00:1::1/64 dev v0 nodad');
    const { monitor, records } = watch({ receiveBufferBytes: 4096 });
    // SO_RCVBUFFORCE: the kernel doubles the request (sk_rcvbuf = 2 * val).
    expect(monitor.stats().receiveBufferBytes).toBe(8192);
    await waitFor(() => synced(records));
    const routes = 3000;
    const lines: string[] = [];
    for (let i = 1; i <= routes; i++) lines.push(`route add fd00:2::${i.toString(16)}/128 dev v0`);
    ns.ipBatch(lines);
    await waitFor(() => synced(records, 'resync'), 20_000, 'resync after the overflow');
    const overflow = records.findIndex((r) => r.kind === 'overflow');
    expect(overflow).toBeGreaterThan(0);
    expect(monitor.stats().overflows).toBeGreaterThan(0);
    // After the (last) overflow: a complete resync sequence whose route dump holds every route.
    const lastOverflow = records.map((r) => r.kind).lastIndexOf('overflow');
    const after = records.slice(lastOverflow + 1);
    const restart = after.findIndex((r) => r.kind === 'dump-begin' && r.object === 'link' && r.reason === 'resync');
    expect(restart).toBeGreaterThanOrEqual(0);
    const done = after.findIndex((r) => r.kind === 'synced' && r.reason === 'resync');
    expect(done).toBeGreaterThan(restart);
    const sequence = after.slice(restart, done + 1);
    expect(sequence.filter((r) => r.kind === 'dump-end').map((r) => (r.kind === 'dump-end' ? r.object : ''))).toEqual([
      'link',
      'address',
      'route',
      'nexthop',
      'rule',
      'neighbour',
    ]);
    const dumped = new Set(
      sequence.filter((r) => r.kind === 'route' && r.fromDump && r.route.destination.startsWith('fd00:2::')).map((r) =>
        r.kind === 'route' ? r.route.destination : '',
      ),
    );
    expect(dumped.size).toBe(routes);
  });
});

describeNetns('addon: process lifetime (child processes)', () => {
  let ns: NetNs;

  beforeEach(() => {
    ns = createNetns('rglife');
    createVeth(ns, 'v0', null, 'v1');
  });

  afterEach(() => ns.destroy());

  it('a started monitor keeps the process alive; after unref() the process exits', async () => {
    const script = (unref: boolean) => `
      const m = new binding.Monitor({ netns: process.env.NS }, () => {});
      m.start();
      ${unref ? 'm.unref();' : ''}
      process.on('exit', () => console.log('exit'));
    `;
    const kept = await runChild(script(false), { env: { NS: ns.path }, timeoutMs: 1500 });
    expect(kept.timedOut).toBe(true);
    const released = await runChild(script(true), { env: { NS: ns.path }, timeoutMs: 10_000 });
    expect(released).toMatchObject({ timedOut: false, code: 0, stdout: 'exit\n' });
  });

  it('without privileges: entering a namespace fails with EPERM; the receive buffer falls back to SO_RCVBUF', async () => {
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const result = await runChild(
      `
      try { new binding.Monitor({ netns: process.env.NS }, () => {}); }
      catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, syscall: e.syscall, message: e.message })); }
      const m = new binding.Monitor({ receiveBufferBytes: 64 * 1024 * 1024 }, (batch) => {
        const u = new Uint32Array(batch);
        for (let i = 0; i < u.length; i += u[i + 1] / 4) if ((u[i] & 0xffff) === 18) { console.log(m.stats().receiveBufferBytes); m.close(); }
      });
      m.start();
    `,
      { env: { NS: ns.path }, runAs: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] },
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const [error, granted] = result.stdout.trim().split('\n');
    expect(JSON.parse(error)).toMatchObject({ code: 'EPERM', errno: 1, syscall: 'setns', message: expect.stringContaining('CAP_SYS_ADMIN') });
    // SO_RCVBUF is capped at net.core.rmem_max, then doubled by the kernel.
    expect(Number(granted)).toBe(Math.min(64 * 1024 * 1024, rmemMax) * 2);
  });

  it('an exception thrown by onBatch is an uncaught exception; the monitor keeps working', async () => {
    const result = await runChild(
      `
      const { execFileSync } = require('child_process');
      let calls = 0, caught = 0;
      process.on('uncaughtException', (err) => { caught++; console.log('caught', err.message); });
      const m = new binding.Monitor({ netns: process.env.NS }, (batch) => {
        calls++;
        const u = new Uint32Array(batch);
        for (let i = 0; i < u.length; i += u[i + 1] / 4) {
          if ((u[i] & 0xffff) === 18) execFileSync('ip', ['-n', process.env.NSNAME, 'addr', 'add', '192.0.2.5/24', 'dev', 'v0']);
          if ((u[i] & 0xffff) === 3 && !(u[i] >>> 16 & 1)) { console.log('event after throw', caught); m.close(); return; }
        }
        if (calls === 1) throw new Error('boom');
      });
      m.start();
    `,
      { env: { NS: ns.path, NSNAME: ns.name } },
    );
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, timedOut: false });
    expect(result.stdout).toBe('caught boom\nevent after throw 1\n');
  });

  it('a started monitor is never collected before close(); one never started is, and releases its sockets', async () => {
    const result = await runChild(
      `
      const fs = require('fs');
      const sockets = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
        try { return fs.readlinkSync('/proc/self/fd/' + fd).startsWith('socket:'); } catch { return false; }
      }).length;
      const before = sockets();
      const started = [];
      // Separate functions: closures of one scope share a context, which would tie
      // the idle monitors to the started ones.
      const makeIdle = () => { const idle = new binding.Monitor({ netns: process.env.NS }, () => idle.stats()); };
      (function () {
        for (let i = 0; i < 20; i++) {
          makeIdle();
          const m = new binding.Monitor({ netns: process.env.NS }, () => m.stats());
          m.start();
          m.unref();
          started.push(new WeakRef(m));
        }
      })();
      const opened = sockets() - before;
      const tick = () => new Promise((r) => setImmediate(r));
      (async () => {
        for (let i = 0; i < 10; i++) { global.gc(); await tick(); await tick(); }
        const alive = started.filter((w) => w.deref() !== undefined).length;
        const afterGc = sockets() - before;
        for (const w of started) w.deref()?.close();
        await tick();
        console.log(opened, alive, afterGc, sockets() - before);
      })();
    `,
      { env: { NS: ns.path }, args: ['--expose-gc'] },
    );
    expect(result.stderr).toBe('');
    // Two sockets per monitor (events + lookups): 40 monitors open 80; the 20 never
    // started are collected with theirs; the 20 started live until close().
    expect(result.stdout).toBe('80 20 40 0\n');
  });

  it('terminating workers that hold a Monitor and a RouteLookup mid-stream does not crash', async () => {
    const result = await runChild(
      `
      const { Worker } = require('worker_threads');
      const { spawn } = require('child_process');
      const workerCode = \`
        const { parentPort, workerData } = require('worker_threads');
        const binding = require(workerData.ngb)(workerData.dir);
        const m = new binding.Monitor({ netns: workerData.ns }, (batch) => parentPort.postMessage(batch.byteLength));
        const lookup = new binding.RouteLookup({ netns: workerData.ns });
        const to = new Uint8Array(16); to.set([192, 0, 2, 77]);
        m.start();
        setInterval(() => { try { lookup.get({ family: 4, to }); } catch {} }, 1);
      \`;
      const churn = () => {
        const lines = [];
        for (let i = 1; i <= 400; i++) lines.push('route add fd00:3::' + i.toString(16) + '/128 dev v0', 'route del fd00:3::' + i.toString(16) + '/128 dev v0');
        const ip = spawn('ip', ['-n', process.env.NSNAME, '-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
        ip.stdin.end(lines.join('\\\\n') + '\\\\n');
        return new Promise((r) => ip.on('exit', r));
      };
      (async () => {
        for (let round = 0; round < 6; round++) {
          const w = new Worker(workerCode, { eval: true, workerData: { ngb: ${JSON.stringify(nodeGypBuild)}, dir: ${JSON.stringify(addonDir)}, ns: process.env.NS } });
          let batches = 0;
          await new Promise((resolve) => w.on('message', () => { if (++batches === 1) resolve(); }));
          const churning = churn();
          await new Promise((r) => setTimeout(r, 20 + round * 15));
          const code = await w.terminate();
          await churning;
          console.log('round', round, 'batches>0', batches > 0, 'exit', code);
        }
      })();
    `,
      { env: { NS: ns.path, NSNAME: ns.name }, timeoutMs: 60_000 },
    );
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, signal: null, timedOut: false });
    expect(result.stdout.trim().split('\n')).toEqual(
      Array.from({ length: 6 }, (_, i) => `round ${i} batches>0 true exit 1`),
    );
  });
});

describeNetns('addon: RouteLookup in a private namespace', () => {
  let ns: NetNs;

  beforeEach(() => {
    ns = createLookupNetns('rglookup');
  });

  afterEach(() => ns.destroy());

  it('returns the route to a reachable address with the right oif, IPv4 and IPv6', () => {
    const lookup = new binding.RouteLookup({ netns: ns.path });
    try {
      const v0 = ns.ifindex('v0');
      const [r4] = decodeBatch(lookup.get({ family: 4, to: bytes('192.0.2.77') }));
      expect(r4).toMatchObject({ kind: 'route', removed: false, fromDump: false, route: { family: 4, oif: v0, preferredSource: '192.0.2.1', table: 254 } });
      const [r6] = decodeBatch(lookup.get({ family: 6, to: bytes('2001:db8:1::77'), from: bytes('2001:db8:1::1') }));
      expect(r6).toMatchObject({ kind: 'route', route: { family: 6, oif: v0, destination: '2001:db8:1::77' } });
      expect(decodeBatch(lookup.get({ family: 4, to: bytes('192.0.2.77'), oif: v0, mark: 7, uid: 0 }))).toHaveLength(1);
    } finally {
      lookup.close();
    }
  });

  it('an unreachable route throws EHOSTUNREACH; no route at all throws ENETUNREACH', () => {
    ns.ip('route add unreachable 203.0.113.0/24');
    const lookup = new binding.RouteLookup({ netns: ns.path });
    try {
      const unreachable = thrown(() => lookup.get({ family: 4, to: bytes('203.0.113.5') }));
      expect(unreachable).toBeInstanceOf(Error);
      expect(unreachable).toMatchObject({ code: 'EHOSTUNREACH', errno: EHOSTUNREACH });
      expect(unreachable.message).toContain('203.0.113.5');
      expect(thrown(() => lookup.get({ family: 4, to: bytes('198.51.100.1') }))).toMatchObject({ code: 'ENETUNREACH', errno: ENETUNREACH });
      expect(thrown(() => lookup.get({ family: 6, to: bytes('2001:db8:ff::1') }))).toMatchObject({ code: 'ENETUNREACH', errno: ENETUNREACH });
      expect(thrown(() => lookup.get({ family: 4, to: bytes('192.0.2.77'), oif: 9999 }))).toMatchObject({ code: 'ENODEV' });
      // Errors leave no stale answer behind: the next lookup gets its own reply.
      expect(decodeBatch(lookup.get({ family: 4, to: bytes('192.0.2.77') }))).toMatchObject([{ route: { oif: ns.ifindex('v0') } }]);
    } finally {
      lookup.close();
    }
  });

  it('close() is idempotent; get() after close() fails with ERR_INVALID_STATE', () => {
    const lookup = new binding.RouteLookup({ netns: ns.path });
    lookup.close();
    lookup.close();
    expect(thrown(() => lookup.get({ family: 4, to: bytes('192.0.2.77') }))).toMatchObject({ code: 'ERR_INVALID_STATE' });
  });
});
