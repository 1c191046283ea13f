/**
 * The judge on the real kernel: the NetlinkMonitor in namespaces these tests create,
 * driven with `ip` at the timings measured with real network managers. Asserts the
 * verdicts and how long they took. Scenarios run concurrently (each in its own
 * namespace) to keep the suite short.
 */
import { PassThrough } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as pathCommand } from '../../src/cli/commands/path';
import { run as recordCommand } from '../../src/cli/commands/record';
import { run as replayCommand } from '../../src/cli/commands/replay';
import { DEFAULT_HOLD_DOWNS } from '../../src/judge/hold-downs';
import { PathJudge } from '../../src/judge/path-judge';
import type { PathSpec, PathWatch, VerdictReason } from '../../src/judge/types';
import { NetlinkMonitor } from '../../src/monitor';
import { createNetns, createVeth, describeNetns, waitFor, type NetNs } from '../helpers/netns';

const V4 = { local: '192.0.2.10', peer: '198.51.100.7' };
const V6 = { local: '2001:db8:1::10', peer: '2001:db8:ff::7' };
const HOLD = DEFAULT_HOLD_DOWNS;
/** The bound: a real loss is acted on within hold-down + 250 ms. */
const LATE_MS = 250;

interface Seen {
  event: 'suspect' | 'recovered' | 'gone' | 'changed';
  reason?: VerdictReason;
  /** performance.now() when heard. */
  at: number;
}

