/** Errors of the connections layer; each has a stable `code`. */
import { RouteguardError } from '../errors';
import type { EvidenceEntry, PathSpec, VerdictReason } from '../judge/types';

/** A connection was closed because its route is really gone (code ERR_ROUTE_GONE). */
export class RouteGoneError extends RouteguardError {
  declare readonly code: 'ERR_ROUTE_GONE';
  /** Why the judge declared the path gone. */
  readonly reason: VerdictReason;
  /** The evidence timeline that led to the verdict. */
  readonly evidence: readonly EvidenceEntry[];
  /** The path (local, remote, ifindex, mark) that is gone. */
  readonly path: Readonly<PathSpec>;

  constructor(path: Readonly<PathSpec>, reason: VerdictReason, evidence: readonly EvidenceEntry[]) {
    super('ERR_ROUTE_GONE', `route from ${path.local} to ${path.remote} is gone (${reason})`);
    this.reason = reason;
    this.evidence = evidence;
    this.path = path;
  }
}

/** track() was called on a guard that is closed (code ERR_GUARD_CLOSED). */
export class GuardClosedError extends RouteguardError {
  declare readonly code: 'ERR_GUARD_CLOSED';

  constructor() {
    super('ERR_GUARD_CLOSED', 'track(): the connection guard is closed; create a new one');
  }
}
