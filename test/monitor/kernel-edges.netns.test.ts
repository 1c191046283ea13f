/**
 * The kernel's edge cases that once left the mirror wrong or the monitor stuck:
 * IPv4 routes sharing a key (append/prepend/replace), overflows racing link changes,
 * notifications over 64 KiB, namespace paths that are no namespace, and namespace
 * names reused under a running monitor. Every change happens in namespaces made here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { NetlinkMonitor, type MonitorOptions } from '../../src/monitor';
import { expectMirrorEqualsKernel as expectEqual, startWatching } from '../helpers/watched-monitor';
import type { NetworkEvent, RouteEvent } from '../../src/netlink/types';
import { runNode } from '../helpers/child';
import { createNetns, createVeth, describeNetns, waitFor, type NetNs } from '../helpers/netns';

const root = path.resolve(__dirname, '..', '..');
const addMultipathRoute = path.join(root, 'test/fixtures/scripts/add-multipath-route.py');

describeNetns('NetlinkMonitor on the kernel edge cases', () => {
  let ns: NetNs;
  let monitor: NetlinkMonitor;
  let events: NetworkEvent[];

  async function startMonitor(options: MonitorOptions = {}): Promise<NetlinkMonitor> {
    ({ monitor, events } = await startWatching(ns, options));
    return monitor;
  }

  const expectMirrorEqualsKernel = (timeoutMs?: number) => expectEqual(ns, monitor, timeoutMs);


  /** The gateway `ip route get` picks, and the first of the mirror's routes to the prefix. */
  function firstGateways(prefix: string, probe: string): { kernel: string; mirror: string | null } {
    const [got] = ns.ipJson<Array<{ gateway: string }>>(`route get ${probe}`);
    return { kernel: got.gateway, mirror: monitor.state.routesTo(254, prefix)[0]?.gateway ?? null };
  }

  beforeEach(() => {
    ns = createNetns('rgedge');
    createVeth(ns, 'v0', null, 'v1');
    ns.ip('addr add 192.0.2.1/24 dev v0');
    ns.ip('addr add 2001:db8:1::1/64 dev v0 nodad');
  });

  afterEach(() => {
    monitor?.close();
    ns.destroy();
  });

  it('keeps IPv4 routes that share a key apart: append, prepend, replace and delete as the kernel does', async () => {
    await startMonitor();
    const prefix = '203.0.113.0/24';
    ns.ip(`route add ${prefix} via 192.0.2.10`);
    ns.ip(`route append ${prefix} via 192.0.2.11`);
    await expectMirrorEqualsKernel();
    expect(monitor.state.routesTo(254, prefix).map((r) => r.gateway)).toEqual(['192.0.2.10', '192.0.2.11']);

    ns.ip(`route prepend ${prefix} via 192.0.2.12`);
    await expectMirrorEqualsKernel();
    expect(firstGateways(prefix, '203.0.113.5')).toEqual({ kernel: '192.0.2.12', mirror: '192.0.2.12' });

    // replace takes the first route of the key (the prepended one) and keeps its place.
    ns.ip(`route replace ${prefix} via 192.0.2.13`);
    await expectMirrorEqualsKernel();
    expect(firstGateways(prefix, '203.0.113.5')).toEqual({ kernel: '192.0.2.13', mirror: '192.0.2.13' });

    // Deleting one alias leaves the others.
    ns.ip(`route del ${prefix} via 192.0.2.11`);
    await expectMirrorEqualsKernel();
    expect(monitor.state.routesTo(254, prefix).map((r) => r.gateway)).toEqual(['192.0.2.13', '192.0.2.10']);
    // A delete that names no nexthop removes the first.
    ns.ip(`route del ${prefix}`);
    await expectMirrorEqualsKernel();
    expect(firstGateways(prefix, '203.0.113.5')).toEqual({ kernel: '192.0.2.10', mirror: '192.0.2.10' });

    const removed = events.filter((e): e is RouteEvent => e.type === 'route' && e.action === 'removed');
    expect(removed.map((e) => e.route.gateway)).toEqual(['192.0.2.11', '192.0.2.13']);
    // A resync finds nothing to correct.
    monitor.resync();
    const resync = await waitFor(() => events.find((e) => e.type === 'resync'));
    expect(resync).toMatchObject({ added: 0, changed: 0, removed: 0 });
  });

  it('IPv6 replace takes the first route of the same ECMP kind, else the first of the key (fib6_add_rt2node)', async () => {
    await startMonitor();
    const prefix = '2001:db8:fe::/64';
    const kinds = () => monitor.state.routesTo(254, prefix).map((r) => `${r.type} ${r.gateway ?? '-'}`);
    // No route of the new one's kind (a gateway route over a prohibit one): the first is replaced.
    ns.ip(`-6 route add prohibit ${prefix} metric 100`);
    ns.ip(`-6 route replace ${prefix} via 2001:db8:1::10 dev v0 metric 100`);
    await expectMirrorEqualsKernel();
    expect(kinds()).toEqual(['unicast 2001:db8:1::10']);
    // And back: an unreachable route replaces the gateway route.
    ns.ip(`-6 route replace unreachable ${prefix} metric 100`);
    await expectMirrorEqualsKernel();
    expect(kinds()).toEqual(['unreachable -']);
    // A device route first, a gateway route after it: a gateway replace takes the gateway route.
    ns.ip(`-6 route del unreachable ${prefix} metric 100`);
    ns.ip(`-6 route add ${prefix} dev v0 metric 100`);
    ns.ip(`-6 route append ${prefix} via 2001:db8:1::11 dev v0 metric 100`);
    ns.ip(`-6 route replace ${prefix} via 2001:db8:1::12 dev v0 metric 100`);
    await expectMirrorEqualsKernel();
    expect(kinds().sort()).toEqual(['unicast -', 'unicast 2001:db8:1::12']);
  });

  it('a deleted nexthop object takes its IPv4 routes with it (no RTM_DELROUTE); a group that lost it is confirmed by a dump', async () => {
    await startMonitor();
    ns.ipBatch([
      'nexthop add id 1 via 192.0.2.2 dev v0',
      'nexthop add id 2 via 192.0.2.3 dev v0',
      'nexthop add id 3 group 1/2',
      'route add 203.0.113.0/25 nhid 1',
      'route add 203.0.113.128/25 nhid 3',
    ]);
    await expectMirrorEqualsKernel();
    const before = events.length;
    ns.ip('nexthop del id 1');
    // The route through nexthop 1 is gone at once; the one through the group has one nexthop left.
    await expectMirrorEqualsKernel();
    await waitFor(() => events.slice(before).find((e) => e.type === 'resync' && e.reason === 'confirm'), 5000, 'confirmation dump');
    const after = events.slice(before);
    // The flushed route is removed with the nexthop's own event, before the confirmation dump.
    const flushed = after.findIndex((e) => e.type === 'route' && e.action === 'removed' && e.route.destination === '203.0.113.0');
    expect(flushed).toBeGreaterThan(after.findIndex((e) => e.type === 'nexthop' && e.action === 'removed'));
    expect(flushed).toBeLessThan(after.findIndex((e) => e.type === 'resync'));
    expect(monitor.state.routesTo(254, '203.0.113.128/25')[0].multipath ?? null).toBeNull();
    expect(monitor.state.routesTo(254, '203.0.113.128/25')[0].gateway).toBe('192.0.2.3');
    // The last member's deletion deletes the group, and its route with it.
    ns.ip('nexthop del id 2');
    await expectMirrorEqualsKernel();
    expect(monitor.state.routesTo(254, '203.0.113.128/25')).toEqual([]);
  });

  it('with nexthop_compat_mode 0 (routes name only the id) a group losing a member costs no confirmation dump', async () => {
    ns.exec('sysctl', ['-qw', 'net.ipv4.nexthop_compat_mode=0']);
    await startMonitor();
    ns.ipBatch([
      'nexthop add id 1 via 192.0.2.2 dev v0',
      'nexthop add id 2 via 192.0.2.3 dev v0',
      'nexthop add id 3 group 1/2',
      'route add 203.0.113.128/25 nhid 3',
    ]);
    await expectMirrorEqualsKernel();
    expect(monitor.state.routesTo(254, '203.0.113.128/25')[0]).toMatchObject({ nexthopId: 3, gateway: null, multipath: null });
    const before = events.length;
    ns.ip('nexthop del id 1');
    await waitFor(() => events.slice(before).find((e) => e.type === 'nexthop' && e.action === 'changed'));
    // Past the confirmation delay (250 ms): nothing was dumped again.
    await new Promise((r) => setTimeout(r, 750));
    expect(events.slice(before).filter((e) => e.type === 'resync')).toEqual([]);
    await expectMirrorEqualsKernel();
  });

  it('an IPv4 route through an IPv6 gateway (RFC 5549, direct and by nexthop object) has that gateway', async () => {
    await startMonitor();
    ns.ipBatch([
      'route add 203.0.113.0/25 via inet6 2001:db8:1::2 dev v0',
      'nexthop add id 5 via 2001:db8:1::3 dev v0',
      'route add 203.0.113.128/25 nhid 5',
    ]);
    await expectMirrorEqualsKernel();
    expect(monitor.state.routesTo(254, '203.0.113.0/25')[0].gateway).toBe('2001:db8:1::2');
    expect(monitor.state.routesTo(254, '203.0.113.128/25')[0].gateway).toBe('2001:db8:1::3');
  });

  it('IPv6 ECMP siblings built by append keep the order the kernel dumps them in (its notifications list the new one first)', async () => {
    ns.ip('addr add 2001:db8:2::1/64 dev v1 nodad');
    await startMonitor();
    const prefix = 'fd00:ff::7/128';
    const hops = () => (monitor.state.routesTo(254, prefix)[0]?.multipath ?? []).map((h) => h.gateway);
    ns.ip(`-6 route add ${prefix} via 2001:db8:1::9 dev v0`);
    ns.ip(`-6 route append ${prefix} via 2001:db8:2::10 dev v1`);
    await expectMirrorEqualsKernel();
    expect(hops()).toEqual(['2001:db8:1::9', '2001:db8:2::10']);
    // Appended to a route that is already multipath: one route of three siblings, not two routes.
    ns.ip(`-6 route append ${prefix} via 2001:db8:2::11 dev v1`);
    await expectMirrorEqualsKernel();
    expect(monitor.state.routesTo(254, prefix)).toHaveLength(1);
    expect(hops()).toEqual(['2001:db8:1::9', '2001:db8:2::10', '2001:db8:2::11']);
    ns.ip(`-6 route del ${prefix} via 2001:db8:2::10 dev v1`);
    await expectMirrorEqualsKernel();
    expect(hops()).toEqual(['2001:db8:1::9', '2001:db8:2::11']);
    // A resync finds nothing to correct.
    const before = events.length;
    monitor.resync();
    const resync = await waitFor(() => events.slice(before).find((e) => e.type === 'resync'));
    expect(resync).toMatchObject({ added: 0, changed: 0, removed: 0 });
  });

  it('IPv4 routes of one key that differ only in MTU, source or protocol are two routes (fib_info), as the kernel keeps them', async () => {
    await startMonitor();
    const prefix = '198.51.100.0/25';
    ns.ip(`route replace blackhole ${prefix} mtu 1400`);
    ns.ip(`route prepend blackhole ${prefix}`);
    ns.ip(`route append blackhole ${prefix} proto static`);
    await expectMirrorEqualsKernel();
    expect(monitor.state.routesTo(254, prefix).map((r) => `${r.mtu ?? '-'} ${r.protocol}`)).toEqual(['- 3', '1400 3', '- 4']);
    ns.ip(`route del blackhole ${prefix} mtu 1400`);
    await expectMirrorEqualsKernel();
    expect(monitor.state.routesTo(254, prefix)).toHaveLength(2);
  });

  it('replaces an IPv6 route whose gateway changed instead of keeping both', async () => {
    await startMonitor();
    ns.ip('-6 route add 2001:db8:9::/48 via 2001:db8:1::10');
    ns.ip('-6 route replace 2001:db8:9::/48 via 2001:db8:1::11');
    await expectMirrorEqualsKernel();
    expect(monitor.state.routesTo(254, '2001:db8:9::/48').map((r) => r.gateway)).toEqual(['2001:db8:1::11']);
  });

  it('an overflow while links keep changing ends with the mirror equal to the kernel', async () => {
    await startMonitor({ receiveBufferBytes: 4096 });
    // A flood the 8 KiB buffer cannot hold, with link and address changes mixed in and
    // continuing while the monitor recovers: some land while the queue is still
    // congested (the kernel drops them without a new ENOBUFS), some during the re-dump.
    const lines: string[] = [];
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 500; i++) lines.push(`route add 198.51.${100 + (i >> 8)}.${i & 255}/32 via 192.0.2.2 table ${300 + round}`);
      lines.push(`link set v1 ${round % 2 ? 'up' : 'down'}`, `link set v0 mtu ${1400 + round}`);
      lines.push(`addr add 192.0.2.${100 + round}/24 dev v0`);
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'rgbatch-'));
    const batch = path.join(dir, 'batch');
    writeFileSync(batch, lines.join('\n') + '\n');
    try {
      // The flood runs while more changes race it from a second process.
      execFileSync('sh', ['-c', `ip -n "$NS" -batch "$BATCH" & sleep 0.05; ip -n "$NS" link set v1 up; ip -n "$NS" addr del 192.0.2.100/24 dev v0 2>/dev/null; wait $!`], {
        env: { ...process.env, NS: ns.name, BATCH: batch },
        stdio: 'pipe',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await waitFor(() => monitor.stats().overflows > 0 && events.some((e) => e.type === 'resync'), 20_000, 'a resync after the overflow');
    await expectMirrorEqualsKernel(10_000);
  });

  it('gives up an address dump that churn interrupts every time, warns, and converges once churn stops', async () => {
    const many: string[] = [];
    for (let i = 0; i < 4000; i++) many.push(`addr add 198.51.${(i >> 8) & 255}.${i & 255}/32 dev v1`);
    ns.ipBatch(many);
    // One address added and removed back to back: every multi-part address dump sees the
    // address generation move between its parts (NLM_F_DUMP_INTR).
    // Flappers until this test has seen what it waits for (or 30 s pass): then they are
    // stopped. Two `ip -batch` floods keep every dump interrupted on a CPU shared with other
    // work. The ASan build handles events ~3x slower than such a flood arrives, so its dump
    // replies queue behind ever more events and never end: it gets one `ip` per change
    // (hundreds a second), plenty against its slower dumps.
    const asan = process.env.ROUTEGUARD_ADDON_DIR === 'build-asan';
    const flappers = asan ? [] : [7, 8];
    const dir = mkdtempSync(path.join(tmpdir(), 'rgbatch-'));
    for (const last of flappers) {
      const flaps: string[] = [];
      for (let i = 0; i < 20_000; i++) flaps.push(`addr ${i % 2 ? 'del' : 'add'} 203.0.113.${last}/32 dev v0`);
      writeFileSync(path.join(dir, `batch${last}`), flaps.join('\n') + '\n');
    }
    const loops = asan
      ? 'while :; do ip -n "$NS" addr add 203.0.113.7/32 dev v0; ip -n "$NS" addr del 203.0.113.7/32 dev v0; done &'
      : flappers.map((last) => `while :; do ip -n "$NS" -batch "$BATCH"${last}; done &`).join(' ');
    // At a higher priority (CI runs as root): with other test files on both cores, flappers
    // that waited for a CPU let a whole dump of the 4000 addresses pass uninterrupted,
    // the sync simply succeeded, and no warning ever came.
    const churn = spawn('nice', ['-n', '-10', 'sh', '-c', `${loops} wait`], {
      env: { ...process.env, NS: ns.name, BATCH: path.join(dir, 'batch') },
      stdio: 'ignore',
      detached: true,
    });
    const churnDone = new Promise((r) => churn.on('exit', r));
    try {
      await new Promise((r) => setTimeout(r, 100));
      // A receive buffer the flood cannot overflow: an overflow restarts the sync, and then
      // four interruptions in a row never add up (seen on the slower ASan build).
      monitor = new NetlinkMonitor({ netns: ns.path, receiveBufferBytes: 64 << 20 });
      const warnings: string[] = [];
      monitor.on('warning', (w) => warnings.push(w.message));
      events = [];
      monitor.on('event', (e) => events.push(e));
      // The warning may come before the sync ends (or the sync only after the churn stops).
      // A dump that got through all the same (the flappers stalled behind other test files'
      // namespace work, which holds the RTNL lock they need) ends the sync with no warning:
      // then it is dumped again, until four dumps in a row are interrupted.
      let again = true;
      const dumpAgain = () => {
        if (again && warnings.length === 0) monitor.resync();
      };
      monitor.on('event', (e) => {
        if (e.type === 'resync') dumpAgain();
      });
      const started = monitor.start();
      started.then(dumpAgain, () => {});
      try {
        await waitFor(() => warnings.length > 0, 30_000, 'the interrupted-dump warning');
      } finally {
        again = false;
      }
      expect(warnings[0]).toMatch(/addresses dump was interrupted by concurrent changes 4 times in a row/);
      expect(monitor.stats().dumpRetries).toBeGreaterThanOrEqual(3);
    } finally {
      process.kill(-churn.pid!, 'SIGKILL');
      await churnDone;
      rmSync(dir, { recursive: true, force: true });
    }
    await monitor.start();
    await expectMirrorEqualsKernel(10_000);
    // Churn that outruns the dump is slow work on a loaded or sanitized build: more time than the default.
  }, 120_000);

  it('receives a multipath route notification larger than 64 KiB whole', async () => {
    await startMonitor();
    const v0 = ns.ifindex('v0');
    ns.exec('python3', [addMultipathRoute, '198.51.100.0/24', String(v0), '4094', '192.0.2']);
    const added = await waitFor(() =>
      events.find((e): e is RouteEvent => e.type === 'route' && e.action === 'added' && e.route.destination === '198.51.100.0'),
    );
    expect(added.route.multipath).toHaveLength(4094);
    expect(added.route.multipath!.every((h) => h.index === v0)).toBe(true);
    expect(events.filter((e) => e.type === 'dropped')).toEqual([]);
    expect(monitor.stats().droppedTruncated).toBe(0);
    expect(monitor.state.routesTo(254, '198.51.100.0/24')[0].multipath).toHaveLength(4094);
  });

  it('syncs although an IPv6 route is too large for a dump message (1500 ECMP siblings)', async () => {
    // Dumped as AF_UNSPEC, such a route makes the kernel answer with empty datagrams
    // forever; per-family dumps end (as `ip -6 route` does) and the monitor syncs.
    const appends: string[] = [];
    for (let i = 0; i < 1500; i++) appends.push(`route append 2001:db8:9::/48 via 2001:db8:1::${(i + 16).toString(16)} dev v0`);
    ns.ipBatch(appends);
    await startMonitor();
    expect(monitor.synced).toBe(true);
    await expectMirrorEqualsKernel();
    // Everything else still arrives: an event after the sync is seen.
    ns.ip('addr add 192.0.2.200/24 dev v0');
    await waitFor(() => events.find((e) => e.type === 'address' && e.action === 'added' && e.address.local === '192.0.2.200'));
  });

  it('keeps answering lookups for its namespace after the name is deleted and reused', async () => {
    ns.ip('route add 203.0.113.0/24 via 192.0.2.9');
    await startMonitor();
    const name = ns.name;
    execFileSync('ip', ['netns', 'del', name]);
    execFileSync('ip', ['netns', 'add', name]); // a different namespace under the same name
    expect(execFileSync('ip', ['-n', name, 'route', 'show'], { encoding: 'utf8' })).toBe('');
    const found = monitor.lookupRoute({ to: '203.0.113.7' });
    expect(found).toMatchObject({ ok: true, route: { gateway: '192.0.2.9' } });
  });
});

