/**
 * What the layers above the mirror (the judge, the connection manager) read:
 * a live view of the kernel's state, the event stream, and kernel route lookups.
 * `NetlinkMonitor` implements NetworkSource; tests of pure logic may supply their own.
 */
import type { RouteQueryBatch } from './query-batch';
import type { Address, Link, Neighbour, NetworkEvent, Nexthop, Route, RouteQuery, Rule } from './types';

export interface NetworkStateView {
  link(index: number): Link | undefined;
  linkByName(name: string): Link | undefined;
  links(): Iterable<Link>;
  addresses(): Iterable<Address>;
  /** Addresses configured on one interface. */
  addressesOn(index: number): Address[];
  /**
   * Every configured address equal to `ip` (canonical text, see normalizeIp), on any
   * interface; for IPv4 the match is on IFA_LOCAL. Link-local addresses may repeat
   * across interfaces: filter by index.
   */
  findAddresses(ip: string): Address[];
  /** Routes with this exact destination prefix in one table ("203.0.113.0/24", "::/0"), in the kernel's order. */
  routesTo(table: number, prefix: string): Route[];
  routes(): Iterable<Route>;
  readonly routeCount: number;
  nexthop(id: number): Nexthop | undefined;
  nexthops(): Iterable<Nexthop>;
  /** Policy routing rules of one family, in the kernel's order (priority, then age). */
  rules(family: 4 | 6): readonly Rule[];
  /** The neighbour entry for `address` (canonical text) on interface `index`. */
  neighbour(index: number, address: string): Neighbour | undefined;
  neighbours(): Iterable<Neighbour>;
}

/** The outcome of a kernel route lookup: never throws for a routing answer. */
export type RouteLookupResult =
  | { ok: true; route: Route }
  | {
      ok: false;
      /** "ENETUNREACH", "EHOSTUNREACH", "EACCES" (prohibit), "EINVAL", ... */
      code: string;
      errno: number;
      /** Human text including the kernel's extended-ack message when it sent one. */
      message: string;
    };

export interface NetworkSource {
  readonly state: NetworkStateView;
  /** True once the initial dump has been merged. */
  readonly synced: boolean;
  /** Synchronous RTM_GETROUTE (a few microseconds); the authoritative answer. */
  lookupRoute(query: RouteQuery): RouteLookupResult;
  /**
   * Optional: many lookups at once, answers in query order, each as lookupRoute() would
   * give it. The judge asks this way for a burst of new watches (the monitor sends the
   * requests together, so the kernel's replies need no round trip each).
   */
  lookupRoutes?(queries: readonly RouteQuery[]): RouteLookupResult[];
  /** Optional, with lookupRoutes: the same for queries packed as bytes (no strings to parse). */
  lookupBatch?(batch: RouteQueryBatch): RouteLookupResult[];
  on(event: 'event', listener: (event: NetworkEvent) => void): this;
  off(event: 'event', listener: (event: NetworkEvent) => void): this;
  /** 'close': the source ended and sends nothing more (NetlinkMonitor.close()). */
  on(event: 'close', listener: () => void): this;
  off(event: 'close', listener: () => void): this;
}
