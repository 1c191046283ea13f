/**
 * The public shape of path verdicts (issue: "Path verdicts"). The judge watches
 * a path — local address, remote address, ifindex for link-local, mark — and
 * says whether it is viable, suspect, or really gone, with the evidence.
 */
import type { EventEmitter } from 'node:events';
import type { NetworkEvent, Route } from '../netlink/types';

export type PathState = 'viable' | 'suspect' | 'gone';

export type VerdictReason =
  | 'local-address-removed'
  | 'local-address-dadfailed'
  | 'local-address-expired'
  | 'local-address-replaced'
  | 'link-down'
  | 'link-removed'
  | 'no-route'
  | 'unreachable'
  | 'source-mismatch'
  | 'neighbour-failed';

export interface PathSpec {
  /** Local (source) address of the connection. */
  local: string;
  /** Remote (peer) address. */
  remote: string;
  /**
   * Interface index (the zone); required when either address is IPv6 link-local, and
   * dropped otherwise, as the kernel ignores a scope id for other addresses (give a
   * socket's bound device as `boundIfindex`).
   */
  ifindex?: number;
  /** SO_MARK / fwmark the connection's traffic carries (policy routing). */
  mark?: number;
  /**
   * Interface index the socket is bound to (SO_BINDTODEVICE, or a VRF device): every
   * kernel lookup for the path carries it as the output interface, as the socket's do.
   */
  boundIfindex?: number;
}

/** One line of a path's evidence timeline. */
export interface EvidenceEntry {
  /** Milliseconds on the judge's clock. */
  time: number;
  /** 'socket': what a connection's own TCP state showed (proof of life), added by the connection guard. */
  kind: 'event' | 'check' | 'state' | 'timer' | 'socket';
  /** Human-readable summary, e.g. "address 2001:db8::1/64 removed from veth0 (index 4)". */
  summary: string;
  /** The netlink event behind this entry, when there is one. */
  event?: NetworkEvent;
}

/** Where the kernel would send traffic for this path. */
export interface PathRoute {
  oif: number | null;
  preferredSource: string | null;
  gateway: string | null;
  table: number;
}

export interface SuspectInfo {
  reason: VerdictReason;
  /** Clock time at which the fresh check runs unless the evidence comes back first. */
  deadline: number;
  evidence: readonly EvidenceEntry[];
}

export interface RecoveredInfo {
  /** The reason that was suspected. */
  reason: VerdictReason;
  /** How long the path was suspect, in ms. */
  suspectForMs: number;
  evidence: readonly EvidenceEntry[];
}

export interface GoneInfo {
  reason: VerdictReason;
  evidence: readonly EvidenceEntry[];
}

export interface ChangedInfo {
  previous: PathRoute | null;
  current: PathRoute;
  route: Route;
}

/** The judge stopped judging the path because its source ended (the monitor was closed or failed). */
export interface EndedInfo {
  /** 'ERR_MONITOR_CLOSED' when the source was closed; else the code of the source's error. */
  code: string;
  message: string;
}

export interface PathWatchEvents {
  suspect: [SuspectInfo];
  recovered: [RecoveredInfo];
  gone: [GoneInfo];
  changed: [ChangedInfo];
  ended: [EndedInfo];
}

/** A handle on one watched path. Many handles on the same path share one evaluation. */
export interface PathWatch extends EventEmitter<PathWatchEvents> {
  readonly path: Readonly<PathSpec>;
  readonly state: PathState;
  /** Reason of the current suspect/gone state; null while viable. */
  readonly reason: VerdictReason | null;
  readonly evidence: readonly EvidenceEntry[];
  /** The route the kernel chose for the path, as last checked. */
  readonly route: PathRoute | null;
  /** Stops watching (idempotent). The shared evaluation ends with its last handle. */
  close(): void;
}

/** Injected time source: real timers by default, a virtual clock in tests and replay. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Hold-down per reason, in ms: how long a suspect path waits for its evidence to come back. */
export type HoldDowns = Record<VerdictReason, number>;

/** Options of `new PathJudge(source, options)`; defaults in src/judge/hold-downs.ts (JUDGE_DEFAULTS). */
export interface JudgeOptions {
  /** Time source; default `realClock`. Tests and replay pass a `VirtualClock`. */
  clock?: Clock;
  /** Overrides of the per-reason hold-downs (ms). */
  holdDowns?: Partial<HoldDowns>;
  /**
   * Cap on a suspect window (ms from the first evidence). A path with no other way to
   * its peer waits this long before it is gone; one whose peer another path reaches is
   * judged when its reason's hold-down ends.
   */
  maxSuspectMs?: number;
  /** While a route with an expiry keeps being used past its foreseen end, how often it is re-checked (ms). */
  routeRecheckMs?: number;
  /** Entries kept in each path's evidence timeline. */
  evidenceLimit?: number;
}

/** Per-reason tallies. */
export type ReasonCounts = Record<VerdictReason, number>;

/** What the judge has done since it was created (`judge.counters()`). */
export interface JudgeCounters {
  /** Open watch handles. */
  watches: number;
  /** Distinct paths being evaluated (handles on the same path share one). */
  paths: number;
  /** Network events received. */
  events: number;
  /** Path checks run (an event, timer or resync re-examined one path). */
  checks: number;
  /** Kernel route lookups made. */
  kernelLookups: number;
  /** viable -> suspect transitions, by reason. */
  suspected: ReasonCounts;
  /** suspect -> viable: churn ridden out, by the reason that was suspected. */
  churnSuppressed: ReasonCounts;
  /** Fresh checks run when a hold-down ended. */
  confirmations: number;
  /** Losses confirmed early because the interface was configured again without the address (replacement). */
  earlyConfirmations: number;
  /** Hold-downs extended because no other path reached the peer or the address was still tentative. */
  extensions: number;
  /** Verdicts given: gone by reason, and path changes. */
  verdicts: { gone: ReasonCounts; changed: number };
}
