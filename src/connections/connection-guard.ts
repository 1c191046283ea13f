/**
 * ConnectionGuard: turns path verdicts into actions on sockets. Connections are
 * grouped by path (local, remote, ifindex for link-local, mark): every
 * connection on one path shares one judge watch and one verdict, so 10,000
 * sockets to one peer cost one evaluation. When a path is gone, its
 * connections — and only those — are closed with a RouteGoneError (or notified,
 * or handed to the application's callback).
 *
 * The groups and their watches are in path-groups.ts, the option checks in
 * guard-options.ts, the per-connection state in tracked-connection.ts.
 */
import { EventEmitter } from 'node:events';
import { InvalidArgumentError } from '../errors';
import { realClock } from '../judge/clock';
import { PathJudge } from '../judge/path-judge';
import type { ChangedInfo, Clock, GoneInfo, JudgeOptions, PathSpec, PathWatch, RecoveredInfo, SuspectInfo } from '../judge/types';
import type { NetworkSource } from '../netlink/view';
import { GUARD_DEFAULTS, PROBE_DEFAULTS } from './defaults';
import { checkGuardOptions, checkSettings, settingsOver, suspectProbe } from './guard-options';
import type { KeepaliveSettings } from './keepalive-probe';
import { SocketEvidence, type SocketEvidenceCounters } from './socket-evidence';
import { GuardClosedError, RouteGoneError } from './errors';
import { INERT_CODE, INERT_JUDGE, INERT_MESSAGE } from './inert';
import { emitIsolated } from '../isolated-emit';
import { componentLogger, type Logger } from './logger';
import { PathGroups, type PathGroup } from './path-groups';
import {
  connectionKind,
  derivePath,
  readiness,
  readSocketAddresses,
  transportOf,
  whenConnected,
  type DerivedPath,
  type GuardableConnection,
  type SocketAddresses,
} from './socket-path';
import {
  TrackedConnection,
  type AliveInfo,
  type ClosedInfo,
  type CloseMode,
  type ConnectionAction,
  type ConnectionHost,
  type ConnectionSettings,
  type ConnectionVerdict,
  type EgressInterface,
  type PathVerdict,
} from './tracked-connection';

/** Anything with the judge's watch(): a PathJudge, or a stand-in in tests. */
export interface PathJudgeLike {
  watch(spec: PathSpec): PathWatch;
}

export interface ConnectionGuardOptions {
  /**
   * The network source, normally a started NetlinkMonitor. Used to find each
   * connection's interface, and (without `judge`) to build the guard's own PathJudge.
   */
  source?: NetworkSource;
  /** A judge to share with other code. Without it the guard builds one from `source`. */
  judge?: PathJudgeLike;
  /** Options of the judge the guard builds (hold-downs, clock). Ignored with `judge`. */
  judgeOptions?: JudgeOptions;
  /** Default action for tracked connections. Default 'close'. */
  action?: ConnectionAction;
  /** How WebSockets are closed. Default 'terminate'. */
  closeMode?: CloseMode;
  /** Close-handshake deadline with closeMode 'close'. Default 500 ms. */
  closeTimeoutMs?: number;
  /** Close code with closeMode 'close'. Default 1001. */
  closeCode?: number;
  /** SO_MARK of the guarded connections' traffic, for policy routing (the kernel does not tell). */
  mark?: number;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
  /**
   * The judge's clock, for socket evidence (tcp_info sample times are compared with
   * the evidence's). Default: `judgeOptions.clock`, else realClock — pass the same
   * clock as the shared `judge` was given.
   */
  clock?: Clock;
  /** How often the sockets of suspect paths are sampled (tcp_info). Default 500 ms. */
  sampleIntervalMs?: number;
  /**
   * Opt-in idle-socket probe: while a path is suspect, TCP keepalive on its sockets is
   * tightened (true: PROBE_DEFAULTS.suspect) so that idle connections get ACKs to show;
   * the previous settings are restored when the path recovers or the connection leaves.
   */
  probe?: boolean | Partial<KeepaliveSettings>;
  /**
   * Watch nothing and close nothing: every tracked connection stays 'unresolved' with code
   * ERR_INERT, and `source`/`judge` are optional and unused. Default: true off Linux, false on Linux.
   */
  inert?: boolean;
}

