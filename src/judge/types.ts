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
  | 'unreachable';

export interface PathSpec {
  /** Local (source) address of the connection. */
  local: string;
  /** Remote (peer) address. */
  remote: string;
  /** Interface index; required when either address is IPv6 link-local. */
  ifindex?: number;
  /** SO_MARK / fwmark the connection's traffic carries (policy routing). */
  mark?: number;
}

/** One line of a path's evidence timeline. */
export interface EvidenceEntry {
  /** Milliseconds on the judge's clock. */
  time: number;
  kind: 'event' | 'check' | 'state' | 'timer';
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

export interface PathWatchEvents {
  suspect: [SuspectInfo];
  recovered: [RecoveredInfo];
  gone: [GoneInfo];
  changed: [ChangedInfo];
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
