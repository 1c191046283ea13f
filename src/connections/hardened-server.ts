/**
 * Hardened servers: a net.Server, tls.Server, http(s).Server or ws
 * WebSocketServer that no single connection, and no shortage of descriptors,
 * can take down.
 *
 * - Addresses are captured at accept. A connection whose peer is already gone
 *   (getpeername() fails: Node reports `remoteAddress` undefined) is closed and
 *   logged with its local port, errno and time; the application never sees it.
 * - Every accepted socket and WebSocket gets isolated listeners: a handler that
 *   throws or rejects, or an 'error' nobody listens to, closes that connection
 *   only and is counted.
 * - Descriptor exhaustion. Node 20 (libuv >= 1.45) accepts one connection per
 *   poll and never reports accept() errors to JavaScript: on EMFILE/ENFILE libuv
 *   closes its reserve descriptor, accepts and drops what is queued, and reopens
 *   it. When that trick cannot help (the reserve is lost: ENFILE, another thread
 *   took the slot, a lowered limit), every poll returns at once with the
 *   connection still queued: a silent busy loop at 100% CPU. A listening handle
 *   cannot be paused in Node (readStart/readStop are refused on a listener), so a
 *   hardened server watches for exhaustion by trying to open a descriptor every
 *   `descriptorProbeMs`, and when it cannot, closes the listening handle (the
 *   server object, its connections and its listeners stay) and listens again on
 *   the same address after a back-off that doubles while descriptors stay short.
 *   Accept errors that do reach JavaScript (other Node versions) are consumed:
 *   network errnos accept(2) passes through are counted like EAGAIN, resource
 *   errnos pause the listener the same way.
 */
import cluster from 'node:cluster';
import { EventEmitter } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { Server as HttpServer } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { Server as NetServer, Socket, type ListenOptions } from 'node:net';
import { devNull } from 'node:os';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { InvalidArgumentError } from '../errors';
import type { ConnectionGuard, TrackOptions } from './connection-guard';
import { PROBE_DEFAULTS, SERVER_DEFAULTS } from './defaults';
import { tightenKeepalive, type KeepaliveSettings } from './keepalive-probe';
import { isolateListeners, restoreListeners } from './isolated-emit';
import { componentLogger, type Logger } from './logger';
import { isWebSocketLike, readSocketAddresses, type SocketAddresses, type WebSocketLike } from './socket-path';

/** The parts of a ws WebSocketServer used here. */
export interface WebSocketServerLike extends EventEmitter {
  options: { server?: NetServer | null; noServer?: boolean };
  handleUpgrade: (...args: never[]) => void;
}

export type HardenableServer = NetServer | WebSocketServerLike;

export interface HardenOptions {
  /** Track every accepted connection with this guard (ws connections for a WebSocketServer). */
  guard?: ConnectionGuard;
  /** Options for the connections tracked. */
  track?: Omit<TrackOptions, 'addresses'>;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
  /** Pause the listener while descriptors are exhausted. Default true. */
  pauseOnExhaustion?: boolean;
  /** How often to check that a descriptor can be opened. Default 250 ms. */
  descriptorProbeMs?: number;
  /** First pause. Default 100 ms. */
  pauseInitialMs?: number;
  /** Longest pause. Default 5000 ms. */
  pauseMaxMs?: number;
  /** Time without exhaustion after which pauses start short again. Default 10000 ms. */
  pauseResetMs?: number;
  /**
   * Opt-in: find connections whose client vanished (no FIN, no RST). Each accepted
   * socket gets TCP keepalive and TCP_USER_TIMEOUT (true: PROBE_DEFAULTS.server), so
   * the kernel drops it with ETIMEDOUT; counted in health().vanished. Off by default:
   * the server's own path is fine, so nothing else would ever close them.
   */
  keepaliveProbe?: boolean | Partial<KeepaliveSettings>;
}

