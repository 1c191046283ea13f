/**
 * Foreseen expiries: when a watched address's valid lifetime ends, and when a route
 * with `expires` stops being used. Each becomes a timer item; at its time the paths
 * it can affect get a fresh check (the kernel's lookup decides, not the foresight).
 *
 * Freshness: address lifetimes follow every RTM_NEWADDR and every resync (the mirror
 * ignores lifetime-only differences in a re-dump, so a renewal lost in an overflow
 * is only seen that way). Kernel-managed RA routes get fresh expiries with no netlink
 * message at all, so a route's foreseen end is only a hint: while the kernel keeps
 * answering with the route past it, it is re-checked every `routeRecheckMs`.
 */
import { routeKey } from '../../netlink/keys';
import type { Route } from '../../netlink/types';
import type { NetworkStateView } from '../../netlink/view';
import type { InterfaceHistory } from '../interface-history';
import type { TimerEntry, TimerQueue } from '../timer-queue';

export type ExpiryItem =
  | { kind: 'address-expiry'; local: string; index: number }
  | { kind: 'route-expiry'; route: Route };

/** `D`: the owner's other timer items (deadlines), sharing the one queue. */
export class Lifetimes<D> {
  private readonly addresses = new Map<string, TimerEntry<D | ExpiryItem>>();
  private readonly routes = new Map<string, TimerEntry<D | ExpiryItem>>();

  constructor(
    private readonly timers: TimerQueue<D | ExpiryItem>,
    private readonly history: InterfaceHistory,
    private readonly routeRecheckMs: number,
  ) {}

  /** Foresees the end of `local`'s valid lifetime on every interface that has it. */
  watchAddress(view: NetworkStateView, local: string): void {
    for (const a of view.findAddresses(local)) this.onAddress(a.index, local, false);
  }

  /** After a resync: lifetimes from the re-dumped state. */
  refreshAddress(view: NetworkStateView, local: string, now: number): void {
    this.history.refreshLifetimes(view, local, now);
    this.watchAddress(view, local);
  }

  onAddress(index: number, local: string, removed: boolean): void {
    const key = `${index}|${local}`;
    const existing = this.addresses.get(key);
    const until = removed ? null : this.history.validUntil(index, local);
    if (until === null) {
      this.timers.cancel(existing);
      this.addresses.delete(key);
      return;
    }
    const item: ExpiryItem = { kind: 'address-expiry', local, index };
    this.addresses.set(key, this.timers.schedule(until, item, existing));
  }

  /** The address's expiry fired (the timer entry is spent). */
  addressFired(index: number, local: string): void {
    this.addresses.delete(`${index}|${local}`);
  }

  /** Stops foreseeing the expiries of `local` (no path uses it any more). */
  forgetAddress(local: string): void {
    for (const [key, entry] of this.addresses) {
      if ((entry.item as ExpiryItem & { kind: 'address-expiry' }).local === local) {
        this.timers.cancel(entry);
        this.addresses.delete(key);
      }
    }
  }

  /** A route event: its `expires` is fresh now. */
  onRoute(route: Route, removed: boolean, now: number): void {
    const key = routeKey(route);
    const existing = this.routes.get(key);
    if (removed || route.expires === null) {
      this.timers.cancel(existing);
      this.routes.delete(key);
      return;
    }
    this.routes.set(key, this.timers.schedule(now + route.expires * 1000, { kind: 'route-expiry', route }, existing));
  }

  /**
   * The route's foreseen end came. If the state still holds it (no RTM_DELROUTE: either
   * the kernel refreshed it silently or deletes it lazily), look again later.
   */
  routeFired(route: Route, view: NetworkStateView, now: number): void {
    const key = routeKey(route);
    this.routes.delete(key);
    const table = `${route.destination}/${route.destinationLength}`;
    if (!view.routesTo(route.table, table).some((r) => routeKey(r) === key)) return;
    this.routes.set(key, this.timers.schedule(now + this.routeRecheckMs, { kind: 'route-expiry', route }));
  }
}
