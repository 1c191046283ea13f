/**
 * One connection under a ConnectionGuard: where it is in its life (pending,
 * watching, unresolved, closed), the path it shares with others, the verdict
 * events it receives, and how it is closed when its path is gone.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { ProofOfLife } from '../judge/evidence/socket';
import type { ChangedInfo, EvidenceEntry, GoneInfo, PathSpec, PathState, RecoveredInfo, SuspectInfo, VerdictReason } from '../judge/types';
import { RouteGoneError } from './errors';
import { emitIsolated } from '../isolated-emit';
import type { ConnectionKind, GuardableConnection, SocketAddresses, WebSocketLike } from './socket-path';
import { readTcpInfo, type TcpInfo, type TcpInfoUnavailable } from './tcp-info';

/**
 * The path was judged gone, but this connection's own socket heard from its peer
 * after the evidence began: it is kept, and watched again from a fresh evaluation.
 */
export interface AliveInfo {
  /** The reason the path was judged gone. */
  reason: VerdictReason;
  proof: ProofOfLife;
  /** The path's evidence, with the socket's entry ("acked 3.2 KiB at +1.4 s") in time order. */
  evidence: readonly EvidenceEntry[];
}

/** A verdict on a path, as its watch reports it. */
export type PathVerdict =
  | { type: 'suspect'; info: SuspectInfo }
  | { type: 'recovered'; info: RecoveredInfo }
  | { type: 'changed'; info: ChangedInfo }
  | { type: 'gone'; info: GoneInfo };

/** A verdict as a connection receives it: 'gone' comes with the error it is closed with. */
export type ConnectionVerdict =
  | Exclude<PathVerdict, { type: 'gone' }>
  | { type: 'gone'; info: GoneInfo; error: RouteGoneError }
  | { type: 'alive'; info: AliveInfo };

/**
 * What to do with a connection when its path's verdict arrives:
 * - 'close': close it with a RouteGoneError when the path is gone (nothing else);
 * - 'notify': only emit events, never close;
 * - a function: called for every verdict (suspect, recovered, changed, gone);
 *   it decides, e.g. drains or migrates on 'changed' and calls `tracked.close()` on 'gone'.
 */
export type ConnectionAction =
  | 'close'
  | 'notify'
  | ((verdict: ConnectionVerdict, connection: TrackedConnection) => void | Promise<void>);

/**
 * How a WebSocket is closed: 'terminate' destroys the socket at once (no close
 * handshake over a dead path); 'close' sends a close frame and destroys the
 * socket if the handshake has not finished within closeTimeoutMs.
 */
export type CloseMode = 'terminate' | 'close';

/**
 * - pending: not connected yet (waiting for 'connect' / 'open');
 * - watching: its path is watched;
 * - unresolved: connected, but its addresses could not be read (peer already gone)
 *   or its path could not be watched; it is left alone until it closes;
 * - closed: it ended (by itself or closed by the guard);
 * - untracked: untrack() was called; the connection is no longer watched.
 */
export type TrackedState = 'pending' | 'watching' | 'unresolved' | 'closed' | 'untracked';

export interface ClosedInfo {
  /** The guard closed it (its path was gone, or close() was called). */
  byGuard: boolean;
  /** The error it was closed with, when closed as gone. */
  error: RouteGoneError | null;
}

export interface TrackedConnectionEvents {
  suspect: [SuspectInfo];
  recovered: [RecoveredInfo];
  changed: [ChangedInfo];
  gone: [GoneInfo];
  /** Its path was judged gone, but the socket proved alive: kept (see AliveInfo). */
  alive: [AliveInfo];
  closed: [ClosedInfo];
}

/** The interface a path leaves by, as far as the kernel says. */
export interface EgressInterface {
  index: number;
  /** Null when the source does not know the link (or no source was given). */
  name: string | null;
}

/** Per-connection settings, resolved against the guard's. */
export interface ConnectionSettings {
  action: ConnectionAction;
  closeMode: CloseMode;
  closeTimeoutMs: number;
  closeCode: number;
}

