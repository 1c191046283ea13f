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
import { normalizeIp, parseIp } from '../netlink/ip';
import type { Address, Family, Link, Neighbour, NetworkEvent, Nexthop, Route, Rule } from '../netlink/types';
import type { NetworkStateView } from '../netlink/view';
import { NeighbourTable } from './neighbour-table';
import { ADDED, APPEND, PREPEND, RouteTable } from './route-table';
import { RuleList } from './rule-list';

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

export type ResyncReason = 'overflow' | 'lost' | 'incomplete' | 'requested' | 'confirm';

/** What the monitor learns from a batch besides object events. */
export interface ApplyHooks {
  emit(event: NetworkEvent): void;
  /** A link went up/down, lost carrier, or vanished: the kernel may have changed routes silently. */
  silentChangesPossible(): void;
  /** Events were lost (ENOBUFS, or a notification cut or malformed): the addon is resyncing. */
  overflow(count: number): void;
  /** A dump kept being interrupted by concurrent changes and was given up for now. */
  dumpIncomplete(object: string, attempts: number): void;
  error(errno: number, message: string): void;
}

interface Stamped<T> {
  value: T;
  gen: number;
}

const OBJECT_COUNT = 7;
const NUD_NOARP = 0x40;

function addressKey(a: Address): string {
  return `${a.family}|${a.index}|${a.local ?? a.address}|${a.prefixLength}`;
}

/** Address facts that count as a change during a resync (lifetimes only count down). */
function sameAddress(a: Address, b: Address): boolean {
  return a.flags === b.flags && a.scope === b.scope && a.address === b.address && a.label === b.label;
}

function sameLink(a: Link, b: Link): boolean {
  return (
    a.name === b.name && a.flags === b.flags && a.operstate === b.operstate && a.carrier === b.carrier &&
    a.mtu === b.mtu && a.kind === b.kind && a.master === b.master && a.hardwareAddress === b.hardwareAddress
  );
}

/**
 * IPv6 replaces the first route of the key that qualifies for ECMP as the new one does
 * (rt6_qualify_for_ecmp: has a gateway); multipath routes are handled as siblings.
 */
function sameEcmpKind(table: RouteTable, slot: number, view: RecordView, p: number): boolean {
  if (table.word(slot, F.ROUTE_NH_COUNT) > 0 || view.u32[p + F.ROUTE_NH_COUNT] > 0) return false;
  const gw = (present: number) => (present & F.ROUTE_HAS_GATEWAY) !== 0;
  return gw(table.word(slot, F.ROUTE_PRESENT_GWFAMILY)) === gw(view.u32[p + F.ROUTE_PRESENT_GWFAMILY]);
}

