/**
 * ConnectionGuard on real loopback sockets with a stand-in judge (FakeJudge):
 * grouping by path, acting on verdicts (close / notify / callback), ws close
 * modes, isolation of failing callbacks and listeners, lifecycle edge cases.
 * Two paths on one host: 127.0.0.2 -> 127.0.0.1 and 127.0.0.3 -> 127.0.0.1.
 */
import { EventEmitter, once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ConnectionGuard } from '../../src/connections/connection-guard';
import { GuardClosedError, RouteGoneError } from '../../src/connections/errors';
import type { ConnectionVerdict, TrackedConnection } from '../../src/connections/tracked-connection';
import { InvalidArgumentError } from '../../src/errors';
import { FakeJudge } from '../helpers/fake-judge';
import { connectFrom as loopbackConnectFrom, echoServer as loopbackEchoServer } from './fixtures/loopback';
import { waitUntil } from './fixtures/wait';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

const echoServer = () => loopbackEchoServer(cleanup);
const connectFrom = (port: number, localAddress: string, n: number) => loopbackConnectFrom(cleanup, port, localAddress, n);

function newGuard(judge: FakeJudge, options: Partial<ConstructorParameters<typeof ConnectionGuard>[0]> = {}): ConnectionGuard {
  const guard = new ConnectionGuard({ judge, ...options });
  cleanup.push(() => guard.close());
  return guard;
}


