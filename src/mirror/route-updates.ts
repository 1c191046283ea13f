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
import type { Route } from '../netlink/types';
import { ADDED, APPEND, PREPEND, type RouteTable } from './route-table';
import type { ApplyHooks, SyncLedger } from './sync-ledger';

/**
 * IPv6 replaces the first route of the key that qualifies for ECMP as the new one does
 * (rt6_qualify_for_ecmp: has a gateway); multipath routes are handled as siblings.
 */
function sameEcmpKind(table: RouteTable, slot: number, view: RecordView, p: number): boolean {
  if (table.word(slot, F.ROUTE_NH_COUNT) > 0 || view.u32[p + F.ROUTE_NH_COUNT] > 0) return false;
  const gw = (present: number) => (present & F.ROUTE_HAS_GATEWAY) !== 0;
  return gw(table.word(slot, F.ROUTE_PRESENT_GWFAMILY)) === gw(view.u32[p + F.ROUTE_PRESENT_GWFAMILY]);
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
    const route = readRoute(view, p);
    if (route.family === 6 && route.multipath && status === ADDED) this.absorbSiblings(route, time, hooks);
    const action = status === ADDED ? 'added' : 'changed';
    this.ledger.report({ type: 'route', action, route, previous, time }, fromDump, hooks);
  }

  /**
   * `ip route replace` (NLM_F_REPLACE) replaces the first route of its key, which may have
   * other nexthops than the new one (fib_table_insert, fib6_add_rt2node). False when there
   * is none, or it is the same route (then an ordinary update).
   */
  private replaceFirst(view: RecordView, p: number, generation: number, time: number, hooks: ApplyHooks): boolean {
    const table = this.table;
    const first = table.firstWithKey(view, p);
    if (first < 0 || first === table.find(view, p)) return false;
    if ((view.u32[p] & 0xff) === 10 && !sameEcmpKind(table, first, view, p)) return false;
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
   * `ip -6 route append` turns a single-path route into ECMP siblings; the kernel then
   * reports the whole multipath route, which replaces the single-path entries it includes.
   */
  private absorbSiblings(route: Route, time: number, hooks: ApplyHooks): void {
    for (const c of this.ipv6Candidates(route)) {
      if (c.route.multipath) continue;
      const included = route.multipath!.some((h) => h.index === c.route.oif && h.gateway === c.route.gateway);
      if (!included) continue;
      this.table.remove(c.slot);
      this.ledger.report({ type: 'route', action: 'removed', route: c.route, previous: c.route, time }, false, hooks);
    }
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