export interface TrackOptions {
  action?: ConnectionAction;
  closeMode?: CloseMode;
  closeTimeoutMs?: number;
  closeCode?: number;
  mark?: number;
  /**
   * Index of the device the socket is bound to (SO_BINDTODEVICE, a VRF device): Node
   * cannot read it back, so say it here; the judge's lookups carry it as oif. Sockets on
   * an IPv6 link-local address are scoped to their zone's interface without it.
   */
  boundIfindex?: number;
  /**
   * Addresses captured earlier (hardened servers capture them at accept): used
   * when the socket can no longer tell (its peer already gone).
   */
  addresses?: SocketAddresses;
}

/** A verdict on one path, as the guard reports it, with the number of connections on the path. */
export type PathVerdictEvent = PathVerdict & { path: Readonly<PathSpec>; connections: number };

export interface ConnectionGuardEvents {
  /** A connection's path is resolved and watched. */
  tracked: [TrackedConnection];
  /** A connected socket whose path could not be read or watched (it is left alone). */
  unresolved: [TrackedConnection, string];
  /** One event per path verdict (not per connection). */
  verdict: [PathVerdictEvent];
  suspect: [SuspectInfo, Readonly<PathSpec>];
  recovered: [RecoveredInfo, Readonly<PathSpec>];
  changed: [ChangedInfo, Readonly<PathSpec>];
  gone: [GoneInfo, Readonly<PathSpec>];
  /** A connection whose path was judged gone was kept: its socket heard from the peer since the evidence began. */
  alive: [AliveInfo, TrackedConnection];
  /** A tracked connection ended (closed by the guard or by itself). */
  closed: [TrackedConnection, ClosedInfo];
  /** An action callback threw or rejected; other connections are unaffected. */
  'action-failed': [unknown, TrackedConnection];
}

export interface ConnectionGuardCounters {
  /** Connections tracked now (pending, watching or unresolved). */
  tracked: number;
  /** Of those, not connected yet. */
  pending: number;
  /** Of those, connected but unresolved. */
  unresolved: number;
  /** Distinct paths watched now. */
  paths: number;
  /** Connections ever tracked. */
  trackedTotal: number;
  /** Connections ever left unresolved. */
  unresolvedTotal: number;
  /** Path verdicts received, by type. */
  verdicts: { suspect: number; recovered: number; changed: number; gone: number };
  /** Connections the guard closed. */
  closedByGuard: number;
  /** Action callbacks that threw or rejected. */
  actionFailures: number;
  /** Event listeners (on connections or the guard) that threw or rejected. */
  listenerFailures: number;
  /** Socket evidence: tcp_info samples, connections kept on proof of life, keepalive probes. */
  sockets: SocketEvidenceCounters;
}

export class ConnectionGuard extends EventEmitter<ConnectionGuardEvents> {
  /** The source given in the options, if any. */
  readonly source: NetworkSource | null;
  readonly judge: PathJudgeLike;
  /** Watches nothing, closes nothing (see ConnectionGuardOptions.inert). */
  readonly inert: boolean;
  private readonly ownJudge: PathJudge | null;
  private readonly defaults: ConnectionSettings;
  private readonly mark: number | undefined;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly sockets: SocketEvidence;
  private readonly groups: PathGroups;
  private readonly live = new Set<TrackedConnection>();
  private readonly byConnection = new WeakMap<object, TrackedConnection>();
  private closed = false;
  private readonly count = {
    trackedTotal: 0,
    unresolvedTotal: 0,
    verdicts: { suspect: 0, recovered: 0, changed: 0, gone: 0 },
    closedByGuard: 0,
    actionFailures: 0,
    listenerFailures: 0,
  };
  private readonly host: ConnectionHost = {
    reportListenerFailure: (err, event, conn) => this.listenerFailed(err, event, conn),
    reportActionFailure: (err, verdict, conn) => this.actionFailed(err, verdict, conn),
    closing: (conn, error) => this.onClosing(conn, error),
    closeFailed: (conn, err) => this.log.warn({ err, path: conn.path }, 'WebSocket close() threw: terminated instead'),
    ended: (conn, info) => this.onEnded(conn, info),
  };