describe('ConnectionGuard: tracking', () => {
  it('groups sockets by path: one watch per path, shared by all its sockets', async () => {
    const { port } = await echoServer();
    const judge = new FakeJudge();
    const guard = newGuard(judge);
    const a = await connectFrom(port, '127.0.0.2', 20);
    const b = await connectFrom(port, '127.0.0.3', 5);
    const tracked = [...a, ...b].map((s) => guard.track(s));
    expect(tracked.every((t) => t.state === 'watching')).toBe(true);
    expect(judge.calls).toHaveLength(2);
    expect(judge.watchesOf('127.0.0.2')).toHaveLength(1);
    expect(guard.counters()).toMatchObject({ tracked: 25, paths: 2, trackedTotal: 25, pending: 0 });
    expect(tracked[0].path).toEqual({ local: '127.0.0.2', remote: '127.0.0.1' });
    expect(tracked[0].key).toBe('127.0.0.2|127.0.0.1||');
    expect(tracked[0].addresses).toMatchObject({ localPort: a[0].localPort, remotePort: port });
    expect(guard.track(a[0])).toBe(tracked[0]); // same socket, same record
  });

  it('untracks by itself when a socket closes; the watch closes with its last socket', async () => {
    const { port } = await echoServer();
    const judge = new FakeJudge();
    const guard = newGuard(judge);
    const [s1, s2] = await connectFrom(port, '127.0.0.2', 2);
    const t1 = guard.track(s1);
    guard.track(s2);
    const watch = judge.watchesOf('127.0.0.2')[0];
    const closed: unknown[] = [];
    t1.on('closed', (info) => closed.push(info));
    s1.destroy();
    await waitUntil(() => t1.state === 'closed');
    expect(closed).toEqual([{ byGuard: false, error: null }]);
    expect(watch.closed).toBe(false);
    s2.end();
    await waitUntil(() => guard.counters().tracked === 0);
    expect(watch.closed).toBe(true);
    expect(guard.counters().paths).toBe(0);
  });

  it('waits for a socket that is still connecting, and handles sockets already closed', async () => {
    const { port } = await echoServer();
    const guard = newGuard(new FakeJudge());
    const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    cleanup.push(() => s.destroy());
    const t = guard.track(s);
    expect(t.state).toBe('pending');
    expect(guard.counters().pending).toBe(1);
    await once(s, 'connect');
    expect(t.state).toBe('watching');

    const never = net.connect({ port: 1, host: '127.0.0.1' }); // refused
    never.on('error', () => undefined);
    const tn = guard.track(never);
    await new Promise((r) => never.once('close', r));
    expect(tn.state).toBe('closed');
    expect(tn.path).toBeNull();

    const gone = new net.Socket();
    gone.destroy();
    expect(guard.track(gone).state).toBe('closed');
    expect(guard.counters()).toMatchObject({ tracked: 1, pending: 0 });
  });

  it('leaves a socket whose peer is already gone unresolved instead of throwing, unless addresses are known', async () => {
    const peers: net.Socket[] = [];
    const server = net.createServer({ pauseOnConnect: true }, (p) => peers.push(p));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => server.close());
    const port = (server.address() as net.AddressInfo).port;
    const clients = await connectFrom(port, '127.0.0.2', 2);
    await waitUntil(() => peers.length === 2);
    for (const c of clients) c.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    for (const p of peers) p.on('error', () => undefined);
    cleanup.push(() => peers.forEach((p) => p.destroy()));
    const guard = newGuard(new FakeJudge());
    const unresolved: string[] = [];
    guard.on('unresolved', (_t, code) => unresolved.push(code));
    const t = guard.track(peers[0]);
    expect(t.state).toBe('unresolved');
    expect(t.unresolvedReason).toBe('ENOTCONN');
    expect(unresolved).toEqual(['ENOTCONN']);
    const known = { local: '127.0.0.1', localPort: port, remote: '127.0.0.2', remotePort: 1, family: 4 as const, zone: null };
    expect(guard.track(peers[1], { addresses: known }).path).toEqual({ local: '127.0.0.1', remote: '127.0.0.2' });
    expect(guard.counters()).toMatchObject({ unresolved: 1, unresolvedTotal: 1 });
  });

  it('rejects misuse with coded errors', () => {
    const guard = newGuard(new FakeJudge());
    expect(() => guard.track({} as never)).toThrow(InvalidArgumentError);
    expect(() => guard.track(new net.Socket(), { closeMode: 'slam' as never })).toThrow(/closeMode/);
    expect(() => new ConnectionGuard({} as never)).toThrow(/source.*judge/);
    guard.close();
    expect(() => guard.track(new net.Socket())).toThrow(GuardClosedError);
  });

  it('refuses bad options when they are given, before it subscribes to anything', () => {
    const judge = new FakeJudge();
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      // Node's timers fire after 1 ms past 2^31 - 1: a 30-day timeout would act at once.
      [{ closeTimeoutMs: 2 ** 31 }, /closeTimeoutMs must be a number of milliseconds from 0 to 2147483647/],
      [{ sampleIntervalMs: 1e10 }, /sampleIntervalMs/],
      [{ sampleIntervalMs: Infinity }, /sampleIntervalMs/],
      [{ probe: { idleMs: 'x' } }, /probe\.idleMs/],
      [{ probe: { count: 0 } }, /probe\.count must be an integer from 1 to 127/],
      [{ probe: { userTimeoutMs: -1 } }, /probe\.userTimeoutMs/],
      [{ probe: 'yes' }, /probe must be true, false or an object/],
      [{ logger: {} }, /logger must be a pino-like logger; it lacks trace, debug/],
      [{ clock: 5 }, /clock must have now\(\), setTimeout/],
    ];
    for (const [options, message] of bad) {
      expect(() => new ConnectionGuard({ judge, ...options } as never)).toThrow(message);
      expect(() => new ConnectionGuard({ judge, ...options } as never)).toThrow(InvalidArgumentError);
    }
    // A source that is not one, and a bad option next to a good source: nothing stays subscribed.
    expect(() => new ConnectionGuard({ source: {} as never })).toThrow(/needs a network source/);
    const source = Object.assign(new EventEmitter(), { state: {}, synced: true, lookupRoute: () => ({ ok: false }) });
    expect(() => new ConnectionGuard({ source: source as never, logger: {} as never })).toThrow(InvalidArgumentError);
    expect(() => new ConnectionGuard({ source: source as never, judgeOptions: { clock: {} as never } })).toThrow(/clock must have/);
    expect(source.listenerCount('event') + source.listenerCount('close')).toBe(0);
  });
});

