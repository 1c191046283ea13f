/**
 * A host for the judge's real-kernel tests: a namespace with uplink v0 (its veth
 * peer v1 cuts carrier), IPv4 and IPv6 addresses and default routes, optionally a
 * second uplink w0 (peer w1) with higher-metric defaults, a started NetlinkMonitor
 * and a PathJudge on it. Watches record what they hear with performance.now().
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { afterAll, beforeAll, expect } from 'vitest';
import { PathJudge } from '../../src/judge/path-judge';
import type { JudgeOptions, PathSpec, PathWatch, VerdictReason } from '../../src/judge/types';
import type { RouteMode } from '../../src/mirror/network-state';
import { NetlinkMonitor } from '../../src/monitor';
import { createNetns, createVeth, describeNetns, waitFor, type NetNs } from '../helpers/netns';

export const V4 = { local: '192.0.2.10', gateway: '192.0.2.1', peer: '198.51.100.7' };
export const V6 = { local: '2001:db8:1::10', gateway: 'fe80::1', peer: '2001:db8:ff::7' };
export const W = { v4: '203.0.113.10', gateway4: '203.0.113.1', v6: '2001:db8:2::10', gateway6: 'fe80::2' };
/** The bound: a verdict comes within its due time + 250 ms on the real kernel. */
export const LATE_MS = 250;

/**
 * Each host's event-loop delay while its test runs. A verdict is late by as much as the
 * loop was held up (a starved CPU, a blocking `ip` spawn, another test of the file): the
 * bound is 250 ms past what the loop itself lost, so a loaded machine does not fail a
 * judge that is on time, and an idle one keeps the bound at ~250 ms.
 */
const loopDelays = new WeakMap<Seen[], IntervalHistogram>();

/** LATE_MS plus the longest event-loop delay seen since the host of `seen` started. */
function allowedLateMs(seen: Seen[]): number {
  const h = loopDelays.get(seen);
  return LATE_MS + (h ? h.max / 1e6 : 0);
}

export interface Seen {
  event: 'suspect' | 'recovered' | 'gone' | 'changed' | 'ended';
  reason?: VerdictReason;
  /** performance.now() when heard. */
  at: number;
  /**
   * For 'suspect': when its window opened, on the same time base (the judge's clock is
   * performance.timeOrigin + performance.now()). On a loaded machine the test hears
   * 'suspect' some ms after that: caps count from here, not from hearing it.
   */
  windowStart?: number;
  /** For 'suspect': ms from the window's opening to the suspect entry (0: reported in the pass of the event). */
  windowLagMs?: number;
}

export interface Host {
  ns: NetNs;
  monitor: NetlinkMonitor;
  judge: PathJudge;
  watch(spec: PathSpec): { watch: PathWatch; seen: Seen[] };
}

export interface HostOptions {
  /** Add uplink w0 with default routes of a higher metric (a reconnect would work through it). */
  secondUplink?: boolean;
  judge?: JudgeOptions;
}

/**
 * The judge must give the same verdicts whether the monitor mirrors every route or keeps
 * none (routes: 'events', what a guard on a full-table host uses): suites declared with
 * describeHostModes run once per mode.
 */
export const ROUTE_MODES: readonly RouteMode[] = ['mirror', 'events'];
let routesMode: RouteMode = 'mirror';

