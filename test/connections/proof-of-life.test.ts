/**
 * The guard's socket evidence on real loopback sockets with a stand-in judge:
 * when a path is judged gone, a connection whose socket heard from its peer since
 * the evidence began is kept (and watched again), the others are closed; the
 * keepalive probe makes an idle socket show life and is restored afterwards.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionGuard } from '../../src/connections/connection-guard';
import type { AliveInfo, ClosedInfo } from '../../src/connections/tracked-connection';
import { realClock, VirtualClock } from '../../src/judge/clock';
import type { EvidenceEntry } from '../../src/judge/types';
import { loadBinding } from '../../src/native/binding';
import { FakeJudge, type FakeWatch } from '../helpers/fake-judge';
import { connectFrom, echoServer } from './fixtures/loopback';
import { waitUntil } from './fixtures/wait';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

async function clients(n: number, localAddress: string): Promise<net.Socket[]> {
  const { port } = await echoServer(cleanup);
  const list = await connectFrom(cleanup, port, localAddress, n);
  for (const s of list) s.on('error', () => undefined);
  return list;
}

function keepaliveOf(s: net.Socket): number[] {
  return Array.from(loadBinding().tcpKeepalive((s as unknown as { _handle: { fd: number } })._handle.fd)).slice(1);
}

function suspect(w: FakeWatch, since: number): void {
  const evidence: EvidenceEntry[] = [{ time: since, kind: 'state', summary: 'test: suspect (no-route)' }];
  w.state = 'suspect';
  w.emit('suspect', { reason: 'no-route', deadline: since + 3000, evidence });
}

function gone(w: FakeWatch, since: number): void {
  w.state = 'gone';
  w.emit('gone', { reason: 'no-route', evidence: [{ time: since, kind: 'state', summary: 'test: suspect (no-route)' }] });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ConnectionGuard: proof of life', () => {
  it('keeps the connection that was acked after the evidence began, closes the idle one, and watches the kept one again', async () => {
    const [busy, idle] = await clients(2, '127.0.0.2');
    const judge = new FakeJudge();
    const guard = new ConnectionGuard({ judge, sampleIntervalMs: 20 });
    cleanup.push(() => guard.close());
    const tBusy = guard.track(busy);
    const tIdle = guard.track(idle);
    const alive: AliveInfo[] = [];
    const closed: ClosedInfo[] = [];
    guard.on('alive', (info) => alive.push(info));
    guard.on('closed', (_c, info) => closed.push(info));
    const since = realClock.now();
    suspect(judge.watchesOf('127.0.0.2')[0], since);
    await sleep(50);
    busy.write(Buffer.alloc(3300, 7));
    await waitUntil(() => tBusy.socketEvidence.length > 0, 2000);
    expect(tBusy.socketEvidence[0].summary).toMatch(/^acked 3\.2 KiB, received 3\.2 KiB at \+0\.\d s$/);
    gone(judge.watchesOf('127.0.0.2')[0], since);
    await waitUntil(() => closed.length === 1);
    expect(closed[0].error?.reason).toBe('no-route');
    expect(tIdle.state).toBe('closed');
    expect(idle.destroyed).toBe(true);
    expect(alive).toHaveLength(1);
    expect(alive[0].proof.ackedBytes).toBe(3300);
    expect(alive[0].evidence.map((e) => e.kind)).toEqual(['state', 'socket']);
    expect(busy.destroyed).toBe(false);
    expect(tBusy.state).toBe('watching');
    expect(judge.calls).toHaveLength(2); // a fresh watch of the same path
    expect(judge.watchesOf('127.0.0.2')).toHaveLength(1);
    expect(guard.counters().sockets).toMatchObject({ keptAlive: 1, unavailable: 0 });
    expect(guard.counters().sockets.samples).toBeGreaterThanOrEqual(4);
  });

  it('a connection kept once must show life again in the next window', async () => {
    const [s] = await clients(1, '127.0.0.3');
    const judge = new FakeJudge();
    const guard = new ConnectionGuard({ judge, sampleIntervalMs: 20 });
    cleanup.push(() => guard.close());
    const t = guard.track(s);
    const since = realClock.now();
    suspect(judge.watchesOf('127.0.0.3')[0], since);
    await sleep(50);
    s.write('hello');
    await waitUntil(() => t.socketEvidence.length > 0, 2000);
    gone(judge.watchesOf('127.0.0.3')[0], since);
    expect(t.state).toBe('watching');
    await sleep(50);
    const again = realClock.now();
    suspect(judge.watchesOf('127.0.0.3')[0], again);
    await sleep(100);
    gone(judge.watchesOf('127.0.0.3')[0], again);
    expect(t.closeError?.reason).toBe('no-route');
    await waitUntil(() => t.state === 'closed');
  });

  it('the keepalive probe makes an idle socket show life, and is restored when the path recovers', async () => {
    const [s, other] = await clients(2, '127.0.0.4');
    const judge = new FakeJudge();
    const guard = new ConnectionGuard({ judge, sampleIntervalMs: 50, probe: true });
    cleanup.push(() => guard.close());
    const t = guard.track(s);
    guard.track(other);
    const before = keepaliveOf(s);
    const since = realClock.now();
    suspect(judge.watchesOf('127.0.0.4')[0], since);
    expect(keepaliveOf(s)).toEqual([1, 1, 1, 127, before[4]]);
    // Nothing is written: only the keepalive probe (after 1 s idle) can bring an ACK.
    await waitUntil(() => t.socketEvidence.length > 0, 4000);
    expect(t.socketEvidence[0].summary).toMatch(/^ACK received at \+\d\.\d s$/);
    expect(guard.counters().sockets).toMatchObject({ probed: 2, probeFailures: 0 });
    const w = judge.watchesOf('127.0.0.4')[0];
    w.state = 'viable';
    w.emit('recovered', { reason: 'no-route', suspectForMs: 1500, evidence: [] });
    expect(keepaliveOf(s)).toEqual(before);
    expect(guard.counters().sockets.probesRestored).toBe(2);
  });

  it('samples on the injected clock, only while a path is suspect, all sockets in one call per tick', async () => {
    const sockets = await clients(3, '127.0.0.6');
    const clock = new VirtualClock(realClock.now());
    const judge = new FakeJudge();
    const guard = new ConnectionGuard({ judge, clock, sampleIntervalMs: 500 });
    cleanup.push(() => guard.close());
    const tracked = sockets.map((s) => guard.track(s));
    expect(clock.pending).toBe(0); // nothing suspect: no timer
    const binding = loadBinding();
    const calls: number[] = [];
    const original = binding.tcpInfo;
    binding.tcpInfo = (fds) => {
      calls.push(fds.length);
      return original(fds);
    };
    cleanup.push(() => (binding.tcpInfo = original));
    const w = judge.watchesOf('127.0.0.6')[0];
    suspect(w, clock.now());
    expect(calls).toEqual([3]); // the baselines
    expect(clock.pending).toBe(1);
    // Time moves on only when the test says so. (What a sample proves is tested on the real
    // clock above: the kernel's ages are in real time.)
    await new Promise((r) => setTimeout(r, 600));
    expect(calls).toEqual([3]);
    expect(tracked.every((t) => t.state === 'watching')).toBe(true);
    clock.advance(1500);
    expect(calls).toEqual([3, 3, 3, 3]);
    w.state = 'viable';
    w.emit('recovered', { reason: 'no-route', suspectForMs: 1500, evidence: [] });
    expect(clock.pending).toBe(0); // the timer went with the last suspect path
    clock.advance(5000);
    expect(calls).toHaveLength(4);
  });
});
