/**
 * registerMetrics(): routeguard's Prometheus metrics in the application's own
 * prom-client registry, with one call. prom-client is an optional peer
 * dependency: it is required here, lazily, so importing routeguard never needs it.
 *
 * Counters that routeguard already keeps (monitor stats, judge and guard
 * counters, server health) are read at scrape time (prom-client's collect());
 * what only events tell (resync reasons, closes by reason, latencies) is counted
 * from the events.
 */
import type * as PromClient from 'prom-client';
import { RouteguardError, InvalidArgumentError } from '../errors';
import { realClock } from '../judge/clock';
import type { Clock, EvidenceEntry, JudgeCounters } from '../judge/types';
import type { ConnectionGuard, PathJudgeLike, PathVerdictEvent } from '../connections/connection-guard';
import type { HardenedServer } from '../connections/hardened-server';
import type { AliveInfo, ClosedInfo, TrackedConnection } from '../connections/tracked-connection';
import type { MonitorStats } from '../monitor';
import type { NetworkEvent } from '../netlink/types';
import { LATENCY_BUCKETS, METRICS, type MetricSpec } from './catalog';

/** prom-client is not installed (code ERR_PROM_CLIENT_MISSING). */
export class MetricsUnavailableError extends RouteguardError {
  constructor(cause: unknown) {
    super(
      'ERR_PROM_CLIENT_MISSING',
      'registerMetrics() needs prom-client, an optional peer dependency of routeguard: `npm install prom-client`',
      { cause },
    );
  }
}

/** The parts of a prom-client Registry used here. */
export interface RegistryLike {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
}

interface MonitorLike {
  stats(): MonitorStats;
  on(event: 'event', listener: (e: NetworkEvent) => void): unknown;
  off(event: 'event', listener: (e: NetworkEvent) => void): unknown;
}

export interface RegisterMetricsOptions {
  /** The application's prom-client Registry (e.g. `client.register`). */
  registry: RegistryLike;
  monitor?: MonitorLike;
  /**
   * A PathJudge: its counters. `guard.judge` is accepted as it is typed (the guard's own
   * judge is a PathJudge); a stand-in without counters() is refused.
   */
  judge?: { counters(): JudgeCounters } | PathJudgeLike;
  guards?: readonly ConnectionGuard[];
  servers?: readonly HardenedServer[];
  /** Clock of the event times (the monitor's and the judge's). Default realClock. */
  clock?: Clock;
}

export interface MetricsHandle {
  /** Names registered. */
  readonly names: readonly string[];
  /** Removes the metrics from the registry and the listeners from the sources. Idempotent. */
  unregister(): void;
}

type Prom = typeof PromClient;
type Rows = Array<[Record<string, string>, number]>;

function loadPromClient(): Prom {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as Prom;
  } catch (err) {
    throw new MetricsUnavailableError(err);
  }
}

function byLabel(label: string, counts: Record<string, number>): Rows {
  return Object.entries(counts).map(([k, v]) => [{ [label]: k }, v]);
}

/** Adds `rows` of every source into one table keyed by label values. */
function sum(rowsList: Rows[]): Rows {
  const out = new Map<string, [Record<string, string>, number]>();
  for (const rows of rowsList) {
    for (const [labels, v] of rows) {
      const key = JSON.stringify(labels);
      const row = out.get(key);
      if (row) row[1] += v;
      else out.set(key, [labels, v]);
    }
  }
  return [...out.values()];
}

function safely<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null; // a closed monitor's stats(): nothing to report
  }
}

/** The receipt time of the latest network event behind a verdict, if any. */
function lastEventTime(evidence: readonly EvidenceEntry[]): number | null {
  for (let i = evidence.length - 1; i >= 0; i--) {
    const t = evidence[i].event?.time;
    if (typeof t === 'number') return t;
  }
  return null;
}

