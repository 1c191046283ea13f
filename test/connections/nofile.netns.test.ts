/**
 * Descriptor exhaustion. The server runs in its own process under
 * `prlimit --nofile=64:64` (it cannot hurt the test runner); flooders in another
 * namespace. Node 20's libuv never reports accept() errors to JavaScript: with
 * its reserve descriptor it sheds the queue silently, and when the reserve
 * cannot help (here: the soft limit lowered below it at run time) it polls the
 * listening socket in a busy loop. The plain server below shows that loop; the
 * hardened one must not crash, must not spin, and must serve again once
 * descriptors are free.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNetns } from '../helpers/netns';
import { cpuShareOver, startPeer, type Peer } from './fixtures/peers';
import { eventually } from './fixtures/wait';
import { twoNamespaces, type Topology } from './fixtures/topology';

type Health = { server: { listening: boolean; paused: boolean; pauses: number; errors: Record<string, number>; accepted: number } };

const LIMIT = 64;
const setSoftLimit = (pid: number, soft: number) => execFileSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:${LIMIT}`]);

describeNetns('RLIMIT_NOFILE floods (server under prlimit, namespaces)', () => {
  let topo: Topology;
  let hardened: Peer;
  let plain: Peer | null = null;
  let client: Peer;

  beforeAll(async () => {
    topo = twoNamespaces('rgnofile');
    hardened = await startPeer(topo.srv, { nofile: LIMIT });
    client = await startPeer(topo.cli);
    await hardened.call('netServer', { port: 9000, host: '192.0.2.1', pauseMaxMs: 1000 });
  });

  afterAll(() => {
    client?.stop();
    hardened?.stop();
    plain?.stop();
    topo?.destroy();
  });

  const probe = () => client.call<boolean>('probeEcho', { host: '192.0.2.1', port: 9000, timeoutMs: 500 });

  it('flooded past its limit: no crash, no busy loop, serving again after the flood', async () => {
    expect(await probe()).toBe(true);
    await client.call('flood', { host: '192.0.2.1', port: 9000, count: 300, reconnectMs: 20 });
    await new Promise((r) => setTimeout(r, 500));
    const cpu = await cpuShareOver(hardened.pid, 2000);
    const during = await hardened.call<Health>('health');
    console.log(`flood: server CPU ${(cpu * 100).toFixed(1)}% of a core; health ${JSON.stringify(during.server)}`);
    expect(hardened.alive()).toBe(true);
    expect(cpu).toBeLessThan(0.4);
    expect(during.server.pauses).toBeGreaterThanOrEqual(1);
    expect(during.server.errors.EMFILE).toBeGreaterThanOrEqual(1);

    await client.call('stopFlood');
    const t0 = Date.now();
    await eventually(probe, 5000, 'the server to serve again');
    console.log(`serving again ${Date.now() - t0} ms after the flood ended`);
    expect(await hardened.call<Health>('health')).toMatchObject({ server: { listening: true, paused: false } });
  });

  it("descriptors short below libuv's reserve: the plain server spins, the hardened one pauses and recovers", async () => {
    // Control: a plain server in the same situation.
    plain = await startPeer(topo.srv, { nofile: LIMIT });
    await plain.call('netServer', { port: 9001, host: '192.0.2.1', plain: true });
    setSoftLimit(plain.pid, 8);
    await client.call('pending', { host: '192.0.2.1', port: 9001, count: 5 });
    const plainCpu = await cpuShareOver(plain.pid, 1500);
    plain.stop();

    const pausesBefore = (await hardened.call<Health>('health')).server.pauses;
    setSoftLimit(hardened.pid, 8);
    await client.call('pending', { host: '192.0.2.1', port: 9000, count: 5 });
    const hardenedCpu = await cpuShareOver(hardened.pid, 1500);
    console.log(`soft limit 8: plain server CPU ${(plainCpu * 100).toFixed(1)}%, hardened ${(hardenedCpu * 100).toFixed(1)}%`);
    // The hazard is real: the plain server burns CPU with nothing to do. Not "most of a
    // core": with other suites on both cores a busy loop gets half of one (seen 0.45).
    expect(plainCpu).toBeGreaterThan(0.3);
    expect(hardenedCpu).toBeLessThan(0.3);
    const health = await hardened.call<Health>('health');
    expect(health.server).toMatchObject({ paused: true, listening: false });
    expect(health.server.pauses).toBeGreaterThan(pausesBefore);

    setSoftLimit(hardened.pid, LIMIT);
    await eventually(probe, 5000, 'the server to serve again');
    expect(hardened.alive()).toBe(true);
  });
});
