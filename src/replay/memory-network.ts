/**
 * An in-memory NetworkStateView built from a snapshot and kept current by
 * applying NetworkEvents: the state behind a replayed recording and behind the
 * test suite's fake network. It remembers when each route was reported so that
 * route expiry ("expires N sec") can be honoured like the kernel's lookups do.
 */
import { normalizeIp, parseIp } from '../netlink/ip';
import type { Address, Family, Link, Neighbour, NetworkEvent, Nexthop, Route, Rule } from '../netlink/types';
import type { NetworkStateView } from '../netlink/view';
import { addressKey, routeKey } from '../netlink/keys';
import { NeighbourTable } from '../mirror/neighbour-table';
import { RuleList } from '../mirror/rule-list';

export interface NetworkSnapshot {
  links: Link[];
  addresses: Address[];
  routes: Route[];
  nexthops: Nexthop[];
  /** Optional so that recordings made before rules and neighbours were mirrored still load. */
  rules?: Rule[];
  neighbours?: Neighbour[];
}

export class MemoryNetworkState implements NetworkStateView {
  private readonly linkMap = new Map<number, Link>();
  private readonly addressMap = new Map<string, Address>();
  /** Address text -> keys of the addresses with it (findAddresses without a scan). */
  private readonly byText = new Map<string, Set<string>>();
  /** Caller's address text -> canonical text (callers repeat the same few). */
  private readonly canonical = new Map<string, string>();
  private readonly routeMap = new Map<string, { route: Route; reportedAt: number }>();
  private readonly nexthopMap = new Map<number, Nexthop>();
  private readonly ruleList = new RuleList();
  private readonly neighbourTable = new NeighbourTable();

  constructor(snapshot: Partial<NetworkSnapshot> = {}, time = 0) {
    for (const l of snapshot.links ?? []) this.linkMap.set(l.index, l);
    for (const a of snapshot.addresses ?? []) this.putAddress(a);
    for (const r of snapshot.routes ?? []) this.routeMap.set(routeKey(r), { route: r, reportedAt: time });
    for (const n of snapshot.nexthops ?? []) this.nexthopMap.set(n.id, n);
    for (const r of snapshot.rules ?? []) this.ruleList.add(r, 0);
    for (const n of snapshot.neighbours ?? []) this.neighbourTable.put(n, 0);
  }

  /** Applies one object event (others are ignored); the event's time is its report time. */
  apply(event: NetworkEvent): void {
    switch (event.type) {
      case 'link':
        if (event.action === 'removed') {
          this.linkMap.delete(event.link.index);
          this.neighbourTable.removeLink(event.link.index);
        } else this.linkMap.set(event.link.index, event.link);
        break;
      case 'address':
        if (event.action === 'removed') this.dropAddress(event.address);
        else this.putAddress(event.address);
        break;
      case 'route':
        if (event.action === 'removed') this.routeMap.delete(routeKey(event.route));
        else this.routeMap.set(routeKey(event.route), { route: event.route, reportedAt: event.time });
        break;
      case 'nexthop':
        if (event.action === 'removed') this.nexthopMap.delete(event.nexthop.id);
        else this.nexthopMap.set(event.nexthop.id, event.nexthop);
        break;
      case 'rule':
        // Rules never change in place: a 'changed' rule only updated state flags.
        if (event.action !== 'added') this.ruleList.remove(event.previous ?? event.rule);
        if (event.action !== 'removed') this.ruleList.add(event.rule, 0);
        break;
      case 'neighbour':
        if (event.action === 'removed') this.neighbourTable.remove(event.neighbour);
        else this.neighbourTable.put(event.neighbour, 0);
        break;
      default:
        break;
    }
  }

  private putAddress(a: Address): void {
    const key = addressKey(a);
    this.addressMap.set(key, a);
    const text = a.local ?? a.address;
    let keys = this.byText.get(text);
    if (!keys) this.byText.set(text, (keys = new Set()));
    keys.add(key);
  }

  private dropAddress(a: Address): void {
    const key = addressKey(a);
    this.addressMap.delete(key);
    const text = a.local ?? a.address;
    const keys = this.byText.get(text);
    if (keys?.delete(key) && keys.size === 0) this.byText.delete(text);
  }

  /** Clock time at which the kernel stops using the route; null when it does not expire. */
  routeExpiresAt(route: Route): number | null {
    const entry = this.routeMap.get(routeKey(route));
    if (!entry || entry.route.expires === null) return null;
    return entry.reportedAt + entry.route.expires * 1000;
  }

  link(index: number): Link | undefined {
    return this.linkMap.get(index);
  }

  linkByName(name: string): Link | undefined {
    for (const l of this.linkMap.values()) if (l.name === name) return l;
    return undefined;
  }

  links(): Iterable<Link> {
    return this.linkMap.values();
  }

  addresses(): Iterable<Address> {
    return this.addressMap.values();
  }

  addressesOn(index: number): Address[] {
    return [...this.addressMap.values()].filter((a) => a.index === index);
  }

  findAddresses(ip: string): Address[] {
    let canonical = this.canonical.get(ip);
    if (canonical === undefined) {
      if (this.canonical.size > 65_536) this.canonical.clear();
      canonical = normalizeIp(ip) ?? '';
      this.canonical.set(ip, canonical);
    }
    const keys = this.byText.get(canonical);
    return keys ? [...keys].map((k) => this.addressMap.get(k)!) : [];
  }

  routesTo(table: number, prefix: string): Route[] {
    const [addr, len] = prefix.split('/');
    const parsed = parseIp(addr);
    if (!parsed) return [];
    const text = normalizeIp(addr);
    const length = len === undefined ? (parsed.family === 4 ? 32 : 128) : Number(len);
    return [...this.routes()].filter(
      (r) => r.table === table && r.family === parsed.family && r.destination === text && r.destinationLength === length,
    );
  }

  *routes(): IterableIterator<Route> {
    for (const { route } of this.routeMap.values()) yield route;
  }

  get routeCount(): number {
    return this.routeMap.size;
  }

  nexthop(id: number): Nexthop | undefined {
    return this.nexthopMap.get(id);
  }

  nexthops(): Iterable<Nexthop> {
    return this.nexthopMap.values();
  }

  rules(family: Family): readonly Rule[] {
    return this.ruleList.rules(family);
  }

  neighbour(index: number, address: string): Neighbour | undefined {
    return this.neighbourTable.get(index, address);
  }

  neighbours(): Iterable<Neighbour> {
    return this.neighbourTable.values();
  }

  snapshot(): NetworkSnapshot {
    return {
      links: [...this.linkMap.values()],
      addresses: [...this.addressMap.values()],
      routes: [...this.routes()],
      nexthops: [...this.nexthopMap.values()],
      rules: [...this.ruleList.rules(4), ...this.ruleList.rules(6)],
      neighbours: [...this.neighbourTable.values()],
    };
  }
}
