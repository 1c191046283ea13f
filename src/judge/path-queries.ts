/**
 * What a path asks the kernel, and what a check may read: the lookups a path's own
 * traffic and a new connection to its peer make, and the environment of one check.
 */
import type { RouteQuery, RouteType } from '../netlink/types';
import type { NetworkStateView, RouteLookupResult } from '../netlink/view';
import type { ResolvedJudgeOptions } from './hold-downs';
import type { InterfaceHistory } from './interface-history';
import type { CanonicalPath, NormalizedPath } from './path-spec';
import type { VerdictReason } from './types';

export interface CheckEnv {
  readonly view: NetworkStateView;
  readonly history: InterfaceHistory;
  readonly options: ResolvedJudgeOptions;
  readonly now: number;
  lookup(query: RouteQuery): RouteLookupResult;
  /** The path's own lookup (`bound`, from its local address) or a new connection's to its peer. */
  lookupPath(path: CanonicalPath, bound: boolean): RouteLookupResult;
  /** A `local` route outside the local table covers this address (AnyIP in another table). */
  localRouteCovers(family: 4 | 6, bytes: Uint8Array): boolean;
  /** How a new connection to the path's peer would leave: `compute(path, this)`, once per peer and pass. */
  newConnection(path: CanonicalPath, compute: (path: CanonicalPath, env: CheckEnv) => NewConnection | null): NewConnection | null;
  /** Caches a fact for the rest of the pass (many paths share an interface or a peer), under a tuple of keys. */
  memo<T>(keys: readonly unknown[], compute: () => T): T;
  /** memo() for a name and five keys (null for unused ones), computed by `make(x, y, z)`: nothing allocated on a hit. */
  memo5<T, X, Y, Z>(name: string, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, make: (x: X, y: Y, z: Z) => T, x: X, y: Y, z: Z): T;
  /**
   * One immutable value for every path and pass that makes it from the same name and
   * five keys (a route answer, its text), computed by `make(x, y, z)`: paths checked one
   * by one share them as a burst does. Nothing is allocated on a hit.
   */
  shared5<T, X, Y, Z>(name: string, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, make: (x: X, y: Y, z: Z) => T, x: X, y: Y, z: Z): T;
}

/** A way a new connection to a peer would take now: its source and a line of evidence. */
export interface NewConnection {
  readonly source: string;
  readonly text: string;
  /** Its next hop's key ("oif|address"), null when it hands nothing to a neighbour. */
  readonly hop: string | null;
}

/** What the path's evaluation remembers between checks. */
export interface PathMemory {
  // Read-only: a path's evaluation is its own memory (no copy per check).
  /** Interface the local address was last seen on. */
  readonly addressIndex: number | null;
  /** Output interface of the last successful lookup. */
  readonly egress: number | null;
  /** At the last successful check the local address belonged to the egress interface. */
  readonly sourceOnEgress: boolean;
  /** "oif|address" of the next hop at the last successful check. */
  readonly nextHop: string | null;
  /** Reason of the open suspect window, null while viable. */
  readonly windowReason: VerdictReason | null;
  /** Start of the open suspect window, null while viable. */
  readonly windowStart: number | null;
}

/** Lookup answers that carry traffic. */
const ROUTABLE: ReadonlySet<RouteType> = new Set(['unicast', 'local', 'broadcast', 'multicast', 'anycast']);

export function isRoutable(type: RouteType): boolean {
  return ROUTABLE.has(type);
}

/**
 * The oif of every lookup for the path: a bound device (SO_BINDTODEVICE, a VRF) is the
 * oif of every lookup the socket makes; link-local paths are scoped to their interface
 * the same way.
 */
export function lookupOif(path: NormalizedPath): number | null {
  return path.boundIfindex ?? (path.linkLocal ? path.ifindex : null);
}

/** The query a new connection to the peer would make (the kernel picks the source). */
export function unboundQuery(path: NormalizedPath): RouteQuery {
  const q: RouteQuery = { to: path.remote };
  const oif = lookupOif(path);
  if (oif !== null) q.oif = oif;
  if (path.mark !== null) q.mark = path.mark;
  return q;
}

/** The query the path's own traffic makes (from its local address). */
export function boundQuery(path: NormalizedPath): RouteQuery {
  return { ...unboundQuery(path), from: path.local };
}
