/**
 * Path derivation from real loopback sockets: connected, not yet connected,
 * destroyed, peer already gone, IPv4-mapped (dual-stack), ws before/after open,
 * and link-local zones.
 */
import { EventEmitter, once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { MemoryNetworkState } from '../../src/replay/memory-network';
import type { Address, Link } from '../../src/netlink/types';
import type { NetworkSource } from '../../src/netlink/view';
import {
  connectionKind,
  derivePath,
  readiness,
  readSocketAddresses,
  transportOf,
  whenConnected,
  type SocketAddresses,
} from '../../src/connections/socket-path';
import { waitUntil } from './fixtures/wait';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

async function listen(host: string, opts: net.ServerOpts = {}): Promise<{ server: net.Server; port: number; accepted: net.Socket[] }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer(opts, (s) => {
    s.on('error', () => undefined);
    accepted.push(s);
  });
  server.listen(0, host);
  await once(server, 'listening');
  cleanup.push(() => {
    for (const s of accepted) s.destroy();
    server.close();
  });
  return { server, port: (server.address() as net.AddressInfo).port, accepted };
}

function connect(port: number, host: string, localAddress?: string): net.Socket {
  const s = net.connect({ port, host, localAddress });
  s.on('error', () => undefined);
  cleanup.push(() => s.destroy());
  return s;
}

function link(index: number, name: string): Link {
  return {
    index, name, flags: 0x11043, up: true, running: true, lowerUp: true, operstate: 'up', carrier: true, mtu: 1500,
    kind: 'veth', master: null, hardwareAddress: null, type: 1,
  };
}

function address6(index: number, address: string): Address {
  return {
    family: 6, index, prefixLength: 64, scope: 253, flags: 0x80, address, local: null, label: null,
    preferredLifetime: null, validLifetime: null,
  };
}

function sourceOf(state: MemoryNetworkState, oif: number | null = null): NetworkSource {
  const events = new EventEmitter();
  return {
    state,
    synced: true,
    lookupRoute: () =>
      oif === null
        ? { ok: false, code: 'ENETUNREACH', errno: 101, message: 'no route' }
        : { ok: true, route: { oif } as never },
    on(event: 'event', fn: (...a: unknown[]) => void) {
      events.on(event, fn);
      return this;
    },
    off(event: 'event', fn: (...a: unknown[]) => void) {
      events.off(event, fn);
      return this;
    },
  } as NetworkSource;
}

