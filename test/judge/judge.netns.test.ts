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
import { afterAll, describe, expect, it } from 'vitest';
import { run as pathCommand } from '../../src/cli/commands/path';
import { run as recordCommand } from '../../src/cli/commands/record';
import { run as replayCommand } from '../../src/cli/commands/replay';
import { DEFAULT_HOLD_DOWNS } from '../../src/judge/hold-downs';
import { createNetns, createVeth, waitFor } from '../helpers/netns';
import { describeHostModes, events, expectGoneOnTime, record, sleep, timings, V4, V6, W, withHost } from './netns-host';

const HOLD = DEFAULT_HOLD_DOWNS;

afterAll(() => console.log(`judge.netns timings (verdict after the first evidence):\n  ${timings.join('\n  ')}`));

describeHostModes('PathJudge on the real kernel (private namespaces)', () => {
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

    it('address removed for good (DHCP release) with a second uplink: gone (local-address-removed) within hold-down + 250 ms', () =>
      withHost(
        async (h) => {
          const { seen } = h.watch({ local: V4.local, remote: V4.peer });
          const t0 = performance.now();
          h.ns.ip(`addr del ${V4.local}/24 dev v0`);
          record('DHCP release, second uplink', await expectGoneOnTime(seen, t0, 'local-address-removed', HOLD['local-address-removed']));
        },
        { secondUplink: true },
      ));

    it('a new lease (another address, old one not back): replacement confirms in ~200 ms', () =>
      withHost(async (h) => {
        const { seen } = h.watch({ local: V4.local, remote: V4.peer });
        const t0 = performance.now();
        h.ns.ip(`addr del ${V4.local}/24 dev v0`);
        h.ns.ipBatch(['addr add 192.0.2.77/24 dev v0', 'route add default via 192.0.2.1 dev v0']);
        record('replacement address', await expectGoneOnTime(seen, t0, 'local-address-replaced', HOLD['local-address-replaced']));
      }));

    it('link deleted with a second uplink: gone (link-removed) within hold-down + 250 ms, IPv4 and IPv6', () =>
      withHost(
        async (h) => {
          const v4 = h.watch({ local: V4.local, remote: V4.peer });
          const v6 = h.watch({ local: V6.local, remote: V6.peer });
          const t0 = performance.now();
          h.ns.ip('link del v0');
          // The first evidence (the address removals) precedes RTM_DELLINK by a few ms.
          for (const { seen } of [v4, v6]) {
            record('link deleted, second uplink', await expectGoneOnTime(seen, t0, 'link-removed', HOLD['link-removed'], HOLD['link-removed'] - 50));
          }
        },
        { secondUplink: true },
      ));

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

    it('the path\'s address deprecated: changed (new connections use another source), same egress, still viable', () =>
      withHost(async (h) => {
        h.ns.ip('addr add 2001:db8:1::20/64 dev v0 nodad preferred_lft 0'); // deprecated for now
        const { watch, seen } = h.watch({ local: V6.local, remote: V6.peer });
        expect(watch.route?.preferredSource).toBe(V6.local);
        const changed = new Promise<[string | null, string | null, boolean]>((resolve) =>
          watch.once('changed', (c) => resolve([c.previous!.preferredSource, c.current.preferredSource, c.previous!.oif === c.current.oif])),
        );
        h.ns.ipBatch(['addr change 2001:db8:1::20/64 dev v0 preferred_lft forever', `addr change ${V6.local}/64 dev v0 preferred_lft 0`]);
        const [before, after, sameEgress] = await changed;
        expect(sameEgress).toBe(true);
        expect(after).toBe('2001:db8:1::20');
        expect(before).not.toBe(after);
        expect(watch.state).toBe('viable');
        expect(events(seen)).toEqual([]);
      }));

    it('a secondary promoted to primary (the source moves to the path\'s own address): no changed', () =>
      withHost(async (h) => {
        h.ns.ipBatch(['addr add 192.0.2.11/24 dev v0']);
        h.ns.exec('sysctl', ['-qw', 'net.ipv4.conf.v0.promote_secondaries=1']);
        const { watch, seen } = h.watch({ local: '192.0.2.11', remote: V4.peer });
        expect(watch.route?.preferredSource).toBe(V4.local);
        h.ns.ip(`addr del ${V4.local}/24 dev v0`);
        await waitFor(() => h.monitor.state.findAddresses('192.0.2.11').length > 0 && h.monitor.lookupRoute({ to: V4.peer }).ok, 2000, 'promotion');
        await sleep(300);
        expect(h.monitor.lookupRoute({ to: V4.peer })).toMatchObject({ ok: true, route: { preferredSource: '192.0.2.11' } });
        expect(seen.filter((s) => s.event === 'changed')).toEqual([]);
        expect(watch.state).toBe('viable');
      }));
  });

  it('`routeguard path` watches a live path and ends with its verdict', async () => {
    const stop = new AbortController(); // ends the command if the test fails before it does
    const ns = createNetns('rgjudge');
    try {
      createVeth(ns, 'v0', null, 'v1');
      createVeth(ns, 'w0', null, 'w1');
      ns.ipBatch([
        `addr add ${V4.local}/24 dev v0`,
        'route add default via 192.0.2.1 dev v0',
        `addr add ${W.v4}/24 dev w0`,
        `route add default via ${W.gateway4} dev w0 metric 200`,
      ]);
      const stdout = new PassThrough();
      let text = '';
      stdout.on('data', (d) => (text += d));
      const io = { stdout, stderr: new PassThrough(), signal: stop.signal };
      const done = pathCommand(['--to', V4.peer, '--netns', ns.path, '--hold-down', 'link-removed=100', '--evidence'], io);
      await waitFor(() => text.includes('viable'), 3000, 'first line');
      expect(text).toMatch(/viable +192\.0\.2\.10 -> 198\.51\.100\.7: dev v0 \(index \d+\) via 192\.0\.2\.1/);
      ns.ip('link del v0');
      expect(await done).toBe(0);
      expect(text).toMatch(/suspect +link-removed; fresh check at/);
      expect(text).toMatch(/gone +link-removed/);
      expect(text).toMatch(/link v0 \(index \d+\) removed/);
    } finally {
      stop.abort();
      ns.destroy();
    }
  });

  it('`routeguard record` then `routeguard replay` reproduce the live verdicts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-record-'));
    const controller = new AbortController(); // ends the recording if the test fails before it does
    const ns = createNetns('rgjudge');
    try {
      createVeth(ns, 'v0', null, 'v1');
      createVeth(ns, 'w0', null, 'w1');
      ns.ipBatch([
        `addr add ${V4.local}/24 dev v0`,
        'route add default via 192.0.2.1 dev v0',
        `addr add ${W.v4}/24 dev w0`,
        `route add default via ${W.gateway4} dev w0 metric 200`,
      ]);
      const file = join(dir, 'rec.ndjson');
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
      ns.ip('link set v0 down'); // its routes flushed: the lookup from its address now leaves through w0
      await sleep(HOLD['source-mismatch'] + 400);
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
      // moment before its default route), recovered once; then v0 down: the path's source no
      // longer fits the egress (w0), and w0 would carry a reconnect: gone at the hold-down.
      expect(verdicts[0]).toMatchObject({ event: 'suspect', reason: 'local-address-removed' });
      expect(verdicts.filter((l) => l.event === 'recovered')).toHaveLength(1);
      const afterRecovery = verdicts.slice(verdicts.findIndex((l) => l.event === 'recovered') + 1);
      expect(afterRecovery).toEqual([
        { at: expect.any(Number), event: 'suspect', reason: 'source-mismatch', deadline: afterRecovery[0].at + HOLD['source-mismatch'] },
        { at: afterRecovery[0].at + HOLD['source-mismatch'], event: 'gone', reason: 'source-mismatch' },
      ]);
    } finally {
      controller.abort();
      ns.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
