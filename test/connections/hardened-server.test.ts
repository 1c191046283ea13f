/**
 * Hardened servers on loopback: connections whose peer is gone before accept,
 * handlers that throw or reject, errors nobody listens to, ws and TLS servers,
 * accept errors (network errnos counted, resource errnos pause the listener and
 * it listens again). Descriptor exhaustion for real is in nofile.netns.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ConnectionGuard } from '../../src/connections/connection-guard';
import { hardenServer } from '../../src/connections/hardened-server';
import type { Logger } from '../../src/connections/logger';
import { FakeJudge } from '../helpers/fake-judge';
import { waitUntil } from './fixtures/wait';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

type Line = { level: string; fields: Record<string, unknown>; msg?: string };
function recordingLogger(lines: Line[], bindings: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (o: object | string, msg?: string) =>
    lines.push(typeof o === 'string' ? { level, fields: bindings, msg: o } : { level, fields: { ...bindings, ...o }, msg });
  return {
    trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'),
    child: (b) => recordingLogger(lines, { ...bindings, ...b }),
  };
}

async function listening<T extends net.Server>(server: T, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  cleanup.push(() => {
    server.close();
    (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
  return (server.address() as net.AddressInfo).port;
}

function echoClient(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => s.write(text));
    s.setTimeout(3000, () => s.destroy(new Error('echo timed out')));
    s.once('data', (d) => {
      resolve(String(d));
      s.end();
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error('closed without an answer')));
  });
}


describe('hardenServer: per-connection isolation', () => {
  it('closes connections whose peer is gone at accept, logs their context, and serves the next client', async () => {
    const lines: Line[] = [];
    const seen: net.Socket[] = [];
    const server = net.createServer((s) => {
      seen.push(s);
      s.pipe(s);
    });
    const hardened = hardenServer(server, { logger: recordingLogger(lines) });
    const port = await listening(server);
    const storm = 20;
    // The child connects and resets (SO_LINGER 0) while this process is blocked in
    // execFileSync: every connection sits in the accept queue with its peer gone.
    execFileSync(process.execPath, ['-e', `
      const net = require('net'); let n = 0;
      for (let i = 0; i < ${storm}; i++) {
        const s = net.connect(${port}, '127.0.0.1', () => { s.resetAndDestroy(); if (++n === ${storm}) setTimeout(() => {}, 50); });
        s.on('error', () => {});
      }`]);
    expect(await echoClient(port, 'after the storm')).toBe('after the storm');
    const health = hardened.health();
    expect(health).toMatchObject({ rejected: storm, rejectedBy: { 'address-unavailable': storm }, accepted: 1, listening: true });
    expect(health.errors.ENOTCONN).toBe(storm);
    expect(seen).toHaveLength(1);
    const warn = lines.filter((l) => l.level === 'warn');
    expect(warn.length).toBe(10); // throttled: 10 a second
    expect(warn[0].fields).toMatchObject({ component: 'hardened-server', localPort: port, errno: 'ENOTCONN' });
    expect(Date.parse(warn[0].fields.time as string)).toBeGreaterThan(Date.now() - 10_000);
  });

  it('a connection handler that throws or rejects closes that connection only', async () => {
    let n = 0;
    const server = net.createServer();
    server.on('connection', (s) => {
      n++;
      if (n === 2) throw new Error('handler bug');
      s.pipe(s);
    });
    server.on('connection', async () => {
      if (n === 3) throw new Error('async handler bug');
    });
    const hardened = hardenServer(server);
    const contained: string[] = [];
    hardened.on('contained', (i) => contained.push(`${i.event}:${(i.error as Error).message}`));
    const port = await listening(server);
    expect(await echoClient(port, 'one')).toBe('one');
    await expect(echoClient(port, 'two')).rejects.toThrow();
    await expect(echoClient(port, 'three')).rejects.toThrow();
    expect(await echoClient(port, 'four')).toBe('four');
    expect(contained).toEqual(['connection:handler bug', 'connection:async handler bug']);
    expect(hardened.health()).toMatchObject({ contained: 2, errors: { ERR_HANDLER: 2 }, accepted: 4 });
  });

  it('a socket error nobody listens to (ECONNRESET) and a throwing data handler stay with their connection', async () => {
    const server = net.createServer((s) => {
      s.on('data', (d) => {
        if (String(d) === 'boom') throw new Error('data handler bug');
        s.write(d);
      });
      // no 'error' listener: in plain Node an ECONNRESET here ends the process
    });
    const hardened = hardenServer(server);
    const port = await listening(server);
    const resetter = net.connect(port, '127.0.0.1');
    resetter.on('error', () => undefined);
    await once(resetter, 'connect');
    resetter.write('x');
    await once(resetter, 'data');
    resetter.resetAndDestroy();
    await expect(echoClient(port, 'boom')).rejects.toThrow();
    await waitUntil(() => (hardened.health().errors.ECONNRESET ?? 0) >= 1);
    expect(await echoClient(port, 'still here')).toBe('still here');
    expect(hardened.health().errors.ERR_HANDLER).toBe(1);
    await waitUntil(() => hardened.health().open === 0);
  });
});

describe('hardenServer: ws WebSocketServer', () => {
  it('isolates message handlers and unheard ws errors, and tracks connections with the guard', async () => {
    const judge = new FakeJudge();
    const guard = new ConnectionGuard({ judge });
    cleanup.push(() => guard.close());
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanup.push(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    });
    const hardened = hardenServer(wss, { guard });
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        if (String(data) === 'boom') throw new Error('message handler bug');
        ws.send(data);
      });
      // no 'error' listener on ws
    });
    await once(wss, 'listening');
    const port = (wss.address() as net.AddressInfo).port;
    const open = (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}`);
        cleanup.push(() => ws.terminate());
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const [a, b] = await Promise.all([open(), open()]);
    const aClosed = new Promise((r) => a.once('close', r));
    a.send('boom');
    await aClosed;
    b.send('echo');
    const [reply] = await once(b, 'message');
    expect(String(reply)).toBe('echo');

    // A protocol violation (reserved opcode 0x3) makes ws emit 'error' on the server side.
    const raw = net.connect(port, '127.0.0.1');
    raw.on('error', () => undefined);
    raw.write(
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await once(raw, 'data');
    raw.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]));
    await waitUntil(() => Object.keys(hardened.health().errors).some((c) => c.startsWith('WS_ERR')));
    expect(hardened.health().errors.ERR_HANDLER).toBe(1);

    // Tracked by the guard on the server side: a gone verdict terminates them.
    await waitUntil(() => guard.counters().tracked === 1);
    expect(guard.connections()[0].path).toMatchObject({ local: '127.0.0.1', remote: '127.0.0.1' });
    const bClosed = new Promise((r) => b.once('close', r));
    judge.gone('127.0.0.1');
    await bClosed;
    raw.destroy();
  });
});

describe('hardenServer: TLS', () => {
  it('isolates secureConnection handlers and counts handshake failures', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rg-tls-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'pipe' });
    const cert = readFileSync(path.join(dir, 'cert.pem'));
    let n = 0;
    const server = tls.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert }, (s) => {
      if (++n === 1) throw new Error('secure handler bug');
      s.pipe(s);
    });
    const hardened = hardenServer(server);
    const port = await listening(server);
    const tlsEcho = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' }, () => s.write(text));
        s.once('data', (d) => {
          resolve(String(d));
          s.end();
        });
        s.on('error', reject);
        s.on('close', () => reject(new Error('closed')));
      });
    await expect(tlsEcho('first')).rejects.toThrow();
    expect(await tlsEcho('second')).toBe('second');
    // Plain text to a TLS port: a handshake failure, counted, nothing else.
    const plain = net.connect(port, '127.0.0.1', () => plain.write('GET / HTTP/1.0\r\n\r\n'));
    plain.on('error', () => undefined);
    await new Promise((r) => plain.once('close', r));
    await waitUntil(() => hardened.health().lastError?.message.startsWith('handshake failed') ?? false);
    expect(hardened.health()).toMatchObject({ contained: 1, accepted: 3 });
  });
});

describe('hardenServer: accept errors and pausing', () => {
  const acceptError = (code: string) => Object.assign(new Error(`accept ${code}`), { code, syscall: 'accept' });

  it('counts network errnos from accept like EAGAIN and keeps accepting', async () => {
    const server = net.createServer((s) => s.pipe(s));
    const hardened = hardenServer(server);
    const port = await listening(server);
    const errors: string[] = [];
    hardened.on('accept-error', (e) => errors.push(e.code!));
    for (const code of ['ENETDOWN', 'EPROTO', 'EHOSTUNREACH', 'ECONNABORTED']) server.emit('error', acceptError(code));
    expect(errors).toEqual(['ENETDOWN', 'EPROTO', 'EHOSTUNREACH', 'ECONNABORTED']);
    expect(hardened.health()).toMatchObject({ listening: true, paused: false, errors: { ENETDOWN: 1, EPROTO: 1 } });
    expect(await echoClient(port, 'fine')).toBe('fine');
  });

  it('pauses the listener on EMFILE (refusing, not spinning) and listens again on the same port', async () => {
    const server = net.createServer((s) => s.pipe(s));
    const userListening: number[] = [];
    server.on('listening', () => userListening.push(Date.now()));
    const hardened = hardenServer(server, { pauseInitialMs: 150 });
    const port = await listening(server);
    const open = net.connect(port, '127.0.0.1');
    await once(open, 'connect');
    const events: string[] = [];
    hardened.on('paused', (p) => events.push(`paused:${p.code}:${p.pauseMs}`));
    hardened.on('resumed', () => events.push('resumed'));
    server.emit('error', acceptError('EMFILE'));
    expect(hardened.health()).toMatchObject({ paused: true, listening: false, pauses: 1, errors: { EMFILE: 2 } });
    await expect(echoClient(port, 'x')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    open.write('existing connections keep working');
    const [d] = await once(open, 'data');
    expect(String(d)).toBe('existing connections keep working');
    await waitUntil(() => events.includes('resumed'));
    expect(events).toEqual(['paused:EMFILE:150', 'resumed']);
    expect(hardened.health()).toMatchObject({ paused: false, listening: true });
    expect((server.address() as net.AddressInfo).port).toBe(port);
    expect(await echoClient(port, 'back')).toBe('back');
    expect(userListening).toHaveLength(1); // the resume's 'listening' is not the application's business
    open.destroy();
  });

  it("a throwing listener of the handle's own events is logged: accepting, containing and resuming go on", async () => {
    const lines: Line[] = [];
    const server = net.createServer(() => {
      throw new Error('handler bug');
    });
    const hardened = hardenServer(server, { pauseInitialMs: 50, logger: recordingLogger(lines) });
    const port = await listening(server);
    const heard: string[] = [];
    for (const event of ['contained', 'paused', 'accept-error'] as const) {
      hardened.on(event, () => {
        heard.push(event);
        throw new Error(`${event} listener bug`);
      });
    }
    hardened.on('resumed', () => heard.push('resumed'));
    // A failed connection: contained (closed), and the throwing 'contained' listener is only logged.
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    await once(s, 'close');
    await waitUntil(() => hardened.health().contained === 1);
    // EMFILE: 'accept-error' and 'paused' listeners throw; the pause still schedules its resume.
    server.emit('error', acceptError('EMFILE'));
    expect(hardened.health().paused).toBe(true);
    await waitUntil(() => heard.includes('resumed'));
    expect(heard).toEqual(['contained', 'accept-error', 'paused', 'resumed']);
    expect(hardened.health()).toMatchObject({ paused: false, listening: true });
    const failures = lines.filter((l) => l.msg === 'a listener of the hardened server failed').map((l) => l.fields.event);
    expect(failures).toEqual(['contained', 'accept-error', 'paused']);
  });

  it('does not listen again after the application closed the server during a pause', async () => {
    const server = net.createServer();
    const hardened = hardenServer(server, { pauseInitialMs: 50 });
    const port = await listening(server);
    const open = net.connect(port, '127.0.0.1');
    await once(open, 'connect');
    server.emit('error', acceptError('ENFILE'));
    expect(hardened.health().paused).toBe(true);
    const closeEvents: number[] = [];
    server.on('close', () => closeEvents.push(Date.now()));
    open.destroy(); // the last connection ends while paused: not a close of the server
    await new Promise((r) => setTimeout(r, 20));
    expect(closeEvents).toEqual([]);
    const closed = new Promise<Error | undefined>((resolve) => server.close(resolve));
    expect(await closed).toBeUndefined(); // not ERR_SERVER_NOT_RUNNING
    expect(closeEvents).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(hardened.health()).toMatchObject({ paused: false, listening: false });
    await expect(echoClient(port, 'x')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('refuses bad options when they are given, with ERR_INVALID_ARG', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ descriptorProbeMs: 2 ** 31 }, /descriptorProbeMs must be a number of milliseconds from 10 to 2147483647/],
      [{ pauseMaxMs: Infinity }, /pauseMaxMs/],
      [{ keepaliveProbe: { intervalMs: 4e7 } }, /keepaliveProbe\.intervalMs .*32767 s/],
      [{ guard: {} }, /guard must be a ConnectionGuard/],
      [{ track: { closeMode: 'slam' } }, /hardenServer: track: closeMode/],
      [{ track: 5 }, /track must be an object/],
      [{ logger: { info: () => undefined } }, /logger must be a pino-like logger/],
    ];
    for (const [options, message] of bad) {
      const server = net.createServer();
      expect(() => hardenServer(server, options as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(message) }));
    }
  });

  it('leaves other server errors to the application, and dispose() restores the server', async () => {
    const first = net.createServer();
    const port = await listening(first);
    const second = net.createServer();
    const hardened = hardenServer(second);
    expect(hardenServer(second)).toBe(hardened);
    second.listen(port, '127.0.0.1');
    const [err] = await once(second, 'error');
    expect(err.code).toBe('EADDRINUSE');
    hardened.dispose();
    expect(Object.prototype.hasOwnProperty.call(second, 'emit')).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(second, 'close')).toBe(false);
    const again = hardenServer(second); // hardening works again after dispose()
    expect(again).not.toBe(hardened);
    expect(Object.prototype.hasOwnProperty.call(second, 'emit')).toBe(true);
    again.dispose();
  });
});
