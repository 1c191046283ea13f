/**
 * Route records applied to the RouteTable after the initial sync, as the kernel
 * applies them: replace, prepend/append, IPv6 ECMP siblings, the IPv4 flush of a
 * deleted device, and the sweep of routes a completed dump did not see. Each real
 * difference is reported as a route event.
 */
import * as F from '../netlink/record-format';
import { DumpObject } from '../netlink/record-format';
import { readRoute, type RecordView } from '../netlink/decode';
import { parseIp } from '../netlink/ip';
import type { Route, RouteNexthop } from '../netlink/types';
import { ADDED, APPEND, PREPEND, type RouteTable } from './route-table';
import type { ApplyHooks, SyncLedger } from './sync-ledger';

const RTPROT_RA = 9;

/**
 * Whether an IPv6 route qualifies for ECMP (rt6_qualify_for_ecmp: a gateway, no nexthop
 * object, not learned from a router advertisement); a multipath route is such siblings.
 */
function ecmpKind(present: number, nhCount: number, protoWord: number): boolean {
  if (nhCount > 0) return true;
  return (present & F.ROUTE_HAS_GATEWAY) !== 0 && (present & F.ROUTE_HAS_NH_ID) === 0 && (protoWord & 0xff) !== RTPROT_RA;
}

function slotEcmpKind(table: RouteTable, slot: number): boolean {
  return ecmpKind(table.word(slot, F.ROUTE_PRESENT_GWFAMILY), table.word(slot, F.ROUTE_NH_COUNT), table.word(slot, F.ROUTE_PROTO_SCOPE_TYPE_PREF));
}

/**
 * The route an IPv6 `ip route replace` replaces (fib6_add_rt2node): the first of its key
 * of the same ECMP kind as the new one, else the first of its key. -1 when none.
 */
function ipv6ReplaceTarget(table: RouteTable, view: RecordView, p: number): number {
  const u32 = view.u32;
  const kind = ecmpKind(u32[p + F.ROUTE_PRESENT_GWFAMILY], u32[p + F.ROUTE_NH_COUNT], u32[p + F.ROUTE_PROTO_SCOPE_TYPE_PREF]);
  const same = table.firstWithKey(view, p, (slot) => slotEcmpKind(table, slot) === kind);
  return same >= 0 ? same : table.firstWithKey(view, p);
}

export class RouteUpdates {
  /** The ledger's generations (the same array, read per record). */
  private readonly gen: Uint32Array;

  constructor(
    private readonly table: RouteTable,
    private readonly ledger: SyncLedger,
  ) {
    this.gen = ledger.gen;
  }

  /** RTM_NEWROUTE once the initial sync is done (before it, records go to table.upsert directly). */
  applyNew(view: RecordView, p: number, flags: number, time: number, hooks: ApplyHooks): void {
    const table = this.table;
    const generation = this.gen[DumpObject.Route];
    const fromDump = (flags & F.FLAG_FROM_DUMP) !== 0;
    if (flags & F.FLAG_REPLACE && this.replaceFirst(view, p, generation, time, hooks)) return;
    const same = table.stampIfSame(view, p, generation, !fromDump);
    if (same >= 0) {
      if (fromDump) return; // a resync re-reporting what we hold: not a difference
      // A live RTM_NEWROUTE for an unchanged route (`ip route replace` with the same facts).
      const route = table.read(same);
      this.ledger.report({ type: 'route', action: 'changed', route, previous: route, time }, false, hooks);
      return;
    }
    const before = table.find(view, p);
    const previous = before >= 0 ? table.read(before) : null;
    // `ip route prepend` (NLM_F_CREATE alone) puts the new route first among those of its key.
    const place = (flags & (F.FLAG_CREATE | F.FLAG_APPEND | F.FLAG_EXCL)) === F.FLAG_CREATE ? PREPEND : APPEND;
    const status = table.upsert(view, p, generation, !fromDump, place);
    let route = readRoute(view, p);
    if (route.family === 6 && route.multipath) route = this.absorbSiblings(route, table.find(view, p), status === ADDED ? null : previous, time, hooks);
    const action = status === ADDED ? 'added' : 'changed';
    this.ledger.report({ type: 'route', action, route, previous, time }, fromDump, hooks);
  }

