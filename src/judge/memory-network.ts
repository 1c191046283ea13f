/**
 * An in-memory NetworkStateView built from a snapshot and kept current by
 * applying NetworkEvents: the state behind a replayed recording and behind the
 * test suite's fake network. It remembers when each route was reported so that
 * route expiry ("expires N sec") can be honoured like the kernel's lookups do.
 */
import { normalizeIp, parseIp } from '../netlink/ip';
import type { Address, Link, NetworkEvent, Nexthop, Route } from '../netlink/types';
import type { NetworkStateView } from '../netlink/view';

export interface NetworkSnapshot {
  links: Link[];
  addresses: Address[];
  routes: Route[];
  nexthops: Nexthop[];
}

/** Identity of an address, as the kernel keys it. */
export function addressKey(a: Address): string {
  return `${a.family}|${a.index}|${a.local ?? a.address}|${a.prefixLength}`;
}

/** Identity of a route (RTM_NEWROUTE with the same key replaces it). */
export function routeKey(r: Route): string {
  return `${r.family}|${r.table}|${r.destination}/${r.destinationLength}|${r.source}/${r.sourceLength}|${r.tos}|${r.metric}`;
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

  constructor(snapshot: Partial<NetworkSnapshot> = {}, time = 0) {
    for (const l of snapshot.links ?? []) this.linkMap.set(l.index, l);
    for (const a of snapshot.addresses ?? []) this.putAddress(a);
    for (const r of snapshot.routes ?? []) this.routeMap.set(routeKey(r), { route: r, reportedAt: time });
    for (const n of snapshot.nexthops ?? []) this.nexthopMap.set(n.id, n);
  }

  /** Applies one object event (others are ignored); the event's time is its report time. */
  apply(event: NetworkEvent): void {
    switch (event.type) {
      case 'link':
        if (event.action === 'removed') this.linkMap.delete(event.link.index);
        else this.linkMap.set(event.link.index, event.link);
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

  snapshot(): NetworkSnapshot {
    return {
      links: [...this.linkMap.values()],
      addresses: [...this.addressMap.values()],
      routes: [...this.routes()],
      nexthops: [...this.nexthopMap.values()],
    };
  }
}