describe('ConnectionGuard: acting on verdicts', () => {
  it("closes only the gone path's sockets, with a RouteGoneError; the others stay open", async () => {
    const { port } = await echoServer();
    const judge = new FakeJudge();
    const guard = newGuard(judge);
    const lost = await connectFrom(port, '127.0.0.2', 10);
    const kept = await connectFrom(port, '127.0.0.3', 3);
    const errors: Error[] = [];
    lost[0].on('error', (e) => errors.push(e)); // with a listener, destroy() carries the error
    const tracked = [...lost, ...kept].map((s) => guard.track(s));
    const pathEvents: unknown[] = [];
    guard.on('verdict', (v) => pathEvents.push({ type: v.type, connections: v.connections }));
    expect(judge.gone('127.0.0.2', 'link-removed')).toBe(1);
    await waitUntil(() => lost.every((s) => s.destroyed));
    expect(kept.some((s) => s.destroyed)).toBe(false);
    expect(pathEvents).toEqual([{ type: 'gone', connections: 10 }]);
    const err = tracked[0].closeError!;
    expect(err).toBeInstanceOf(RouteGoneError);
    expect(err).toMatchObject({ code: 'ERR_ROUTE_GONE', reason: 'link-removed', path: { local: '127.0.0.2' } });
    expect(err.evidence).toHaveLength(1);
    await waitUntil(() => errors.length > 0);
    expect(errors).toEqual([err]);
    await waitUntil(() => guard.counters().tracked === 3);
    expect(guard.counters()).toMatchObject({ closedByGuard: 10, paths: 1, verdicts: { gone: 1 } });
    // The kept sockets still carry data.
    kept[0].write('ping');
    const [data] = await once(kept[0], 'data');
    expect(String(data)).toBe('ping');
  });

  it('gives a new connection on a path that was gone a fresh watch', async () => {
    const { port } = await echoServer();
    const judge = new FakeJudge();
    const guard = newGuard(judge, { action: 'notify' });
    const [first] = await connectFrom(port, '127.0.0.2', 1);
    guard.track(first);
    judge.gone('127.0.0.2');
    const [second] = await connectFrom(port, '127.0.0.2', 1);
    expect(guard.track(second).verdict).toBe('viable');
    expect(judge.calls).toHaveLength(2);
  });

  it("'notify' emits suspect / recovered / changed / gone and closes nothing", async () => {
    const { port } = await echoServer();
    const judge = new FakeJudge();
    const guard = newGuard(judge, { action: 'notify' });
    const [s] = await connectFrom(port, '127.0.0.2', 1);
    const t = guard.track(s);
    const seen: string[] = [];
    for (const e of ['suspect', 'recovered', 'changed', 'gone'] as const) t.on(e, () => seen.push(e));
    judge.suspect('127.0.0.2');
    expect(t.verdict).toBe('suspect');
    judge.recover('127.0.0.2');
    judge.change('127.0.0.2', { previous: null, current: { oif: 2, preferredSource: null, gateway: null, table: 254 }, route: {} as never });
    judge.gone('127.0.0.2');
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(['suspect', 'recovered', 'changed', 'gone']);
    expect(s.destroyed).toBe(false);
    expect(t.verdict).toBe('gone');
    expect(guard.counters().closedByGuard).toBe(0);
  });

  it('a callback action sees every verdict; one that throws or rejects does not affect the others', async () => {
    const { port } = await echoServer();
    const judge = new FakeJudge();
    const guard = newGuard(judge);
    const sockets = await connectFrom(port, '127.0.0.2', 4);
    const calls: Array<[number, string]> = [];
    const failed: unknown[] = [];
    guard.on('action-failed', (err) => failed.push(err));
    sockets.forEach((s, i) =>
      guard.track(s, {
        action: async (verdict: ConnectionVerdict, conn: TrackedConnection) => {
          if (i === 0) throw new Error('sync-ish failure');
          calls.push([i, verdict.type]);
          if (i === 1) return Promise.reject(new Error('async failure'));
          if (verdict.type === 'changed') conn.close(); // migrate: the app closes it itself
        },
      }),
    );
    judge.suspect('127.0.0.2');
    judge.change('127.0.0.2', { previous: null, current: { oif: 2, preferredSource: null, gateway: null, table: 254 }, route: {} as never });
    await waitUntil(() => failed.length === 4);
    expect(calls.filter(([, t]) => t === 'suspect').map(([i]) => i)).toEqual([1, 2, 3]);
    expect(calls.filter(([, t]) => t === 'changed').map(([i]) => i)).toEqual([1, 2, 3]);
    expect(failed.map((e) => (e as Error).message).sort()).toEqual(['async failure', 'async failure', 'sync-ish failure', 'sync-ish failure']);
    expect(guard.counters().actionFailures).toBe(4);
    await waitUntil(() => sockets[2].destroyed && sockets[3].destroyed);
    expect(sockets[0].destroyed || sockets[1].destroyed).toBe(false);
  });

  it('a throwing event listener on one connection does not keep the next from hearing', async () => {
    const { port } = await echoServer();
    const judge = new FakeJudge();
    const guard = newGuard(judge, { action: 'notify' });
    const sockets = await connectFrom(port, '127.0.0.2', 3);
    const heard: number[] = [];
    sockets.forEach((s, i) =>
      guard.track(s).on('suspect', () => {
        heard.push(i);
        if (i === 0) throw new Error('listener bug');
      }),
    );
    guard.on('suspect', () => {
      throw new Error('guard listener bug');
    });
    expect(() => judge.suspect('127.0.0.2')).not.toThrow();
    expect(heard).toEqual([0, 1, 2]);
    expect(guard.counters().listenerFailures).toBe(2);
  });
});

