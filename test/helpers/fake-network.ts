/**
 * An in-memory NetworkSource for the judge's virtual-clock tests. It behaves like
 * the kernel plus the NetlinkMonitor in the ways the judge depends on:
 * - every change emits the event the monitor would emit (with `previous`);
 * - adding an address adds its prefix route at once and its local route at once for IPv4,
 *   after DAD for IPv6; removing it removes them;
 * - IPv4 flushes a device's routes silently when its last IPv4 address goes or it goes
 *   admin-down; the monitor's confirmation dump reports them 250 ms later, then 'resync';
 * - lookups are computed from the current state by resolveRoute (never scripted),
 *   honouring route expiry like the kernel (expired routes are skipped before the
 *   lazy RTM_DELROUTE) and the policy rules;
 * - lifetimes count down: a re-dump (confirmation, overflow) reports the seconds left,
 *   and, like the real mirror, neither it nor the overflow diff counts a lifetime-only
 *   difference as a change (no event; the state holds the fresh object);
 * - a kernel-managed RA route's expiry is refreshed by each RA with no netlink message
 *   (refreshRouteExpiry).
 * Steps are scheduled on the VirtualClock with at(ms, fn), so the judge's timers and the
 * scripted churn interleave in time order.
 */
import { EventEmitter } from 'node:events';
import { IFA_F_PERMANENT, IFA_F_TENTATIVE, IFF_LOWER_UP, IFF_RUNNING, IFF_UP } from '../../src/netlink/flags';
import { isIPv6LinkLocal, normalizeIp, parseIp, formatIp } from '../../src/netlink/ip';
import type {
  Address,
  Family,
  Link,
  Neighbour,
  NeighbourState,
  NetworkEvent,
  Route,
  RouteNexthop,
  RouteQuery,
  RouteType,
  Rule,
} from '../../src/netlink/types';
import type { NetworkSource, RouteLookupResult } from '../../src/netlink/view';
import { VirtualClock } from '../../src/judge/clock';
import { addressKey, routeKey } from '../../src/netlink/keys';
import { MemoryNetworkState } from '../../src/replay/memory-network';
import { resolveRoute } from '../../src/replay/route-resolver';

export const CONFIRM_DELAY_MS = 250;

export interface AddressOptions {
  flags?: number;
  /** Seconds; omitted = forever. */
  valid?: number;
  preferred?: number;
}

export interface RouteSpec {
  /** "default", "default6" or "PREFIX/LEN". */
  to: string;
  via?: string;
  dev?: number;
  metric?: number;
  table?: number;
  type?: RouteType;
  src?: string;
  /** Seconds until the kernel expires it. */
  expires?: number;
  protocol?: number;
  nexthops?: Array<{ via?: string; dev: number }>;
}

function makeRoute(spec: RouteSpec): Route {
  const [dst, len] =
    spec.to === 'default' ? ['0.0.0.0', 0] : spec.to === 'default6' ? ['::', 0] : [spec.to.split('/')[0], Number(spec.to.split('/')[1])];
  const parsed = parseIp(dst)!;
  const multipath: RouteNexthop[] | null = spec.nexthops
    ? spec.nexthops.map((h) => ({ index: h.dev, flags: 0, weight: 1, gateway: h.via ?? null }))
    : null;
  return {
    family: parsed.family,
    table: spec.table ?? 254,
    type: spec.type ?? 'unicast',
    protocol: spec.protocol ?? 4,
    scope: spec.via || spec.nexthops ? 0 : 253,
    destination: formatIp(parsed.bytes, parsed.family),
    destinationLength: len,
    source: null,
    sourceLength: 0,
    tos: 0,
    gateway: spec.via ?? null,
    preferredSource: spec.src ?? null,
    oif: multipath ? null : spec.dev ?? null,
    iif: null,
    metric: spec.metric ?? (parsed.family === 6 ? 1024 : 0),
    preference: null,
    expires: spec.expires ?? null,
    nexthopId: null,
    flags: 0,
    mtu: null,
    multipath,
  };
}

const NUD_BITS: Record<NeighbourState, number> = {
  incomplete: 0x01,
  reachable: 0x02,
  stale: 0x04,
  delay: 0x08,
  probe: 0x10,
  failed: 0x20,
  noarp: 0x40,
  permanent: 0x80,
  none: 0x00,
};