describe('readSocketAddresses / readiness', () => {
  it('reads both ends of a connected IPv4 socket, canonical, from either side', async () => {
    const { port, accepted } = await listen('127.0.0.1');
    const client = connect(port, '127.0.0.1', '127.0.0.2');
    await once(client, 'connect');
    expect(readiness(client)).toBe('connected');
    const r = readSocketAddresses(client);
    expect(r).toEqual({
      ok: true,
      addresses: { local: '127.0.0.2', localPort: client.localPort, remote: '127.0.0.1', remotePort: port, family: 4, zone: null },
    });
    await new Promise((res) => setTimeout(res, 20));
    const server = readSocketAddresses(accepted[0]);
    expect(server.ok && server.addresses).toMatchObject({ local: '127.0.0.1', remote: '127.0.0.2', remotePort: client.localPort });
  });

  it('maps the IPv4-mapped addresses of a dual-stack socket back to IPv4', async () => {
    const { port, accepted } = await listen('::');
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    await new Promise((res) => setTimeout(res, 20));
    expect(accepted[0].remoteAddress).toBe('::ffff:127.0.0.1'); // what Node reports
    const r = readSocketAddresses(accepted[0]);
    expect(r.ok && r.addresses).toMatchObject({ local: '127.0.0.1', remote: '127.0.0.1', family: 4 });
  });

  it('says pending for a socket not connected yet and closed for a destroyed one, without throwing', async () => {
    const fresh = new net.Socket();
    expect(readiness(fresh)).toBe('pending');
    expect(readSocketAddresses(fresh)).toMatchObject({ ok: false });
    const { port } = await listen('127.0.0.1');
    const connecting = connect(port, '127.0.0.1');
    expect(readiness(connecting)).toBe('pending');
    await once(connecting, 'connect');
    connecting.destroy();
    expect(readiness(connecting)).toBe('closed');
    expect(readSocketAddresses(connecting)).toEqual({ ok: false, code: 'EBADF', localPort: null });
  });

  it('reports the errno when the peer reset before the address was read (getpeername fails)', async () => {
    const { port, accepted } = await listen('127.0.0.1', { pauseOnConnect: true });
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    await waitUntil(() => accepted.length === 1);
    client.resetAndDestroy();
    await new Promise((res) => setTimeout(res, 50));
    // The server has not read anything, so its socket is open but the peer is gone.
    expect(accepted[0].destroyed).toBe(false);
    const r = readSocketAddresses(accepted[0]);
    expect(r).toEqual({ ok: false, code: 'ENOTCONN', localPort: port });
  });

  it('finds the socket under a ws WebSocket only once it is open', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    cleanup.push(() => wss.close());
    const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`);
    cleanup.push(() => ws.terminate());
    expect(connectionKind(ws)).toBe('websocket');
    expect(readiness(ws)).toBe('pending');
    expect(transportOf(ws)).toBeNull();
    const connected = await new Promise<boolean>((res) => whenConnected(ws, res));
    expect(connected).toBe(true);
    expect(readiness(ws)).toBe('connected');
    const r = readSocketAddresses(transportOf(ws)!);
    expect(r.ok && r.addresses.remote).toBe('127.0.0.1');
    ws.close();
    await once(ws, 'close');
    expect(readiness(ws)).toBe('closed');
  });

  it('whenConnected reports false when the socket closes before connecting, and can be cancelled', async () => {
    const refused = connect(1, '127.0.0.1'); // nothing listens on port 1
    const connected = await new Promise<boolean>((res) => whenConnected(refused, res));
    expect(connected).toBe(false);
    const { port } = await listen('127.0.0.1');
    const s = connect(port, '127.0.0.1');
    let called = false;
    const cancel = whenConnected(s, () => (called = true));
    cancel();
    await once(s, 'connect');
    expect(called).toBe(false);
  });

  it('classifies connections and rejects other values', () => {
    expect(connectionKind(new net.Socket())).toBe('tcp');
    expect(connectionKind({})).toBeNull();
    expect(connectionKind(null)).toBeNull();
  });
});

describe('derivePath', () => {
  const v4: SocketAddresses = { local: '192.0.2.2', localPort: 40000, remote: '192.0.2.1', remotePort: 443, family: 4, zone: null };

  it('gives the judge key and leaves ifindex out for global addresses', () => {
    const r = derivePath(v4, null, 7);
    expect(r).toEqual({
      ok: true,
      path: { spec: { local: '192.0.2.2', remote: '192.0.2.1', mark: 7 }, key: '192.0.2.2|192.0.2.1||7' },
    });
  });

  it('resolves a link-local zone by name, by number, or from the one interface holding the address', () => {
    const state = new MemoryNetworkState({ links: [link(4, 'veth0'), link(5, 'veth1')], addresses: [address6(5, 'fe80::2')] });
    const source = sourceOf(state);
    const ll: SocketAddresses = { local: 'fe80::2', localPort: 1, remote: 'fe80::1', remotePort: 2, family: 6, zone: 'veth0' };
    expect(derivePath(ll, source)).toMatchObject({ ok: true, path: { spec: { ifindex: 4 }, key: 'fe80::2|fe80::1|4|' } });
    expect(derivePath({ ...ll, zone: '9' }, source)).toMatchObject({ ok: true, path: { spec: { ifindex: 9 } } });
    expect(derivePath({ ...ll, zone: null }, source)).toMatchObject({ ok: true, path: { spec: { ifindex: 5 } } });
  });

  it('falls back to the kernel lookup, and fails (without throwing) when nothing can tell the interface', () => {
    const state = new MemoryNetworkState({ links: [link(4, 'veth0')] });
    const ll: SocketAddresses = { local: 'fe80::2', localPort: 1, remote: 'fe80::1', remotePort: 2, family: 6, zone: null };
    expect(derivePath(ll, sourceOf(state, 4))).toMatchObject({ ok: true, path: { spec: { ifindex: 4 } } });
    expect(derivePath(ll, sourceOf(state))).toMatchObject({ ok: false, code: 'ERR_NO_INTERFACE' });
    expect(derivePath({ ...ll, zone: 'nonexistent0' }, null)).toMatchObject({ ok: false, code: 'ERR_NO_INTERFACE' });
  });
});

