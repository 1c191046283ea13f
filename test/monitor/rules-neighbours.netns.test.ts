/**
 * Policy rules and neighbours in the mirror against the real kernel, inside namespaces
 * these tests create: fact-by-fact equal to `ip -j rule` / `ip -j neigh` after scripted
 * sequences, typed events, resync differences, and no confirmation dumps for neighbours.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { NetlinkMonitor, type MonitorOptions } from '../../src/monitor';
import { startWatching } from '../helpers/watched-monitor';
import type { NeighbourEvent, NetworkEvent, ResyncEvent, RuleEvent } from '../../src/netlink/types';
import { kernelNeighbours, kernelRules, mirrorNeighbours, mirrorRules } from '../helpers/ip-rule-facts';
import { createNetns, createVeth, describeNetns, waitFor, type NetNs } from '../helpers/netns';

/** Every kind of rule `ip rule` can make here, IPv4 and IPv6 (wg-quick's pair included). */
const RULES = [
  '-4 rule add not fwmark 51820 table 51820',
  '-4 rule add table main suppress_prefixlength 0',
  '-4 rule add fwmark 0x1/0xff table 100 pref 1000',
  '-4 rule add from 198.51.100.0/24 prohibit pref 1100',
  '-4 rule add to 203.0.113.7 tos 0x10 blackhole pref 1100',
  '-4 rule add iif v0 oif v1 unreachable pref 1100',
  '-4 rule add uidrange 1000-2000 ipproto tcp sport 1000-2000 dport 443 lookup 7 pref 1200',
  '-4 rule add suppress_ifgroup 5 lookup 1000 pref 1300',
  '-4 rule add nop pref 1400',
  '-4 rule add goto 32766 pref 1500',
  '-4 rule add l3mdev pref 1600',
  '-6 rule add from 2001:db8::/32 goto 32766 pref 5',
  '-6 rule add to fd00::/8 prohibit pref 6',
  '-6 rule add not fwmark 51820 table 51820 pref 7',
];