function makeRule(spec: Partial<Rule> & { family: Family; priority: number }): Rule {
  return {
    action: 'to-table',
    table: 254,
    flags: spec.invert ? 2 : 0,
    invert: false,
    source: null,
    sourceLength: 0,
    destination: null,
    destinationLength: 0,
    tos: 0,
    fwmark: null,
    fwmask: null,
    iifName: null,
    oifName: null,
    suppressPrefixLength: null,
    suppressIfGroup: null,
    goto: null,
    uidRange: null,
    ipProtocol: null,
    sourcePorts: null,
    destinationPorts: null,
    l3mdev: false,
    protocol: 0,
    ...spec,
  };
}

export class FakeNetwork extends EventEmitter implements NetworkSource {
  readonly state: MemoryNetworkState;
  synced = true;
  lookups = 0;
  /** Every event emitted, in order. */
  readonly emitted: NetworkEvent[] = [];
  private nextIndex = 1;
  private muted = false;
  private readonly silentlyFlushed: Route[] = [];
  /** When each address (by key) was last reported, to count its lifetimes down. */
  private readonly reportedAt = new Map<string, number>();
  private confirmScheduled = false;

  constructor(readonly clock: VirtualClock) {
    super();
    this.state = new MemoryNetworkState({}, clock.now());
    const lo = this.addLink('lo');
    this.addAddress(lo, '127.0.0.1/8');
    this.addAddress(lo, '::1/128');
    // The rules every namespace starts with (`ip rule`): local, main, default.
    for (const family of [4, 6] as const) {
      this.addRule({ family, priority: 0, table: 255 });
      this.addRule({ family, priority: 32766, table: 254 });
      if (family === 4) this.addRule({ family, priority: 32767, table: 253 });
    }
  }

  lookupRoute(query: RouteQuery): RouteLookupResult {
    this.lookups++;
    return resolveRoute(this.state, query, { now: this.clock.now(), expiresAt: (r) => this.state.routeExpiresAt(r) });
  }

  /** Runs `fn` at virtual time now + ms. */
  at(ms: number, fn: () => void): void {
    this.clock.setTimeout(fn, ms);
  }

  private emitEvent(event: NetworkEvent): void {
    this.state.apply(event);
    if (event.type === 'address') this.reportedAt.set(addressKey(event.address), event.time);
    if (this.muted) return;
    this.emitted.push(event);
    this.emit('event', event);
  }

  // ---- links ----

  addLink(name: string, opts: { up?: boolean; carrier?: boolean } = {}): number {
    const index = this.nextIndex++;
    const link = this.linkObject(index, name, opts.up ?? true, opts.carrier ?? true);
    this.emitEvent({ type: 'link', action: 'added', link, previous: null, time: this.clock.now() });
    return index;
  }

  private linkObject(index: number, name: string, up: boolean, carrier: boolean): Link {
    const lowerUp = up && carrier;
    return {
      index,
      name,
      flags: (up ? IFF_UP : 0) | (lowerUp ? IFF_RUNNING | IFF_LOWER_UP : 0),
      up,
      running: lowerUp,
      lowerUp,
      operstate: name === 'lo' ? 'unknown' : lowerUp ? 'up' : up ? 'lowerlayerdown' : 'down',
      carrier: lowerUp,
      mtu: 1500,
      kind: name === 'lo' ? null : 'veth',
      master: null,
      hardwareAddress: null,
      type: 1,
    };
  }

  private updateLink(index: number, up: boolean, carrier: boolean): void {
    const previous = this.state.link(index)!;
    const link = this.linkObject(index, previous.name, up, carrier);
    this.emitEvent({ type: 'link', action: 'changed', link, previous, time: this.clock.now() });
  }

  /** Carrier lost/regained: only a link event (routes silently gain/lose `linkdown`). */
  setCarrier(index: number, carrier: boolean): void {
    this.updateLink(index, this.state.link(index)!.up, carrier);
  }

  /** `ip link set dev X down|up`: admin down drops IPv6 addresses and flushes IPv4 routes silently. */
  setAdminUp(index: number, up: boolean): void {
    const carrier = this.state.link(index)!.carrier !== false || up;
    this.updateLink(index, up, carrier);
    if (up) return;
    for (const a of this.state.addressesOn(index)) if (a.family === 6) this.removeAddress(index, a.local ?? a.address);
    this.flushIPv4Routes(index);
  }