  constructor(options: ConnectionGuardOptions) {
    super();
    checkGuardOptions(options);
    this.log = componentLogger(options.logger, 'connection-guard');
    this.inert = options.inert ?? GUARD_DEFAULTS.inert;
    this.source = this.inert ? null : options.source ?? null;
    this.ownJudge = options.judge || this.inert ? null : new PathJudge(options.source!, options.judgeOptions);
    this.judge = options.judge ?? this.ownJudge ?? INERT_JUDGE;
    this.mark = options.mark;
    this.defaults = settingsOver(options, GUARD_DEFAULTS);
    this.clock = options.clock ?? options.judgeOptions?.clock ?? realClock;
    this.sockets = new SocketEvidence({
      clock: this.clock,
      sampleIntervalMs: Math.max(10, options.sampleIntervalMs ?? PROBE_DEFAULTS.sampleIntervalMs),
      probe: suspectProbe(options.probe),
    });
    this.groups = new PathGroups({
      judge: this.judge,
      source: this.source,
      sockets: this.sockets,
      clock: this.clock,
      log: this.log,
      onVerdict: (group, verdict) => this.onVerdict(group, verdict),
    });
  }

  override emit<K extends keyof ConnectionGuardEvents>(event: K, ...args: ConnectionGuardEvents[K]): boolean {
    return emitIsolated(this as EventEmitter, event, args, (err, ev) => this.listenerFailed(err, ev, null));
  }

  /**
   * Watches a connection: a ws WebSocket (client or server side), a net.Socket or
   * a tls.TLSSocket. A connection not connected yet is resolved once it connects;
   * one already closed comes back in state 'closed'. It is untracked by itself
   * when it closes. Tracking the same connection twice returns the same object.
   * Throws only for misuse (not a connection, bad options, closed guard).
   */
  track(connection: GuardableConnection, options: TrackOptions = {}): TrackedConnection {
    if (this.closed) throw new GuardClosedError();
    const kind = connectionKind(connection);
    if (!kind) {
      throw new InvalidArgumentError('track(): expected a ws WebSocket, a net.Socket or a tls.TLSSocket');
    }
    const existing = this.byConnection.get(connection);
    if (existing && existing.state !== 'untracked') return existing;
    checkSettings(options, 'track()');
    const tracked = new TrackedConnection(connection, kind, settingsOver(options, this.defaults), this.host);
    this.byConnection.set(connection, tracked);
    this.count.trackedTotal++;
    const state = readiness(connection);
    if (state === 'closed') {
      tracked.end();
      return tracked;
    }
    this.live.add(tracked);
    const onClose = () => tracked.end();
    (connection as unknown as EventEmitter).on('close', onClose);
    let cancelWait = () => undefined as void;
    tracked.detach = () => {
      cancelWait();
      (connection as unknown as EventEmitter).off('close', onClose);
    };
    if (state === 'connected') {
      this.resolve(tracked, options);
    } else {
      cancelWait = whenConnected(connection, (connected) => {
        if (connected) this.resolve(tracked, options);
      });
    }
    return tracked;
  }

  /** The TrackedConnection of a connection, if tracked. */
  tracked(connection: GuardableConnection): TrackedConnection | undefined {
    const t = this.byConnection.get(connection);
    return t && !t.finished ? t : undefined;
  }

