/**
 * Applies the addon's record batches to the mirror's stores: dispatches each record by
 * kind, handles the dump markers (mark-and-sweep: see network-state.ts), and passes
 * route notifications through as events when routes are not mirrored.
 */
import * as F from '../netlink/record-format';
import { DumpObject, Kind } from '../netlink/record-format';
import {
  forEachRecord,
  readAddress,
  readError,
  readLink,
  readNeighbour,
  readNexthop,
  readRoute,
  readRule,
  viewOf,
  type RecordView,
} from '../netlink/decode';
import type { Neighbour, Nexthop, Route, Rule } from '../netlink/types';
import type { LinkAddressStore } from './link-address-store';
import { LinkUpdates } from './link-updates';
import type { NeighbourTable } from './neighbour-table';
import type { NexthopStore } from './nexthop-store';
import type { RouteTable } from './route-table';
import { RouteUpdates } from './route-updates';
import type { RuleList } from './rule-list';
import type { ApplyHooks, SyncLedger } from './sync-ledger';

const NUD_NOARP = 0x40;

/** The mirror's stores, as the applier changes them. */
export interface MirrorStores {
  readonly linksAddresses: LinkAddressStore;
  readonly routeTable: RouteTable;
  readonly nexthops: NexthopStore;
  readonly rules: RuleList;
  readonly neighbours: NeighbourTable;
}

/** How route records are taken (NetworkStateOptions: routes, onDumpedRoute, onDumpedRouteRecords). */
export interface RouteIntake {
  /** Routes are kept in the table ('mirror'), else passed through as events. */
  readonly mirror: boolean;
  readonly onDumpedRoute: ((route: Route) => void) | undefined;
  readonly onDumpedRouteRecords: ((batch: ArrayBuffer, byteLength: number) => void) | undefined;
}

export class BatchApplier {
  private readonly links: LinkUpdates;
  private readonly routes: RouteUpdates;
  /** The batch being applied held dumped routes (for onDumpedRouteRecords). */
  private batchHasDumpedRoutes = false;

  constructor(
    private readonly stores: MirrorStores,
    private readonly ledger: SyncLedger,
    private readonly intake: RouteIntake,
  ) {
    this.routes = new RouteUpdates(stores.routeTable, ledger);
    this.links = new LinkUpdates(stores.linksAddresses, this.routes, stores.neighbours, ledger);
  }

  /** `byteLength`: the records' length when `batch` is the addon's reused, larger buffer. */
  apply(batch: ArrayBuffer, time: number, hooks: ApplyHooks, byteLength = batch.byteLength): void {
    const view = viewOf(batch, byteLength);
    // Read once per batch: the route records below are the hot path (a million in a dump).
    const ledger = this.ledger;
    const table = this.stores.routeTable;
    const mirrorRoutes = this.intake.mirror;
    forEachRecord(view, (kind, flags, p) => {
      const fromDump = (flags & F.FLAG_FROM_DUMP) !== 0;
      switch (kind) {
        case Kind.LinkNew:
        case Kind.LinkDel:
          this.links.applyLink(readLink(view, p), kind === Kind.LinkDel, fromDump, time, hooks);
          break;
        case Kind.AddrNew:
        case Kind.AddrDel:
          this.links.applyAddress(readAddress(view, p), kind === Kind.AddrDel, fromDump, time, hooks);
          break;
        case Kind.RouteNew:
        case Kind.RouteDel:
          if (!mirrorRoutes) this.passRouteEvent(view, p, flags, kind === Kind.RouteDel, time, hooks);
          else if (kind === Kind.RouteDel) this.routes.applyDel(view, p, time, hooks);
          // The initial sync is silent: nothing to compare with or report.
          else if (!ledger.initialDone) table.upsert(view, p, ledger.gen[DumpObject.Route], false);
          else this.routes.applyNew(view, p, flags, time, hooks);
          break;
        case Kind.NexthopNew:
        case Kind.NexthopDel:
          this.applyNexthop(readNexthop(view, p), kind === Kind.NexthopDel, fromDump, time, hooks);
          break;
        case Kind.RuleNew:
        case Kind.RuleDel:
          this.applyRule(readRule(view, p), kind === Kind.RuleDel, fromDump, time, hooks);
          break;
        case Kind.NeighNew:
        case Kind.NeighDel:
          this.applyNeighbour(readNeighbour(view, p), kind === Kind.NeighDel, fromDump, time, hooks);
          break;
        case Kind.DumpBegin:
          if (view.u32[p] === DumpObject.Rule) this.stores.rules.beginDump();
          ledger.beginDump(view.u32[p]);
          break;
        case Kind.DumpEnd:
          ledger.endDump(view.u32[p]);
          break;
        case Kind.Synced:
          this.finishSync(time, hooks);
          break;
        case Kind.Overflow:
          ledger.pendingResyncReason = 'overflow';
          hooks.overflow(view.u32[p]);
          break;
        case Kind.LostEvent:
          ledger.pendingResyncReason = 'lost';
          hooks.overflow(0);
          break;
        case Kind.DumpIncomplete:
          hooks.dumpIncomplete(F.DUMP_OBJECT_NAMES[view.u32[p]] ?? `object ${view.u32[p]}`, view.u32[p + 1]);
          break;
        case Kind.Dropped:
          hooks.emit({
            type: 'dropped',
            reason: (F.DROP_REASONS[view.u32[p]] || 'malformed') as 'malformed',
            count: view.u32[p + 1],
            time,
          });
          break;
        case Kind.Error: {
          const { errno, message } = readError(view, p);
          hooks.error(errno, message);
          break;
        }
        default:
          break;
      }
    });
    if (this.batchHasDumpedRoutes) {
      this.batchHasDumpedRoutes = false;
      this.intake.onDumpedRouteRecords?.(batch, byteLength);
    }
  }

