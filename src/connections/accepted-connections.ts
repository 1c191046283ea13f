/**
 * A hardened server's connections, one at a time: addresses captured at accept (a
 * connection whose peer is already gone is closed before the application sees it),
 * isolated listeners, the optional keepalive probe, tracking by the guard, and
 * containment: a connection whose handler failed is closed, and only that one.
 */
import type { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ConnectionGuard, TrackOptions } from './connection-guard';
import type { ContainedInfo, RejectedInfo } from './hardened-server-types';
import { isolateListeners } from '../isolated-emit';
import { tightenKeepalive, type KeepaliveSettings } from './keepalive-probe';
import type { Logger, ThrottledWarn } from './logger';
import { errorCode, type ServerStats } from './server-stats';
import { isWebSocketLike, readSocketAddresses, type SocketAddresses, type WebSocketLike } from './socket-path';

/** What the connections tell their server. */
export interface ConnectionsHost {
  rejected(info: RejectedInfo): void;
  contained(info: ContainedInfo): void;
}

export interface AcceptedConnectionsOptions {
  guard: ConnectionGuard | undefined;
  trackOptions: Omit<TrackOptions, 'addresses'>;
  keepalive: KeepaliveSettings | null;
  stats: ServerStats;
  log: Logger;
  warn: ThrottledWarn;
  host: ConnectionsHost;
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

export class AcceptedConnections {
  private readonly captured = new WeakMap<Socket, SocketAddresses>();

  constructor(private readonly o: AcceptedConnectionsOptions) {}

  /** The addresses captured when this socket (or the socket under a TLS socket) was accepted. */
  addressesOf(socket: Socket): SocketAddresses | undefined {
    return this.captured.get(socket) ?? this.captured.get((socket as TLSSocket & { _parent?: Socket })._parent as Socket);
  }

  /** Runs before any 'connection' listener. Returns false to hide the connection from the application. */
  accept(socket: Socket, track: boolean): boolean {
    const { stats } = this.o;
    const read = readSocketAddresses(socket);
    if (!read.ok) {
      stats.rejected++;
      stats.rejectedBy['address-unavailable'] = (stats.rejectedBy['address-unavailable'] ?? 0) + 1;
      stats.fail(read.code, 'connection address unavailable at accept');
      const info: RejectedInfo = { reason: 'address-unavailable', code: read.code, localPort: read.localPort, time: Date.now() };
      this.o.warn.warn(
        { localPort: info.localPort, errno: info.code, time: new Date(info.time).toISOString() },
        'connection closed at accept: its address is unavailable (peer already gone)',
      );
      closeConnection(socket);
      this.o.host.rejected(info);
      return false;
    }
    this.captured.set(socket, read.addresses);
    stats.accepted++;
    stats.open++;
    socket.once('close', () => {
      stats.open--;
      if ((socket.errored as NodeJS.ErrnoException | null)?.code === 'ETIMEDOUT') stats.vanished++;
    });
    if (this.o.keepalive && tightenKeepalive(socket, this.o.keepalive).ok) stats.probed++;
    isolateListeners(socket, { onFailure: (err, event) => this.contain(socket, err, event, read.addresses) });
    if (track) this.track(socket, read.addresses);
    return true;
  }

  /** A TLS socket finished its handshake ('secureConnection'). */
  secure(tlsSocket: Socket, track: boolean): void {
    const addresses = this.addressesOf(tlsSocket);
    isolateListeners(tlsSocket, { onFailure: (err, event) => this.contain(tlsSocket, err, event, addresses ?? null) });
    if (track) this.track(tlsSocket, addresses);
  }

  /** Idempotent: reached from handleUpgrade and, when the application emits 'connection' itself, from emit. */
  webSocket(ws: WebSocketLike, request: unknown): void {
    const raw = (request as { socket?: unknown } | null)?.socket;
    const addresses = raw instanceof Socket ? this.addressesOf(raw) : undefined;
    isolateListeners(ws as unknown as EventEmitter, { onFailure: (err, event) => this.contain(ws, err, event, addresses ?? null) });
    this.track(ws, addresses);
  }

  private track(conn: Socket | WebSocketLike, addresses: SocketAddresses | undefined): void {
    if (!this.o.guard) return;
    try {
      this.o.guard.track(conn, { ...this.o.trackOptions, addresses });
    } catch (err) {
      // Tracking is a service to the connection, not a condition of it.
      this.o.stats.fail(errorCode(err), `tracking failed: ${(err as Error)?.message}`);
      this.o.log.error({ err, localPort: addresses?.localPort }, 'could not track a connection');
    }
  }

  /** A listener of one connection failed (or an 'error' had no listener): close that connection only. */
  contain(conn: Socket | WebSocketLike, err: unknown, event: string | symbol, addresses: SocketAddresses | null): void {
    const code = errorCode(err);
    this.o.stats.contained++;
    this.o.stats.fail(code, `${String(event)}: ${(err as Error)?.message ?? String(err)}`);
    const info: ContainedInfo = {
      event: String(event),
      code,
      error: err,
      localPort: addresses?.localPort ?? null,
      remoteAddress: addresses?.remote ?? null,
      time: Date.now(),
    };
    if (event === 'error') {
      this.o.log.debug({ code, localPort: info.localPort, remote: info.remoteAddress }, 'connection error nobody listened to');
    } else {
      this.o.warn.warn(
        { err, event: info.event, localPort: info.localPort, remote: info.remoteAddress },
        'connection handler failed: closing that connection',
      );
    }
    closeConnection(conn);
    this.o.host.contained(info);
  }

  /** A server-level listener failed: close the connection it was about, if any. */
  serverListenerFailed(err: unknown, event: string | symbol, args: unknown[]): void {
    // Server errors other than accept's (EADDRINUSE at listen, ...) keep Node's meaning:
    // unheard, or thrown again by a listener, they are fatal.
    if (event === 'error') throw err;
    const conn = connectionIn(args);
    if (conn) {
      const addresses = conn instanceof Socket ? this.addressesOf(conn) ?? null : null;
      this.contain(conn, err, event, addresses);
      return;
    }
    this.o.stats.contained++;
    this.o.stats.fail(errorCode(err), `${String(event)}: ${(err as Error)?.message ?? String(err)}`);
    this.o.log.error({ err, event: String(event) }, 'server event listener failed');
  }
}
