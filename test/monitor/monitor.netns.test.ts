/**
 * The monitor against the real kernel, inside namespaces these tests create.
 */
import { getEventListeners, once } from 'node:events';
import * as path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { NetlinkMonitor, type MonitorOptions } from '../../src/monitor';
import { runNode } from '../helpers/child';
import { expectMirrorEqualsKernel as expectEqual, startWatching } from '../helpers/watched-monitor';
import type { NetworkEvent, RouteEvent, AddressEvent } from '../../src/netlink/types';
import { createNetns, createVeth, describeNetns, waitFor, type NetNs } from '../helpers/netns';

const IFA_F_TENTATIVE = 0x40;

describeNetns('NetlinkMonitor (real kernel, private namespace)', () => {
  let ns: NetNs;
  let monitor: NetlinkMonitor;
  let events: NetworkEvent[];

  async function startMonitor(options: MonitorOptions = {}): Promise<NetlinkMonitor> {
    ({ monitor, events } = await startWatching(ns, options));
    return monitor;
  }

  const expectMirrorEqualsKernel = (timeoutMs?: number) => expectEqual(ns, monitor, timeoutMs);


  beforeEach(() => {
    ns = createNetns('rgmon');
    createVeth(ns, 'v0', null, 'v1');
    // Fast DAD so the tentative -> valid transition happens within the test.
    ns.exec('sysctl', ['-qw', 'net.ipv6.neigh.v0.retrans_time_ms=100', 'net.ipv6.neigh.v1.retrans_time_ms=100']);
  });

  afterEach(() => {
    monitor?.close();
    ns.destroy();
  });

  it('dumps links, addresses and routes of all tables, equal to ip -j', async () => {
    ns.ip('addr add 192.0.2.1/24 dev v0');
    ns.ip('addr add 2001:db8:1::1/64 dev v0 nodad');
    ns.ip('route add 198.51.100.0/24 via 192.0.2.2 dev v0 metric 50');
    ns.ip('route add 203.0.113.0/24 via 192.0.2.3 table 100');
    ns.ip('route add blackhole 203.0.113.128/25');
    ns.ip('-6 route add 2001:db8:9::/48 via 2001:db8:1::2 dev v0 table 200');
    await startMonitor();
    const synced = events.find((e) => e.type === 'synced');
    expect(synced).toMatchObject({ type: 'synced', links: 3 });
    expect(events.filter((e) => e.type !== 'synced')).toEqual([]); // the initial dump is silent
    expect(monitor.state.linkByName('v0')).toMatchObject({ name: 'v0', kind: 'veth', up: true });
    expect(monitor.state.routesTo(100, '203.0.113.0/24')).toMatchObject([{ gateway: '192.0.2.3', table: 100 }]);
    expect(monitor.state.routesTo(254, '203.0.113.128/25')).toMatchObject([{ type: 'blackhole' }]);
    expect(monitor.state.findAddresses('2001:db8:1::1')).toMatchObject([{ family: 6, prefixLength: 64 }]);
    await expectMirrorEqualsKernel();
  });

  it('streams IPv4 and IPv6 address events, including tentative -> valid after DAD', async () => {
    await startMonitor();
    const v0 = ns.ifindex('v0');
    ns.ip('addr add 192.0.2.1/24 dev v0 label v0:web');
    const added4 = await waitFor(() =>
      events.find((e): e is AddressEvent => e.type === 'address' && e.action === 'added' && e.address.local === '192.0.2.1'),
    );
    expect(added4.address).toMatchObject({ family: 4, index: v0, prefixLength: 24, label: 'v0:web', scope: 0 });

    ns.ip('addr add 2001:db8:1::1/64 dev v0 valid_lft 300 preferred_lft 100');
    const tentative = await waitFor(() =>
      events.find((e): e is AddressEvent => e.type === 'address' && e.address.address === '2001:db8:1::1'),
    );
    expect(tentative.action).toBe('added');
    expect(tentative.address.flags & IFA_F_TENTATIVE).toBe(IFA_F_TENTATIVE);
    expect(tentative.address.validLifetime).toBeGreaterThan(290);
    expect(tentative.address.preferredLifetime).toBeLessThanOrEqual(100);
    const valid = await waitFor(() =>
      events.find(
        (e): e is AddressEvent =>
          e.type === 'address' && e.action === 'changed' && e.address.address === '2001:db8:1::1' &&
          (e.address.flags & IFA_F_TENTATIVE) === 0,
      ),
    );
    expect(valid.previous!.flags & IFA_F_TENTATIVE).toBe(IFA_F_TENTATIVE);

    ns.ip('addr del 192.0.2.1/24 dev v0');
    await waitFor(() => events.find((e) => e.type === 'address' && e.action === 'removed' && e.address.local === '192.0.2.1'));
    expect(monitor.state.findAddresses('192.0.2.1')).toEqual([]);
    await waitFor(() => events.find((e) => e.type === 'resync' && e.reason === 'confirm'), 3000, 'confirmation dump');
    await expectMirrorEqualsKernel();
  });

  it('streams routes in main and other tables, multipath, replacements and removals', async () => {
    ns.ip('addr add 192.0.2.1/24 dev v0');
    ns.ip('addr add 2001:db8:1::1/64 dev v0 nodad');
    await startMonitor();
    const routeEvent = (pred: (e: RouteEvent) => boolean) =>
      waitFor(() => events.find((e): e is RouteEvent => e.type === 'route' && pred(e)));

    ns.ip('route add 198.51.100.0/24 via 192.0.2.2 table 100');
    const other = await routeEvent((e) => e.action === 'added' && e.route.table === 100);
    expect(other.route).toMatchObject({ destination: '198.51.100.0', destinationLength: 24, gateway: '192.0.2.2' });

    ns.ip('route add 203.0.113.0/24 nexthop via 192.0.2.2 weight 2 nexthop via 192.0.2.3');
    const mp = await routeEvent((e) => e.action === 'added' && e.route.destination === '203.0.113.0');
    expect(mp.route.multipath).toEqual([
      { index: ns.ifindex('v0'), flags: 0, weight: 2, gateway: '192.0.2.2' },
      { index: ns.ifindex('v0'), flags: 0, weight: 1, gateway: '192.0.2.3' },
    ]);

    ns.ip('-6 route add 2001:db8:5::/64 nexthop via 2001:db8:1::2 dev v0 nexthop via 2001:db8:1::3 dev v0');
    await waitFor(() => monitor.state.routesTo(254, '2001:db8:5::/64')[0]?.multipath?.length === 2);
    // IPv6 deletes one sibling: the mirror keeps the other (fib6 sends a DELROUTE per nexthop).
    ns.ip('-6 route del 2001:db8:5::/64 via 2001:db8:1::2 dev v0');
    await waitFor(() => {
      const [r] = monitor.state.routesTo(254, '2001:db8:5::/64');
      return r && !r.multipath && r.gateway === '2001:db8:1::3';
    }, 3000, 'one IPv6 nexthop left');

    ns.ip('route add 192.0.2.128/25 via 192.0.2.2 metric 100');
    ns.ip('route add 192.0.2.128/25 via 192.0.2.3 metric 10');
    ns.ip('route del 192.0.2.128/25 via 192.0.2.2 metric 100');
    await routeEvent((e) => e.action === 'removed' && e.route.destination === '192.0.2.128' && e.route.metric === 100);
    expect(monitor.state.routesTo(254, '192.0.2.128/25')).toMatchObject([{ metric: 10, gateway: '192.0.2.3' }]);

    ns.ip('route del 198.51.100.0/24 table 100');
    await routeEvent((e) => e.action === 'removed' && e.route.table === 100);
    expect(monitor.state.routesTo(100, '198.51.100.0/24')).toEqual([]);
    await expectMirrorEqualsKernel();
  });

  it('follows links down, up and deleted; routes the kernel flushes silently disappear too', async () => {
    ns.ip('addr add 192.0.2.1/24 dev v0');
    ns.ip('route add 198.51.100.0/24 via 192.0.2.2 dev v0');
    await startMonitor();
    const v0 = ns.ifindex('v0');
    ns.ip('link set v0 down');
    const down = await waitFor(() =>
      events.find((e) => e.type === 'link' && e.action === 'changed' && e.link.index === v0 && !e.link.up),
    );
    expect(down).toMatchObject({ previous: { up: true } });
    // IPv4 flushes 198.51.100.0/24 on admin down without RTM_DELROUTE; the confirmation dump finds it.
    await waitFor(() => monitor.state.routesTo(254, '198.51.100.0/24').length === 0, 3000, 'silent flush seen');
    await expectMirrorEqualsKernel();

    ns.ip('link set v0 up');
    await waitFor(() => monitor.state.link(v0)?.up);
    ns.ip('route add 198.51.100.0/24 via 192.0.2.2 dev v0');
    await waitFor(() => monitor.state.routesTo(254, '198.51.100.0/24').length === 1);

    ns.ip('link del v0'); // takes v1 with it
    await waitFor(() => events.find((e) => e.type === 'link' && e.action === 'removed' && e.link.index === v0));
    expect(monitor.state.link(v0)).toBeUndefined();
    expect(monitor.state.addressesOn(v0)).toEqual([]);
    expect(monitor.state.routesTo(254, '198.51.100.0/24')).toEqual([]);
    await expectMirrorEqualsKernel();
  });

  it('recovers from a forced overflow (ENOBUFS): resync emits only real differences, mirror equals kernel', async () => {
    ns.ip('addr add 192.0.2.1/24 dev v0');
    for (let i = 0; i < 50; i++) ns.ip(`route add 10.${i}.0.0/16 via 192.0.2.2 table 300`);
    await startMonitor({ receiveBufferBytes: 4096 });
    // Block this thread while ip floods the socket: nobody reads, the kernel drops messages.
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(`route add 172.${16 + (i >> 8)}.${i & 255}.0/24 via 192.0.2.2 table 400`);
    for (let i = 0; i < 25; i++) lines.push(`route del 10.${i}.0.0/16 table 300`);
    ns.ipBatch(lines);
    const resync = await waitFor(
      () => events.find((e) => e.type === 'resync' && e.reason === 'overflow'),
      20_000,
      'overflow resync',
    );
    expect(monitor.stats().overflows).toBeGreaterThan(0);
    await expectMirrorEqualsKernel();
    // Every difference was reported once, as an ordinary event, and nothing unchanged was.
    const routeEvents = events.filter((e): e is RouteEvent => e.type === 'route');
    const added = new Set(routeEvents.filter((e) => e.action === 'added' && e.route.table === 400).map((e) => e.route.destination));
    const removed = new Set(routeEvents.filter((e) => e.action === 'removed' && e.route.table === 300).map((e) => e.route.destination));
    expect(routeEvents.filter((e) => e.route.table === 400).every((e) => e.action === 'added')).toBe(true);
    expect(added.size).toBe(3000);
    expect(removed.size).toBe(25);
    expect(events.some((e) => e.type === 'route' && (e as RouteEvent).route.table === 300 && e.action !== 'removed')).toBe(false);
    expect(resync).toMatchObject({ type: 'resync' });
  });

  it('keeps reading when events arrive while a recovery dump runs with a small receive buffer (no ENOBUFS spin)', async () => {
    // A dump part is up to 32 KiB (~64 KiB of truesize): with a buffer under two parts,
    // every read of a queued event, a sizing peek too, makes the kernel try the next part
    // of a dump we abandoned, fail (ENOBUFS) and flag the socket. A peek before each read
    // then never consumed anything: the monitor spun through ENOBUFS for good, deaf.
    ns.ip('addr add 192.0.2.1/24 dev v0');
    ns.ipBatch(Array.from({ length: 3000 }, (_, i) => `route add 10.${i >> 8}.${i & 255}.0/24 via 192.0.2.2 table 300`));
    await startMonitor({ receiveBufferBytes: 4096 });
    // Churn for a while in another process (this thread stays free to read), so that
    // overflows start recovery dumps and more events land in the middle of them.
    const round = Array.from({ length: 150 }, (_, i) => `route replace 198.51.100.${i}/32 via 192.0.2.${2 + (i % 3)} table 500`);
    const script = `for r in $(seq 1 12); do ip -n ${ns.name} -force -batch - <<'EOF'\n${round.join('\n')}\nroute flush table 500\nEOF\nsleep 0.05; done`;
    const { spawn } = await import('node:child_process');
    const churn = spawn('bash', ['-c', script], { stdio: 'ignore', env: { PATH: process.env.PATH } });
    await once(churn, 'exit');
    await waitFor(() => monitor.stats().overflows > 0, 5000, 'an overflow');
    await expectMirrorEqualsKernel(10_000);
    // The kernel reports ENOBUFS once per episode of dropped notifications, and a failed
    // dump part once per read: fewer than the 3,600 notifications of the churn (~400
    // here). Spinning on a datagram it never consumed, the monitor counted ~160,000.
    expect(monitor.stats().overflows).toBeLessThan(3600);
    // Quiet now: a monitor still spinning counts thousands a second.
    const before = monitor.stats().overflows;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(monitor.stats().overflows - before).toBeLessThan(5);
  });

  it('drops a forged message sent to its port id by a user process', async () => {
    await startMonitor();
    const { portId } = monitor.stats();
    // RTM_NEWLINK for a fake interface index 4242, sent from an ordinary netlink socket.
    const script = `
import socket, struct
ifi = struct.pack('=BxHiII', 0, 1, 4242, 0x1, 0xffffffff)
name = b'forged0\\0'
rta = struct.pack('=HH', 4 + len(name), 3) + name + b'\\0' * ((4 - len(name) % 4) % 4)
body = ifi + rta
msg = struct.pack('=IHHII', 16 + len(body), 16, 0, 1, 4242) + body
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
s.sendto(msg, (${portId}, 0))
`;
    ns.exec('python3', ['-c', script]);
    const dropped = await waitFor(() => events.find((e) => e.type === 'dropped'));
    expect(dropped).toMatchObject({ reason: 'not-from-kernel', count: 1 });
    expect(monitor.state.link(4242)).toBeUndefined();
    expect(monitor.stats().droppedNotFromKernel).toBe(1);
  });

  it('asks the kernel for routes (RTM_GETROUTE) and reports routing failures as results', async () => {
    ns.ip('addr add 192.0.2.1/24 dev v0');
    ns.ip('route add unreachable 203.0.113.0/24');
    await startMonitor();
    const ok = monitor.lookupRoute({ to: '192.0.2.77' });
    expect(ok).toMatchObject({ ok: true, route: { oif: ns.ifindex('v0'), preferredSource: '192.0.2.1' } });
    expect(monitor.lookupRoute({ to: '203.0.113.5' })).toMatchObject({ ok: false, code: 'EHOSTUNREACH' });
    expect(monitor.lookupRoute({ to: '198.51.100.1' })).toMatchObject({ ok: false, code: 'ENETUNREACH' });
    expect(monitor.lookupRoute({ to: '2001:db8::1' })).toMatchObject({ ok: false, code: 'ENETUNREACH' });
    // IPv4 refuses a source that is not local (as `ip route get ... from` shows: unreachable).
    expect(monitor.lookupRoute({ to: '192.0.2.77', from: '192.0.2.200' })).toMatchObject({ ok: false, code: 'ENETUNREACH' });
    expect(monitor.lookupRoute({ to: '192.0.2.77', from: '192.0.2.1' })).toMatchObject({ ok: true });
    expect(() => monitor.lookupRoute({ to: 'nope' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => monitor.lookupRoute({ to: '192.0.2.1', from: '::1' })).toThrow(/from/);
  });

  it('matches ip -j fact by fact after a scripted sequence', async () => {
    await startMonitor();
    ns.ipBatch([
      'addr add 192.0.2.1/24 dev v0',
      'addr add 198.51.100.1/24 dev v1',
      'addr add 2001:db8:1::1/64 dev v0 nodad',
      'addr add fd00:1::1/64 dev v1 nodad',
      'route add 203.0.113.0/24 via 192.0.2.2',
      'route add 203.0.113.0/25 via 198.51.100.2 table 7',
      'route add default via 192.0.2.254 metric 600',
      'route add 192.0.2.64/26 nexthop via 192.0.2.2 nexthop via 198.51.100.2',
      'route add 2001:db8:7::/48 via fd00:1::2',
      'route add default via 2001:db8:1::fe metric 1024',
      'route append 2001:db8:7::/48 via 2001:db8:1::7',
      'route replace 203.0.113.0/24 via 192.0.2.3',
      'addr del 198.51.100.1/24 dev v1',
      'route add prohibit 198.51.100.0/25 table 7',
      'route add 2001:db8:8::/48 nexthop via fd00:1::2 nexthop via 2001:db8:1::2',
      'route del 2001:db8:8::/48 via 2001:db8:1::2',
    ]);
    // The IPv4 address removal flushed routes silently; wait for the confirmation dump.
    await waitFor(() => events.find((e) => e.type === 'resync' && e.reason === 'confirm'), 5000, 'confirmation dump');
    await expectMirrorEqualsKernel();
  });

  it('is consumable with for await and stops on abort', async () => {
    const controller = new AbortController();
    monitor = new NetlinkMonitor({ netns: ns.path, signal: controller.signal });
    const seen: string[] = [];
    const consumer = (async () => {
      for await (const e of monitor) {
        seen.push(e.type === 'address' ? `${e.action} ${e.address.local}` : e.type);
        if (e.type === 'address') controller.abort();
      }
    })();
    await monitor.start();
    ns.ip('addr add 192.0.2.9/24 dev v0');
    await consumer;
    expect(seen).toEqual(['synced', 'added 192.0.2.9']);
    expect(monitor.isClosed).toBe(true);
  });
});

describeNetns('NetlinkMonitor errors', () => {
  it('names a bad namespace path', async () => {
    const m = new NetlinkMonitor({ netns: '/run/netns/routeguard-does-not-exist' });
    await expect(m.start()).rejects.toMatchObject({ code: 'ERR_BAD_NETNS', message: expect.stringContaining('routeguard-does-not-exist') });
  });

  it('rejects a path that is not a network namespace', async () => {
    const m = new NetlinkMonitor({ netns: '/proc/self/ns/uts' });
    await expect(m.start()).rejects.toMatchObject({ code: 'ERR_BAD_NETNS' });
  });

  it("a failed start() closes the monitor: 'close' is emitted and the signal's listener removed", async () => {
    const controller = new AbortController();
    const m = new NetlinkMonitor({ netns: '/run/netns/routeguard-does-not-exist', signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const closed = once(m, 'close');
    await expect(m.start()).rejects.toMatchObject({ code: 'ERR_BAD_NETNS' });
    await closed;
    expect(m.isClosed).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a throwing listener surfaces as an uncaught exception after the emit: the others hear, start() resolves', async () => {
    const ns = createNetns('rgthrow');
    try {
      // In a child: the listeners' errors are uncaught exceptions there, by design.
      const result = await runNode(
        `
        const { NetlinkMonitor } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist'))});
        const caught = [];
        process.on('uncaughtException', (err) => caught.push(err.message));
        const m = new NetlinkMonitor({ netns: process.env.NS });
        const heard = [];
        m.on('event', (e) => { if (e.type === 'synced') throw new Error('event listener bug'); });
        m.on('event', (e) => heard.push(e.type));
        m.on('close', () => { throw new Error('close listener bug'); });
        m.on('close', () => heard.push('close'));
        const pending = setTimeout(() => { console.log('start() still pending'); process.exit(1); }, 5000);
        m.start().then(() => {
          clearTimeout(pending);
          m.close();
          setImmediate(() => console.log(JSON.stringify({ heard, caught })));
        });
      `,
        { env: { NS: ns.path } },
      );
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({
        heard: expect.arrayContaining(['synced', 'close']),
        caught: ['event listener bug', 'close listener bug'],
      });
    } finally {
      ns.destroy();
    }
  });

  it("a throwing onDumpedRoute ('stream') surfaces after the batch: every route still comes, start() resolves", async () => {
    const ns = createNetns('rgthrow');
    try {
      createVeth(ns, 'v0', null, 'v1');
      ns.ipBatch(['addr add 192.0.2.1/24 dev v0', ...[1, 2, 3, 4, 5].map((i) => `route add 203.0.113.${i * 16}/28 via 192.0.2.9`)]);
      const result = await runNode(
        `
        const { NetlinkMonitor } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist'))});
        const caught = [];
        process.on('uncaughtException', (err) => caught.push(err.message));
        const routes = [];
        const m = new NetlinkMonitor({ netns: process.env.NS, routes: 'stream', onDumpedRoute: (r) => {
          routes.push(r.destination + '/' + r.destinationLength);
          if (routes.length === 1) throw new Error('onDumpedRoute bug');
        } });
        const pending = setTimeout(() => { console.log('start() still pending'); process.exit(1); }, 5000);
        m.start().then(() => {
          clearTimeout(pending);
          m.close();
          setImmediate(() => console.log(JSON.stringify({ routes: routes.filter((r) => r.startsWith('203.0.113.')).sort(), caught })));
        });
      `,
        { env: { NS: ns.path } },
      );
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({
        routes: ['203.0.113.16/28', '203.0.113.32/28', '203.0.113.48/28', '203.0.113.64/28', '203.0.113.80/28'],
        caught: ['onDumpedRoute bug'],
      });
    } finally {
      ns.destroy();
    }
  });

  it('validates options with clear messages', () => {
    expect(() => new NetlinkMonitor({ netns: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => new NetlinkMonitor({ receiveBufferBytes: 12 })).toThrow(/receiveBufferBytes/);
    expect(() => new NetlinkMonitor({ confirmDelayMs: -1 })).toThrow(/confirmDelayMs/);
    // Node's timers fire after 1 ms past 2^31 - 1 ms; a string or boolean is not a delay.
    for (const confirmDelayMs of [2 ** 31, Infinity, true, '5']) {
      expect(() => new NetlinkMonitor({ confirmDelayMs } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('confirmDelayMs') }));
    }
    expect(() => new NetlinkMonitor({ clock: {} as never })).toThrow(/clock must be an object with now\(\)/);
    expect(() => new NetlinkMonitor({ signal: {} as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('AbortSignal') }));
  });
});