  /** RTM_DELLINK after the kernel deleted its addresses and routes (the monitor reports them all). */
  removeLink(index: number): void {
    for (const a of this.state.addressesOn(index)) this.removeAddress(index, a.local ?? a.address);
    for (const r of [...this.state.routes()]) if (this.routeUses(r, index)) this.removeRouteObject(r);
    const link = this.state.link(index)!;
    this.emitEvent({ type: 'link', action: 'removed', link, previous: link, time: this.clock.now() });
  }

  // ---- addresses ----

  /** Adds "IP/LEN" with its prefix route; IPv6 local route only once not tentative. */
  addAddress(index: number, cidr: string, opts: AddressOptions = {}): Address {
    const [ip, len] = cidr.split('/');
    const text = normalizeIp(ip)!;
    const family: Family = parseIp(text)!.family;
    const address: Address = {
      family,
      index,
      prefixLength: Number(len),
      scope: text.startsWith('127.') || text === '::1' ? 254 : isIPv6LinkLocal(text) ? 253 : 0,
      flags: opts.flags ?? IFA_F_PERMANENT,
      address: text,
      local: family === 4 ? text : null,
      label: family === 4 ? this.state.link(index)?.name ?? null : null,
      preferredLifetime: opts.preferred ?? opts.valid ?? null,
      validLifetime: opts.valid ?? null,
    };
    if (address.validLifetime !== null) address.flags &= ~IFA_F_PERMANENT;
    this.emitEvent({ type: 'address', action: 'added', address, previous: null, time: this.clock.now() });
    this.addPrefixRoutes(address);
    return address;
  }

  private addPrefixRoutes(a: Address): void {
    const text = a.local ?? a.address;
    const parsed = parseIp(text)!;
    const maxLen = a.family === 4 ? 32 : 128;
    if (a.prefixLength < maxLen) {
      const masked = new Uint8Array(parsed.bytes);
      for (let bit = a.prefixLength; bit < maxLen; bit++) masked[bit >> 3] &= ~(0x80 >> (bit & 7));
      const prefix = `${formatIp(masked, a.family)}/${a.prefixLength}`;
      // Loopback's prefix is local (the kernel's `local 127.0.0.0/8 dev lo table local`).
      const loopback = this.state.link(a.index)?.name === 'lo';
      if (loopback && this.state.routesTo(255, prefix).length === 0) {
        this.addRoute({ to: prefix, dev: a.index, table: 255, type: 'local', protocol: 2, src: text });
      } else if (!loopback && !this.state.routesTo(254, prefix).some((r) => r.oif === a.index)) {
        this.addRoute({ to: prefix, dev: a.index, protocol: 2, src: a.family === 4 ? text : undefined, metric: a.family === 6 ? 256 : 0 });
      }
    }
    if (!(a.family === 6 && a.flags & IFA_F_TENTATIVE) && this.state.routesTo(255, `${text}/${maxLen}`).length === 0) {
      this.addRoute({ to: `${text}/${maxLen}`, dev: a.index, table: 255, type: 'local', protocol: 2, src: text });
    }
  }

  /** Changes flags or lifetimes (DAD completion, dadfailed, deprecation, renewal). */
  changeAddress(index: number, ip: string, patch: AddressOptions): Address {
    const previous = this.findAddress(index, ip);
    const address: Address = { ...previous };
    if (patch.flags !== undefined) address.flags = patch.flags;
    if (patch.valid !== undefined) address.validLifetime = patch.valid;
    if (patch.preferred !== undefined) address.preferredLifetime = patch.preferred;
    this.emitEvent({ type: 'address', action: 'changed', address, previous, time: this.clock.now() });
    this.addPrefixRoutes(address);
    return address;
  }

  removeAddress(index: number, ip: string): void {
    const address = this.findAddress(index, ip);
    this.emitEvent({ type: 'address', action: 'removed', address, previous: address, time: this.clock.now() });
    const text = address.local ?? address.address;
    for (const r of [...this.state.routes()]) {
      const isItsLocal = r.table === 255 && r.preferredSource === text;
      const isItsPrefix = r.protocol === 2 && r.table === 254 && r.oif === index && r.preferredSource === text;
      const isV6Prefix = address.family === 6 && r.protocol === 2 && r.table === 254 && r.oif === index &&
        r.family === 6 && r.destinationLength === address.prefixLength &&
        !this.state.addressesOn(index).some((o) => o.family === 6 && o.prefixLength === address.prefixLength);
      if (isItsLocal || isItsPrefix || isV6Prefix) this.removeRouteObject(r);
    }
    if (address.family === 4 && !this.state.addressesOn(index).some((a) => a.family === 4)) this.flushIPv4Routes(index);
  }

