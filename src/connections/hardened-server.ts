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
 *
 * This module wires the parts into the server's emit: accepted-connections.ts (each
 * connection), listener-pause.ts and accept-errors.ts (descriptor exhaustion),
 * harden-options.ts (options), server-stats.ts (health figures).
 */
import { EventEmitter } from 'node:events';
import { Server as HttpServer } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { Server as NetServer, Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { InvalidArgumentError } from '../errors';
import { acceptErrorKind } from './accept-errors';
import { AcceptedConnections } from './accepted-connections';
import { resolveHardenOptions } from './harden-options';
import type {
  HardenableServer,
  HardenedServerEvents,
  HardenOptions,
  ServerHealth,
  WebSocketServerLike,
} from './hardened-server-types';
import { emitIsolated, isolateListeners, restoreListeners } from '../isolated-emit';
import { ListenerPause } from './listener-pause';
import { componentLogger, ThrottledWarn, type Logger } from './logger';
import { errorCode, ServerStats } from './server-stats';
import { isWebSocketLike, type SocketAddresses, type WebSocketLike } from './socket-path';

export type * from './hardened-server-types';
export { probeDescriptor } from './accept-errors';

type UpgradeHandler = (
  req: unknown,
  socket: unknown,
  head: unknown,
  callback: (ws: WebSocketLike, request: unknown) => unknown,
) => void;

const hardenedServers = new WeakMap<object, HardenedServer>();

function isHttpServer(server: NetServer): boolean {
  return server instanceof HttpServer || server instanceof HttpsServer;
}

function isWebSocketServer(server: unknown): server is WebSocketServerLike {
  const s = server as Partial<WebSocketServerLike> | null;
  return !!s && typeof s.handleUpgrade === 'function' && typeof s.options === 'object' && s instanceof EventEmitter;
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
  private readonly log: Logger;
  private readonly warn: ThrottledWarn;
  private readonly stats = new ServerStats();
  private readonly connections: AcceptedConnections;
  private readonly listenerPause: ListenerPause;
  private disposed = false;
  private readonly restore: Array<() => void> = [];

  constructor(server: HardenableServer, options: HardenOptions) {
    super();
    const resolved = resolveHardenOptions(options);
    this.server = server;
    this.log = componentLogger(options.logger, 'hardened-server');
    this.warn = new ThrottledWarn(this.log);
    this.connections = new AcceptedConnections({
      guard: options.guard,
      trackOptions: options.track ?? {},
      keepalive: resolved.keepalive,
      stats: this.stats,
      log: this.log,
      warn: this.warn,
      host: {
        rejected: (info) => this.emit('rejected', info),
        contained: (info) => this.emit('contained', info),
      },
    });
    if (isWebSocketServer(server)) {
      const own = (server as unknown as { _server?: NetServer | null })._server;
      this.listener = own ?? server.options.server ?? null;
      this.hardenWebSocketServer(server);
    } else if (server instanceof NetServer) {
      this.listener = server;
    } else {
      throw new InvalidArgumentError('hardenServer: expected a net/tls/http(s) Server or a ws WebSocketServer');
    }
    this.listenerPause = new ListenerPause(
      this.listener,
      resolved.pause,
      {
        fail: (code, message) => this.stats.fail(code, message),
        paused: (info) => this.emit('paused', info),
        resumed: (info) => this.emit('resumed', info),
      },
      this.log,
    );
    if (this.listener) this.hardenListener(this.listener, !isWebSocketServer(server));
  }

  /**
   * The handle's own events ('rejected', 'contained', 'paused', ...) reach each listener
   * on its own: one that throws is logged, and never unwinds into the accept path, the
   * containment of a failed connection or the pause that must schedule its resume.
   */
  override emit<K extends keyof HardenedServerEvents>(event: K, ...args: HardenedServerEvents[K]): boolean {
    return emitIsolated(this as EventEmitter, event, args, (err, ev) =>
      this.log.error({ err, event: String(ev) }, 'a listener of the hardened server failed'),
    );
  }

  health(): ServerHealth {
    const s = this.stats;
    return {
      listening: this.listener?.listening ?? false,
      paused: this.listenerPause.paused,
      accepted: s.accepted,
      rejected: s.rejected,
      rejectedBy: { ...s.rejectedBy },
      open: s.open,
      errors: { ...s.errors },
      contained: s.contained,
      pauses: this.listenerPause.pauses,
      probed: s.probed,
      vanished: s.vanished,
      lastError: s.lastError,
    };
  }

  /** The addresses captured when this socket (or the socket under a TLS socket) was accepted. */
  acceptedAddresses(socket: Socket): SocketAddresses | undefined {
    return this.connections.addressesOf(socket);
  }

  /**
   * Stops hardening: the probe stops, a paused listener is not resumed, the
   * server's emit() and close() are restored. Connections already accepted keep
   * their isolated listeners. Idempotent.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.listenerPause.dispose();
    for (const undo of this.restore.splice(0)) undo();
    hardenedServers.delete(this.server);
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
            return args[0] instanceof Socket ? this.connections.accept(args[0], trackRaw) : true;
          case 'secureConnection':
            if (args[0] instanceof Socket) this.connections.secure(args[0], trackSecure);
            return true;
          case 'error':
            return this.onServerError(args[0] as NodeJS.ErrnoException);
          case 'listening':
            return !this.listenerPause.listening();
          case 'tlsClientError':
          case 'clientError':
            this.stats.fail(errorCode(args[0]), `handshake failed: ${(args[0] as Error)?.message}`);
            return true;
          case 'close':
            // While paused the listening handle is gone, so Node emits 'close' as soon as
            // the last connection ends: that is not the application's close.
            if (this.listenerPause.paused) return false;
            this.listenerPause.stopTimers();
            return true;
          default:
            return true;
        }
      },
      onFailure: (err, event, args) => this.connections.serverListenerFailed(err, event, args),
    });
    const ownClose = Object.prototype.hasOwnProperty.call(listener, 'close') ? listener.close : undefined;
    const close = listener.close;
    listener.close = (callback?: (err?: Error) => void) => {
      // The application closes the server: never listen again. While paused the
      // listener is already closed; Node would answer ERR_SERVER_NOT_RUNNING.
      const wasPaused = this.listenerPause.applicationClose();
      if (!wasPaused || typeof callback !== 'function') return close.call(listener, callback);
      return close.call(listener, (err?: Error) =>
        callback((err as NodeJS.ErrnoException | undefined)?.code === 'ERR_SERVER_NOT_RUNNING' ? undefined : err),
      );
    };
    this.restore.push(() => {
      if (ownClose) listener.close = ownClose;
      else delete (listener as { close?: unknown }).close;
    });
    this.listenerPause.start();
  }

  private hardenWebSocketServer(wss: WebSocketServerLike): void {
    this.patchEmit(wss, {
      before: (event, args) => {
        if (event === 'connection' && isWebSocketLike(args[0])) this.connections.webSocket(args[0], args[1]);
        else if (event === 'wsClientError') this.stats.fail(errorCode(args[0]), `handshake failed: ${(args[0] as Error)?.message}`);
        return true;
      },
      onFailure: (err, event, args) => this.connections.serverListenerFailed(err, event, args),
    });
    // ws emits 'connection' through `this.emit.bind(this, 'connection')`, bound when the
    // server was made: the patched emit never sees it. Every upgrade passes through
    // handleUpgrade (ws's own, or the application's in noServer mode), so that is
    // where each WebSocket is taken in hand.
    const handleUpgrade = wss.handleUpgrade as unknown as UpgradeHandler;
    const patched: UpgradeHandler = (req, socket, head, callback) =>
      handleUpgrade.call(wss, req, socket, head, (ws, request) => {
        this.connections.webSocket(ws, request);
        if (callback.name === 'bound emit') {
          // ws's own emitConnection: dispatch through the isolated emit instead.
          wss.emit('connection', ws, request);
          return;
        }
        try {
          const result: unknown = callback(ws, request);
          if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
            (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.connections.contain(ws, err, 'upgrade', null));
          }
        } catch (err) {
          this.connections.contain(ws, err, 'upgrade', null);
        }
      });
    (wss as unknown as { handleUpgrade: UpgradeHandler }).handleUpgrade = patched;
    this.restore.push(() => {
      delete (wss as unknown as { handleUpgrade?: unknown }).handleUpgrade;
    });
  }

  /** Accept and resume errors are handled here; other server errors go to the application. */
  private onServerError(err: NodeJS.ErrnoException): boolean {
    const code = err?.code ?? 'EIO';
    if (this.listenerPause.listenFailed(err, code)) return false;
    if (err?.syscall !== 'accept') return true;
    this.stats.fail(code, `accept: ${err.message}`);
    this.emit('accept-error', err);
    const kind = acceptErrorKind(code);
    if (kind === 'exhaustion') {
      this.listenerPause.pause(code);
    } else if (kind === 'pass-through') {
      this.log.debug({ code }, 'accept failed with a network error; accepting continues');
    } else {
      this.warn.warn({ code }, 'accept failed');
    }
    return false;
  }
}
