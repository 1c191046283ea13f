/**
 * How many routes name each nexthop object (RTA_NH_ID), and how many of those also list
 * the object's nexthops (RTA_GATEWAY/RTA_MULTIPATH, which the kernel adds while
 * net.ipv4.nexthop_compat_mode is 1). A nexthop event asks about one id: counting as
 * routes come and go answers without walking the table, which on an FRR host (every
 * route through a nexthop object) is the whole full table per event.
 */
import * as F from '../netlink/record-format';

export class NexthopUse {
  private readonly naming = new Map<number, number>();
  private readonly listing = new Map<number, number>();

  /** Counts (+1) or uncounts (-1) a route by its present bits, nexthop id and nexthop count words. */
  note(present: number, id: number, nhCount: number, delta: 1 | -1): void {
    if ((present & F.ROUTE_HAS_NH_ID) === 0) return;
    bump(this.naming, id, delta);
    if ((present & F.ROUTE_HAS_GATEWAY) !== 0 || nhCount > 0) bump(this.listing, id, delta);
  }

  /** Routes naming nexthop object `id`. */
  routesNaming(id: number): number {
    return this.naming.get(id) ?? 0;
  }

  /** Routes naming `id` that also list its nexthops. */
  routesListing(id: number): number {
    return this.listing.get(id) ?? 0;
  }

  clear(): void {
    this.naming.clear();
    this.listing.clear();
  }
}

function bump(counts: Map<number, number>, id: number, delta: number): void {
  const n = (counts.get(id) ?? 0) + delta;
  if (n > 0) counts.set(id, n);
  else counts.delete(id);
}