export interface ServerHealth {
  /** The listener is open (false while paused). */
  listening: boolean;
  /** The listener is closed for lack of descriptors and will listen again. */
  paused: boolean;
  /** Connections handed to the application. */
  accepted: number;
  /** Connections closed at accept, before the application saw them. */
  rejected: number;
  /** Rejections by reason ('address-unavailable'). */
  rejectedBy: Record<string, number>;
  /** Connections open now (accepted and not yet closed). */
  open: number;
  /**
   * Failures by code: descriptor exhaustion (EMFILE, ENFILE), accept errors,
   * unavailable addresses (ENOTCONN, ...), connection errors nobody listened to
   * (ECONNRESET, ...), handshake failures, and ERR_HANDLER for handlers that threw.
   */
  errors: Record<string, number>;
  /** Per-connection failures contained (each closed that connection only). */
  contained: number;
  /** Times the listener was paused. */
  pauses: number;
  /** Connections given the keepalive probe (keepaliveProbe), and those it found vanished (ETIMEDOUT). */
  probed: number;
  vanished: number;
  /** The latest failure. */
  lastError: { code: string; message: string; time: number } | null;
}

export interface RejectedInfo {
  reason: 'address-unavailable';
  /** errno name from getpeername()/getsockname(). */
  code: string;
  localPort: number | null;
  time: number;
}

export interface ContainedInfo {
  /** The event whose listener failed, or 'error' for an error nobody listened to. */
  event: string;
  code: string;
  error: unknown;
  localPort: number | null;
  remoteAddress: string | null;
  time: number;
}

export interface HardenedServerEvents {
  rejected: [RejectedInfo];
  contained: [ContainedInfo];
  'accept-error': [NodeJS.ErrnoException];
  paused: [{ code: string; pauseMs: number; time: number }];
  resumed: [{ pausedForMs: number; time: number }];
}

/** Network errnos accept(2) passes through, to be treated like EAGAIN (man 2 accept). */
const PASS_THROUGH_ACCEPT_ERRNOS = new Set([
  'ENETDOWN', 'EPROTO', 'ENOPROTOOPT', 'EHOSTDOWN', 'ENONET', 'EHOSTUNREACH', 'EOPNOTSUPP', 'ENETUNREACH',
  'ECONNABORTED', 'ETIMEDOUT', 'EAGAIN', 'EINTR', 'EPERM',
]);
/** Resource errnos after which accepting again at once would spin. */
const EXHAUSTION_ERRNOS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

type UpgradeHandler = (
  req: unknown,
  socket: unknown,
  head: unknown,
  callback: (ws: WebSocketLike, request: unknown) => unknown,
) => void;

const LOG_BURST = 10;
const hardenedServers = new WeakMap<object, HardenedServer>();

/** Tries to open one descriptor; returns the errno name when the process cannot, else null. */
export function probeDescriptor(): string | null {
  try {
    closeSync(openSync(devNull, 'r')); // '\\.\\nul' on Windows, where a laptop runs the same server
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    return EXHAUSTION_ERRNOS.has(code) ? code : null;
  }
}

function isHttpServer(server: NetServer): boolean {
  return server instanceof HttpServer || server instanceof HttpsServer;
}

function isWebSocketServer(server: unknown): server is WebSocketServerLike {
  const s = server as Partial<WebSocketServerLike> | null;
  return !!s && typeof s.handleUpgrade === 'function' && typeof s.options === 'object' && s instanceof EventEmitter;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERR_HANDLER';
}

function checkMs(name: string, v: unknown, min = 0): void {
  if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= min)) {
    throw new InvalidArgumentError(`hardenServer: ${name} must be a number of milliseconds >= ${min}, got ${String(v)}`);
  }
}

/** The connection a listener's arguments are about: a socket, a WebSocket, or a request's socket. */
function connectionIn(args: unknown[]): Socket | WebSocketLike | null {
  for (const arg of args) {
    if (arg instanceof Socket || isWebSocketLike(arg)) return arg;
  }
  for (const arg of args) {
    const socket = (arg as { socket?: unknown } | null)?.socket;
    if (socket instanceof Socket) return socket;
  }
  return null;
}

function closeConnection(conn: Socket | WebSocketLike): void {
  try {
    if (conn instanceof Socket) conn.destroy();
    else conn.terminate();
  } catch {
    /* already torn down */
  }
}

/**
 * Hardens a server in place and returns its health handle. Call it before or
 * after listen(); calling it again on the same server returns the same handle.
 */
export function hardenServer(server: HardenableServer, options: HardenOptions = {}): HardenedServer {
  const existing = hardenedServers.get(server);
  if (existing) return existing;
  const hardened = new HardenedServer(server, options);
  hardenedServers.set(server, hardened);
  return hardened;
}