function sameNexthop(a: Nexthop, b: Nexthop): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class NetworkState implements NetworkStateView {
  private readonly linkMap = new Map<number, Stamped<Link>>();
  private readonly addressMap = new Map<string, Stamped<Address>>();
  /** Canonical address text -> the addresses holding it (the judge asks per path check). */
  private readonly addressesByIp = new Map<string, Address[]>();
  private readonly nexthopMap = new Map<number, Stamped<Nexthop>>();
  readonly routeTable = new RouteTable();
  private readonly ruleList = new RuleList();
  private readonly neighbourTable = new NeighbourTable();

  private generation = 0;
  /** Current dump generation per DumpObject; live events are stamped with it too. */
  private readonly gen = new Uint32Array(OBJECT_COUNT);
  private readonly dumping = new Set<number>();
  private readonly complete = new Set<number>();
  private initialDone = false;
  private pendingResyncReason: ResyncReason = 'requested';
  private diff = { added: 0, changed: 0, removed: 0 };
  readonly routeMode: RouteMode;
  private readonly onDumpedRoute: ((route: Route) => void) | undefined;
  private readonly onDumpedRouteRecords: ((batch: ArrayBuffer, byteLength: number) => void) | undefined;
  /** The batch being applied held dumped routes (for onDumpedRouteRecords). */
  private batchHasDumpedRoutes = false;

  constructor(options: NetworkStateOptions = {}) {
    this.routeMode = options.routes ?? 'mirror';
    this.onDumpedRoute = options.onDumpedRoute;
    this.onDumpedRouteRecords = options.onDumpedRouteRecords;
  }

  get synced(): boolean {
    return this.initialDone;
  }

  /** Tells the mirror why the next resync happens (for the 'resync' notice). */
  expectResync(reason: ResyncReason): void {
    this.pendingResyncReason = reason;
  }

  // ---- NetworkStateView ----

  link(index: number): Link | undefined {
    return this.linkMap.get(index)?.value;
  }

  linkByName(name: string): Link | undefined {
    for (const { value } of this.linkMap.values()) if (value.name === name) return value;
    return undefined;
  }

  *links(): IterableIterator<Link> {
    for (const { value } of this.linkMap.values()) yield value;
  }

  *addresses(): IterableIterator<Address> {
    for (const { value } of this.addressMap.values()) yield value;
  }

  addressesOn(index: number): Address[] {
    const out: Address[] = [];
    for (const { value } of this.addressMap.values()) if (value.index === index) out.push(value);
    return out;
  }

  findAddresses(ip: string): Address[] {
    const exact = this.addressesByIp.get(ip);
    if (exact) return [...exact];
    const wanted = normalizeIp(ip);
    const found = wanted === null || wanted === ip ? undefined : this.addressesByIp.get(wanted);
    return found ? [...found] : [];
  }

  private putAddress(key: string, address: Address): void {
    const old = this.addressMap.get(key);
    if (old) this.unindexAddress(old.value);
    this.addressMap.set(key, { value: address, gen: this.gen[DumpObject.Addr] });
    const ip = address.local ?? address.address;
    const list = this.addressesByIp.get(ip);
    if (list) list.push(address);
    else this.addressesByIp.set(ip, [address]);
  }

  private dropAddress(key: string, address: Address): void {
    this.addressMap.delete(key);
    this.unindexAddress(address);
  }

  private unindexAddress(address: Address): void {
    const ip = address.local ?? address.address;
    const list = this.addressesByIp.get(ip);
    if (!list) return;
    const rest = list.filter((a) => a !== address);
    if (rest.length > 0) this.addressesByIp.set(ip, rest);
    else this.addressesByIp.delete(ip);
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
    return this.nexthopMap.get(id)?.value;
  }

  *nexthops(): IterableIterator<Nexthop> {
    for (const { value } of this.nexthopMap.values()) yield value;
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

  // ---- applying batches ----

  /** `byteLength`: the records' length when `batch` is the addon's reused, larger buffer. */
  apply(batch: ArrayBuffer, time: number, hooks: ApplyHooks, byteLength = batch.byteLength): void {
    const view = viewOf(batch, byteLength);
    forEachRecord(view, (kind, flags, p) => {
      const fromDump = (flags & F.FLAG_FROM_DUMP) !== 0;
      switch (kind) {
        case Kind.LinkNew:
        case Kind.LinkDel:
          this.applyLink(readLink(view, p), kind === Kind.LinkDel, fromDump, time, hooks);
          break;
        case Kind.AddrNew:
        case Kind.AddrDel:
          this.applyAddress(readAddress(view, p), kind === Kind.AddrDel, fromDump, time, hooks);
          break;
        case Kind.RouteNew:
        case Kind.RouteDel:
          if (this.routeMode !== 'mirror') this.passRouteEvent(view, p, flags, kind === Kind.RouteDel, time, hooks);
          else if (kind === Kind.RouteNew) this.applyRouteNew(view, p, flags, time, hooks);
          else this.applyRouteDel(view, p, time, hooks);
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
          if (view.u32[p] === DumpObject.Rule) this.ruleList.beginDump();
          this.dumping.add(view.u32[p]);
          this.complete.delete(view.u32[p]);
          this.gen[view.u32[p]] = ++this.generation;
          break;
        case Kind.DumpEnd:
          // Only a finished dump vouches for absence: an interrupted one is retried
          // (kDumpBegin again) and a failed one (kError) must not delete anything.
          if (this.dumping.has(view.u32[p])) this.complete.add(view.u32[p]);
          break;
        case Kind.Synced:
          this.finishSync(time, hooks);
          break;
        case Kind.Overflow:
          this.pendingResyncReason = 'overflow';
          hooks.overflow(view.u32[p]);
          break;
        case Kind.LostEvent:
          this.pendingResyncReason = 'lost';
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
      this.onDumpedRouteRecords?.(batch, byteLength);
    }
  }

  /** Emits an object event unless the initial sync is still silent; counts resync differences. */
  private report(event: NetworkEvent, fromDump: boolean, hooks: ApplyHooks): void {
    if (!this.initialDone) return;
    if (fromDump && event.type !== 'synced' && event.type !== 'resync' && event.type !== 'dropped') {
      this.diff[event.action]++;
    }
    hooks.emit(event);
  }

  private applyLink(link: Link, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    const old = this.linkMap.get(link.index);
    if (removed) {
      if (!old) return;
      this.removeLink(old.value, time, hooks);
      return;
    }
    this.linkMap.set(link.index, { value: link, gen: this.gen[DumpObject.Link] });
    if (!old) {
      this.report({ type: 'link', action: 'added', link, previous: null, time }, fromDump, hooks);
    } else if (!sameLink(old.value, link)) {
      const o = old.value;
      const stateChanged =
        o.up !== link.up || o.lowerUp !== link.lowerUp || o.carrier !== link.carrier || o.operstate !== link.operstate;
      // A dump that sees a change is already re-reading the routes; only live events need confirming.
      if (stateChanged && !fromDump) {
        hooks.silentChangesPossible();
      }
      this.report({ type: 'link', action: 'changed', link, previous: o, time }, fromDump, hooks);
    }
  }

  private removeLink(link: Link, time: number, hooks: ApplyHooks, fromDump = false): void {
    this.linkMap.delete(link.index);
    // The kernel deletes the device's addresses (with RTM_DELADDR, which then finds
    // nothing) and flushes its IPv4 routes without any RTM_DELROUTE.
    for (const [key, { value }] of this.addressMap) {
      if (value.index !== link.index) continue;
      this.dropAddress(key, value);
      this.report({ type: 'address', action: 'removed', address: value, previous: value, time }, fromDump, hooks);
    }
    const table = this.routeTable;
    for (const slot of table.slots()) {
      const hops = table.multipathOf(slot);
      const onLink = hops
        ? hops.every((h) => h.index === link.index)
        : table.word(slot, F.ROUTE_OIF) === link.index &&
          (table.word(slot, F.ROUTE_PRESENT_GWFAMILY) & F.ROUTE_HAS_OIF) !== 0;
      if (!onLink) continue;
      const route = table.read(slot);
      table.remove(slot);
      this.report({ type: 'route', action: 'removed', route, previous: route, time }, fromDump, hooks);
    }
    // neigh_ifdown flushes the device's ARP/NDP entries (permanent ones included) with an
    // RTM_DELNEIGH each, on admin down and before RTM_DELLINK (seen on 6.18; fixture
    // neigh-link-del-*.bin): this only catches what a lost message left behind.
    for (const n of this.neighbourTable.removeLink(link.index)) {
      this.report({ type: 'neighbour', action: 'removed', neighbour: n, previous: n, time }, fromDump, hooks);
    }
    this.report({ type: 'link', action: 'removed', link, previous: link, time }, fromDump, hooks);
    if (!fromDump) hooks.silentChangesPossible();
  }

  private applyAddress(address: Address, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    const key = addressKey(address);
    const old = this.addressMap.get(key);
    if (removed) {
      if (!old) return;
      this.dropAddress(key, old.value);
      this.report({ type: 'address', action: 'removed', address, previous: old.value, time }, fromDump, hooks);
      // IPv4 flushes routes using this source, or all of the device's routes with its last
      // address, without RTM_DELROUTE (fib_del_ifaddr, fib_disable_ip): confirm with a dump.
      if (!fromDump && address.family === 4) hooks.silentChangesPossible();
      return;
    }
    this.putAddress(key, address);
    if (!old) {
      this.report({ type: 'address', action: 'added', address, previous: null, time }, fromDump, hooks);
    } else if (!fromDump || !sameAddress(old.value, address)) {
      // Live RTM_NEWADDR always counts: it refreshes lifetimes (DHCP renew, every RA).
      this.report({ type: 'address', action: 'changed', address, previous: old.value, time }, fromDump, hooks);
    }
  }

  /** routes: 'events' or 'stream': a live notification becomes an event as it is (no table to compare with). */
  private passRouteEvent(view: RecordView, p: number, flags: number, removed: boolean, time: number, hooks: ApplyHooks): void {
    if (flags & F.FLAG_FROM_DUMP) {
      // 'stream' (routes are not dumped for 'events'): whole batches go to onDumpedRouteRecords.
      if (this.onDumpedRouteRecords) this.batchHasDumpedRoutes = true;
      else this.onDumpedRoute?.(readRoute(view, p));
      return;
    }
    const route = readRoute(view, p);
    const action = removed ? 'removed' : flags & F.FLAG_REPLACE ? 'changed' : 'added';
    this.report({ type: 'route', action, route, previous: removed ? route : null, time }, false, hooks);
  }

  private applyRouteNew(view: RecordView, p: number, flags: number, time: number, hooks: ApplyHooks): void {
    const table = this.routeTable;
    const generation = this.gen[DumpObject.Route];
    const fromDump = (flags & F.FLAG_FROM_DUMP) !== 0;
    if (!this.initialDone) {
      table.upsert(view, p, generation, false);
      return;
    }
    if (flags & F.FLAG_REPLACE && this.replaceFirst(view, p, generation, time, hooks)) return;
    const same = table.stampIfSame(view, p, generation, !fromDump);
    if (same >= 0) {
      if (fromDump) return; // a resync re-reporting what we hold: not a difference
      // A live RTM_NEWROUTE for an unchanged route (`ip route replace` with the same facts).
      const route = table.read(same);
      this.report({ type: 'route', action: 'changed', route, previous: route, time }, false, hooks);
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
    this.report({ type: 'route', action, route, previous, time }, fromDump, hooks);
  }

  /**
   * `ip route replace` (NLM_F_REPLACE) replaces the first route of its key, which may have
   * other nexthops than the new one (fib_table_insert, fib6_add_rt2node). False when there
   * is none, or it is the same route (then an ordinary update).
   */
  private replaceFirst(view: RecordView, p: number, generation: number, time: number, hooks: ApplyHooks): boolean {
    const table = this.routeTable;
    const first = table.firstWithKey(view, p);
    if (first < 0 || first === table.find(view, p)) return false;
    if ((view.u32[p] & 0xff) === 10 && !sameEcmpKind(table, first, view, p)) return false;
    const previous = table.read(first);
    const order = table.orderOf(first);
    table.remove(first);
    table.upsert(view, p, generation, true, order);
    this.report({ type: 'route', action: 'changed', route: readRoute(view, p), previous, time }, false, hooks);
    return true;
  }

  /** Single-path IPv6 routes of the same key as `route`, as slots with their routes. */
  private ipv6Candidates(route: Route): Array<{ slot: number; route: Route }> {
    const dst = parseIp(route.destination)!.bytes;
    return this.routeTable
      .slotsTo(route.table, 6, dst, route.destinationLength)
      .map((slot) => ({ slot, route: this.routeTable.read(slot) }))
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
      this.routeTable.remove(c.slot);
      this.report({ type: 'route', action: 'removed', route: c.route, previous: c.route, time }, false, hooks);
    }
  }

  private applyRouteDel(view: RecordView, p: number, time: number, hooks: ApplyHooks): void {
    const table = this.routeTable;
    const slot = table.find(view, p);
    if (slot >= 0) {
      const previous = table.read(slot);
      table.remove(slot);
      this.report({ type: 'route', action: 'removed', route: previous, previous, time }, false, hooks);
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
        this.report({ type: 'route', action: 'removed', route: c.route, previous: c.route, time }, false, hooks);
      } else {
        table.replaceNexthops(c.slot, rest);
        this.report({ type: 'route', action: 'changed', route: table.read(c.slot), previous: c.route, time }, false, hooks);
      }
      return;
    }
  }

  private applyNexthop(nh: Nexthop, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    const old = this.nexthopMap.get(nh.id);
    if (removed) {
      if (!old) return;
      this.nexthopMap.delete(nh.id);
      this.report({ type: 'nexthop', action: 'removed', nexthop: old.value, previous: old.value, time }, fromDump, hooks);
      return;
    }
    this.nexthopMap.set(nh.id, { value: nh, gen: this.gen[DumpObject.Nexthop] });
    if (!old) this.report({ type: 'nexthop', action: 'added', nexthop: nh, previous: null, time }, fromDump, hooks);
    else if (!sameNexthop(old.value, nh)) {
      this.report({ type: 'nexthop', action: 'changed', nexthop: nh, previous: old.value, time }, fromDump, hooks);
    }
  }

  private applyRule(rule: Rule, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    if (removed) {
      const previous = this.ruleList.remove(rule);
      if (previous) this.report({ type: 'rule', action: 'removed', rule: previous, previous, time }, fromDump, hooks);
      return;
    }
    const gen = this.gen[DumpObject.Rule];
    const change = fromDump ? this.ruleList.dumped(rule, gen) : this.ruleList.add(rule, gen);
    if (change) this.report({ type: 'rule', ...change, time }, fromDump, hooks);
  }

  private applyNeighbour(n: Neighbour, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    if (removed) {
      const previous = this.neighbourTable.remove(n);
      if (previous) this.report({ type: 'neighbour', action: 'removed', neighbour: n, previous, time }, fromDump, hooks);
      return;
    }
    // The kernel makes NOARP entries (multicast, broadcast, devices without ARP) with no
    // RTM_NEWNEIGH at all (neigh_create does not notify; seen for ff02:: groups on 6.18):
    // a mirror of them would drift between dumps, and they never resolve anything.
    if (n.state & NUD_NOARP) return;
    const previous = this.neighbourTable.put(n, this.gen[DumpObject.Neigh]);
    if (previous === undefined) return; // a re-notification of what we hold
    const action = previous ? 'changed' : 'added';
    this.report({ type: 'neighbour', action, neighbour: n, previous, time }, fromDump, hooks);
  }

  /** kSynced: sweep what the finished dumps did not see, then announce. */
  private finishSync(time: number, hooks: ApplyHooks): void {
    for (const obj of this.complete) this.sweep(obj, time, hooks);
    this.dumping.clear();
    this.complete.clear();
    if (!this.initialDone) {
      this.initialDone = true;
      hooks.emit({
        type: 'synced',
        links: this.linkMap.size,
        addresses: this.addressMap.size,
        routes: this.routeTable.size,
        nexthops: this.nexthopMap.size,
        rules: this.ruleList.size,
        neighbours: this.neighbourTable.size,
        time,
      });
    } else {
      hooks.emit({ type: 'resync', reason: this.pendingResyncReason, ...this.diff, time });
    }
    this.diff = { added: 0, changed: 0, removed: 0 };
    this.pendingResyncReason = 'requested';
  }

  private sweep(obj: number, time: number, hooks: ApplyHooks): void {
    const current = this.gen[obj];
    switch (obj) {
      case DumpObject.Link:
        for (const { value, gen } of [...this.linkMap.values()]) {
          if (gen !== current) this.removeLink(value, time, hooks, true);
        }
        break;
      case DumpObject.Addr:
        for (const [key, { value, gen }] of this.addressMap) {
          if (gen === current) continue;
          this.dropAddress(key, value);
          this.report({ type: 'address', action: 'removed', address: value, previous: value, time }, true, hooks);
        }
        break;
      case DumpObject.Route: {
        const table = this.routeTable;
        for (const slot of table.slotsNotStamped(current)) {
          const route = this.initialDone ? table.read(slot) : null;
          table.remove(slot);
          if (route) this.report({ type: 'route', action: 'removed', route, previous: route, time }, true, hooks);
        }
        break;
      }
      case DumpObject.Nexthop:
        for (const [id, { value, gen }] of this.nexthopMap) {
          if (gen === current) continue;
          this.nexthopMap.delete(id);
          this.report({ type: 'nexthop', action: 'removed', nexthop: value, previous: value, time }, true, hooks);
        }
        break;
      case DumpObject.Rule:
        for (const rule of this.ruleList.sweep(current)) {
          this.report({ type: 'rule', action: 'removed', rule, previous: rule, time }, true, hooks);
        }
        break;
      case DumpObject.Neigh:
        for (const n of this.neighbourTable.sweep(current)) {
          this.report({ type: 'neighbour', action: 'removed', neighbour: n, previous: n, time }, true, hooks);
        }
        break;
      default:
        break;
    }
  }
}