  private findAddress(index: number, ip: string): Address {
    const text = normalizeIp(ip);
    const found = this.state.addressesOn(index).find((a) => (a.local ?? a.address) === text);
    if (!found) throw new Error(`fake network: no address ${ip} on index ${index}`);
    return found;
  }

  // ---- routes ----

  addRoute(spec: RouteSpec): Route {
    const route = makeRoute(spec);
    const existing = [...this.state.routes()].find((r) => routeKey(r) === routeKey(route)) ?? null;
    this.emitEvent({ type: 'route', action: existing ? 'changed' : 'added', route, previous: existing, time: this.clock.now() });
    return route;
  }

  /**
   * An RA refreshed a kernel-managed route's lifetime: the kernel updates the expiry
   * and sends no RTM_NEWROUTE (lookups honour the new expiry; the mirror keeps the old one).
   */
  refreshRouteExpiry(spec: RouteSpec, seconds: number): void {
    const route = makeRoute({ ...spec, expires: seconds });
    this.muted = true;
    this.state.apply({ type: 'route', action: 'changed', route, previous: null, time: this.clock.now() });
    this.muted = false;
  }

  removeRoute(spec: RouteSpec): void {
    const key = routeKey(makeRoute(spec));
    const existing = [...this.state.routes()].find((r) => routeKey(r) === key);
    if (!existing) throw new Error(`fake network: no route ${spec.to}`);
    this.removeRouteObject(existing);
  }

  private removeRouteObject(route: Route): void {
    this.emitEvent({ type: 'route', action: 'removed', route, previous: route, time: this.clock.now() });
  }

  /** Replaces the nexthops of a multipath route (IPv6 deletes one sibling: the monitor reports 'changed'). */
  setNexthops(spec: RouteSpec, nexthops: Array<{ via?: string; dev: number }>): void {
    const previous = [...this.state.routes()].find((r) => routeKey(r) === routeKey(makeRoute(spec)))!;
    const route = makeRoute({ ...spec, nexthops });
    this.emitEvent({ type: 'route', action: 'changed', route, previous, time: this.clock.now() });
  }

  private routeUses(r: Route, index: number): boolean {
    return r.oif === index || !!r.multipath?.every((h) => h.index === index);
  }

  /** The kernel drops a device's IPv4 routes without RTM_DELROUTE; the monitor's confirmation dump reports them. */
  private flushIPv4Routes(index: number): void {
    for (const r of [...this.state.routes()]) {
      if (r.family !== 4 || !this.routeUses(r, index)) continue;
      this.muted = true;
      this.state.apply({ type: 'route', action: 'removed', route: r, previous: r, time: this.clock.now() });
      this.muted = false;
      this.silentlyFlushed.push(r);
    }
    if (this.silentlyFlushed.length && !this.confirmScheduled) {
      this.confirmScheduled = true;
      this.at(CONFIRM_DELAY_MS, () => {
        this.confirmScheduled = false;
        const flushed = this.silentlyFlushed.splice(0);
        // The dump finds them gone only if nothing re-added them meanwhile.
        const gone = flushed.filter((r) => ![...this.state.routes()].some((x) => routeKey(x) === routeKey(r)));
        for (const r of gone) {
          const event: NetworkEvent = { type: 'route', action: 'removed', route: r, previous: r, time: this.clock.now() };
          this.emitted.push(event);
          this.emit('event', event);
        }
        this.emitResync('confirm', { added: 0, changed: 0, removed: gone.length });
      });
    }
  }

  // ---- policy rules and neighbours ----

  /** `ip rule add ...`: RTM_NEWRULE (defaults: from all, action to-table). */
  addRule(spec: Partial<Rule> & { family: Family; priority: number }): Rule {
    const rule = makeRule(spec);
    this.emitEvent({ type: 'rule', action: 'added', rule, previous: null, time: this.clock.now() });
    return rule;
  }

  removeRule(rule: Rule): void {
    this.emitEvent({ type: 'rule', action: 'removed', rule, previous: rule, time: this.clock.now() });
  }

