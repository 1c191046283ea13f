/**
 * tcp_info through the addon on real loopback sockets: decoding, many sockets in
 * one call, net / TLS / ws connections, the reasons when no TcpInfo can be had,
 * and the keepalive probe read back from the kernel.
 */
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ConnectionGuard } from '../../src/connections/connection-guard';
import { restoreKeepalive, tightenKeepalive } from '../../src/connections/keepalive-probe';
import { decodeTcpInfo, readTcpInfo, TCP_INFO_FIELDS } from '../../src/connections/tcp-info';
import { loadBinding } from '../../src/native/binding';
import { FakeJudge } from '../helpers/fake-judge';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

async function echoPair(): Promise<{ client: net.Socket; server: net.Socket }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [peer] = (await accepted) as [net.Socket];
  peer.pipe(peer);
  cleanup.push(() => {
    client.destroy();
    peer.destroy();
    server.close();
  });
  return { client, server: peer };
}

async function echoOnce(s: net.Socket, bytes: number): Promise<void> {
  let got = 0;
  const done = new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      got += d.length;
      if (got >= bytes) {
        s.off('data', onData);
        resolve();
      }
    };
    s.on('data', onData);
  });
  s.write(Buffer.alloc(bytes, 1));
  await done;
}

function sampleWith(values: Partial<Record<number, number>>): Float64Array {
  const a = new Float64Array(TCP_INFO_FIELDS).fill(0);
  for (const [k, v] of Object.entries(values)) a[Number(k)] = v!;
  return a;
}

describe('decodeTcpInfo', () => {
  it('names the state and maps the fields; NaN (a field an older kernel lacks) is null', () => {
    const r = decodeTcpInfo(sampleWith({ 1: 1, 2: 3, 3: 2, 4: 5, 7: 120, 8: 40, 9: 1500, 12: NaN, 15: NaN }), 0);
    expect(r).toEqual({
      ok: true,
      info: expect.objectContaining({ state: 'established', retransmits: 3, backoff: 2, unacked: 5, lastDataRecvMs: 120, lastAckRecvMs: 40, rttUs: 1500, bytesAcked: null, delivered: null, bytesReceived: 0 }),
    });
    expect(decodeTcpInfo(sampleWith({ 1: 8 }), 0)).toMatchObject({ info: { state: 'close-wait' } });
    expect(decodeTcpInfo(sampleWith({ 1: 99 }), 0)).toMatchObject({ info: { state: 'unknown' } });
  });

  it('turns the errno of a socket that could not be read into a reason', () => {
    expect(decodeTcpInfo(sampleWith({ 0: 9 }), 0)).toEqual({ ok: false, reason: 'closed' });
    expect(decodeTcpInfo(sampleWith({ 0: 95 }), 0)).toEqual({ ok: false, reason: 'not-tcp' });
    expect(decodeTcpInfo(sampleWith({ 0: 88 }), 0)).toEqual({ ok: false, reason: 'not-tcp' });
    expect(decodeTcpInfo(sampleWith({ 0: 13 }), 0)).toEqual({ ok: false, reason: 'EACCES' });
  });

  it('refuses an index past the buffer', () => {
    expect(() => decodeTcpInfo(new Float64Array(TCP_INFO_FIELDS), 1)).toThrow(RangeError);
  });
});