describeNetns('rules and neighbours in the mirror (real kernel, private namespaces)', () => {
  let ns: NetNs;
  let peer: NetNs;
  let monitor: NetlinkMonitor;
  let events: NetworkEvent[];

  async function startMonitor(options: MonitorOptions = {}): Promise<NetlinkMonitor> {
    ({ monitor, events } = await startWatching(ns, { confirmDelayMs: 20, ...options }));
    return monitor;
  }

  /** The mirror trails the kernel by an event's trip: compare until equal (3 s at most), then assert. */
  async function expectMirrorEqualsKernel(): Promise<void> {
    const read = () => ({
      kernel: [kernelRules(ns, 4), kernelRules(ns, 6), kernelNeighbours(ns)],
      mirror: [mirrorRules(monitor.state, 4), mirrorRules(monitor.state, 6), mirrorNeighbours(monitor.state)],
    });
    const deadline = Date.now() + 3000;
    let facts = read();
    while (JSON.stringify(facts.kernel) !== JSON.stringify(facts.mirror) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      facts = read();
    }
    expect(facts.mirror[0]).toEqual(facts.kernel[0]);
    expect(facts.mirror[1]).toEqual(facts.kernel[1]);
    expect(facts.mirror[2]).toEqual(facts.kernel[2]);
  }

  const ruleEvent = (pred: (e: RuleEvent) => boolean) =>
    waitFor(() => events.find((e): e is RuleEvent => e.type === 'rule' && pred(e)));
  const neighbourEvent = (pred: (e: NeighbourEvent) => boolean, timeoutMs = 5000) =>
    waitFor(() => events.find((e): e is NeighbourEvent => e.type === 'neighbour' && pred(e)), timeoutMs);

  beforeEach(() => {
    ns = createNetns('rgrule');
    createVeth(ns, 'v0', null, 'v1');
    ns.ip('addr add 192.0.2.1/24 dev v0');
    ns.ip('addr add 2001:db8:1::1/64 dev v0 nodad');
  });

  afterEach(() => {
    monitor?.close();
    ns.destroy();
    peer?.destroy();
  });

  it('dumps rules of every action and neighbours of both families, equal to ip -j, in kernel order', async () => {
    for (const rule of RULES) ns.ip(rule);
    ns.ip('neigh add 192.0.2.2 lladdr 02:00:5e:00:53:02 dev v0');
    ns.ip('-6 neigh add 2001:db8:1::2 lladdr 02:00:5e:00:53:03 dev v0 nud stale router');
    await startMonitor();
    const synced = events.find((e) => e.type === 'synced');
    // 3 default IPv4 rules + 11, 2 default IPv6 rules + 3.
    expect(synced).toMatchObject({ rules: 19 });
    expect((synced as { neighbours: number }).neighbours).toBeGreaterThanOrEqual(2);
    expect(events.filter((e) => e.type !== 'synced')).toEqual([]);

    const v4 = monitor.state.rules(4);
    expect(v4.map((r) => r.priority)).toEqual([...v4.map((r) => r.priority)].sort((a, b) => a - b));
    // wg-quick: `not fwmark 51820 table 51820` and `table main suppress_prefixlength 0`.
    expect(v4.find((r) => r.table === 51820)).toMatchObject({ invert: true, fwmark: 51820, fwmask: 0xffffffff, action: 'to-table' });
    expect(v4.find((r) => r.suppressPrefixLength === 0)).toMatchObject({ table: 254, action: 'to-table' });
    expect(v4.find((r) => r.action === 'prohibit')).toMatchObject({ source: '198.51.100.0', sourceLength: 24 });
    expect(v4.find((r) => r.action === 'goto')).toMatchObject({ goto: 32766, priority: 1500 });
    expect(v4.find((r) => r.l3mdev)).toMatchObject({ priority: 1600, action: 'to-table', table: 0 });
    expect(monitor.state.neighbour(ns.ifindex('v0'), '2001:db8:1:0::2')).toMatchObject({
      family: 6, stateName: 'stale', linkAddress: '02:00:5e:00:53:03', flags: 0x80,
    });
    await expectMirrorEqualsKernel();
  });

  it('streams rule additions and deletions as typed events and keeps the kernel order', async () => {
    // No confirmation dumps: the veth's own carrier-up may still be arriving, and the
    // point here is that rule changes never make the monitor re-dump.
    await startMonitor({ confirmDelayMs: false });
    ns.ip('-4 rule add fwmark 0xca6c table 51820 pref 100');
    const added = await ruleEvent((e) => e.action === 'added' && e.rule.table === 51820);
    expect(added.rule).toMatchObject({ family: 4, priority: 100, fwmark: 0xca6c, action: 'to-table' });
    expect(added.previous).toBeNull();

    // Same priority: the kernel keeps them in the order they were added.
    ns.ip('-4 rule add from 198.51.100.0/24 prohibit pref 100');
    ns.ip('-4 rule add to 203.0.113.0/24 blackhole pref 100');
    ns.ip('-4 rule add iif v0 unreachable pref 50');
    ns.ip('-6 rule add from 2001:db8:2::/48 table 200 pref 100');
    await ruleEvent((e) => e.rule.family === 6 && e.rule.table === 200);
    await expectMirrorEqualsKernel();
    expect(monitor.state.rules(4).slice(1, 5).map((r) => r.action)).toEqual(['unreachable', 'to-table', 'prohibit', 'blackhole']);

    ns.ip('-4 rule del from 198.51.100.0/24 prohibit pref 100');
    const removed = await ruleEvent((e) => e.action === 'removed');
    expect(removed.rule).toMatchObject({ action: 'prohibit', source: '198.51.100.0', priority: 100 });
    expect(removed.previous).toEqual(removed.rule);
    await expectMirrorEqualsKernel();
    expect(events.filter((e) => e.type === 'resync')).toEqual([]); // rule changes are never "silent"
  });

  it('an entry that becomes NOARP (notified) leaves the mirror, as the dump leaves such entries out', async () => {
    await startMonitor();
    const v0 = ns.ifindex('v0');
    ns.ip('neigh add 192.0.2.92 lladdr 02:00:5e:00:53:01 dev v0 nud permanent');
    await neighbourEvent((e) => e.action === 'added' && e.neighbour.address === '192.0.2.92');
    ns.ip('neigh replace 192.0.2.92 lladdr 02:00:5e:00:53:01 dev v0 nud noarp');
    const removed = await neighbourEvent((e) => e.action === 'removed' && e.neighbour.address === '192.0.2.92');
    expect(removed.previous).toMatchObject({ stateName: 'permanent' });
    expect(monitor.state.neighbour(v0, '192.0.2.92')).toBeUndefined();
    await expectMirrorEqualsKernel();
  });

  it('tracks neighbours added, replaced and deleted with ip neigh, and flushed with their link', async () => {
    await startMonitor();
    const v0 = ns.ifindex('v0');
    ns.ip('neigh add 192.0.2.2 lladdr 02:00:5e:00:53:02 dev v0 nud reachable');
    const added = await neighbourEvent((e) => e.action === 'added' && e.neighbour.address === '192.0.2.2');
    expect(added.neighbour).toMatchObject({ family: 4, index: v0, stateName: 'reachable', linkAddress: '02:00:5e:00:53:02' });

    ns.ip('neigh replace 192.0.2.2 lladdr 02:00:5e:00:53:04 dev v0 nud permanent');
    const changed = await neighbourEvent((e) => e.action === 'changed' && e.neighbour.address === '192.0.2.2');
    expect(changed.neighbour).toMatchObject({ stateName: 'permanent', linkAddress: '02:00:5e:00:53:04' });
    expect(changed.previous).toMatchObject({ linkAddress: '02:00:5e:00:53:02' });

    ns.ip('-6 neigh add 2001:db8:1::9 lladdr 02:00:5e:00:53:09 dev v0 nud stale');
    await neighbourEvent((e) => e.neighbour.address === '2001:db8:1::9');
    await expectMirrorEqualsKernel();

    // neigh_delete first forces the entry to NUD_FAILED (an RTM_NEWNEIGH), then removes it.
    ns.ip('neigh del 192.0.2.2 dev v0');
    const removed = await neighbourEvent((e) => e.action === 'removed' && e.neighbour.address === '192.0.2.2');
    const dying = events.filter((e): e is NeighbourEvent => e.type === 'neighbour' && e.neighbour.address === '192.0.2.2');
    expect(dying.slice(-2).map((e) => `${e.action} ${e.neighbour.stateName}`)).toEqual(['changed failed', 'removed failed']);
    expect(removed.previous).toMatchObject({ stateName: 'failed' });
    expect(monitor.state.neighbour(v0, '192.0.2.2')).toBeUndefined();

    ns.ip('neigh add 192.0.2.3 lladdr 02:00:5e:00:53:05 dev v0');
    await neighbourEvent((e) => e.neighbour.address === '192.0.2.3');
    const before = events.length;
    ns.ip('link del v0');
    const linkGone = await waitFor(() =>
      events.slice(before).findIndex((e) => e.type === 'link' && e.action === 'removed' && e.link.index === v0) + 1,
    );
    const flushed = events.slice(before, before + linkGone - 1).filter(
      (e): e is NeighbourEvent => e.type === 'neighbour' && e.action === 'removed' && e.neighbour.index === v0,
    );
    expect(flushed.map((e) => e.neighbour.address)).toEqual(expect.arrayContaining(['192.0.2.3', '2001:db8:1::9']));
    expect([...monitor.state.neighbours()].filter((n) => n.index === v0)).toEqual([]);
    await expectMirrorEqualsKernel();
  });

  it('sees a real resolution (traffic between two namespaces) become reachable and an absent host fail, without confirmation dumps', async () => {
    peer = createNetns('rgnbr');
    createVeth(ns, 'w0', peer, 'w1');
    ns.ip('addr add 198.51.100.1/24 dev w0');
    peer.ip('addr add 198.51.100.2/24 dev w1');
    // Fail fast: 3 probes 100 ms apart instead of 1 s.
    ns.exec('sysctl', ['-qw', 'net.ipv4.neigh.w0.retrans_time_ms=100']);
    await startMonitor();
    const w0 = ns.ifindex('w0');
    // One datagram is enough traffic to make the kernel resolve the next hop (ping is not installed).
    const sendUdp = (to: string) =>
      ns.exec('python3', ['-c', `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('${to}', 9))`]);

    sendUdp('198.51.100.2');
    const reachable = await neighbourEvent(
      (e) => e.neighbour.address === '198.51.100.2' && e.neighbour.stateName === 'reachable',
    );
    expect(reachable.neighbour).toMatchObject({ family: 4, index: w0 });
    expect(reachable.neighbour.linkAddress).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);

    sendUdp('198.51.100.99'); // nobody has it: ARP fails
    const failed = await neighbourEvent(
      (e) => e.neighbour.address === '198.51.100.99' && e.neighbour.stateName === 'failed',
    );
    expect(failed.neighbour).toMatchObject({ index: w0, linkAddress: null, state: 0x20 });
    expect(monitor.state.neighbour(w0, '198.51.100.99')?.stateName).toBe('failed');
    await expectMirrorEqualsKernel();
    // Neighbour churn is reported, never confirmed with a re-dump (confirmDelayMs is 20 ms here).
    await new Promise((r) => setTimeout(r, 100));
    expect(events.filter((e): e is ResyncEvent => e.type === 'resync')).toEqual([]);
  });

  it('resync() finds exactly what the kernel changed silently: a rule attached to its iif device', async () => {
    // fib_rules attaches a rule to its iif/oif device when the device appears (and detaches it
    // when it goes) without any RTM_NEWRULE: only a dump shows FIB_RULE_IIF_DETACHED change.
    ns.ip('-4 rule add iif vx table 5 pref 10');
    await startMonitor({ confirmDelayMs: false });
    expect(monitor.state.rules(4).find((r) => r.priority === 10)?.flags).toBe(0x8);
    ns.ip('link add vx type veth peer name vy');
    await waitFor(() => monitor.state.linkByName('vy'));
    expect(events.filter((e) => e.type === 'rule')).toEqual([]);
    const before = events.length;
    monitor.resync();
    const done = await waitFor(() => events.slice(before).find((e): e is ResyncEvent => e.type === 'resync'));
    const found = events.slice(before).filter((e): e is RuleEvent => e.type === 'rule');
    expect(found.map((e) => [e.action, e.previous?.flags, e.rule.flags])).toEqual([['changed', 0x8, 0]]);
    expect(found[0].rule).toMatchObject({ priority: 10, iifName: 'vx', table: 5 });
    const changed = events.slice(before).filter((e) => e.type !== 'resync' && 'action' in e && e.action === 'changed');
    expect(done).toMatchObject({ reason: 'requested', changed: changed.length });
    await expectMirrorEqualsKernel();
  });

  it('a resync after changes it missed (overflow) yields exactly the differences, and nothing when none', async () => {
    ns.ip('-4 rule add fwmark 0x1 table 100 pref 1000');
    ns.ip('-4 rule add from 198.51.100.0/24 prohibit pref 1100');
    ns.ip('neigh add 192.0.2.2 lladdr 02:00:5e:00:53:02 dev v0');
    ns.ip('neigh add 192.0.2.3 lladdr 02:00:5e:00:53:03 dev v0');
    await startMonitor({ receiveBufferBytes: 4096 });
    // This thread blocks while ip changes rules and neighbours and then floods the tiny
    // receive buffer: the kernel drops messages (ENOBUFS) and the monitor resyncs.
    const lines = [
      'rule del from 198.51.100.0/24 prohibit pref 1100',
      'rule add to 203.0.113.0/24 blackhole pref 1100',
      'neigh del 192.0.2.2 dev v0',
      'neigh replace 192.0.2.3 lladdr 02:00:5e:00:53:09 dev v0',
      'neigh add 192.0.2.4 lladdr 02:00:5e:00:53:04 dev v0',
    ];
    for (let i = 0; i < 2000; i++) lines.push(`route add 172.${16 + (i >> 8)}.${i & 255}.0/24 via 192.0.2.2 table 400`);
    ns.ipBatch(lines);
    const resync = await waitFor(() => events.find((e): e is ResyncEvent => e.type === 'resync' && e.reason === 'overflow'), 20_000);
    expect(monitor.stats().overflows).toBeGreaterThan(0);
    await expectMirrorEqualsKernel();
    // Each difference exactly once, whether its own event got through or the resync found it.
    const rules = events.filter((e): e is RuleEvent => e.type === 'rule');
    expect(rules.map((e) => `${e.action} ${e.rule.action}`).sort()).toEqual(['added blackhole', 'removed prohibit']);
    const neighbourActions = (address: string) =>
      events.filter((e): e is NeighbourEvent => e.type === 'neighbour' && e.neighbour.address === address).map((e) => e.action);
    // 192.0.2.2 may first show neigh_delete's NUD_FAILED update, if that message got through.
    expect(neighbourActions('192.0.2.2').filter((a) => a !== 'changed')).toEqual(['removed']);
    expect(neighbourActions('192.0.2.3')).toEqual(['changed']);
    expect(neighbourActions('192.0.2.4')).toEqual(['added']);
    expect(resync.added + resync.changed + resync.removed).toBeGreaterThan(0);

    // A requested resync with nothing changed reports no rule or neighbour.
    const before = events.length;
    monitor.resync();
    const quiet = await waitFor(() => events.slice(before).find((e): e is ResyncEvent => e.type === 'resync'), 30_000);
    expect(quiet.reason).toBe('requested');
    expect(events.slice(before).filter((e) => e.type === 'rule' || e.type === 'neighbour')).toEqual([]);
  });
});
