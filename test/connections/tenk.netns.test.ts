/**
 * 10,000 connections to one peer are one path: one judge evaluation, one
 * verdict, closed together when the path is gone. Ten connections from another
 * address on the same interface stay open. Server (hardened net echo server) in
 * one namespace, guarded clients in another; each peer is its own process with
 * its own descriptor limit.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_HOLD_DOWNS } from '../../src/judge/hold-downs';
import type { VerdictReason } from '../../src/judge/types';
import { describeNetns } from '../helpers/netns';
import { startPeer, type Peer } from './fixtures/peers';
import { eventually } from './fixtures/wait';
import { twoNamespaces, type Topology } from './fixtures/topology';

type Close = { group: string; time: number; byGuard: boolean; reason: VerdictReason | null };
type Counters = { tracked: number; paths: number; trackedTotal: number; closedByGuard: number; verdicts: { gone: number } };

const MANY = 10_000;
const OTHER = 10;

describeNetns('10k connections to one peer (namespaces, real judge)', () => {
  let topo: Topology;
  let server: Peer;
  let client: Peer;

  beforeAll(async () => {
    topo = twoNamespaces('rg10k');
    // A second address on the same interface survives the removal of the first
    // (promoted, as NetworkManager-managed systems configure it).
    topo.cli.exec('sysctl', ['-qw', 'net.ipv4.conf.c0.promote_secondaries=1']);
    topo.cli.ip('addr add 192.0.2.3/24 dev c0');
    server = await startPeer(topo.srv);
    client = await startPeer(topo.cli);
    await server.call('netServer', { port: 9000, host: '192.0.2.1' });
  });

  afterAll(() => {
    client?.stop();
    server?.stop();
    topo?.destroy();
  });

  it('share one path and close together; connections from another address stay open', async () => {
    const t0 = Date.now();
    // No bind() before connect for the many (the kernel picks 192.0.2.2, the primary address):
    // bind(addr, 0) searches the port space per socket and makes 10k connects slow.
    await client.call('netClients', { host: '192.0.2.1', port: 9000, count: MANY, group: 'many', batch: 1000 });
    const counters = await client.call<Counters>('netClients', {
      host: '192.0.2.1', port: 9000, localAddress: '192.0.2.3', count: OTHER, group: 'other',
    });
    console.log(`${MANY + OTHER} connections up in ${Date.now() - t0} ms`);
    expect(counters).toMatchObject({ tracked: MANY + OTHER, paths: 2 });
    expect(await client.call('echoGroup', { group: 'other' })).toEqual({ sent: OTHER, echoed: OTHER });

    const t1 = Date.now();
    topo.cli.ip('addr del 192.0.2.2/24 dev c0');
    await eventually(
      async () => (await client.call<Close[]>('closes')).length >= MANY,
      DEFAULT_HOLD_DOWNS['local-address-removed'] + 5000,
      `${MANY} closes`,
      25,
    );
    const closes = await client.call<Close[]>('closes');
    const first = Math.min(...closes.map((c) => c.time));
    const last = Math.max(...closes.map((c) => c.time));
    const reason = closes[0].reason!;
    console.log(`gone (${reason}): first close ${first - t1} ms, last ${last - t1} ms after the removal`);
    expect(closes.every((c) => c.group === 'many' && c.byGuard && c.reason === reason)).toBe(true);
    expect(['local-address-removed', 'local-address-replaced']).toContain(reason);
    expect(last - t1).toBeLessThanOrEqual(DEFAULT_HOLD_DOWNS[reason] + 1000);
    expect(last - first).toBeLessThan(1000); // one verdict, delivered to all at once

    const after = await client.call<{ guard: Counters }>('health');
    expect(after.guard).toMatchObject({ tracked: OTHER, paths: 1, closedByGuard: MANY, verdicts: { gone: 1 } });
    expect(await client.call('openCounts')).toEqual({ many: 0, other: OTHER });
    expect(await client.call('echoGroup', { group: 'other' })).toEqual({ sent: OTHER, echoed: OTHER });
  });
});