export function describeHostModes(name: string, fn: () => void): void {
  for (const mode of ROUTE_MODES) {
    describeNetns(`${name} (routes: '${mode}')`, () => {
      beforeAll(() => {
        routesMode = mode;
      });
      afterAll(() => {
        routesMode = 'mirror';
      });
      fn();
    });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function listen(watch: PathWatch): Seen[] {
  const seen: Seen[] = [];
  watch.on('suspect', (i) => {
    const opened = i.evidence[0]?.time ?? NaN;
    const stated = [...i.evidence].reverse().find((e) => e.kind === 'state')?.time ?? NaN;
    seen.push({ event: 'suspect', reason: i.reason, at: performance.now(), windowStart: opened - performance.timeOrigin, windowLagMs: stated - opened });
  });
  watch.on('recovered', (i) => seen.push({ event: 'recovered', reason: i.reason, at: performance.now() }));
  watch.on('gone', (i) => seen.push({ event: 'gone', reason: i.reason, at: performance.now() }));
  watch.on('changed', () => seen.push({ event: 'changed', at: performance.now() }));
  watch.on('ended', () => seen.push({ event: 'ended', at: performance.now() }));
  return seen;
}

export async function withHost(fn: (h: Host) => Promise<void>, options: HostOptions = {}): Promise<void> {
  const ns = createNetns('rgjudge');
  let monitor: NetlinkMonitor | null = null;
  let judge: PathJudge | null = null;
  const delays = monitorEventLoopDelay({ resolution: 10 });
  try {
    createVeth(ns, 'v0', null, 'v1');
    ns.ipBatch([
      `addr add ${V4.local}/24 dev v0`,
      `route add default via ${V4.gateway} dev v0 metric 100`,
      `addr add ${V6.local}/64 dev v0 nodad`,
      `route add default via ${V6.gateway} dev v0 metric 100`,
    ]);
    if (options.secondUplink) {
      createVeth(ns, 'w0', null, 'w1');
      ns.ipBatch([
        `addr add ${W.v4}/24 dev w0`,
        `route add default via ${W.gateway4} dev w0 metric 200`,
        `addr add ${W.v6}/64 dev w0 nodad`,
        `route add default via ${W.gateway6} dev w0 metric 200`,
      ]);
    }
    delays.enable();
    monitor = new NetlinkMonitor({ netns: ns.path, routes: routesMode });
    await monitor.start();
    const j = (judge = new PathJudge(monitor, options.judge));
    await fn({
      ns,
      monitor,
      judge: j,
      watch(spec) {
        const watch = j.watch(spec);
        // Settles the first check now, as a guard does by reading the state: the tests change
        // the kernel synchronously right after watching (a batched first check, due at the end
        // of the microtask queue, would already see that change as the state at watch time).
        void watch.state;
        const seen = listen(watch);
        loopDelays.set(seen, delays);
        return { watch, seen };
      },
    });
  } finally {
    delays.disable();
    judge?.close();
    monitor?.close();
    ns.destroy();
  }
}

/**
 * Waits for the verdict and checks it came with `reason`, at least `minMs` after t0 and less
 * than dueMs + 250 ms (+ the loop's own delays, see allowedLateMs) after its window opened.
 * Returns the delay from t0.
 */
export async function expectGoneOnTime(seen: Seen[], t0: number, reason: VerdictReason, dueMs: number, minMs = dueMs): Promise<number> {
  await waitFor(() => seen.some((s) => s.event === 'gone'), dueMs + 2000, 'the verdict');
  const gone = seen.find((s) => s.event === 'gone')!;
  expect(gone.reason).toBe(reason);
  // Never early: t0 precedes the change, so the window cannot have opened before it.
  expect(gone.at - t0).toBeGreaterThanOrEqual(minMs);
  // Never late: due after the window opened (on a loaded machine the event reaches the judge
  // a while after t0), heard within 250 ms plus what the loop itself lost.
  const suspect = seen.filter((s) => s.event === 'suspect' && s.at <= gone.at).pop();
  const opened = Math.max(t0, suspect?.windowStart ?? t0);
  expect(gone.at - opened).toBeLessThan(dueMs + allowedLateMs(seen));
  return gone.at - t0;
}

/** The verdicts without path changes, as [event, reason]. */
export function events(seen: Seen[]): Array<[string, string | undefined]> {
  return seen.filter((s) => s.event !== 'changed').map((s) => [s.event, s.reason]);
}

/** Measured delays, printed once per file so the report can quote them. */
export const timings: string[] = [];
export function record(label: string, ms: number): void {
  timings.push(`${label}: ${Math.round(ms)} ms`);
}

/** Resolves once the monitor has heard no event for `ms` (at most 10 s). */
export async function quiet(monitor: NetlinkMonitor, ms: number): Promise<void> {
  let last = performance.now();
  const heard = () => {
    last = performance.now();
  };
  monitor.on('event', heard);
  try {
    const deadline = last + 10_000;
    while (performance.now() - last < ms && performance.now() < deadline) await sleep(50);
  } finally {
    monitor.off('event', heard);
  }
}
