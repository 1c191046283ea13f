/**
 * Churn vs. real loss, end to end: a hardened ws server in one namespace,
 * guarded ws clients (real NetlinkMonitor + PathJudge) in another, over veth.
 *
 *   A  192.0.2.2     -> 192.0.2.1      (c0, IPv4)           never lost
 *   B  2001:db8:1::2 -> 2001:db8:1::1  (c0, IPv6)           address removed for good
 *   C  198.51.100.2  -> 198.51.100.1   (c1, second veth)    link deleted
 *   D  192.0.2.2     -> 203.0.113.1    (c0, via 192.0.2.1)  route removed
 *
 * First NetworkManager-like reapply churn (IPv4 address and routes back after
 * 50 ms; IPv6 address back after 1.5 s and tentative for ~1 s of DAD): nothing
 * may close and data must flow after. Then the real losses: nothing else reaches
 * those peers (a reconnect would fail too), so B, C and D close at the judge's cap
 * (+ 1 s); A stays open and keeps echoing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_HOLD_DOWNS, JUDGE_DEFAULTS } from '../../src/judge/hold-downs';
import type { VerdictReason } from '../../src/judge/types';
import { createVeth, describeNetns, waitFor } from '../helpers/netns';
import { startPeer, type Peer } from './fixtures/peers';
import { eventually } from './fixtures/wait';
import { twoNamespaces, type Topology } from './fixtures/topology';

type Close = { group: string; time: number; byGuard: boolean; reason: VerdictReason | null; code: string | null };
type Verdict = { type: string; reason?: string; local: string; remote: string; time: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PER_GROUP = 3;

describeNetns('guarded connections through churn and real loss (namespaces, real judge)', () => {
  let topo: Topology;
  let server: Peer;
  let client: Peer;

  beforeAll(async () => {
    topo = twoNamespaces('rgchurn');
    const { srv, cli } = topo;
    createVeth(cli, 'c1', srv, 's1');
    srv.ipBatch(['addr add 198.51.100.1/24 dev s1', 'addr add 203.0.113.1/32 dev lo']);
    cli.ipBatch(['addr add 198.51.100.2/24 dev c1', 'route add 203.0.113.0/24 via 192.0.2.1 dev c0']);
    server = await startPeer(srv);
    client = await startPeer(cli);
    await server.call('wsServer', { port: 8080, host: '::' });
    const counters = await client.call<{ tracked: number; paths: number }>('wsClients', {
      groups: [
        { name: 'A', url: 'ws://192.0.2.1:8080', localAddress: '192.0.2.2', count: PER_GROUP },
        { name: 'B', url: 'ws://[2001:db8:1::1]:8080', localAddress: '2001:db8:1::2', count: PER_GROUP },
        { name: 'C', url: 'ws://198.51.100.1:8080', localAddress: '198.51.100.2', count: PER_GROUP },
        { name: 'D', url: 'ws://203.0.113.1:8080', localAddress: '192.0.2.2', count: PER_GROUP },
      ],
    });
    expect(counters).toMatchObject({ tracked: 4 * PER_GROUP, paths: 4 });
  });

  afterAll(() => {
    client?.stop();
    server?.stop();
    topo?.destroy();
  });

  it('rides out NetworkManager-like reapply churn on IPv4 and IPv6: nothing closes, data flows after', async () => {
    const { cli } = topo;
    const t0 = Date.now();
    cli.ip('addr del 192.0.2.2/24 dev c0'); // the kernel flushes the connected route and the one via 192.0.2.1
    cli.ip('-6 addr del 2001:db8:1::2/64 dev c0');
    await sleep(50);
    cli.ipBatch(['addr add 192.0.2.2/24 dev c0', 'route replace 203.0.113.0/24 via 192.0.2.1 dev c0']);
    await sleep(1500 - (Date.now() - t0));
    cli.ip('-6 addr add 2001:db8:1::2/64 dev c0'); // DAD: tentative for ~1 s
    await waitFor(
      () => !cli.ip('-6 addr show dev c0').includes('tentative'),
      5000,
      'DAD to finish on 2001:db8:1::2',
    );
    // Past every hold-down that started with the churn (3 s after the removals).
    await sleep(Math.max(0, t0 + DEFAULT_HOLD_DOWNS['local-address-removed'] + 1500 - Date.now()));

    expect(await client.call<Close[]>('closes')).toEqual([]);
    const verdicts = await client.call<Verdict[]>('verdicts');
    const suspected = new Set(verdicts.filter((v) => v.type === 'suspect').map((v) => v.remote));
    const recovered = new Set(verdicts.filter((v) => v.type === 'recovered').map((v) => v.remote));
    // The churn was seen (A, B and D were suspect) and ridden out.
    expect([...suspected].sort()).toEqual(['192.0.2.1', '2001:db8:1::1', '203.0.113.1']);
    expect(recovered).toEqual(suspected);
    expect(verdicts.filter((v) => v.type === 'gone')).toEqual([]);
    const pings = await client.call<Record<string, { sent: number; echoed: number }>>('pingAll');
    for (const g of ['A', 'B', 'C', 'D']) expect(pings[g], g).toEqual({ sent: PER_GROUP, echoed: PER_GROUP });
  });

  it('closes what is really cut off at the cap (+ 1 s: no other path reaches those peers) and nothing else', async () => {
    const { cli } = topo;
    const t1 = Date.now();
    cli.ip('route del 203.0.113.0/24'); // D
    cli.ip('-6 addr del 2001:db8:1::2/64 dev c0'); // B
    cli.ip('link del c1'); // C
    await eventually(
      async () => (await client.call<Close[]>('closes')).length >= 3 * PER_GROUP,
      JUDGE_DEFAULTS.maxSuspectMs + 3000,
      'B, C and D to close',
      20,
    );
    const closes = await client.call<Close[]>('closes');
    const byGroup = (g: string) => closes.filter((c) => c.group === g);
    for (const g of ['B', 'C', 'D']) {
      const list = byGroup(g);
      expect(list, g).toHaveLength(PER_GROUP);
      for (const c of list) {
        expect(c, g).toMatchObject({ byGuard: true, code: 'ERR_ROUTE_GONE' });
        const latency = c.time - t1;
        expect(latency, `${g} closed ${latency} ms after the loss (${c.reason})`).toBeLessThanOrEqual(JUDGE_DEFAULTS.maxSuspectMs + 1000);
        expect(latency).toBeGreaterThanOrEqual(JUDGE_DEFAULTS.maxSuspectMs - 100);
      }
    }
    console.log(
      'loss -> close (ms): ' +
        ['B', 'C', 'D'].map((g) => `${g} ${byGroup(g).map((c) => c.time - t1).join('/')} (${byGroup(g)[0].reason})`).join(', '),
    );
    expect(byGroup('B')[0].reason).toBe('local-address-removed');
    expect(byGroup('D')[0].reason).toBe('no-route');
    expect(['link-removed', 'local-address-removed']).toContain(byGroup('C')[0].reason);
    expect(byGroup('A')).toEqual([]);

    await sleep(1000);
    expect(await client.call<Close[]>('closes')).toHaveLength(3 * PER_GROUP);
    expect(await client.call('openCounts')).toEqual({ A: PER_GROUP, B: 0, C: 0, D: 0 });
    const pings = await client.call<Record<string, { sent: number; echoed: number }>>('pingAll');
    expect(pings.A).toEqual({ sent: PER_GROUP, echoed: PER_GROUP });
  });
});