  /** Stops watching a connection without closing it. */
  untrack(connection: GuardableConnection | TrackedConnection): void {
    const tracked = connection instanceof TrackedConnection ? connection : this.byConnection.get(connection);
    if (!tracked || tracked.finished) return;
    this.leave(tracked);
    tracked.untracked();
  }

  /** Connections tracked now. */
  connections(): TrackedConnection[] {
    return [...this.live];
  }

  counters(): ConnectionGuardCounters {
    let pending = 0;
    let unresolved = 0;
    for (const t of this.live) {
      if (t.state === 'pending') pending++;
      else if (t.state === 'unresolved') unresolved++;
    }
    return {
      tracked: this.live.size,
      pending,
      unresolved,
      paths: this.groups.size,
      trackedTotal: this.count.trackedTotal,
      unresolvedTotal: this.count.unresolvedTotal,
      verdicts: { ...this.count.verdicts },
      closedByGuard: this.count.closedByGuard,
      actionFailures: this.count.actionFailures,
      listenerFailures: this.count.listenerFailures,
      sockets: this.sockets.counters(),
    };
  }

  /** Untracks everything (nothing is closed), closes the watches and the guard's own judge. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Untracking the last connection of a path closes its watch.
    for (const tracked of [...this.live]) this.untrack(tracked);
    this.groups.clear();
    this.sockets.close();
    this.ownJudge?.close();
  }

  /** Reads the connection's addresses, derives its path and joins that path's group. Never throws. */
  private resolve(tracked: TrackedConnection, options: TrackOptions): void {
    if (this.closed || tracked.state !== 'pending') return;
    const transport = transportOf(tracked.connection);
    const read = transport ? readSocketAddresses(transport) : null;
    const addresses = read?.ok ? read.addresses : options.addresses;
    if (!addresses) {
      this.markUnresolved(tracked, read && !read.ok ? read.code : 'ENOTCONN', null);
      return;
    }
    if (this.inert) {
      this.markUnresolved(tracked, INERT_CODE, addresses, INERT_MESSAGE);
      return;
    }
    const derived = derivePath(addresses, this.source, options.mark ?? this.mark, options.boundIfindex);
    if (!derived.ok) {
      this.markUnresolved(tracked, derived.code, addresses, derived.message);
      return;
    }
    let group: PathGroup;
    try {
      group = this.groups.groupFor(derived.path);
    } catch (err) {
      this.markUnresolved(tracked, (err as { code?: string }).code ?? 'ERR_WATCH', addresses, (err as Error).message);
      return;
    }
    this.groups.join(tracked, group, addresses);
    this.log.debug(
      { path: group.spec, localPort: addresses.localPort, remotePort: addresses.remotePort, kind: tracked.kind },
      'tracking connection',
    );
    this.emit('tracked', tracked);
  }

  private markUnresolved(tracked: TrackedConnection, code: string, addresses: SocketAddresses | null, message?: string): void {
    tracked.unresolved(code, addresses);
    this.count.unresolvedTotal++;
    this.log.debug({ code, message, kind: tracked.kind }, 'connection left unresolved');
    this.emit('unresolved', tracked, code);
  }

  /** Runs inside the judge's emit: must not throw. */
  private onVerdict(group: PathGroup, verdict: PathVerdict): void {
    try {
      const connections = group.members.size;
      this.count.verdicts[verdict.type]++;
      this.logVerdict(group, verdict, connections);
      if (verdict.type === 'suspect') this.sockets.suspect(group, verdict.info.evidence[0]?.time ?? this.clock.now());
      else if (verdict.type === 'recovered') this.sockets.recovered(group);
      if (verdict.type === 'gone') {
        // Connections made from now on get a fresh watch of their own.
        this.groups.retire(group);
        this.keepProvenAlive(group, verdict.info);
      }
      this.emit('verdict', { ...verdict, path: group.spec, connections });
      this.emit(verdict.type, verdict.info as never, group.spec);
      // One RouteGoneError per path: it describes the path, and 10,000 stack captures
      // would double the time it takes to close 10,000 sockets.
      const delivered: ConnectionVerdict =
        verdict.type === 'gone'
          ? { ...verdict, error: new RouteGoneError(group.spec, verdict.info.reason, verdict.info.evidence) }
          : verdict;
      // One connection's failure must not keep the verdict from the others.
      for (const member of [...group.members]) {
        try {
          member.deliver(delivered);
        } catch (err) {
          this.log.error({ err, path: group.spec }, 'failed to deliver a verdict to a connection');
        }
      }
    } catch (err) {
      this.log.error({ err, path: group.spec }, 'failed to deliver a verdict');
    }
  }