export class HardenedServer extends EventEmitter<HardenedServerEvents> {
  readonly server: HardenableServer;
  /** The server holding the listening socket: the server itself, or a WebSocketServer's HTTP server. */
  readonly listener: NetServer | null;
  private readonly guard: ConnectionGuard | undefined;
  private readonly trackOptions: Omit<TrackOptions, 'addresses'>;
  private readonly log: Logger;
  private readonly settings: {
    pauseOnExhaustion: boolean;
    descriptorProbeMs: number;
    pauseInitialMs: number;
    pauseMaxMs: number;
    pauseResetMs: number;
  };
  private readonly captured = new WeakMap<Socket, SocketAddresses>();
  private readonly stats = {
    accepted: 0,
    rejected: 0,
    rejectedBy: {} as Record<string, number>,
    open: 0,
    errors: {} as Record<string, number>,
    contained: 0,
    pauses: 0,
    probed: 0,
    vanished: 0,
    lastError: null as ServerHealth['lastError'],
  };
  private readonly keepalive: KeepaliveSettings | null;
  private probeTimer: NodeJS.Timeout | null = null;
  private resumeTimer: NodeJS.Timeout | null = null;
  private pausedSince: number | null = null;
  private resuming = false;
  private lastPauseEnd = 0;
  private pauseMs = 0;
  private listenTarget: ListenOptions | null = null;
  private disposed = false;
  private logWindow = { start: 0, count: 0, suppressed: 0 };
  private readonly restore: Array<() => void> = [];

  constructor(server: HardenableServer, options: HardenOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('hardenServer: options must be an object');
    checkMs('descriptorProbeMs', options.descriptorProbeMs, 10);
    checkMs('pauseInitialMs', options.pauseInitialMs, 1);
    checkMs('pauseMaxMs', options.pauseMaxMs, 1);
    checkMs('pauseResetMs', options.pauseResetMs);
    this.server = server;
    this.guard = options.guard;
    this.trackOptions = options.track ?? {};
    this.log = componentLogger(options.logger, 'hardened-server');
    const probe = options.keepaliveProbe;
    this.keepalive = probe ? { ...PROBE_DEFAULTS.server, ...(probe === true ? {} : probe) } : null;
    this.settings = {
      pauseOnExhaustion: options.pauseOnExhaustion ?? true,
      descriptorProbeMs: options.descriptorProbeMs ?? SERVER_DEFAULTS.descriptorProbeMs,
      pauseInitialMs: options.pauseInitialMs ?? SERVER_DEFAULTS.pauseInitialMs,
      pauseMaxMs: options.pauseMaxMs ?? SERVER_DEFAULTS.pauseMaxMs,
      pauseResetMs: options.pauseResetMs ?? SERVER_DEFAULTS.pauseResetMs,
    };
    if (isWebSocketServer(server)) {
      const own = (server as unknown as { _server?: NetServer | null })._server;
      this.listener = own ?? server.options.server ?? null;
      this.hardenWebSocketServer(server);
    } else if (server instanceof NetServer) {
      this.listener = server;
    } else {
      throw new InvalidArgumentError('hardenServer: expected a net/tls/http(s) Server or a ws WebSocketServer');
    }
    if (this.listener) this.hardenListener(this.listener, !isWebSocketServer(server));
  }

  health(): ServerHealth {
    return {
      listening: this.listener?.listening ?? false,
      paused: this.pausedSince !== null,
      accepted: this.stats.accepted,
      rejected: this.stats.rejected,
      rejectedBy: { ...this.stats.rejectedBy },
      open: this.stats.open,
      errors: { ...this.stats.errors },
      contained: this.stats.contained,
      pauses: this.stats.pauses,
      probed: this.stats.probed,
      vanished: this.stats.vanished,
      lastError: this.stats.lastError,
    };
  }

  /** The addresses captured when this socket (or the socket under a TLS socket) was accepted. */
  acceptedAddresses(socket: Socket): SocketAddresses | undefined {
    return this.captured.get(socket) ?? this.captured.get((socket as TLSSocket & { _parent?: Socket })._parent as Socket);
  }