  /** routes: 'events' or 'stream': a live notification becomes an event as it is (no table to compare with). */
  private passRouteEvent(view: RecordView, p: number, flags: number, removed: boolean, time: number, hooks: ApplyHooks): void {
    if (flags & F.FLAG_FROM_DUMP) {
      // 'stream' (routes are not dumped for 'events'): whole batches go to onDumpedRouteRecords.
      if (this.intake.onDumpedRouteRecords) this.batchHasDumpedRoutes = true;
      else this.intake.onDumpedRoute?.(readRoute(view, p));
      return;
    }
    const route = readRoute(view, p);
    const action = removed ? 'removed' : flags & F.FLAG_REPLACE ? 'changed' : 'added';
    this.ledger.report({ type: 'route', action, route, previous: removed ? route : null, time }, false, hooks);
  }

  private applyNexthop(nh: Nexthop, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    if (removed) {
      const old = this.stores.nexthops.remove(nh.id);
      if (old) this.ledger.report({ type: 'nexthop', action: 'removed', nexthop: old, previous: old, time }, fromDump, hooks);
      if (!fromDump) this.routes.removeWithNexthop(nh.id, time, hooks);
      return;
    }
    const previous = this.stores.nexthops.put(nh, this.ledger.gen[DumpObject.Nexthop]);
    if (previous === undefined) return; // unchanged
    const action = previous ? 'changed' : 'added';
    this.ledger.report({ type: 'nexthop', action, nexthop: nh, previous, time }, fromDump, hooks);
    // A group that lost a member (the member was deleted) is announced alone: the routes
    // through it that list its nexthops now have fewer, with no RTM_NEWROUTE (a replace
    // re-announces them). Only those make a confirmation dump worth its cost.
    if (previous && !fromDump && (nh.group || previous.group) && this.routes.carriesNexthopsOf(nh.id)) hooks.silentChangesPossible();
  }

  private applyRule(rule: Rule, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    const rules = this.stores.rules;
    if (removed) {
      const previous = rules.remove(rule);
      if (previous) this.ledger.report({ type: 'rule', action: 'removed', rule: previous, previous, time }, fromDump, hooks);
      return;
    }
    const gen = this.ledger.gen[DumpObject.Rule];
    const change = fromDump ? rules.dumped(rule, gen) : rules.add(rule, gen);
    if (change) this.ledger.report({ type: 'rule', ...change, time }, fromDump, hooks);
  }

  private applyNeighbour(n: Neighbour, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    if (removed) {
      const previous = this.stores.neighbours.remove(n);
      if (previous) this.ledger.report({ type: 'neighbour', action: 'removed', neighbour: n, previous, time }, fromDump, hooks);
      return;
    }
    // The kernel makes NOARP entries (multicast, broadcast, devices without ARP) with no
    // RTM_NEWNEIGH at all (neigh_create does not notify; seen for ff02:: groups on 6.18):
    // a mirror of them would drift between dumps, and they never resolve anything. An
    // entry we hold that became NOARP (`ip neigh replace ... nud noarp`, which is
    // notified) leaves the mirror as the dump's filter would leave it out.
    if (n.state & NUD_NOARP) {
      if (fromDump) return;
      const previous = this.stores.neighbours.remove(n);
      if (previous) this.ledger.report({ type: 'neighbour', action: 'removed', neighbour: n, previous, time }, false, hooks);
      return;
    }
    const previous = this.stores.neighbours.put(n, this.ledger.gen[DumpObject.Neigh]);
    if (previous === undefined) return; // a re-notification of what we hold
    const action = previous ? 'changed' : 'added';
    this.ledger.report({ type: 'neighbour', action, neighbour: n, previous, time }, fromDump, hooks);
  }

  /** kSynced: sweep what the finished dumps did not see, then announce. */
  private finishSync(time: number, hooks: ApplyHooks): void {
    for (const obj of this.ledger.completedDumps()) this.sweep(obj, time, hooks);
    const s = this.stores;
    this.ledger.finish(time, hooks, () => ({
      links: s.linksAddresses.linkCount,
      addresses: s.linksAddresses.addressCount,
      routes: s.routeTable.size,
      nexthops: s.nexthops.size,
      rules: s.rules.size,
      neighbours: s.neighbours.size,
    }));
  }

  private sweep(obj: number, time: number, hooks: ApplyHooks): void {
    const current = this.ledger.gen[obj];
    const ledger = this.ledger;
    switch (obj) {
      case DumpObject.Link:
        this.links.sweepLinks(time, hooks);
        break;
      case DumpObject.Addr:
        this.links.sweepAddresses(time, hooks);
        break;
      case DumpObject.Route:
        this.routes.sweep(time, hooks);
        break;
      case DumpObject.Nexthop:
        this.stores.nexthops.sweep(current, (nh) =>
          ledger.report({ type: 'nexthop', action: 'removed', nexthop: nh, previous: nh, time }, true, hooks),
        );
        break;
      case DumpObject.Rule:
        for (const rule of this.stores.rules.sweep(current)) {
          ledger.report({ type: 'rule', action: 'removed', rule, previous: rule, time }, true, hooks);
        }
        break;
      case DumpObject.Neigh:
        for (const n of this.stores.neighbours.sweep(current)) {
          ledger.report({ type: 'neighbour', action: 'removed', neighbour: n, previous: n, time }, true, hooks);
        }
        break;
      default:
        break;
    }
  }
}
