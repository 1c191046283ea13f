/**
 * registerMetrics() scraped through prom-client's text output: a judge driven
 * through churn and a loss under a virtual clock, a guard on real loopback
 * sockets (closes, proof of life, verdict latency), a hardened server, a real
 * monitor; and routeguard without prom-client installed.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionGuard } from '../src/connections/connection-guard';
import { hardenServer } from '../src/connections/hardened-server';
import { realClock } from '../src/judge/clock';
import type { EvidenceEntry } from '../src/judge/types';
import type { NetworkEvent } from '../src/netlink/types';
import { METRICS } from '../src/metrics/catalog';
import { registerMetrics } from '../src/metrics/register';
import { NetlinkMonitor } from '../src/monitor';
import { FakeJudge } from './helpers/fake-judge';
import { HOLD, makeHost, V4 } from './judge/scenario-helpers';
import { waitUntil } from './connections/fixtures/wait';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

/** The value of one sample line of the text exposition, e.g. metric('x_total{reason="a"}'). */
/** The sum of every series of a metric (all label values). */
function total(text: string, name: string): number {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

function value(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

describe('registerMetrics', () => {
  it('judge: suspects, churn ridden out, verdicts by reason, early confirmations, events', async () => {
    const h = makeHost();
    const churn = h.judge.watch({ local: V4.local, remote: V4.peer });
    const registry = new Registry();
    registerMetrics({ registry, judge: h.judge });
    // Churn: the address is gone 1 s and comes back.
    h.net.removeAddress(h.eth0, V4.local);
    h.runUntil(1000);
    h.net.addAddress(h.eth0, `${V4.local}/24`);
    h.net.addRoute({ to: 'default', via: V4.gateway, dev: h.eth0, protocol: 16 });
    expect(churn.state).toBe('viable');
    // A loss: the address is replaced by a new one (early confirmation).
    h.net.removeAddress(h.eth0, V4.local);
    h.net.addAddress(h.eth0, '192.0.2.77/24');
    h.runUntil(1000 + HOLD['local-address-replaced'] + 500);
    expect(churn.state).toBe('gone');
    const text = await registry.metrics();
    expect(value(text, 'routeguard_suspects_total{reason="local-address-removed"}')).toBe(2);
    // Counted by the reason at recovery: the address came back before its default route (no-route).
    expect(value(text, 'routeguard_churn_ridden_out_total{reason="no-route"}')).toBe(1);
    expect(total(text, 'routeguard_churn_ridden_out_total')).toBe(1);
    expect(value(text, 'routeguard_verdicts_total{verdict="gone",reason="local-address-replaced"}')).toBe(1);
    expect(value(text, 'routeguard_verdicts_total{verdict="gone",reason="link-down"}')).toBe(0);
    expect(value(text, 'routeguard_early_confirmations_total{evidence="replacement"}')).toBe(1);
    expect(value(text, 'routeguard_events_total')).toBe(h.judge.counters().events);
    expect(value(text, 'routeguard_paths')).toBe(0);
    expect(text).toContain('# TYPE routeguard_events_total counter');
  });

  it('guards and servers: tracked, closed by reason, kept alive, latency; accept counts; monitor', async () => {
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.pipe(s);
    });
    const hardened = hardenServer(server, { keepaliveProbe: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const sockets = Array.from({ length: 3 }, () => net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.5' }));
    await Promise.all(sockets.map((s) => once(s, 'connect')));
    for (const s of sockets) s.on('error', () => undefined);
    const monitor = await new NetlinkMonitor().start();
    const judge = new FakeJudge();
    const guard = new ConnectionGuard({ judge, sampleIntervalMs: 20 });
    cleanup.push(() => {
      guard.close();
      monitor.close();
      for (const s of sockets) s.destroy();
      server.close();
    });
    const tracked = sockets.map((s) => guard.track(s));
    const registry = new Registry();
    const handle = registerMetrics({ registry, monitor, judge: undefined, guards: [guard], servers: [hardened] });
    expect(handle.names).toContain(METRICS.connectionsClosed.name);
    // The resync's own notice comes after the differences it found (events of any type).
    const resynced = new Promise<void>((resolve) => {
      const onEvent = (e: NetworkEvent) => {
        if (e.type !== 'resync') return;
        monitor.off('event', onEvent);
        resolve();
      };
      monitor.on('event', onEvent);
    });
    monitor.resync();
    await resynced;
    // One connection shows life after the evidence began; the other two are closed.
    const w = judge.watchesOf('127.0.0.5')[0];
    const since = realClock.now();
    const evidence: EvidenceEntry[] = [
      { time: since, kind: 'event', summary: 'test: route removed', event: { type: 'route', time: since - 40 } as never },
    ];
    w.state = 'suspect';
    w.emit('suspect', { reason: 'no-route', deadline: since + 3000, evidence });
    await new Promise((r) => setTimeout(r, 40));
    sockets[0].write('still here');
    await waitUntil(() => tracked[0].socketEvidence.length > 0, 2000);
    w.state = 'gone';
    w.emit('gone', { reason: 'no-route', evidence });
    await waitUntil(() => tracked[1].state === 'closed' && tracked[2].state === 'closed');
    await waitUntil(() => hardened.health().open === 1);
    const text = await registry.metrics();
    expect(value(text, 'routeguard_connections_tracked')).toBe(1);
    expect(value(text, 'routeguard_connections_tracked_total')).toBe(3);
    expect(value(text, 'routeguard_connections_closed_total{reason="no-route"}')).toBe(2);
    expect(value(text, 'routeguard_connections_kept_alive_total{reason="no-route"}')).toBe(1);
    expect(value(text, 'routeguard_tcp_info_samples_total{result="ok"}')).toBeGreaterThanOrEqual(6);
    expect(value(text, 'routeguard_event_to_verdict_seconds_count{verdict="suspect"}')).toBe(1);
    expect(value(text, 'routeguard_event_to_verdict_seconds_count{verdict="gone"}')).toBe(1);
    // The suspect verdict came ~40 ms after its event: in the 0.1 s bucket, not the 0.025 s one.
    expect(value(text, 'routeguard_event_to_verdict_seconds_bucket{le="0.025",verdict="suspect"}')).toBe(0);
    expect(value(text, 'routeguard_event_to_verdict_seconds_bucket{le="0.1",verdict="suspect"}')).toBe(1);
    expect(value(text, 'routeguard_server_connections_accepted_total')).toBe(3);
    expect(value(text, 'routeguard_server_connections_open')).toBe(1);
    expect(value(text, 'routeguard_server_paused')).toBe(0);
    expect(hardened.health().probed).toBe(3);
    expect(value(text, 'routeguard_monitor_resyncs_total{reason="requested"}')).toBe(1);
    expect(value(text, 'routeguard_monitor_messages_total')).toBeGreaterThan(0);
    expect(value(text, 'routeguard_monitor_dropped_messages_total{reason="malformed"}')).toBe(0);
    handle.unregister();
    expect(await registry.metrics()).not.toContain('routeguard_');
  });

  it('every metric in the catalog follows the conventions', () => {
    for (const spec of Object.values(METRICS)) {
      expect(spec.name).toMatch(/^routeguard_[a-z_]+$/);
      expect(spec.name.endsWith('_total')).toBe(spec.type === 'counter');
      for (const label of spec.labels) expect(label).toMatch(/^[a-z_]+$/);
    }
  });

  it('refuses a registry that is not one, and registering twice leaves the first intact', () => {
    expect(() => registerMetrics({ registry: {} as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    const registry = new Registry();
    const h = makeHost();
    registerMetrics({ registry, judge: h.judge });
    expect(() => registerMetrics({ registry, judge: h.judge })).toThrow(/already been registered/);
    expect(registry.getSingleMetric('routeguard_events_total')).toBeDefined();
  });

  it("takes a guard's own judge as guard.judge is typed, and refuses a judge without counters()", () => {
    const h = makeHost();
    const guard = new ConnectionGuard({ judge: h.judge });
    cleanup.push(() => guard.close());
    const registry = new Registry();
    registerMetrics({ registry, judge: guard.judge }); // PathJudgeLike: type-checks, and is a PathJudge here
    expect(registry.getSingleMetric('routeguard_events_total')).toBeDefined();
    expect(() => registerMetrics({ registry: new Registry(), judge: new FakeJudge() })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('no counters()') }),
    );
  });

  it('routeguard loads without prom-client; registerMetrics then fails with ERR_PROM_CLIENT_MISSING', () => {
    const root = path.resolve(__dirname, '..');
    const script = `
      const Module = require('module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'prom-client') { const e = new Error("Cannot find module 'prom-client'"); e.code = 'MODULE_NOT_FOUND'; throw e; }
        return resolve.call(this, request, ...rest);
      };
      const rg = require('./src/index.ts');
      try { rg.registerMetrics({ registry: { registerMetric() {}, removeSingleMetric() {} } }); }
      catch (e) { console.log(typeof rg.ConnectionGuard, e.code, e instanceof rg.MetricsUnavailableError); }
    `;
    const out = execFileSync(process.execPath, ['-r', './test/connections/fixtures/ts-register.cjs', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(out.trim()).toBe('function ERR_PROM_CLIENT_MISSING true');
  });
});