  /**
   * `ip route replace` (NLM_F_REPLACE) replaces the first route of its key (IPv6: of its
   * ECMP kind when there is one), which may have other nexthops than the new one
   * (fib_table_insert, fib6_add_rt2node). False when there is none, or it is the same
   * route (then an ordinary update).
   */
  private replaceFirst(view: RecordView, p: number, generation: number, time: number, hooks: ApplyHooks): boolean {
    const table = this.table;
    const first = (view.u32[p] & 0xff) === 10 ? ipv6ReplaceTarget(table, view, p) : table.firstWithKey(view, p);
    if (first < 0 || first === table.find(view, p)) return false;
    const previous = table.read(first);
    const order = table.orderOf(first);
    table.remove(first);
    table.upsert(view, p, generation, true, order);
    this.ledger.report({ type: 'route', action: 'changed', route: readRoute(view, p), previous, time }, false, hooks);
    return true;
  }

  /** Single-path IPv6 routes of the same key as `route`, as slots with their routes. */
  private ipv6Candidates(route: Route): Array<{ slot: number; route: Route }> {
    const dst = parseIp(route.destination)!.bytes;
    return this.table
      .slotsTo(route.table, 6, dst, route.destinationLength)
      .map((slot) => ({ slot, route: this.table.read(slot) }))
      .filter((c) => c.route.metric === route.metric && c.route.source === route.source);
  }

  /**
   * A gateway route added beside another of its key and metric (`ip -6 route append`, or
   * `add`) becomes an ECMP sibling; the kernel then reports the whole multipath route,
   * which replaces the routes it includes (single-path or already multipath). It lists
   * the new sibling first (rt6_fill_node starts from the route notified), while dumps
   * list siblings in the order they joined (list_add_tail in fib6_add_rt2node): the
   * nexthops are kept in the dump's order (`previous`: the route this one updated in
   * place, whose siblings came first). Returns the route as the mirror now holds it.
   */
  private absorbSiblings(route: Route, slot: number, previous: Route | null, time: number, hooks: ApplyHooks): Route {
    const hops = route.multipath!;
    const sameHop = (a: { index: number; gateway: string | null }, b: { index: number; gateway: string | null }) =>
      a.index === b.index && a.gateway === b.gateway;
    const absorbed = this.ipv6Candidates(route)
      .filter((c) => c.slot !== slot)
      .map((c) => ({ ...c, hops: c.route.multipath ?? [{ index: c.route.oif ?? 0, gateway: c.route.gateway }] }))
      .filter((c) => c.hops.every((h) => hops.some((x) => sameHop(x, h))))
      .sort((a, b) => this.table.orderOf(a.slot) - this.table.orderOf(b.slot));
    const earlier = [...(previous?.multipath ?? []), ...absorbed.flatMap((c) => c.hops)];
    if (earlier.length === 0) return route;
    const ordered: RouteNexthop[] = [];
    for (const h of earlier) {
      const hop = hops.find((x) => sameHop(x, h));
      if (hop && !ordered.includes(hop)) ordered.push(hop);
    }
    for (const h of hops) if (!ordered.includes(h)) ordered.push(h);
    for (const c of absorbed) {
      this.table.remove(c.slot);
      this.ledger.report({ type: 'route', action: 'removed', route: c.route, previous: c.route, time }, false, hooks);
    }
    if (ordered.some((h, i) => h !== hops[i])) this.table.replaceNexthops(slot, ordered);
    return this.table.read(slot);
  }