export function registerMetrics(options: RegisterMetricsOptions): MetricsHandle {
  if (!options || typeof options.registry?.registerMetric !== 'function') {
    throw new InvalidArgumentError('registerMetrics(): `registry` must be a prom-client Registry');
  }
  const prom = loadPromClient();
  const { registry, monitor } = options;
  const judge = options.judge as { counters(): JudgeCounters } | undefined;
  if (judge !== undefined && typeof judge?.counters !== 'function') {
    throw new InvalidArgumentError('registerMetrics(): `judge` must be a PathJudge (it has no counters())');
  }
  const guards = options.guards ?? [];
  const servers = options.servers ?? [];
  const clock = options.clock ?? realClock;
  const names: string[] = [];
  const undo: Array<() => void> = [];

  const common = (spec: MetricSpec) => ({ name: spec.name, help: spec.help, labelNames: [...spec.labels], registers: [] });
  const add = <M>(metric: M, spec: MetricSpec): M => {
    registry.registerMetric(metric as never);
    names.push(spec.name);
    return metric;
  };
  /** A counter read from routeguard's own tallies at scrape time. */
  const snapshot = (spec: MetricSpec, read: () => Rows | null) =>
    add(
      new prom.Counter({
        ...common(spec),
        collect(this: PromClient.Counter<string>) {
          const rows = read();
          this.reset();
          for (const [labels, v] of rows ?? []) {
            if (Object.keys(labels).length > 0) this.inc(labels, v);
            else this.inc(v);
          }
        },
      }),
      spec,
    );
  const gauge = (spec: MetricSpec, read: () => number | null) =>
    add(
      new prom.Gauge({
        ...common(spec),
        collect(this: PromClient.Gauge<string>) {
          const v = read();
          if (v !== null) this.set(v);
        },
      }),
      spec,
    );
  const counter = (spec: MetricSpec) => add(new prom.Counter(common(spec)), spec);

  try {
    if (monitor) {
      const stats = () => safely(() => monitor.stats());
      snapshot(METRICS.monitorMessages, () => { const s = stats(); return s && [[{}, s.messages]]; });
      snapshot(METRICS.monitorOverflows, () => { const s = stats(); return s && [[{}, s.overflows]]; });
      snapshot(METRICS.monitorDropped, () => {
        const s = stats();
        return s && [[{ reason: 'not_from_kernel' }, s.droppedNotFromKernel], [{ reason: 'truncated' }, s.droppedTruncated], [{ reason: 'malformed' }, s.droppedMalformed]];
      });
      const resyncs = counter(METRICS.monitorResyncs);
      const onEvent = (e: NetworkEvent) => {
        if (e.type === 'resync') resyncs.inc({ reason: e.reason });
      };
      monitor.on('event', onEvent);
      undo.push(() => monitor.off('event', onEvent));
    }
    if (judge) {
      const c = () => judge.counters();
      snapshot(METRICS.events, () => [[{}, c().events]]);
      snapshot(METRICS.kernelLookups, () => [[{}, c().kernelLookups]]);
      gauge(METRICS.paths, () => c().paths);
      snapshot(METRICS.suspects, () => byLabel('reason', c().suspected));
      snapshot(METRICS.churnRiddenOut, () => byLabel('reason', c().churnSuppressed));
      snapshot(METRICS.verdicts, () => {
        const v = c().verdicts;
        return [...byLabel('reason', v.gone).map(([l, n]): [Record<string, string>, number] => [{ verdict: 'gone', ...l }, n]), [{ verdict: 'changed', reason: 'path_changed' }, v.changed]];
      });
      snapshot(METRICS.earlyConfirmations, () => [[{ evidence: 'replacement' }, c().earlyConfirmations]]);
      snapshot(METRICS.extensions, () => [[{}, c().extensions]]);
    }
    if (guards.length > 0) {
      const all = () => guards.map((g) => g.counters());
      gauge(METRICS.connectionsTracked, () => all().reduce((n, c) => n + c.tracked, 0));
      snapshot(METRICS.connectionsTrackedTotal, () => [[{}, all().reduce((n, c) => n + c.trackedTotal, 0)]]);
      snapshot(METRICS.tcpInfoSamples, () =>
        sum(all().map((c) => [[{ result: 'ok' }, c.sockets.samples - c.sockets.unavailable], [{ result: 'unavailable' }, c.sockets.unavailable]])),
      );
      snapshot(METRICS.keepaliveProbes, () =>
        sum(all().map((c) => [[{ result: 'set' }, c.sockets.probed], [{ result: 'restored' }, c.sockets.probesRestored], [{ result: 'failed' }, c.sockets.probeFailures]])),
      );
      const closed = counter(METRICS.connectionsClosed);
      const kept = counter(METRICS.connectionsKeptAlive);
      const latency = add(new prom.Histogram({ ...common(METRICS.eventToVerdict), buckets: LATENCY_BUCKETS }), METRICS.eventToVerdict);
      for (const g of guards) {
        const onClosed = (_t: TrackedConnection, info: ClosedInfo) => {
          if (info.byGuard) closed.inc({ reason: info.error?.reason ?? 'closed_by_application' });
        };
        const onAlive = (info: AliveInfo) => kept.inc({ reason: info.reason });
        const onVerdict = (v: PathVerdictEvent) => {
          if (v.type === 'changed') return;
          const t = lastEventTime(v.info.evidence);
          if (t !== null) latency.observe({ verdict: v.type }, Math.max(0, clock.now() - t) / 1000);
        };
        g.on('closed', onClosed);
        g.on('alive', onAlive);
        g.on('verdict', onVerdict);
        undo.push(() => {
          g.off('closed', onClosed);
          g.off('alive', onAlive);
          g.off('verdict', onVerdict);
        });
      }
    }
    if (servers.length > 0) {
      const all = () => servers.map((s) => s.health());
      snapshot(METRICS.serverErrors, () => sum(all().map((h) => byLabel('code', h.errors))));
      snapshot(METRICS.serverAccepted, () => [[{}, all().reduce((n, h) => n + h.accepted, 0)]]);
      snapshot(METRICS.serverRejected, () => [[{}, all().reduce((n, h) => n + h.rejected, 0)]]);
      gauge(METRICS.serverOpen, () => all().reduce((n, h) => n + h.open, 0));
      gauge(METRICS.serverPaused, () => all().filter((h) => h.paused).length);
      snapshot(METRICS.serverPauses, () => [[{}, all().reduce((n, h) => n + h.pauses, 0)]]);
      snapshot(METRICS.serverVanished, () => [[{}, all().reduce((n, h) => n + h.vanished, 0)]]);
    }
  } catch (err) {
    // A name already registered (registerMetrics called twice on one registry): leave nothing half-done.
    for (const f of undo) f();
    for (const n of names) registry.removeSingleMetric(n);
    throw err;
  }

  let done = false;
  return {
    names,
    unregister() {
      if (done) return;
      done = true;
      for (const f of undo.splice(0)) f();
      for (const n of names) registry.removeSingleMetric(n);
    },
  };
}