/** What a TrackedConnection needs from its guard. */
export interface ConnectionHost {
  reportListenerFailure(error: unknown, event: string | symbol, connection: TrackedConnection): void;
  reportActionFailure(error: unknown, verdict: ConnectionVerdict, connection: TrackedConnection): void;
  closing(connection: TrackedConnection, error: RouteGoneError | null): void;
  /** A WebSocket's close() threw; the connection was terminated instead. */
  closeFailed(connection: TrackedConnection, error: unknown): void;
  ended(connection: TrackedConnection, info: ClosedInfo): void;
}

const WS_CLOSED = 3;
/** Socket evidence entries kept per connection. */
const SOCKET_EVIDENCE_LIMIT = 16;

export class TrackedConnection extends EventEmitter<TrackedConnectionEvents> {
  readonly connection: GuardableConnection;
  readonly kind: ConnectionKind;
  /** Clock time (ms since the epoch) when track() was called. */
  readonly trackedAt = Date.now();
  private currentState: TrackedState = 'pending';
  private spec: Readonly<PathSpec> | null = null;
  private pathKey: string | null = null;
  private addr: SocketAddresses | null = null;
  private egressIf: EgressInterface | null = null;
  private lastVerdict: PathState | null = null;
  private unresolvedCode: string | null = null;
  private closingWith: { error: RouteGoneError | null } | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private tcpInfoReason: TcpInfoUnavailable | null = null;
  private readonly socketEntries: EvidenceEntry[] = [];
  /** @internal Detaches every listener the guard put on the connection. */
  detach: () => void = () => undefined;

  constructor(
    connection: GuardableConnection,
    kind: ConnectionKind,
    readonly settings: ConnectionSettings,
    private readonly host: ConnectionHost,
  ) {
    super();
    this.connection = connection;
    this.kind = kind;
  }

  override emit<K extends keyof TrackedConnectionEvents>(event: K, ...args: TrackedConnectionEvents[K]): boolean {
    return emitIsolated(this as EventEmitter, event, args, (err, ev) => this.host.reportListenerFailure(err, ev, this));
  }

  get state(): TrackedState {
    return this.currentState;
  }

  /** The watched path; null while pending or unresolved. */
  get path(): Readonly<PathSpec> | null {
    return this.spec;
  }

  /** The judge's key of the path (connections with equal keys share one verdict). */
  get key(): string | null {
    return this.pathKey;
  }

  /** Local/remote address and ports as read when the connection was resolved. */
  get addresses(): Readonly<SocketAddresses> | null {
    return this.addr;
  }

  /** The interface the path leaves by (kernel route lookup), when known. */
  get egress(): Readonly<EgressInterface> | null {
    return this.egressIf;
  }

  /** The path's state as of the last verdict; null until watched. */
  get verdict(): PathState | null {
    return this.lastVerdict;
  }

  /** Why the connection is unresolved (an errno name or error code); null otherwise. */
  get unresolvedReason(): string | null {
    return this.unresolvedCode;
  }

  /** The error it was closed with by the guard, if any. */
  get closeError(): RouteGoneError | null {
    return this.closingWith?.error ?? null;
  }

  /**
   * The kernel's TCP state of the connection's socket (getsockopt TCP_INFO), or null
   * when it cannot be had — `tcpInfoUnavailable` then says why ('no-socket',
   * 'closed', 'no-descriptor', 'not-tcp', 'addon-unavailable' or an errno name).
   * Never throws. To read many connections at once use readTcpInfo().
   */
  tcpInfo(): TcpInfo | null {
    const [r] = readTcpInfo([this.connection]);
    this.tcpInfoReason = r.ok ? null : r.reason;
    return r.ok ? r.info : null;
  }

  /** Why the last tcpInfo() returned null; null after a successful read. */
  get tcpInfoUnavailable(): TcpInfoUnavailable | null {
    return this.tcpInfoReason;
  }