describe('ConnectionGuard: WebSockets', () => {
  async function wsPair(guard: ConnectionGuard): Promise<{ client: WebSocket; serverSide: Promise<{ code: number }>; tracked: TrackedConnection }> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    cleanup.push(() => wss.close());
    const serverSide = new Promise<{ code: number }>((resolve) =>
      wss.on('connection', (ws) => ws.on('close', (code) => resolve({ code }))),
    );
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`, { localAddress: '127.0.0.2' });
    cleanup.push(() => client.terminate());
    const tracked = guard.track(client); // still connecting: resolved on 'open'
    expect(tracked.state).toBe('pending');
    await once(client, 'open');
    expect(tracked.state).toBe('watching');
    return { client, serverSide, tracked };
  }

  it('terminates by default: no close handshake over a dead path', async () => {
    const judge = new FakeJudge();
    const guard = newGuard(judge);
    const { client, serverSide, tracked } = await wsPair(guard);
    const closedAt = once(client, 'close');
    judge.gone('127.0.0.2');
    const [code] = await closedAt;
    expect(code).toBe(1006); // abnormal: no close frame was sent
    expect(tracked.closeError?.code).toBe('ERR_ROUTE_GONE');
    expect((await serverSide).code).toBe(1006);
  });

  it("closeMode 'close' sends 1001 and terminates if the handshake does not finish in time", async () => {
    const judge = new FakeJudge();
    const guard = newGuard(judge, { closeMode: 'close', closeTimeoutMs: 200 });
    const { client, serverSide } = await wsPair(guard);
    judge.gone('127.0.0.2');
    expect((await serverSide).code).toBe(1001);
    await once(client, 'close');

    // The peer's answer never gets through (our side reads nothing): the deadline terminates the socket.
    const { client: c2, tracked } = await wsPair(guard);
    (c2 as unknown as { _socket: net.Socket })._socket.pause();
    const t0 = Date.now();
    judge.gone('127.0.0.2');
    await once(c2, 'close');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(tracked.state).toBe('closed');
  });

  it('refuses a close code ws would refuse to send, when the option is given, not at the verdict', () => {
    const judge = new FakeJudge();
    for (const code of [999, 1004, 1005, 1006, 1015, 2000, 2999, 5000, 1001.5]) {
      expect(() => new ConnectionGuard({ judge, closeMode: 'close', closeCode: code })).toThrow(InvalidArgumentError);
    }
    const guard = newGuard(judge);
    expect(() => guard.track(new net.Socket(), { closeCode: 1015 })).toThrow(/closeCode must be a close code an endpoint may send/);
    for (const code of [1000, 1001, 1003, 1007, 1014, 3000, 4999]) {
      expect(() => new ConnectionGuard({ judge, closeMode: 'close', closeCode: code }).close()).not.toThrow();
    }
  });

  it("a WebSocket whose close() throws is terminated, and the path's other connections still close", async () => {
    const judge = new FakeJudge();
    const guard = newGuard(judge, { closeMode: 'close', closeTimeoutMs: 5000 });
    const first = await wsPair(guard);
    const second = await wsPair(guard);
    // Both on 127.0.0.2 -> 127.0.0.1: one path, one verdict for both.
    first.client.close = () => {
      throw new Error('close() refused');
    };
    const warnings: string[] = [];
    (guard as unknown as { log: { warn: (o: unknown, m: string) => void } }).log.warn = (_o, m) => warnings.push(m);
    const closed = Promise.all([once(first.client, 'close'), once(second.client, 'close')]);
    judge.gone('127.0.0.2');
    const [[firstCode], [secondCode]] = await closed;
    expect(firstCode).toBe(1006); // terminated: the refused close() sent nothing
    expect(secondCode).toBe(1001);
    expect(first.tracked.state).toBe('closed');
    expect(second.tracked.state).toBe('closed');
    expect(warnings.filter((m) => m.includes('close() threw'))).toEqual(['WebSocket close() threw: terminated instead']);
    expect(guard.counters().closedByGuard).toBe(2);
  });
});
