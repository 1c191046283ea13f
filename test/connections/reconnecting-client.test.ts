/**
 * ReconnectingWebSocket on loopback with a stand-in judge and a scripted
 * network source: waits for a route after a gone close, backs off with jitter,
 * gives up after maxAttempts, and stops on close().
 */
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { InvalidArgumentError, MonitorClosedError } from '../../src/errors';
import { ConnectionGuard } from '../../src/connections/connection-guard';
import { ReconnectingWebSocket } from '../../src/connections/reconnecting-client';
import { MemoryNetworkState } from '../../src/replay/memory-network';
import type { NetworkEvent, RouteQuery } from '../../src/netlink/types';
import type { NetworkSource, RouteLookupResult } from '../../src/netlink/view';
import { FakeJudge } from '../helpers/fake-judge';
import { waitUntil } from './fixtures/wait';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

/** A source whose route answer the test sets; events are emitted by hand. */
class ScriptedSource extends EventEmitter implements NetworkSource {
  readonly state = new MemoryNetworkState();
  readonly synced = true;
  routed = true;
  closed = false;
  lookups: RouteQuery[] = [];
  lookupRoute(query: RouteQuery): RouteLookupResult {
    this.lookups.push(query);
    // As a closed NetlinkMonitor does.
    if (this.closed) throw new MonitorClosedError('lookupRoute()');
    return this.routed
      ? { ok: true, route: { type: 'unicast', oif: 1 } as never }
      : { ok: false, code: 'ENETUNREACH', errno: 101, message: 'Network is unreachable' };
  }
  poke(): void {
    this.emit('event', { type: 'route', action: 'added', time: Date.now() } as unknown as NetworkEvent);
  }
}

async function server(): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
  await once(wss, 'listening');
  cleanup.push(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
  });
  return { wss, port: (wss.address() as AddressInfo).port };
}

function setup(options: Partial<ConstructorParameters<typeof ReconnectingWebSocket>[1]> = {}) {
  const judge = new FakeJudge();
  const source = new ScriptedSource();
  const guard = new ConnectionGuard({ judge, source });
  cleanup.push(() => guard.close());
  return { judge, source, guard, options: { guard, ws: { localAddress: '127.0.0.2' }, random: () => 0, ...options } };
}

function record(client: ReconnectingWebSocket): string[] {
  const log: string[] = [];
  client.on('open', () => log.push('open'));
  client.on('close', (i) => log.push(`close:${i.gone ? i.gone.code : i.code}:${i.willReconnect}`));
  client.on('waiting-for-route', () => log.push('waiting'));
  client.on('route-available', () => log.push('route'));
  client.on('reconnecting', (r) => log.push(`reconnecting:${r.delayMs}`));
  client.on('connect-failed', () => log.push('failed'));
  client.on('gave-up', () => log.push('gave-up'));
  return log;
}


