/**
 * A storm of clients that reset (SO_LINGER 0) right after connecting — at once,
 * mid-upgrade-request, or just after the upgrade — interleaved with normal ws
 * clients. The hardened ws
 * server tracks every connection with a real monitor + judge. Its event loop is
 * made busy while the storm starts, so that many connections are reset before
 * they are accepted: their addresses are gone at accept (libdatachannel's fatal
 * getpeername() case). The server must stay up and serve every normal client.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNetns } from '../helpers/netns';
import { startPeer, type Peer } from './fixtures/peers';
import { eventually } from './fixtures/wait';
import { twoNamespaces, type Topology } from './fixtures/topology';

type Health = {
  server: { accepted: number; rejected: number; rejectedBy: Record<string, number>; errors: Record<string, number>; open: number; listening: boolean };
  guard: { tracked: number; trackedTotal: number; unresolvedTotal: number };
};

const RESETTERS = 3000;
const NORMAL = 200;

describeNetns('reset storm against a hardened ws server (namespaces)', () => {
  let topo: Topology;
  let server: Peer;
  let client: Peer;

  beforeAll(async () => {
    topo = twoNamespaces('rgstorm');
    server = await startPeer(topo.srv);
    client = await startPeer(topo.cli);
    await server.call('wsServer', { port: 8080, host: '192.0.2.1', track: true });
  });

  afterAll(() => {
    client?.stop();
    server?.stop();
    topo?.destroy();
  });

  it('stays up, serves every normal client, and closes the connections that were gone at accept', async () => {
    const t0 = Date.now();
    const busy = server.call('block', { ms: 400 }); // a busy application while the storm begins
    const result = await client.call<{ normal: number; served: number }>('storm', {
      host: '192.0.2.1', port: 8080, resetters: RESETTERS, normal: NORMAL,
    });
    await busy;
    expect(result).toEqual({ normal: NORMAL, served: NORMAL, resetters: RESETTERS });
    expect(server.alive()).toBe(true);

    const health = await eventually(
      async () => {
        const h = await server.call<Health>('health');
        return h.server.open === 0 && h.guard.tracked === 0 ? h : null;
      },
      10_000,
      'every connection to end on the server',
    );
    console.log(`storm done in ${Date.now() - t0} ms; server health ${JSON.stringify(health.server)}; guard ${JSON.stringify(health.guard)}`);
    expect(health.server.listening).toBe(true);
    expect(health.server.accepted + health.server.rejected).toBe(RESETTERS + NORMAL);
    expect(health.server.rejectedBy['address-unavailable']).toBeGreaterThan(0);
    expect(health.server.rejected).toBe(health.server.rejectedBy['address-unavailable']);
    // The later resetters were accepted and reset mid-handshake or just after the upgrade.
    expect(health.server.accepted).toBeGreaterThan(NORMAL);
    expect(health.guard.trackedTotal).toBeGreaterThan(NORMAL);
    // Still serving after the storm.
    const after = await client.call<{ served: number }>('storm', { host: '192.0.2.1', port: 8080, resetters: 0, normal: 5 });
    expect(after.served).toBe(5);
  });
});
