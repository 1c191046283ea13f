/**
 * The socket's own evidence with real TCP traffic between namespaces: a guarded
 * client (real NetlinkMonitor + PathJudge, keepalive probe on) and an echo server,
 * over two veth pairs.
 *
 *   V  192.0.2.2 -> 203.0.113.1 (server's lo), via 192.0.2.1 on c0; then a "VPN" takes
 *      the prefix: route 203.0.113.0/24 dev c1 src 198.51.100.2. The judge reads
 *      source-mismatch (new connections would use 198.51.100.2), yet the server takes
 *      192.0.2.2 in on s1 and answers through s0: every segment is still ACKed.
 *      Busy and idle connections must never be closed.
 *   B  192.0.2.2 -> 192.0.2.1, busy: the address is absent 2.5 s (below its hold-down):
 *      not closed, and data flows again after.
 *   L  2001:db8:1::2 -> 2001:db8:1::1, busy and idle: the address is replaced by a new
 *      one (a real loss): both close at the replacement settle, as without socket evidence.
 * Then the client's metrics say what happened.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_HOLD_DOWNS } from '../../src/judge/hold-downs';
import { createVeth, describeNetns } from '../helpers/netns';
import { startPeer, type Peer } from './fixtures/peers';
import { eventually } from './fixtures/wait';
import { twoNamespaces, type Topology } from './fixtures/topology';

type Close = { group: string; time: number; byGuard: boolean; reason: string | null };
type Alive = { group: string; reason: string; summary: string; time: number };
type Stream = { lastDataAt: number; bytesIn: number; open: boolean };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describeNetns('socket evidence: proof of life with real TCP traffic (namespaces)', () => {
  let topo: Topology;
  let server: Peer;
  let client: Peer;

  beforeAll(async () => {
    topo = twoNamespaces('rgsock');
    const { srv, cli } = topo;
    createVeth(cli, 'c1', srv, 's1');
    srv.ipBatch(['addr add 198.51.100.1/24 dev s1', 'addr add 203.0.113.1/32 dev lo']);
    cli.ipBatch(['addr add 198.51.100.2/24 dev c1', 'route add 203.0.113.0/24 via 192.0.2.1 dev c0']);
    // Asymmetric paths are dropped by strict reverse-path filtering; these hosts allow them.
    for (const ns of [srv, cli]) ns.exec('sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    srv.exec('sysctl', ['-qw', 'net.ipv4.conf.s1.rp_filter=0', 'net.ipv4.conf.s0.rp_filter=0']);
    cli.exec('sysctl', ['-qw', 'net.ipv4.conf.c1.rp_filter=0', 'net.ipv4.conf.c0.rp_filter=0']);
    server = await startPeer(srv);
    client = await startPeer(cli);
    await server.call('netServer', { port: 7000, host: '::' });
    await client.call('guard', { probe: true, sampleIntervalMs: 200 });
    for (const [group, host, localAddress] of [
      ['V-busy', '203.0.113.1', '192.0.2.2'],
      ['V-idle', '203.0.113.1', '192.0.2.2'],
      ['B', '192.0.2.1', '192.0.2.2'],
      ['L-busy', '2001:db8:1::1', '2001:db8:1::2'],
      ['L-idle', '2001:db8:1::1', '2001:db8:1::2'],
    ]) {
      await client.call('netClients', { group, host, port: 7000, localAddress, count: 2 });
    }
    for (const group of ['V-busy', 'B', 'L-busy']) await client.call('stream', { group, intervalMs: 50, bytes: 512 });
    await sleep(300);
  });

  afterAll(() => {
    client?.stop();
    server?.stop();
    topo?.destroy();
  });

  it('a connection that keeps being ACKed while the judge reads its path as lost is never closed, busy or idle', async () => {
    const { cli } = topo;
    const t0 = Date.now();
    cli.ip('route replace 203.0.113.0/24 dev c1 src 198.51.100.2');
    const kept = await eventually(
      async () => {
        const list = await client.call<Alive[]>('alive');
        const v = list.filter((a) => a.group.startsWith('V'));
        return v.length === 4 ? v : null;
      },
      DEFAULT_HOLD_DOWNS['source-mismatch'] + 3000,
      'the V connections to be kept alive',
    );
    const keptAfterMs = Math.max(...kept.map((a) => a.time)) - t0;
    console.log(`V: judged gone (source-mismatch) and kept on proof of life ${keptAfterMs} ms after the route change; ${kept.map((a) => `${a.group}: ${a.summary}`).join('; ')}`);
    expect(kept.every((a) => a.reason === 'source-mismatch')).toBe(true);
    // Busy ones show acked bytes; idle ones an ACK of the keepalive probe.
    expect(kept.filter((a) => a.group === 'V-busy').every((a) => /^acked \d/.test(a.summary))).toBe(true);
    expect(kept.filter((a) => a.group === 'V-idle').every((a) => /^ACK received at/.test(a.summary))).toBe(true);
    await sleep(2000);
    const closes = await client.call<Close[]>('closes');
    expect(closes.filter((c) => c.group.startsWith('V'))).toEqual([]);
    const counts = await client.call<Record<string, number>>('openCounts');
    expect(counts).toMatchObject({ 'V-busy': 2, 'V-idle': 2 });
    const flow = await client.call<Stream[]>('streamStats', { group: 'V-busy' });
    expect(flow.every((s) => s.open && Date.now() - s.lastDataAt < 1000)).toBe(true);
    expect(await client.call('echoGroup', { group: 'V-idle' })).toEqual({ sent: 2, echoed: 2 });
  }, 20_000);

  it('a busy connection through a 2.5 s address absence is not closed, and its data flows afterwards', async () => {
    const { cli } = topo;
    const t0 = Date.now();
    cli.ip('addr del 192.0.2.2/24 dev c0');
    await sleep(2500);
    cli.ipBatch(['addr add 192.0.2.2/24 dev c0']);
    const back = Date.now();
    const flowing = await eventually(
      async () => {
        const s = await client.call<Stream[]>('streamStats', { group: 'B' });
        return s.every((x) => x.lastDataAt > back) ? s : null;
      },
      8000,
      'B data to flow again',
    );
    const resumedMs = Math.max(...flowing.map((s) => s.lastDataAt)) - back;
    console.log(`B: address absent ${back - t0} ms; data flowed again ${resumedMs} ms after it was back (TCP's backoff)`);
    await sleep(Math.max(0, t0 + DEFAULT_HOLD_DOWNS['local-address-removed'] + 1500 - Date.now()));
    const closes = await client.call<Close[]>('closes');
    expect(closes.filter((c) => c.group === 'B')).toEqual([]);
    expect(flowing.every((s) => s.open)).toBe(true);
    expect(await client.call('echoGroup', { group: 'B' })).toEqual({ sent: 2, echoed: 2 });
  }, 20_000);

  it('a real loss (the address replaced) closes busy and idle connections alike, at the settle', async () => {
    const { cli } = topo;
    const t0 = Date.now();
    cli.ipBatch(['addr del 2001:db8:1::2/64 dev c0', 'addr add 2001:db8:1::77/64 dev c0 nodad']);
    const closes = await eventually(
      async () => {
        const list = (await client.call<Close[]>('closes')).filter((c) => c.group.startsWith('L'));
        return list.length === 4 ? list : null;
      },
      5000,
      'the L connections to close',
    );
    const after = closes.map((c) => c.time - t0);
    console.log(`L: address replaced; busy closed after ${after.filter((_, i) => closes[i].group === 'L-busy').join('/')} ms, idle after ${after.filter((_, i) => closes[i].group === 'L-idle').join('/')} ms`);
    expect(closes.every((c) => c.byGuard && c.reason === 'local-address-replaced')).toBe(true);
    // The replacement settle (200 ms) plus processing, as without socket evidence.
    for (const ms of after) expect(ms).toBeLessThan(DEFAULT_HOLD_DOWNS['local-address-replaced'] + 600);
    const kept = await client.call<Alive[]>('alive');
    expect(kept.filter((a) => a.group.startsWith('L'))).toEqual([]);
  }, 20_000);

  it('metrics count what happened', async () => {
    const text = await client.call<string>('metrics');
    expect(metric(text, 'routeguard_connections_kept_alive_total{reason="source-mismatch"}')).toBe(4);
    expect(metric(text, 'routeguard_connections_closed_total{reason="local-address-replaced"}')).toBe(4);
    expect(metric(text, 'routeguard_verdicts_total{verdict="gone",reason="local-address-replaced"}')).toBe(1);
    expect(metric(text, 'routeguard_verdicts_total{verdict="gone",reason="source-mismatch"}')).toBe(1);
    expect(metric(text, 'routeguard_early_confirmations_total{evidence="replacement"}')).toBe(1);
    expect(metric(text, 'routeguard_suspects_total{reason="local-address-removed"}')).toBeGreaterThanOrEqual(2);
    const ridden = text.split('\n').filter((l) => l.startsWith('routeguard_churn_ridden_out_total{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    expect(ridden).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'routeguard_connections_tracked')).toBe(6);
    expect(metric(text, 'routeguard_keepalive_probes_total{result="set"}')).toBeGreaterThanOrEqual(4);
    expect(metric(text, 'routeguard_tcp_info_samples_total{result="ok"}')).toBeGreaterThan(0);
    expect(metric(text, 'routeguard_event_to_verdict_seconds_count{verdict="gone"}')).toBe(2);
    expect(metric(text, 'routeguard_events_total')).toBeGreaterThan(0);
  });

  it('a hardened server with the keepalive probe finds the connections whose client vanished', async () => {
    const { cli } = topo;
    await server.call('netServer', { port: 7001, host: '192.0.2.1', keepaliveProbe: { idleMs: 1000, intervalMs: 1000, count: 2, userTimeoutMs: 3000 } });
    await client.call('pending', { host: '192.0.2.1', port: 7001, count: 3 });
    await eventually(async () => (await server.call<{ server: { open: number } }>('health')).server.open === 3, 3000, 'the server to accept 3');
    // The client vanishes without a FIN or RST: it still receives, but nothing it sends leaves.
    const t0 = Date.now();
    cli.ip('route add blackhole 192.0.2.1/32');
    const health = await eventually(
      async () => {
        const h = (await server.call<{ server: { open: number; vanished: number; probed: number } }>('health')).server;
        return h.vanished === 3 ? h : null;
      },
      10_000,
      'the server to find 3 vanished clients',
    );
    console.log(`server: 3 vanished clients dropped ${Date.now() - t0} ms after they went silent (keepalive 1 s idle, 2 probes 1 s apart)`);
    expect(health).toMatchObject({ open: 0, probed: 3 });
  }, 20_000);
});