  /** The kernel's neighbour entry for `address` on `index` moves to `state` (RTM_NEWNEIGH). */
  setNeighbour(index: number, address: string, state: NeighbourState): Neighbour {
    const text = normalizeIp(address)!;
    const previous = this.state.neighbour(index, text) ?? null;
    const neighbour: Neighbour = {
      family: parseIp(text)!.family,
      index,
      address: text,
      state: NUD_BITS[state],
      stateName: state,
      flags: 0,
      linkAddress: state === 'failed' || state === 'incomplete' ? null : '02:00:00:00:00:01',
    };
    this.emitEvent({ type: 'neighbour', action: previous ? 'changed' : 'added', neighbour, previous, time: this.clock.now() });
    return neighbour;
  }

  /** The kernel drops the entry (garbage collection, link down): RTM_DELNEIGH. */
  removeNeighbour(index: number, address: string): void {
    const neighbour = this.state.neighbour(index, normalizeIp(address)!)!;
    this.emitEvent({ type: 'neighbour', action: 'removed', neighbour, previous: neighbour, time: this.clock.now() });
  }

  // ---- ENOBUFS ----

  /**
   * Changes made in `fn` are lost events (ENOBUFS). Afterwards the monitor re-dumps and
   * emits only the real differences between before and after, then 'resync'.
   */
  overflow(fn: () => void): void {
    const before = this.state.snapshot();
    this.muted = true;
    try {
      fn();
    } finally {
      this.muted = false;
    }
    const after = this.state.snapshot();
    const counts = { added: 0, changed: 0, removed: 0 };
    const now = this.clock.now();
    const diff = <T>(
      a: T[],
      b: T[],
      key: (x: T) => string,
      same: (x: T, y: T) => boolean,
      make: (action: 'added' | 'changed' | 'removed', value: T, previous: T | null) => NetworkEvent,
    ) => {
      const old = new Map(a.map((x) => [key(x), x]));
      const cur = new Map(b.map((x) => [key(x), x]));
      for (const [k, v] of old) if (!cur.has(k)) { counts.removed++; this.emitDiff(make('removed', v, v)); }
      for (const [k, v] of cur) {
        const o = old.get(k);
        if (!o) { counts.added++; this.emitDiff(make('added', v, null)); }
        else if (!same(o, v)) { counts.changed++; this.emitDiff(make('changed', v, o)); }
      }
    };
    // What the real mirror compares in a re-dump: lifetimes and expiries count down and are
    // never a difference (link-updates.ts sameAddress, link-address-store.ts sameLink, route-table stampIfSame).
    const sameJson = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
    diff(before.links, after.links, (l) => String(l.index), sameJson, (action, link, previous) => ({ type: 'link', action, link, previous, time: now }));
    diff(
      before.addresses,
      after.addresses,
      addressKey,
      (x, y) => x.flags === y.flags && x.scope === y.scope && x.address === y.address && x.label === y.label,
      (action, address, previous) => ({ type: 'address', action, address, previous, time: now }),
    );
    diff(
      before.routes,
      after.routes,
      routeKey,
      (x, y) => sameJson({ ...x, expires: null }, { ...y, expires: null }),
      (action, route, previous) => ({ type: 'route', action, route, previous, time: now }),
    );
    this.emitResync('overflow', counts);
  }

  private emitDiff(event: NetworkEvent): void {
    this.emitted.push(event);
    this.emit('event', event);
  }

  private emitResync(reason: 'overflow' | 'confirm', counts: { added: number; changed: number; removed: number }): void {
    this.redumpLifetimes();
    this.emitDiff({ type: 'resync', reason, ...counts, time: this.clock.now() });
  }

  /** A re-dump reports the whole seconds of lifetime left; the mirror stores them silently. */
  private redumpLifetimes(): void {
    const now = this.clock.now();
    this.muted = true;
    for (const a of [...this.state.addresses()]) {
      if (a.validLifetime === null) continue;
      const elapsed = Math.floor((now - (this.reportedAt.get(addressKey(a)) ?? now)) / 1000);
      const left = (lifetime: number | null) => (lifetime === null ? null : Math.max(0, lifetime - elapsed));
      const fresh: Address = { ...a, validLifetime: left(a.validLifetime), preferredLifetime: left(a.preferredLifetime) };
      this.state.apply({ type: 'address', action: 'changed', address: fresh, previous: a, time: now });
      this.reportedAt.set(addressKey(fresh), now - ((now - (this.reportedAt.get(addressKey(a)) ?? now)) % 1000));
    }
    this.muted = false;
  }
}