  /**
   * Stops hardening: the probe stops, a paused listener is not resumed, the
   * server's emit() and close() are restored. Connections already accepted keep
   * their isolated listeners. Idempotent.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stopTimers();
    for (const undo of this.restore.splice(0)) undo();
    hardenedServers.delete(this.server);
  }

  private stopTimers(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.probeTimer = this.resumeTimer = null;
  }

  private fail(code: string, message: string): void {
    this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1;
    this.stats.lastError = { code, message, time: Date.now() };
  }

  /** Logs at most LOG_BURST lines a second, then a count of those suppressed. */
  private warnThrottled(fields: object, message: string): void {
    const now = Date.now();
    const w = this.logWindow;
    if (now - w.start >= 1000) {
      if (w.suppressed > 0) this.log.warn({ suppressed: w.suppressed }, 'similar messages suppressed');
      this.logWindow = { start: now, count: 0, suppressed: 0 };
    }
    if (this.logWindow.count++ < LOG_BURST) this.log.warn(fields, message);
    else this.logWindow.suppressed++;
  }

  private patchEmit(emitter: EventEmitter, hooks: Parameters<typeof isolateListeners>[1]): void {
    if (isolateListeners(emitter, hooks)) this.restore.push(() => restoreListeners(emitter));
  }

  private hardenListener(listener: NetServer, trackSockets: boolean): void {
    const tls = listener instanceof TlsServer;
    const trackRaw = trackSockets && !tls && !isHttpServer(listener);
    const trackSecure = trackSockets && tls && !isHttpServer(listener);
    this.patchEmit(listener, {
      before: (event, args) => {
        switch (event) {
          case 'connection':
            return args[0] instanceof Socket ? this.onAccept(args[0], trackRaw) : true;
          case 'secureConnection':
            if (args[0] instanceof Socket) this.onSecure(args[0], trackSecure);
            return true;
          case 'error':
            return this.onServerError(args[0] as NodeJS.ErrnoException);
          case 'listening':
            return !this.onListening();
          case 'tlsClientError':
          case 'clientError':
            this.fail(errorCode(args[0]), `handshake failed: ${(args[0] as Error)?.message}`);
            return true;
          case 'close':
            // While paused the listening handle is gone, so Node emits 'close' as soon as
            // the last connection ends: that is not the application's close.
            if (this.pausedSince !== null) return false;
            this.stopTimers();
            return true;
          default:
            return true;
        }
      },
      onFailure: (err, event, args) => this.onServerListenerFailure(err, event, args),
    });
    const ownClose = Object.prototype.hasOwnProperty.call(listener, 'close') ? listener.close : undefined;
    const close = listener.close;
    listener.close = (callback?: (err?: Error) => void) => {
      // The application closes the server: never listen again. While paused the
      // listener is already closed; Node would answer ERR_SERVER_NOT_RUNNING.
      const wasPaused = this.pausedSince !== null;
      this.stopTimers();
      this.pausedSince = null;
      if (!wasPaused || typeof callback !== 'function') return close.call(listener, callback);
      return close.call(listener, (err?: Error) =>
        callback((err as NodeJS.ErrnoException | undefined)?.code === 'ERR_SERVER_NOT_RUNNING' ? undefined : err),
      );
    };
    this.restore.push(() => {
      if (ownClose) listener.close = ownClose;
      else delete (listener as { close?: unknown }).close;
    });
    if (this.settings.pauseOnExhaustion && !cluster.isWorker) {
      this.probeTimer = setInterval(() => this.probe(), this.settings.descriptorProbeMs);
      this.probeTimer.unref();
    }
  }