  /** What the socket's own TCP state showed while its path was suspect (the latest entries). */
  get socketEvidence(): readonly EvidenceEntry[] {
    return this.socketEntries;
  }

  /** @internal */
  recordSocketEvidence(entry: EvidenceEntry): void {
    this.socketEntries.push(entry);
    if (this.socketEntries.length > SOCKET_EVIDENCE_LIMIT) this.socketEntries.shift();
  }

  /** @internal */
  watching(spec: Readonly<PathSpec>, key: string, addresses: SocketAddresses, egress: EgressInterface | null, state: PathState): void {
    this.currentState = 'watching';
    this.spec = spec;
    this.pathKey = key;
    this.addr = addresses;
    this.egressIf = egress;
    this.lastVerdict = state;
  }

  /** @internal */
  unresolved(code: string, addresses: SocketAddresses | null): void {
    this.currentState = 'unresolved';
    this.unresolvedCode = code;
    this.addr = addresses;
  }

  /** True once closed or untracked. */
  get finished(): boolean {
    return this.currentState === 'closed' || this.currentState === 'untracked';
  }

  /** @internal Delivers one verdict: the event, then the action. Never throws. */
  deliver(verdict: ConnectionVerdict): void {
    if (this.finished) return;
    // 'alive': the connection rejoins a fresh watch, which sets its state.
    if (verdict.type !== 'alive') this.lastVerdict = verdict.type === 'suspect' ? 'suspect' : verdict.type === 'gone' ? 'gone' : 'viable';
    this.emit(verdict.type, verdict.info as never);
    const action = this.settings.action;
    if (action === 'notify') return;
    if (action === 'close') {
      if (verdict.type === 'gone') this.close(verdict.error);
      return;
    }
    try {
      const result = action(verdict, this);
      if (typeof (result as PromiseLike<void> | undefined)?.then === 'function') {
        (result as PromiseLike<void>).then(undefined, (err: unknown) => this.host.reportActionFailure(err, verdict, this));
      }
    } catch (err) {
      this.host.reportActionFailure(err, verdict, this);
    }
  }

  /**
   * Closes the connection now: a WebSocket per closeMode, a net/tls socket is
   * destroyed (with `error` when the socket has an 'error' listener; otherwise
   * without, so that an unheard error cannot crash the process — the error is on
   * the 'closed' event and `closeError` either way). Idempotent.
   */
  close(error: RouteGoneError | null = null): void {
    if (this.closingWith || this.finished) return;
    this.closingWith = { error };
    this.host.closing(this, error);
    const conn = this.connection;
    if (this.kind !== 'websocket') {
      const socket = conn as Socket;
      socket.destroy(error && socket.listenerCount('error') > 0 ? error : undefined);
      return;
    }
    const ws = conn as WebSocketLike;
    if (this.settings.closeMode === 'terminate') {
      ws.terminate();
      return;
    }
    try {
      ws.close(this.settings.closeCode, error ? `route gone: ${error.reason}` : 'going away');
    } catch (err) {
      // A WebSocket-like whose close() refuses (a code its library rejects, a closing
      // handshake it cannot start): the connection must still end, not stay half-closed.
      this.host.closeFailed(this, err);
      ws.terminate();
      return;
    }
    this.closeTimer = setTimeout(() => {
      if (ws.readyState !== WS_CLOSED) ws.terminate();
    }, this.settings.closeTimeoutMs);
    this.closeTimer.unref();
  }

  /** @internal No longer watched; the connection itself is left as it is. */
  untracked(): void {
    if (this.finished) return;
    this.currentState = 'untracked';
    this.detach();
  }

  /** @internal The connection is over: settle and tell the guard. */
  end(): void {
    if (this.finished) return;
    this.currentState = 'closed';
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.detach();
    const info: ClosedInfo = { byGuard: this.closingWith !== null, error: this.closingWith?.error ?? null };
    this.host.ended(this, info);
    this.emit('closed', info);
  }
}