  /** RTM_DELROUTE. */
  applyDel(view: RecordView, p: number, time: number, hooks: ApplyHooks): void {
    const table = this.table;
    const slot = table.find(view, p);
    if (slot >= 0) {
      const previous = table.read(slot);
      table.remove(slot);
      this.ledger.report({ type: 'route', action: 'removed', route: previous, previous, time }, false, hooks);
      return;
    }
    // IPv6 deletes one sibling of a multipath route at a time (one RTM_DELROUTE per nexthop).
    const deleted = readRoute(view, p);
    if (deleted.family !== 6 || deleted.multipath) return;
    for (const c of this.ipv6Candidates(deleted)) {
      const hops = c.route.multipath;
      if (!hops) continue;
      const rest = hops.filter((h) => !(h.index === deleted.oif && h.gateway === deleted.gateway));
      if (rest.length === hops.length) continue;
      if (rest.length === 0) {
        table.remove(c.slot);
        this.ledger.report({ type: 'route', action: 'removed', route: c.route, previous: c.route, time }, false, hooks);
      } else {
        table.replaceNexthops(c.slot, rest);
        this.ledger.report({ type: 'route', action: 'changed', route: table.read(c.slot), previous: c.route, time }, false, hooks);
      }
      return;
    }
  }

  /** A device was deleted: the kernel flushed its IPv4 routes without any RTM_DELROUTE. */
  removeOnLink(index: number, time: number, hooks: ApplyHooks, fromDump: boolean): void {
    const table = this.table;
    for (const slot of table.slots()) {
      const hops = table.multipathOf(slot);
      const onLink = hops
        ? hops.every((h) => h.index === index)
        : table.word(slot, F.ROUTE_OIF) === index && (table.word(slot, F.ROUTE_PRESENT_GWFAMILY) & F.ROUTE_HAS_OIF) !== 0;
      if (!onLink) continue;
      const route = table.read(slot);
      table.remove(slot);
      this.ledger.report({ type: 'route', action: 'removed', route, previous: route, time }, fromDump, hooks);
    }
  }

  /**
   * A nexthop object was deleted: the kernel flushed the IPv4 routes through it without
   * any RTM_DELROUTE (__remove_nexthop_fib marks their fib_info dead, fib_flush drops
   * them); IPv6 ones are announced (RTM_DELROUTE) and left to that.
   */
  removeWithNexthop(id: number, time: number, hooks: ApplyHooks): void {
    const table = this.table;
    if (table.nexthopUse.routesNaming(id) === 0) return;
    for (const slot of table.slots()) {
      if ((table.word(slot, F.ROUTE_PRESENT_GWFAMILY) & F.ROUTE_HAS_NH_ID) === 0) continue;
      if (table.word(slot, F.ROUTE_NH_ID) !== id || (table.word(slot, F.ROUTE_FAMILY_DLEN_SLEN_TOS) & 0xff) !== 2) continue;
      const route = table.read(slot);
      table.remove(slot);
      this.ledger.report({ type: 'route', action: 'removed', route, previous: route, time }, false, hooks);
    }
  }

  /**
   * Whether a route through nexthop object `id` carries that object's nexthops (a gateway
   * or a multipath list: the kernel adds them to route messages while
   * net.ipv4.nexthop_compat_mode is 1, its default; at 0 a route names only the id).
   */
  carriesNexthopsOf(id: number): boolean {
    return this.table.nexthopUse.routesListing(id) > 0;
  }

  /** A route dump completed: removes what it did not stamp (silently during the initial sync). */
  sweep(time: number, hooks: ApplyHooks): void {
    const table = this.table;
    for (const slot of table.slotsNotStamped(this.gen[DumpObject.Route])) {
      const route = this.ledger.initialDone ? table.read(slot) : null;
      table.remove(slot);
      if (route) this.ledger.report({ type: 'route', action: 'removed', route, previous: route, time }, true, hooks);
    }
  }
}