  private hardenWebSocketServer(wss: WebSocketServerLike): void {
    this.patchEmit(wss, {
      before: (event, args) => {
        if (event === 'connection' && isWebSocketLike(args[0])) this.onWebSocket(args[0], args[1]);
        else if (event === 'wsClientError') this.fail(errorCode(args[0]), `handshake failed: ${(args[0] as Error)?.message}`);
        return true;
      },
      onFailure: (err, event, args) => this.onServerListenerFailure(err, event, args),
    });
    // ws emits 'connection' through `this.emit.bind(this, 'connection')`, bound when the
    // server was made: the patched emit never sees it. Every upgrade passes through
    // handleUpgrade (ws's own, or the application's in noServer mode), so that is
    // where each WebSocket is taken in hand.
    const handleUpgrade = wss.handleUpgrade as unknown as UpgradeHandler;
    const patched: UpgradeHandler = (req, socket, head, callback) =>
      handleUpgrade.call(wss, req, socket, head, (ws, request) => {
        this.onWebSocket(ws, request);
        if (callback.name === 'bound emit') {
          // ws's own emitConnection: dispatch through the isolated emit instead.
          wss.emit('connection', ws, request);
          return;
        }
        try {
          const result: unknown = callback(ws, request);
          if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
            (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.contain(ws, err, 'upgrade', null));
          }
        } catch (err) {
          this.contain(ws, err, 'upgrade', null);
        }
      });
    (wss as unknown as { handleUpgrade: UpgradeHandler }).handleUpgrade = patched;
    this.restore.push(() => {
      delete (wss as unknown as { handleUpgrade?: unknown }).handleUpgrade;
    });
  }

  /** Runs before any 'connection' listener. Returns false to hide the connection from the application. */
  private onAccept(socket: Socket, track: boolean): boolean {
    const read = readSocketAddresses(socket);
    if (!read.ok) {
      this.stats.rejected++;
      this.stats.rejectedBy['address-unavailable'] = (this.stats.rejectedBy['address-unavailable'] ?? 0) + 1;
      this.fail(read.code, 'connection address unavailable at accept');
      const info: RejectedInfo = { reason: 'address-unavailable', code: read.code, localPort: read.localPort, time: Date.now() };
      this.warnThrottled(
        { localPort: info.localPort, errno: info.code, time: new Date(info.time).toISOString() },
        'connection closed at accept: its address is unavailable (peer already gone)',
      );
      closeConnection(socket);
      this.emit('rejected', info);
      return false;
    }
    this.captured.set(socket, read.addresses);
    this.stats.accepted++;
    this.stats.open++;
    socket.once('close', () => {
      this.stats.open--;
      if ((socket.errored as NodeJS.ErrnoException | null)?.code === 'ETIMEDOUT') this.stats.vanished++;
    });
    if (this.keepalive && tightenKeepalive(socket, this.keepalive).ok) this.stats.probed++;
    isolateListeners(socket, { onFailure: (err, event) => this.contain(socket, err, event, read.addresses) });
    if (track) this.track(socket, read.addresses);
    return true;
  }

  private onSecure(tlsSocket: Socket, track: boolean): void {
    const addresses = this.acceptedAddresses(tlsSocket);
    isolateListeners(tlsSocket, { onFailure: (err, event) => this.contain(tlsSocket, err, event, addresses ?? null) });
    if (track) this.track(tlsSocket, addresses);
  }

  /** Idempotent: reached from handleUpgrade and, when the application emits 'connection' itself, from emit. */
  private onWebSocket(ws: WebSocketLike, request: unknown): void {
    const raw = (request as { socket?: unknown } | null)?.socket;
    const addresses = raw instanceof Socket ? this.acceptedAddresses(raw) : undefined;
    isolateListeners(ws as unknown as EventEmitter, { onFailure: (err, event) => this.contain(ws, err, event, addresses ?? null) });
    this.track(ws, addresses);
  }

  private track(conn: Socket | WebSocketLike, addresses: SocketAddresses | undefined): void {
    if (!this.guard) return;
    try {
      this.guard.track(conn, { ...this.trackOptions, addresses });
    } catch (err) {
      // Tracking is a service to the connection, not a condition of it.
      this.fail(errorCode(err), `tracking failed: ${(err as Error)?.message}`);
      this.log.error({ err, localPort: addresses?.localPort }, 'could not track a connection');
    }
  }

  /** A listener of one connection failed (or an 'error' had no listener): close that connection only. */
  private contain(conn: Socket | WebSocketLike, err: unknown, event: string | symbol, addresses: SocketAddresses | null): void {
    const code = errorCode(err);
    this.stats.contained++;
    this.fail(code, `${String(event)}: ${(err as Error)?.message ?? String(err)}`);
    const info: ContainedInfo = {
      event: String(event),
      code,
      error: err,
      localPort: addresses?.localPort ?? null,
      remoteAddress: addresses?.remote ?? null,
      time: Date.now(),
    };
    if (event === 'error') {
      this.log.debug({ code, localPort: info.localPort, remote: info.remoteAddress }, 'connection error nobody listened to');
    } else {
      this.warnThrottled(
        { err, event: info.event, localPort: info.localPort, remote: info.remoteAddress },
        'connection handler failed: closing that connection',
      );
    }
    closeConnection(conn);
    this.emit('contained', info);
  }

  /** A server-level listener failed: close the connection it was about, if any. */
  private onServerListenerFailure(err: unknown, event: string | symbol, args: unknown[]): void {
    // Server errors other than accept's (EADDRINUSE at listen, ...) keep Node's meaning:
    // unheard, or thrown again by a listener, they are fatal.
    if (event === 'error') throw err;
    const conn = connectionIn(args);
    if (conn) {
      const addresses = conn instanceof Socket ? this.acceptedAddresses(conn) ?? null : null;
      this.contain(conn, err, event, addresses);
      return;
    }
    this.stats.contained++;
    this.fail(errorCode(err), `${String(event)}: ${(err as Error)?.message ?? String(err)}`);
    this.log.error({ err, event: String(event) }, 'server event listener failed');
  }

  /** Accept and resume errors are handled here; other server errors go to the application. */
  private onServerError(err: NodeJS.ErrnoException): boolean {
    const code = err?.code ?? 'EIO';
    if (this.resuming && (err?.syscall === 'listen' || err?.syscall === 'bind')) {
      this.resuming = false;
      this.fail(code, `listening again failed: ${err.message}`);
      this.log.warn({ code }, 'listening again failed; retrying');
      this.scheduleResume();
      return false;
    }
    if (err?.syscall !== 'accept') return true;
    this.fail(code, `accept: ${err.message}`);
    this.emit('accept-error', err);
    if (EXHAUSTION_ERRNOS.has(code)) {
      this.pause(code);
    } else if (PASS_THROUGH_ACCEPT_ERRNOS.has(code)) {
      this.log.debug({ code }, 'accept failed with a network error; accepting continues');
    } else {
      this.warnThrottled({ code }, 'accept failed');
    }
    return false;
  }

  private probe(): void {
    if (this.pausedSince !== null || !this.listener?.listening) return;
    const code = probeDescriptor();
    if (code) this.pause(code);
  }

  /** Closes the listening handle (the server object stays) and schedules listening again. */
  private pause(code: string): void {
    const listener = this.listener;
    if (!listener || this.pausedSince !== null || this.disposed || !this.settings.pauseOnExhaustion || cluster.isWorker) return;
    const address = listener.address();
    const handle = (listener as unknown as { _handle?: { close(): void } | null })._handle;
    if (!address || !handle) return;
    this.listenTarget = typeof address === 'string' ? { path: address } : { port: address.port, host: address.address };
    (listener as unknown as { _handle: null })._handle = null;
    handle.close();
    const now = Date.now();
    this.pausedSince = now;
    this.stats.pauses++;
    this.fail(code, 'descriptors exhausted: listener paused');
    this.pauseMs =
      this.pauseMs === 0 || now - this.lastPauseEnd > this.settings.pauseResetMs
        ? this.settings.pauseInitialMs
        : Math.min(this.pauseMs * 2, this.settings.pauseMaxMs);
    this.log.warn({ code, pauseMs: this.pauseMs, address }, 'descriptors exhausted: listener paused');
    this.emit('paused', { code, pauseMs: this.pauseMs, time: now });
    this.scheduleResume(false);
  }

  private scheduleResume(grow = true): void {
    if (this.disposed || this.pausedSince === null) return;
    if (grow) this.pauseMs = Math.min(this.pauseMs * 2, this.settings.pauseMaxMs);
    this.resumeTimer = setTimeout(() => this.resume(), this.pauseMs);
    this.resumeTimer.unref();
  }

  private resume(): void {
    this.resumeTimer = null;
    const listener = this.listener;
    if (!listener || this.pausedSince === null || !this.listenTarget) return;
    const code = probeDescriptor();
    if (code) {
      this.fail(code, 'descriptors still exhausted');
      this.scheduleResume();
      return;
    }
    this.resuming = true;
    try {
      listener.listen(this.listenTarget);
    } catch (err) {
      this.resuming = false;
      this.fail(errorCode(err), `listening again failed: ${(err as Error).message}`);
      this.scheduleResume();
    }
  }

  /** Returns true when this 'listening' is a resume (hidden from the application). */
  private onListening(): boolean {
    if (!this.resuming) return false;
    this.resuming = false;
    const now = Date.now();
    const pausedForMs = now - (this.pausedSince ?? now);
    this.pausedSince = null;
    this.lastPauseEnd = now;
    this.log.info({ pausedForMs }, 'listening again');
    this.emit('resumed', { pausedForMs, time: now });
    return true;
  }
}