  /**
   * The path is gone: each connection's socket gets the last word (the rules'
   * connectionOnGone). Those that heard from their peer since the evidence began
   * leave the group (so the verdict does not reach them), hear 'alive', and are
   * watched again from a fresh evaluation of the same path.
   */
  private keepProvenAlive(group: PathGroup, info: GoneInfo): void {
    const since = info.evidence[0]?.time ?? this.clock.now();
    for (const { member, decision, entry } of this.sockets.gone(group, since)) {
      if (decision.kind !== 'keep' || !entry) continue;
      this.groups.detach(member, group);
      member.recordSocketEvidence(entry);
      const alive: AliveInfo = {
        reason: info.reason,
        proof: decision.proof,
        evidence: [...info.evidence, entry].sort((a, b) => a.time - b.time),
      };
      this.log.info({ path: group.spec, reason: info.reason, proof: entry.summary }, 'path gone, connection kept: its socket is alive');
      this.emit('alive', alive, member);
      member.deliver({ type: 'alive', info: alive });
      this.rejoin(member);
    }
    // Every connection was kept: nothing is left on the gone watch.
    if (group.members.size === 0) group.watch.close();
  }

  /** A kept connection joins a fresh watch of its path; left unresolved when the path cannot be watched. */
  private rejoin(member: TrackedConnection): void {
    if (member.finished || this.closed || !member.key || !member.path || !member.addresses) return;
    let group: PathGroup;
    try {
      group = this.groups.groupFor({ key: member.key, spec: member.path } as DerivedPath);
    } catch (err) {
      this.sockets.left(member);
      this.markUnresolved(member, (err as { code?: string }).code ?? 'ERR_WATCH', member.addresses, (err as Error).message);
      return;
    }
    this.groups.join(member, group, member.addresses);
    if (group.watch.state !== 'suspect') this.sockets.settled(member);
  }

  private logVerdict(group: PathGroup, verdict: { type: string; info: object }, connections: number): void {
    const fields = { path: group.spec, connections, ...verdict.info };
    if (verdict.type === 'gone') this.log.warn(fields, 'path gone');
    else this.log.info(fields, `path ${verdict.type}`);
  }

  private onClosing(tracked: TrackedConnection, error: RouteGoneError | null): void {
    this.count.closedByGuard++;
    this.log.debug({ path: tracked.path, reason: error?.reason, kind: tracked.kind }, 'closing connection');
  }

  private onEnded(tracked: TrackedConnection, info: ClosedInfo): void {
    this.leave(tracked);
    this.emit('closed', tracked, info);
  }

  /** Takes a connection out of its group; the group's watch closes with its last member. */
  private leave(tracked: TrackedConnection): void {
    this.live.delete(tracked);
    this.sockets.left(tracked);
    this.groups.leave(tracked);
  }

  private listenerFailed(err: unknown, event: string | symbol, tracked: TrackedConnection | null): void {
    this.count.listenerFailures++;
    this.log.error({ err, event: String(event), path: tracked?.path }, 'an event listener failed');
  }

  private actionFailed(err: unknown, verdict: ConnectionVerdict, tracked: TrackedConnection): void {
    this.count.actionFailures++;
    this.log.error({ err, verdict: verdict.type, path: tracked.path }, 'connection action failed');
    this.emit('action-failed', err, tracked);
  }
}