describeNetns('NetlinkMonitor namespace paths', () => {
  it('keeps answering lookups in another namespace after the process drops root (and CAP_SYS_ADMIN)', async () => {
    const ns = createNetns('rgcaps');
    try {
      createVeth(ns, 'v0', null, 'v1');
      ns.ip('addr add 192.0.2.1/24 dev v0');
      ns.ip('route add 203.0.113.0/24 via 192.0.2.9');
      const result = await runNode(
        `
        const { NetlinkMonitor } = require(${JSON.stringify(path.join(root, 'dist'))});
        (async () => {
          const m = await new NetlinkMonitor({ netns: process.env.NS }).start();
          process.setgid(65534);
          process.setuid(65534); // all capabilities go with root
          const r = m.lookupRoute({ to: '203.0.113.7' });
          console.log(process.getuid(), r.ok && r.route.gateway);
          m.close();
        })();
      `,
        { env: { NS: ns.path } },
      );
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe('65534 192.0.2.9\n');
    } finally {
      ns.destroy();
    }
  });

  it('a FIFO given as the namespace fails promptly with ERR_BAD_NETNS instead of blocking', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rgfifo-'));
    const fifo = path.join(dir, 'not-a-namespace');
    execFileSync('mkfifo', [fifo]);
    try {
      // In a child: a regression would block its event loop in open(), forever.
      const result = await runNode(
        `
        const { NetlinkMonitor } = require(${JSON.stringify(path.join(root, 'dist'))});
        const t0 = Date.now();
        new NetlinkMonitor({ netns: process.env.FIFO }).start().then(
          () => console.log('started'),
          (err) => console.log(err.code, Date.now() - t0 < 1000),
        );
      `,
        { env: { FIFO: fifo }, timeoutMs: 5000 },
      );
      expect(result.stderr).toBe('');
      expect(result).toMatchObject({ code: 0, timedOut: false });
      expect(result.stdout).toBe('ERR_BAD_NETNS true\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
