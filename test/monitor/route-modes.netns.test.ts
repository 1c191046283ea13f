/**
 * `routes: 'events'`: no route dump and no route table, live route notifications as
 * events, kernel lookups as always; links and addresses mirrored as in the default mode.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { NetlinkMonitor } from '../../src/monitor';
import type { NetworkEvent, RouteEvent, SyncedEvent } from '../../src/netlink/types';
import { createNetns, createVeth, describeNetns, waitFor, type NetNs } from '../helpers/netns';

describeNetns("NetlinkMonitor routes: 'events' (real kernel, private namespace)", () => {
  let ns: NetNs;
  let monitor: NetlinkMonitor;
  let events: NetworkEvent[];

  beforeEach(() => {
    ns = createNetns('rgrm');
    ns.withoutDad(); // a test compares two dumps taken one after the other
    createVeth(ns, 'v0', null, 'v1');
    ns.ip('addr add 192.0.2.1/24 dev v0');
    for (let i = 0; i < 50; i++) ns.ip(`route add 198.51.100.${i}/32 via 192.0.2.2 dev v0`);
  });

  afterEach(() => {
    monitor?.close();
    ns.destroy();
  });

  async function start(routes: 'mirror' | 'events'): Promise<SyncedEvent> {
    monitor = new NetlinkMonitor({ netns: ns.path, routes });
    events = [];
    monitor.on('event', (e) => events.push(e));
    await monitor.start();
    return events.find((e): e is SyncedEvent => e.type === 'synced')!;
  }

  it('dumps no routes, mirrors links and addresses, and answers lookups from the kernel', async () => {
    const synced = await start('events');
    expect(synced.routes).toBe(0);
    expect([...monitor.state.routes()]).toEqual([]);
    expect(monitor.state.linkByName('v0')).toBeDefined();
    expect(monitor.state.findAddresses('192.0.2.1')).toHaveLength(1);
    const answer = monitor.lookupRoute({ to: '198.51.100.7' });
    expect(answer.ok && answer.route.gateway).toBe('192.0.2.2');
    // The default mode, for comparison: the same namespace's routes are all there.
    monitor.close();
    expect((await start('mirror')).routes).toBeGreaterThanOrEqual(50);
  });

  it('turns live route notifications into route events', async () => {
    await start('events');
    ns.ip('route add 203.0.113.0/24 via 192.0.2.2 dev v0 metric 7');
    ns.ip('route replace 203.0.113.0/24 via 192.0.2.3 dev v0 metric 7');
    ns.ip('route del 203.0.113.0/24 via 192.0.2.3 dev v0 metric 7');
    const routeEvents = () => events.filter((e): e is RouteEvent => e.type === 'route' && e.route.destination === '203.0.113.0');
    await waitFor(() => routeEvents().length === 3);
    expect(routeEvents().map((e) => [e.action, e.route.gateway, e.previous?.gateway ?? null])).toEqual([
      ['added', '192.0.2.2', null],
      ['changed', '192.0.2.3', null],
      ['removed', '192.0.2.3', '192.0.2.3'],
    ]);
    expect([...monitor.state.routes()]).toEqual([]);
  });

  it("routes: 'stream' hands each dumped route to onDumpedRoute and keeps none", async () => {
    const dumped: string[] = [];
    monitor = new NetlinkMonitor({ netns: ns.path, routes: 'stream', onDumpedRoute: (r) => dumped.push(`${r.destination}/${r.destinationLength}`) });
    await monitor.start();
    for (let i = 0; i < 50; i++) expect(dumped.filter((d) => d === `198.51.100.${i}/32`)).toHaveLength(1);
    expect([...monitor.state.routes()]).toEqual([]);
    expect(() => new NetlinkMonitor({ onDumpedRoute: () => {} })).toThrow(/with routes: 'stream'/);
  });

  it("routes: 'stream' with onDumpedRoutesJson: the dumped routes as JSON text, as onDumpedRoute would give them", async () => {
    const routes: string[] = [];
    monitor = new NetlinkMonitor({ netns: ns.path, routes: 'stream', onDumpedRoute: (r) => routes.push(`,${JSON.stringify(r)}`) });
    await monitor.start();
    monitor.close();
    const chunks: Buffer[] = [];
    monitor = new NetlinkMonitor({ netns: ns.path, routes: 'stream', onDumpedRoutesJson: (json) => chunks.push(Buffer.from(json)) });
    events = [];
    monitor.on('event', (e) => events.push(e));
    await monitor.start();
    expect(Buffer.concat(chunks).toString()).toBe(routes.join(''));
    expect(routes.length).toBeGreaterThan(50);
    // A live route change is an event, never JSON text.
    ns.ip('route add 203.0.113.0/24 via 192.0.2.2 dev v0');
    await waitFor(() => events.some((e) => e.type === 'route' && e.route.destination === '203.0.113.0'));
    expect(Buffer.concat(chunks).toString()).toBe(routes.join(''));
    expect(() => new NetlinkMonitor({ onDumpedRoutesJson: () => {} })).toThrow(/with routes: 'stream'/);
    expect(() => new NetlinkMonitor({ routes: 'stream', onDumpedRoute: () => {}, onDumpedRoutesJson: () => {} })).toThrow(/not both/);
  });

  it('rejects an unknown mode with a clear error', () => {
    expect(() => new NetlinkMonitor({ routes: 'some' as 'events' })).toThrow(/routes must be 'mirror', 'events' or 'stream'/);
  });
});