interface Host {
  ns: NetNs;
  monitor: NetlinkMonitor;
  judge: PathJudge;
  watch(spec: PathSpec): { watch: PathWatch; seen: Seen[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A namespace with veth v0 (host side) and v1 (its peer, to cut carrier): IPv4 and IPv6 addresses and default routes. */
async function withHost(fn: (h: Host) => Promise<void>): Promise<void> {
  const ns = createNetns('rgjudge');
  let monitor: NetlinkMonitor | null = null;
  let judge: PathJudge | null = null;
  try {
    createVeth(ns, 'v0', null, 'v1');
    ns.ipBatch([
      `addr add ${V4.local}/24 dev v0`,
      'route add default via 192.0.2.1 dev v0',
      `addr add ${V6.local}/64 dev v0 nodad`,
      'route add default via fe80::1 dev v0',
    ]);
    monitor = new NetlinkMonitor({ netns: ns.path });
    await monitor.start();
    const j = (judge = new PathJudge(monitor));
    await fn({
      ns,
      monitor,
      judge: j,
      watch(spec) {
        const watch = j.watch(spec);
        const seen: Seen[] = [];
        watch.on('suspect', (i) => seen.push({ event: 'suspect', reason: i.reason, at: performance.now() }));
        watch.on('recovered', (i) => seen.push({ event: 'recovered', reason: i.reason, at: performance.now() }));
        watch.on('gone', (i) => seen.push({ event: 'gone', reason: i.reason, at: performance.now() }));
        watch.on('changed', () => seen.push({ event: 'changed', at: performance.now() }));
        return { watch, seen };
      },
    });
  } finally {
    judge?.close();
    monitor?.close();
    ns.destroy();
  }
}

/** Waits for the verdict and checks it came with `reason`, at least `holdMs` and less than holdMs + 250 ms after t0. */
async function expectGoneOnTime(seen: Seen[], t0: number, reason: VerdictReason, holdMs: number, minMs = holdMs): Promise<void> {
  await waitFor(() => seen.some((s) => s.event === 'gone'), holdMs + 2000, 'the verdict');
  const gone = seen.find((s) => s.event === 'gone')!;
  expect(gone.reason).toBe(reason);
  expect(gone.at - t0).toBeGreaterThanOrEqual(minMs);
  expect(gone.at - t0).toBeLessThan(holdMs + LATE_MS);
}

function events(seen: Seen[]): Array<[string, string | undefined]> {
  return seen.filter((s) => s.event !== 'changed').map((s) => [s.event, s.reason]);
}

describeNetns('PathJudge on the real kernel (private namespaces)', () => {
  describe.concurrent('churn and losses at measured timings', () => {
    it('IPv4 address and default route deleted and re-added after 50 ms (NetworkManager): recovered, no verdict', () =>
      withHost(async (h) => {
        const { watch, seen } = h.watch({ local: V4.local, remote: V4.peer });
        expect(watch.state).toBe('viable');
        const t0 = performance.now();
        h.ns.ip(`addr del ${V4.local}/24 dev v0`);
        await sleep(50);
        h.ns.ipBatch([`addr add ${V4.local}/24 dev v0`, 'route add default via 192.0.2.1 dev v0']);
        await waitFor(() => watch.state === 'viable' && seen.length > 0, 3000, 'recovery');
        expect(seen.find((s) => s.event === 'recovered')!.at - t0).toBeLessThan(1000);
        await sleep(HOLD['local-address-removed'] + 300);
        expect(seen.some((s) => s.event === 'gone')).toBe(false);
        expect(events(seen)[0]).toEqual(['suspect', 'local-address-removed']);
        expect(events(seen).at(-1)![0]).toBe('recovered');
        expect(watch.state).toBe('viable');
      }));

    it('IPv6 address deleted and re-added after 1.5 s with DAD: recovered at the re-add, no verdict', () =>
      withHost(async (h) => {
        const { watch, seen } = h.watch({ local: V6.local, remote: V6.peer });
        const t0 = performance.now();
        h.ns.ip(`-6 addr del ${V6.local}/64 dev v0`);
        await sleep(1500);
        h.ns.ip(`-6 addr add ${V6.local}/64 dev v0`); // with DAD: tentative for ~1-2 s
        await waitFor(() => seen.some((s) => s.event === 'recovered'), 3000, 'recovery');
        const recovered = seen.find((s) => s.event === 'recovered')!;
        expect(recovered.at - t0).toBeGreaterThanOrEqual(1500);
        expect(recovered.at - t0).toBeLessThan(HOLD['local-address-removed']);
        expect(h.monitor.state.findAddresses(V6.local)[0].flags & 0x40).toBe(0x40); // still tentative when it counted as back
        await sleep(HOLD['local-address-removed'] - (performance.now() - t0) + 500);
        expect(events(seen)).toEqual([
          ['suspect', 'local-address-removed'],
          ['recovered', 'local-address-removed'],
        ]);
        expect(watch.state).toBe('viable');
      }));

    it('carrier blip of 1 s: suspect link-down, recovered, no verdict', () =>
      withHost(async (h) => {
        const { watch, seen } = h.watch({ local: V4.local, remote: V4.peer });
        const t0 = performance.now();
        h.ns.ip('link set v1 down');
        await sleep(1000);
        h.ns.ip('link set v1 up');
        await waitFor(() => seen.some((s) => s.event === 'recovered'), 3000, 'recovery');
        await sleep(HOLD['link-down'] - (performance.now() - t0) + 300);
        expect(events(seen)).toEqual([
          ['suspect', 'link-down'],
          ['recovered', 'link-down'],
        ]);
        expect(watch.state).toBe('viable');
      }));

    it('carrier lost for good: gone (link-down) within hold-down + 250 ms', () =>
      withHost(async (h) => {
        const { seen } = h.watch({ local: V4.local, remote: V4.peer });
        const t0 = performance.now();
        h.ns.ip('link set v1 down');
        await expectGoneOnTime(seen, t0, 'link-down', HOLD['link-down']);
      }));

    it('address removed for good (DHCP release): gone (local-address-removed) within hold-down + 250 ms', () =>
      withHost(async (h) => {
        const { seen } = h.watch({ local: V4.local, remote: V4.peer });
        const t0 = performance.now();
        h.ns.ip(`addr del ${V4.local}/24 dev v0`);
        await expectGoneOnTime(seen, t0, 'local-address-removed', HOLD['local-address-removed']);
      }));

    it('a new lease (another address, old one not back): replacement confirms in ~200 ms', () =>
      withHost(async (h) => {
        const { seen } = h.watch({ local: V4.local, remote: V4.peer });
        const t0 = performance.now();
        h.ns.ip(`addr del ${V4.local}/24 dev v0`);
        h.ns.ipBatch(['addr add 192.0.2.77/24 dev v0', 'route add default via 192.0.2.1 dev v0']);
        await expectGoneOnTime(seen, t0, 'local-address-replaced', HOLD['local-address-replaced']);
      }));

    it('link deleted: gone (link-removed) within hold-down + 250 ms, IPv4 and IPv6', () =>
      withHost(async (h) => {
        const v4 = h.watch({ local: V4.local, remote: V4.peer });
        const v6 = h.watch({ local: V6.local, remote: V6.peer });
        const t0 = performance.now();
        h.ns.ip('link del v0');
        // The first evidence (the address removals) precedes RTM_DELLINK by a few ms.
        for (const { seen } of [v4, v6]) await expectGoneOnTime(seen, t0, 'link-removed', HOLD['link-removed'], HOLD['link-removed'] - 50);
      }));

    it('default route replaced by one with another metric: make-before-break silent, break-before-make recovers', () =>
      withHost(async (h) => {
        const { watch, seen } = h.watch({ local: V4.local, remote: V4.peer });
        h.ns.ipBatch(['route add default via 192.0.2.1 dev v0 metric 200', 'route del default via 192.0.2.1 dev v0 metric 0']);
        await sleep(300);
        expect(seen).toEqual([]);
        const t0 = performance.now();
        h.ns.ip('route del default via 192.0.2.1 dev v0 metric 200');
        await sleep(50);
        h.ns.ip('route add default via 192.0.2.1 dev v0 metric 100');
        await waitFor(() => seen.some((s) => s.event === 'recovered'), 3000, 'recovery');
        expect(events(seen)).toEqual([
          ['suspect', 'no-route'],
          ['recovered', 'no-route'],
        ]);
        expect(seen[1].at - t0).toBeLessThan(1000);
        await sleep(HOLD['no-route'] - (performance.now() - t0) + 300);
        expect(watch.state).toBe('viable');
      }));

    it('a better path via another interface: changed with old and new egress, still viable', () =>
      withHost(async (h) => {
        createVeth(h.ns, 'w0', null, 'w1');
        h.ns.ip('addr add 203.0.113.10/24 dev w0');
        const { watch } = h.watch({ local: V4.local, remote: V4.peer });
        const changed = new Promise<[number | null, number | null]>((resolve) =>
          watch.once('changed', (c) => resolve([c.previous!.oif, c.current.oif])),
        );
        h.ns.ip('route add 198.51.100.0/24 via 203.0.113.1 dev w0');
        expect(await changed).toEqual([h.ns.ifindex('v0'), h.ns.ifindex('w0')]);
        expect(watch.state).toBe('viable');
      }));
  });

  it('`routeguard path` watches a live path and ends with its verdict', async () => {
    const ns = createNetns('rgjudge');
    try {
      createVeth(ns, 'v0', null, 'v1');
      ns.ipBatch([`addr add ${V4.local}/24 dev v0`, 'route add default via 192.0.2.1 dev v0']);
      const stdout = new PassThrough();
      let text = '';
      stdout.on('data', (d) => (text += d));
      const io = { stdout, stderr: new PassThrough(), signal: new AbortController().signal };
      const done = pathCommand(['--to', V4.peer, '--netns', ns.path, '--hold-down', 'link-removed=100', '--evidence'], io);
      await waitFor(() => text.includes('viable'), 3000, 'first line');
      expect(text).toMatch(/viable +192\.0\.2\.10 -> 198\.51\.100\.7: dev v0 \(index \d+\) via 192\.0\.2\.1/);
      ns.ip('link del v0');
      expect(await done).toBe(0);
      expect(text).toMatch(/suspect +link-removed; fresh check at/);
      expect(text).toMatch(/gone +link-removed/);
      expect(text).toMatch(/link v0 \(index \d+\) removed/);
    } finally {
      ns.destroy();
    }
  });

  it('`routeguard record` then `routeguard replay` reproduce the live verdicts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-record-'));
    const ns = createNetns('rgjudge');
    try {
      createVeth(ns, 'v0', null, 'v1');
      ns.ipBatch([`addr add ${V4.local}/24 dev v0`, 'route add default via 192.0.2.1 dev v0']);
      const file = join(dir, 'rec.ndjson');
      const controller = new AbortController();
      const io = { stdout: new PassThrough(), stderr: new PassThrough(), signal: controller.signal };
      const recording = recordCommand([file, '--netns', ns.path, '--path', `${V4.local},${V4.peer}`, '--probe-interval', '200'], io);
      await waitFor(() => {
        try {
          return readFileSync(file, 'utf8').includes('"kind":"snapshot"');
        } catch {
          return false;
        }
      }, 3000, 'the snapshot');
      ns.ip(`addr del ${V4.local}/24 dev v0`);
      await sleep(50);
      ns.ipBatch([`addr add ${V4.local}/24 dev v0`, 'route add default via 192.0.2.1 dev v0']);
      await sleep(500);
      ns.ip('link set v1 down');
      await sleep(HOLD['link-down'] + 400);
      controller.abort();
      expect(await recording).toBe(0);

      const out = new PassThrough();
      let json = '';
      out.on('data', (d) => (json += d));
      const replayIo = { stdout: out, stderr: new PassThrough(), signal: new AbortController().signal };
      expect(await replayCommand([file, '--json'], replayIo)).toBe(0);
      const lines = json.trim().split('\n').map((l) => JSON.parse(l) as { at: number; event: string; reason?: string });
      const verdicts = lines.filter((l) => ['suspect', 'recovered', 'gone'].includes(l.event));
      // The churn: suspect on the deletion (and again as no-route if the address came back a
      // moment before its default route), recovered once; then the carrier loss, judged gone.
      expect(verdicts[0]).toMatchObject({ event: 'suspect', reason: 'local-address-removed' });
      expect(verdicts.filter((l) => l.event === 'recovered')).toHaveLength(1);
      const afterRecovery = verdicts.slice(verdicts.findIndex((l) => l.event === 'recovered') + 1);
      expect(afterRecovery).toEqual([
        { at: expect.any(Number), event: 'suspect', reason: 'link-down', deadline: afterRecovery[0].at + HOLD['link-down'] },
        { at: afterRecovery[0].at + HOLD['link-down'], event: 'gone', reason: 'link-down' },
      ]);
    } finally {
      ns.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
