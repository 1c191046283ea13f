/**
 * What a path asks the kernel, and what a check may read: the lookups a path's own
 * traffic and a new connection to its peer make, and the environment of one check.
 */
import type { RouteQuery, RouteType } from '../netlink/types';
import type { NetworkStateView, RouteLookupResult } from '../netlink/view';
import type { ResolvedJudgeOptions } from './hold-downs';
import type { InterfaceHistory } from './interface-history';
import type { NormalizedPath } from './path-spec';
import type { VerdictReason } from './types';

export interface CheckEnv {
  readonly view: NetworkStateView;
  readonly history: InterfaceHistory;
  readonly options: ResolvedJudgeOptions;
  readonly now: number;
  lookup(query: RouteQuery): RouteLookupResult;
  /** A `local` route outside the local table covers this address (AnyIP in another table). */
  localRouteCovers(family: 4 | 6, bytes: Uint8Array): boolean;
  /** Caches a fact for the rest of the pass (many paths share an interface or a peer). */
  memo<T>(key: string, compute: () => T): T;
}

/** What the path's evaluation remembers between checks. */
export interface PathMemory {
  /** Interface the local address was last seen on. */
  addressIndex: number | null;
  /** Output interface of the last successful lookup. */
  egress: number | null;
  /** At the last successful check the local address belonged to the egress interface. */
  sourceOnEgress: boolean;
  /** "oif|address" of the next hop at the last successful check. */
  nextHop: string | null;
  /** Reason of the open suspect window, null while viable. */
  windowReason: VerdictReason | null;
  /** Start of the open suspect window, null while viable. */
  windowStart: number | null;
}

/** Lookup answers that carry traffic. */
const ROUTABLE: ReadonlySet<RouteType> = new Set(['unicast', 'local', 'broadcast', 'multicast', 'anycast']);

export function isRoutable(type: RouteType): boolean {
  return ROUTABLE.has(type);
}

/** The query a new connection to the peer would make (the kernel picks the source). */
export function unboundQuery(path: NormalizedPath): RouteQuery {
  const q: RouteQuery = { to: path.remote };
  // A bound device (SO_BINDTODEVICE, a VRF) is the oif of every lookup the socket makes;
  // link-local paths are scoped to their interface the same way.
  const oif = path.boundIfindex ?? (path.linkLocal ? path.ifindex : null);
  if (oif !== null) q.oif = oif;
  if (path.mark !== null) q.mark = path.mark;
  return q;
}

/** The query the path's own traffic makes (from its local address). */
export function boundQuery(path: NormalizedPath): RouteQuery {
  return { ...unboundQuery(path), from: path.local };
}