describe('readTcpInfo (real sockets)', () => {
  it('reads many sockets in one call and sees the bytes the peer acknowledged', async () => {
    const pairs = await Promise.all(Array.from({ length: 5 }, () => echoPair()));
    await Promise.all(pairs.map((p, i) => echoOnce(p.client, 1000 * (i + 1))));
    const binding = loadBinding();
    const calls: number[] = [];
    const original = binding.tcpInfo;
    binding.tcpInfo = (fds) => {
      calls.push(fds.length);
      return original(fds);
    };
    cleanup.push(() => (binding.tcpInfo = original));
    const results = readTcpInfo(pairs.map((p) => p.client));
    expect(calls).toEqual([5]);
    results.forEach((r, i) => {
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.info.state).toBe('established');
      expect(r.info.bytesAcked).toBe(1000 * (i + 1) + 1); // +1: the SYN
      expect(r.info.bytesReceived).toBe(1000 * (i + 1));
      expect(r.info.unacked).toBe(0);
      expect(r.info.lastAckRecvMs).toBeLessThan(5000);
    });
  });

  it('gives a reason, never an exception, for sockets it cannot read', async () => {
    const { client } = await echoPair();
    const dir = mkdtempSync(path.join(tmpdir(), 'rg-unix-'));
    const unixServer = net.createServer((s) => s.on('error', () => undefined)).listen(path.join(dir, 's'));
    await once(unixServer, 'listening');
    const unix = net.connect(path.join(dir, 's'));
    await once(unix, 'connect');
    cleanup.push(() => {
      unix.destroy();
      unixServer.close();
    });
    const destroyed = (await echoPair()).client;
    destroyed.destroy();
    const pendingWs = new WebSocket('ws://127.0.0.1:1');
    pendingWs.on('error', () => undefined);
    cleanup.push(() => pendingWs.terminate());
    // TLS over a JS stream: its handle has no descriptor.
    const overStream = tls.connect({ socket: new Duplex({ read() {}, write(_c, _e, cb) { cb(); } }), rejectUnauthorized: false });
    overStream.on('error', () => undefined);
    cleanup.push(() => overStream.destroy());
    const results = readTcpInfo([client, unix, destroyed, pendingWs, overStream]);
    expect(results.map((r) => (r.ok ? r.info.state : r.reason))).toEqual(['established', 'not-tcp', 'closed', 'no-socket', 'no-descriptor']);
  });

  it('reads TLS sockets (client and server side) and ws connections through their TCP descriptor', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rg-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'pipe' });
    const serverSide: tls.TLSSocket[] = [];
    const server = tls.createServer({ key: readFileSync(`${dir}/k.pem`), cert: readFileSync(`${dir}/c.pem`) }, (s) => {
      serverSide.push(s);
      s.pipe(s);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const overTcp = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    await once(overTcp, 'secureConnect');
    const raw = net.connect(port, '127.0.0.1');
    await once(raw, 'connect');
    const wrapped = tls.connect({ socket: raw, rejectUnauthorized: false });
    await once(wrapped, 'secureConnect');
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`);
    await once(ws, 'open');
    cleanup.push(() => {
      ws.terminate();
      wss.close();
      overTcp.destroy();
      wrapped.destroy();
      raw.destroy();
      for (const s of serverSide) s.destroy();
      server.close();
    });
    const results = readTcpInfo([overTcp, wrapped, serverSide[0], ws as never]);
    expect(results.map((r) => (r.ok ? r.info.state : r.reason))).toEqual(['established', 'established', 'established', 'established']);
  });

  it('connection.tcpInfo() on a tracked connection; null with a reason once it is gone', async () => {
    const { client } = await echoPair();
    await echoOnce(client, 100);
    const guard = new ConnectionGuard({ judge: new FakeJudge() });
    cleanup.push(() => guard.close());
    const tracked = guard.track(client);
    expect(tracked.tcpInfo()).toMatchObject({ state: 'established', bytesReceived: 100 });
    expect(tracked.tcpInfoUnavailable).toBeNull();
    client.destroy();
    expect(tracked.tcpInfo()).toBeNull();
    expect(tracked.tcpInfoUnavailable).toBe('closed');
  });
});

describe('keepalive probe (real sockets)', () => {
  it('tightens keepalive and TCP_USER_TIMEOUT, and restores exactly what was there', async () => {
    const { client } = await echoPair();
    const read = () => Array.from(loadBinding().tcpKeepalive((client as unknown as { _handle: { fd: number } })._handle.fd)).slice(1);
    const before = read();
    const r = tightenKeepalive(client, { idleMs: 2000, intervalMs: 1000, count: 500, userTimeoutMs: 7000 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Array.from(r.saved)).toEqual(before);
    expect(read()).toEqual([1, 2, 1, 127, 7000]); // the count clamped to the kernel's maximum
    expect(restoreKeepalive(client, r.saved)).toBe(true);
    expect(read()).toEqual(before);
  });

  it('leaves TCP_USER_TIMEOUT alone when asked to, and says why when there is no socket', async () => {
    const { client } = await echoPair();
    const r = tightenKeepalive(client, { idleMs: 1000, intervalMs: 1000, count: 3, userTimeoutMs: null });
    expect(r.ok && r.saved[4]).toBe(0);
    client.destroy();
    expect(tightenKeepalive(client, { idleMs: 1000, intervalMs: 1000, count: 3, userTimeoutMs: null })).toEqual({ ok: false, reason: 'closed' });
  });
});
