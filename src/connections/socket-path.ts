/**
 * From a connection to the path it travels: the socket under a ws WebSocket, its
 * local and remote address as the kernel reports them (canonical text, IPv4-mapped
 * addresses of dual-stack sockets mapped back to IPv4), the interface for IPv6
 * link-local addresses, and the interface the kernel sends on. Nothing here throws:
 * a socket that is not connected yet, already destroyed or whose peer is gone
 * (getpeername() fails, Node reports `remoteAddress` undefined) is an answer too.
 */
import { Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { normalizePathSpec } from '../judge/path-spec';
import type { PathSpec } from '../judge/types';
import { isIPv6LinkLocal, normalizeIp } from '../netlink/ip';
import type { NetworkSource } from '../netlink/view';

/** The parts of a ws `WebSocket` (client or server side) routeguard uses. */
export interface WebSocketLike {
  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  readonly readyState: number;
  /** ws's socket, set once the upgrade is done (private in ws, stable since ws 1). */
  readonly _socket?: Socket | null;
  close(code?: number, reason?: string): void;
  terminate(): void;
  once(event: 'open' | 'close', listener: (...args: unknown[]) => void): unknown;
  on(event: 'close', listener: (...args: unknown[]) => void): unknown;
  off(event: 'open' | 'close', listener: (...args: unknown[]) => void): unknown;
}

/** What `track()` accepts: a ws WebSocket, a net.Socket or a tls.TLSSocket. */
export type GuardableConnection = Socket | WebSocketLike;

export type ConnectionKind = 'websocket' | 'tls' | 'tcp';

const WS_OPEN = 1;
const WS_CLOSING = 2;

export function isWebSocketLike(value: unknown): value is WebSocketLike {
  const v = value as Partial<WebSocketLike> | null;
  return (
    typeof v === 'object' && v !== null && !(v instanceof Socket) &&
    typeof v.readyState === 'number' && typeof v.terminate === 'function' && typeof v.close === 'function' &&
    typeof v.once === 'function'
  );
}

/** 'websocket', 'tls', 'tcp', or null when `value` is none of the three. */
export function connectionKind(value: unknown): ConnectionKind | null {
  if (isWebSocketLike(value)) return 'websocket';
  if (value instanceof Socket) return (value as Socket & { encrypted?: boolean }).encrypted ? 'tls' : 'tcp';
  return null;
}

/** The net.Socket carrying a connection, or null (ws before its upgrade, or after it ended). */
export function transportOf(conn: GuardableConnection): Socket | null {
  if (conn instanceof Socket) return conn;
  return conn._socket ?? null;
}

export type Readiness = 'connected' | 'pending' | 'closed';

/** Whether a connection can be read now, must be waited for, or is over. */
export function readiness(conn: GuardableConnection): Readiness {
  if (conn instanceof Socket) {
    if (conn.destroyed) return 'closed';
    return conn.connecting || conn.pending ? 'pending' : 'connected';
  }
  if (conn.readyState >= WS_CLOSING) return 'closed';
  return conn.readyState === WS_OPEN && conn._socket ? 'connected' : 'pending';
}

/**
 * Calls `callback(true)` once a pending connection connects ('connect' for
 * net/tls sockets, 'open' for ws), or `callback(false)` if it closes first.
 * Returns a function that cancels the wait.
 */
export function whenConnected(conn: GuardableConnection, callback: (connected: boolean) => void): () => void {
  const emitter = conn as unknown as {
    once(e: string, l: () => void): unknown;
    off(e: string, l: () => void): unknown;
  };
  const ready = conn instanceof Socket ? 'connect' : 'open';
  const onReady = () => settle(true);
  const onClose = () => settle(false);
  const cancel = () => {
    emitter.off(ready, onReady);
    emitter.off('close', onClose);
  };
  function settle(connected: boolean) {
    cancel();
    callback(connected);
  }
  emitter.once(ready, onReady);
  emitter.once('close', onClose);
  return cancel;
}

/** Addresses of a connected socket, canonical. */
export interface SocketAddresses {
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  family: 4 | 6;
  /** The zone of an IPv6 link-local address as Node printed it ("eth0" of "fe80::1%eth0"), else null. */
  zone: string | null;
}

export type AddressesResult =
  | { ok: true; addresses: SocketAddresses }
  /** `code`: the errno name of getpeername()/getsockname() (ENOTCONN, EBADF, ...). */
  | { ok: false; code: string; localPort: number | null };

function splitZone(text: string): [string, string | null] {
  const i = text.indexOf('%');
  return i < 0 ? [text, null] : [text.slice(0, i), text.slice(i + 1)];
}

/** The errno name behind an unreadable address, asked of the handle itself. */
function addressErrno(socket: Socket, which: 'getpeername' | 'getsockname'): string {
  const handle = (socket as Socket & { _handle?: Record<string, unknown> | null })._handle;
  if (!handle) return socket.destroyed ? 'EBADF' : 'ENOTCONN';
  try {
    const fn = handle[which];
    const err = typeof fn === 'function' ? (fn as (out: object) => unknown).call(handle, {}) : 0;
    if (typeof err === 'number' && err < 0) return getSystemErrorName(err);
  } catch {
    /* an odd handle: fall through */
  }
  return 'ENOTCONN';
}

/** Reads a socket's local and remote address. Never throws. */
export function readSocketAddresses(socket: Socket): AddressesResult {
  let localText: string | undefined;
  let remoteText: string | undefined;
  let localPort: number | undefined;
  let remotePort: number | undefined;
  try {
    localText = socket.localAddress;
    localPort = socket.localPort;
    remoteText = socket.remoteAddress;
    remotePort = socket.remotePort;
  } catch {
    /* a getter on a torn-down handle; treated as unavailable below */
  }
  const port = typeof localPort === 'number' ? localPort : null;
  if (!localText) return { ok: false, code: addressErrno(socket, 'getsockname'), localPort: port };
  if (!remoteText) return { ok: false, code: addressErrno(socket, 'getpeername'), localPort: port };
  const [localIp, localZone] = splitZone(localText);
  const [remoteIp, remoteZone] = splitZone(remoteText);
  const local = normalizeIp(localIp);
  const remote = normalizeIp(remoteIp);
  if (!local || !remote) return { ok: false, code: 'EAFNOSUPPORT', localPort: port };
  return {
    ok: true,
    addresses: {
      local,
      localPort: port ?? 0,
      remote,
      remotePort: remotePort ?? 0,
      family: local.includes(':') ? 6 : 4,
      zone: remoteZone ?? localZone,
    },
  };
}

/** A connection's path, ready to be watched. */
export interface DerivedPath {
  /** Canonical spec (the judge's form). */
  spec: Readonly<PathSpec>;
  /** The judge's shared-evaluation key for the spec. */
  key: string;
}

export type DerivePathResult = { ok: true; path: DerivedPath } | { ok: false; code: string; message: string };

/** Interface index named by a zone: a number, or a name looked up in the source (or the OS). */
function zoneIndex(zone: string, source: NetworkSource | null): number | null {
  if (/^\d+$/.test(zone)) return Number(zone);
  const fromSource = source?.state.linkByName(zone)?.index;
  if (fromSource) return fromSource;
  for (const entry of networkInterfaces()[zone] ?? []) {
    if (entry.family === 'IPv6' && entry.scopeid) return entry.scopeid;
  }
  return null;
}

/**
 * The PathSpec of a connection with these addresses. The ifindex is set for
 * IPv6 link-local paths only (from the zone, else the one interface holding the
 * local address, else the kernel's route lookup), as the judge requires.
 */
export function derivePath(
  addresses: SocketAddresses,
  source: NetworkSource | null,
  mark?: number,
  boundIfindex?: number,
): DerivePathResult {
  const spec: PathSpec = { local: addresses.local, remote: addresses.remote };
  if (mark !== undefined) spec.mark = mark;
  if (boundIfindex !== undefined) spec.boundIfindex = boundIfindex;
  if (isIPv6LinkLocal(addresses.local) || isIPv6LinkLocal(addresses.remote)) {
    const ifindex =
      (addresses.zone !== null ? zoneIndex(addresses.zone, source) : null) ??
      soleInterfaceOf(addresses.local, source) ??
      egressInterface(spec, source);
    if (ifindex === null) {
      return {
        ok: false,
        code: 'ERR_NO_INTERFACE',
        message: `cannot tell the interface of link-local path ${addresses.local} -> ${addresses.remote}`,
      };
    }
    spec.ifindex = ifindex;
  }
  try {
    const normalized = normalizePathSpec(spec);
    return { ok: true, path: { spec: normalized.spec, key: normalized.key } };
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code ?? 'ERR_INVALID_ARG', message: (err as Error).message };
  }
}

function soleInterfaceOf(local: string, source: NetworkSource | null): number | null {
  const found = source?.state.findAddresses(local) ?? [];
  return found.length === 1 ? found[0].index : null;
}

/**
 * The interface the kernel sends this path's traffic on (its route lookup, like
 * `ip route get REMOTE from LOCAL`), else the interface holding the local address;
 * null when neither can tell. Never throws.
 */
export function egressInterface(spec: PathSpec, source: NetworkSource | null): number | null {
  if (!source) return null;
  try {
    const answer = source.lookupRoute({ to: spec.remote, from: spec.local, oif: spec.boundIfindex ?? spec.ifindex, mark: spec.mark });
    if (answer.ok && answer.route.oif) return answer.route.oif;
  } catch {
    /* a closed monitor or an unusable spec: fall back to the mirror */
  }
  return source.state.findAddresses(spec.local)[0]?.index ?? null;
}
