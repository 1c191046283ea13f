/**
 * The network-state mirror: links, addresses, routes (all tables), nexthop
 * objects, policy routing rules and neighbours (ARP/NDP), kept equal to the
 * kernel's by applying the addon's record batches.
 *
 * - Dumps are mark-and-sweep: every object seen in a dump (or by a live event
 *   meanwhile) is stamped with the dump's generation; when the sync completes,
 *   whatever a finished dump did not stamp is gone. An ENOBUFS resync therefore yields exactly
 *   the real differences, as ordinary events, and never looks like churn.
 * - The initial sync is silent (no per-object events), then 'synced'.
 * - IPv4 flushes routes without RTM_DELROUTE when a device is deleted; the mirror
 *   applies that itself (fib_disable_ip on NETDEV_UNREGISTER). Other silent kernel
 *   changes (linkdown flags, routes flushed on admin down or with the last address)
 *   are picked up by a confirmation dump the monitor schedules (see monitor.ts).
 *   Rules and neighbours never ask for one: the kernel reports every rule change, and
 *   neighbour states change every few seconds (REACHABLE <-> STALE) with a message each.
 *
 * NetworkState is the facade: the read side (NetworkStateView) over the stores
 * (LinkAddressStore, RouteTable, NexthopStore, RuleList, NeighbourTable), and apply()
 * handing batches to the BatchApplier, which keeps the dump bookkeeping in a SyncLedger.
 */
import { parseIp } from '../netlink/ip';
import type { Address, Family, Link, Neighbour, Nexthop, Route, Rule } from '../netlink/types';
import type { NetworkStateView } from '../netlink/view';
import { BatchApplier } from './batch-apply';
import { LinkAddressStore } from './link-address-store';
import { NeighbourTable } from './neighbour-table';
import { NexthopStore } from './nexthop-store';
import { RouteTable } from './route-table';
import { RuleList } from './rule-list';
import { SyncLedger, type ApplyHooks, type ResyncReason } from './sync-ledger';

export type { ApplyHooks, ResyncReason };

/**
 * What the mirror keeps of routes. 'mirror': every route of every table (dumped, kept
 * equal to the kernel's; ~80 bytes and ~1 µs of sync per route). 'events': no route
 * table and no route dump; each live route notification becomes a route event as the
 * kernel sent it (`previous` null, or the route itself on removal), and routes() is empty.
 * 'stream': as 'events', but routes are dumped and each dumped route goes to
 * `onDumpedRoute` as it arrives, or each batch of them to `onDumpedRouteRecords` (a
 * one-shot listing that never holds the table). A route
 * dump the kernel interrupts (NLM_F_DUMP_INTR) is restarted: routes read before the
 * restart are delivered again (stats().dumpRetries counts restarts).
 */
export type RouteMode = 'mirror' | 'events' | 'stream';

export interface NetworkStateOptions {
  routes?: RouteMode;
  /** routes: 'stream': each dumped route, in the kernel's order. */
  onDumpedRoute?: (route: Route) => void;
  /**
   * routes: 'stream', instead of onDumpedRoute: called after each applied batch that
   * holds dumped routes, with the batch itself (`byteLength` bytes of records); the
   * routes are not decoded one by one. For formatters that read the records directly
   * (the addon's routeJson): a million Route objects cost more than the kernel's dump.
   */
  onDumpedRouteRecords?: (batch: ArrayBuffer, byteLength: number) => void;
}

export class NetworkState implements NetworkStateView {
  private readonly linksAddresses = new LinkAddressStore();
  private readonly nexthopStore = new NexthopStore();
  readonly routeTable = new RouteTable();
  private readonly ruleList = new RuleList();
  private readonly neighbourTable = new NeighbourTable();
  private readonly ledger = new SyncLedger();
  private readonly applier: BatchApplier;
  readonly routeMode: RouteMode;

  constructor(options: NetworkStateOptions = {}) {
    this.routeMode = options.routes ?? 'mirror';
    this.applier = new BatchApplier(
      {
        linksAddresses: this.linksAddresses,
        routeTable: this.routeTable,
        nexthops: this.nexthopStore,
        rules: this.ruleList,
        neighbours: this.neighbourTable,
      },
      this.ledger,
      {
        mirror: this.routeMode === 'mirror',
        onDumpedRoute: options.onDumpedRoute,
        onDumpedRouteRecords: options.onDumpedRouteRecords,
      },
    );
  }

  get synced(): boolean {
    return this.ledger.initialDone;
  }

  /** Tells the mirror why the next resync happens (for the 'resync' notice). */
  expectResync(reason: ResyncReason): void {
    this.ledger.pendingResyncReason = reason;
  }

  /** `byteLength`: the records' length when `batch` is the addon's reused, larger buffer. */
  apply(batch: ArrayBuffer, time: number, hooks: ApplyHooks, byteLength = batch.byteLength): void {
    this.applier.apply(batch, time, hooks, byteLength);
  }

  // ---- NetworkStateView ----

  link(index: number): Link | undefined {
    return this.linksAddresses.link(index);
  }

  linkByName(name: string): Link | undefined {
    return this.linksAddresses.linkByName(name);
  }

  links(): IterableIterator<Link> {
    return this.linksAddresses.links();
  }

  addresses(): IterableIterator<Address> {
    return this.linksAddresses.addresses();
  }

  addressesOn(index: number): Address[] {
    return this.linksAddresses.addressesOn(index);
  }

  findAddresses(ip: string): Address[] {
    return this.linksAddresses.findAddresses(ip);
  }

  routesTo(table: number, prefix: string): Route[] {
    const slash = prefix.lastIndexOf('/');
    const parsed = parseIp(slash >= 0 ? prefix.slice(0, slash) : prefix);
    if (!parsed) return [];
    const length = slash >= 0 ? Number(prefix.slice(slash + 1)) : parsed.family === 4 ? 32 : 128;
    // In the kernel's order: of IPv4 routes sharing a key (append/prepend), the first is used.
    const t = this.routeTable;
    return t
      .slotsTo(table, parsed.family, parsed.bytes, length)
      .sort((a, b) => t.orderOf(a) - t.orderOf(b))
      .map((s) => t.read(s));
  }

  *routes(): IterableIterator<Route> {
    for (const slot of this.routeTable.slots()) yield this.routeTable.read(slot);
  }

  get routeCount(): number {
    return this.routeTable.size;
  }

  nexthop(id: number): Nexthop | undefined {
    return this.nexthopStore.get(id);
  }

  nexthops(): IterableIterator<Nexthop> {
    return this.nexthopStore.values();
  }

  rules(family: Family): readonly Rule[] {
    return this.ruleList.rules(family);
  }

  neighbour(index: number, address: string): Neighbour | undefined {
    return this.neighbourTable.get(index, address);
  }

  neighbours(): IterableIterator<Neighbour> {
    return this.neighbourTable.values();
  }

  /** Plain arrays of everything (for `routeguard dump`). */
  snapshot(): {
    links: Link[];
    addresses: Address[];
    routes: Route[];
    nexthops: Nexthop[];
    rules: Rule[];
    neighbours: Neighbour[];
  } {
    return {
      links: [...this.links()],
      addresses: [...this.addresses()],
      routes: [...this.routes()],
      nexthops: [...this.nexthops()],
      rules: [...this.rules(4), ...this.rules(6)],
      neighbours: [...this.neighbours()],
    };
  }
}