describe('ReconnectingWebSocket', () => {
  it('after a gone close, waits until a route exists again, then reconnects', async () => {
    const { port } = await server();
    const { judge, source, options } = setup({ initialDelayMs: 40 });
    const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, options);
    cleanup.push(() => client.close());
    const log = record(client);
    await waitUntil(() => client.state === 'open');
    expect(client.tracked?.path).toEqual({ local: '127.0.0.2', remote: '127.0.0.1' });
    source.routed = false;
    judge.gone('127.0.0.2');
    await waitUntil(() => client.state === 'waiting-for-route');
    await new Promise((r) => setTimeout(r, 100));
    expect(client.state).toBe('waiting-for-route'); // no route: no attempt
    expect(client.attemptCount).toBe(1);
    source.routed = true;
    source.poke();
    await waitUntil(() => client.state === 'open');
    expect(log).toEqual(['open', 'close:ERR_ROUTE_GONE:true', 'waiting', 'route', 'reconnecting:40', 'open']);
    expect(source.lookups).toContainEqual({ to: '127.0.0.1' }); // the route check asks about the peer only
    expect(client.send('hello')).toBe(true);
    const [reply] = await once(client, 'message');
    expect(String(reply)).toBe('hello');
  });

  it('does not reconnect after an ordinary close in "gone" mode, and does in "unexpected" mode', async () => {
    const { wss, port } = await server();
    const a = setup();
    const plain = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, a.options);
    cleanup.push(() => plain.close());
    const plainLog = record(plain);
    await waitUntil(() => plain.state === 'open');
    for (const c of wss.clients) c.close(1000);
    await waitUntil(() => plain.state === 'closed');
    expect(plainLog).toEqual(['open', 'close:1000:false']);

    const b = setup({ reconnectOn: 'unexpected', initialDelayMs: 20 });
    const eager = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, b.options);
    cleanup.push(() => eager.close());
    const eagerLog = record(eager);
    await waitUntil(() => eager.state === 'open');
    for (const c of wss.clients) c.terminate();
    await waitUntil(() => eagerLog.filter((l) => l === 'open').length === 2);
    expect(eagerLog).toEqual(['open', 'close:1006:true', 'reconnecting:20', 'open']);
  });

  it('backs off exponentially with jitter while the server is down, and gives up after maxAttempts', async () => {
    const { wss, port } = await server();
    const { options } = setup({ reconnectOn: 'unexpected', initialDelayMs: 20, factor: 2, jitter: 0.5, random: () => 0.5, maxAttempts: 3 });
    const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, options);
    cleanup.push(() => client.close());
    const log = record(client);
    await waitUntil(() => client.state === 'open');
    for (const c of wss.clients) c.terminate();
    wss.close();
    await waitUntil(() => log.includes('gave-up'));
    // delay = base * (1 - 0.5 * 0.5): 20 -> 15, then 40 -> 30, 80 -> 60
    expect(log).toEqual([
      'open', 'close:1006:true', 'reconnecting:15', 'failed', 'reconnecting:30', 'failed', 'reconnecting:60', 'failed', 'gave-up',
    ]);
    expect(client.state).toBe('closed');
  });

  it('close() while waiting for a route stops everything', async () => {
    const { port } = await server();
    const { judge, source, options } = setup();
    const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, options);
    const log = record(client);
    await waitUntil(() => client.state === 'open');
    source.routed = false;
    judge.gone('127.0.0.2');
    await waitUntil(() => client.state === 'waiting-for-route');
    client.close();
    source.routed = true;
    source.poke();
    await new Promise((r) => setTimeout(r, 100));
    expect(client.state).toBe('closed');
    expect(log).toEqual(['open', 'close:ERR_ROUTE_GONE:true', 'waiting', 'close:1000:false']);
    expect(source.listenerCount('event')).toBe(0);
  });

  it('a route source that closes while waiting for a route does not leave it waiting: it tries to connect', async () => {
    const { port } = await server();
    const { judge, source, options } = setup();
    const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, { ...options, routeCheckMs: 20, initialDelayMs: 20 });
    cleanup.push(() => client.close());
    const log = record(client);
    await waitUntil(() => client.state === 'open');
    source.routed = false;
    judge.gone('127.0.0.2');
    await waitUntil(() => client.state === 'waiting-for-route');
    source.closed = true;
    await waitUntil(() => client.state === 'open');
    expect(log).toEqual(['open', 'close:ERR_ROUTE_GONE:true', 'waiting', 'route', 'reconnecting:20', 'open']);
  });

  it('validates its options', () => {
    const { options } = setup();
    expect(() => new ReconnectingWebSocket('ws://127.0.0.1:1', { ...options, guard: undefined as never })).toThrow(/guard/);
    expect(() => new ReconnectingWebSocket('ws://127.0.0.1:1', { ...options, jitter: 2 })).toThrow(/jitter/);
    expect(() => new ReconnectingWebSocket('not a url', options)).toThrow(/URL/);
    // Refused when given, with a code: none of these makes a socket, nor fires an event nobody can hear yet.
    const refused: Array<[string, Record<string, unknown>, RegExp]> = [
      ['ftp://127.0.0.1:1', {}, /must be ws:, wss:, http: or https:, got ftp:/],
      ['ws://127.0.0.1:1', { protocols: ['bad protocol'] }, /ReconnectingWebSocket: .*subprotocol/i],
      ['ws://127.0.0.1:1', { maxDelayMs: 2 ** 31 }, /maxDelayMs must be a number from 0 to 2147483647/],
      ['ws://127.0.0.1:1', { routeCheckMs: Infinity }, /routeCheckMs/],
      ['ws://127.0.0.1:1', { logger: {} }, /logger must be a pino-like logger/],
    ];
    for (const [url, extra, message] of refused) {
      expect(() => new ReconnectingWebSocket(url, { ...options, ...extra } as never)).toThrow(message);
      expect(() => new ReconnectingWebSocket(url, { ...options, ...extra } as never)).toThrow(InvalidArgumentError);
    }
  });

  it('close() with a code or reason a close frame cannot carry throws and changes nothing', async () => {
    const { port } = await server();
    const { options } = setup();
    const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, options);
    cleanup.push(() => client.close());
    const log = record(client);
    await waitUntil(() => client.state === 'open');
    expect(() => client.close(1005)).toThrow(InvalidArgumentError);
    expect(() => client.close(2000)).toThrow(/code must be 1000-1003, 1007-1014 or 3000-4999/);
    expect(() => client.close(1000, 'x'.repeat(124))).toThrow(/at most 123 bytes/);
    expect(client.state).toBe('open');
    expect(client.send('still here')).toBe(true);
    client.close(4000, 'done');
    await waitUntil(() => client.state === 'closed' && log.length === 2);
    expect(log).toEqual(['open', 'close:4000:false']);
  });
});
