/**
 * Link and address records applied to the mirror, with what the kernel does
 * without telling: a deleted device takes its addresses, IPv4 routes and
 * neighbours with it, and some changes may flush routes silently (the monitor
 * then confirms with a dump).
 */
import { DumpObject } from '../netlink/record-format';
import type { Address, Link } from '../netlink/types';
import type { LinkAddressStore } from './link-address-store';
import type { NeighbourTable } from './neighbour-table';
import type { RouteUpdates } from './route-updates';
import type { ApplyHooks, SyncLedger } from './sync-ledger';

/** Address facts that count as a change during a resync (lifetimes only count down). */
function sameAddress(a: Address, b: Address): boolean {
  return a.flags === b.flags && a.scope === b.scope && a.address === b.address && a.label === b.label;
}

export class LinkUpdates {
  constructor(
    private readonly store: LinkAddressStore,
    private readonly routes: RouteUpdates,
    private readonly neighbours: NeighbourTable,
    private readonly ledger: SyncLedger,
  ) {}

  applyLink(link: Link, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    if (removed) {
      const old = this.store.link(link.index);
      if (old) this.removeLink(old, time, hooks);
      return;
    }
    const previous = this.store.putLink(link, this.ledger.gen[DumpObject.Link]);
    if (previous === null) {
      this.ledger.report({ type: 'link', action: 'added', link, previous: null, time }, fromDump, hooks);
    } else if (previous !== undefined) {
      const o = previous;
      const stateChanged =
        o.up !== link.up || o.lowerUp !== link.lowerUp || o.carrier !== link.carrier || o.operstate !== link.operstate;
      // A dump that sees a change is already re-reading the routes; only live events need confirming.
      if (stateChanged && !fromDump) {
        hooks.silentChangesPossible();
      }
      this.ledger.report({ type: 'link', action: 'changed', link, previous: o, time }, fromDump, hooks);
    }
  }

  private removeLink(link: Link, time: number, hooks: ApplyHooks, fromDump = false): void {
    const ledger = this.ledger;
    this.store.deleteLink(link.index);
    // The kernel deletes the device's addresses (with RTM_DELADDR, which then finds
    // nothing) and flushes its IPv4 routes without any RTM_DELROUTE.
    this.store.removeAddressesOn(link.index, (a) =>
      ledger.report({ type: 'address', action: 'removed', address: a, previous: a, time }, fromDump, hooks),
    );
    this.routes.removeOnLink(link.index, time, hooks, fromDump);
    // neigh_ifdown flushes the device's ARP/NDP entries (permanent ones included) with an
    // RTM_DELNEIGH each, on admin down and before RTM_DELLINK (seen on 6.18; fixture
    // neigh-link-del-*.bin): this only catches what a lost message left behind.
    for (const n of this.neighbours.removeLink(link.index)) {
      ledger.report({ type: 'neighbour', action: 'removed', neighbour: n, previous: n, time }, fromDump, hooks);
    }
    ledger.report({ type: 'link', action: 'removed', link, previous: link, time }, fromDump, hooks);
    if (!fromDump) hooks.silentChangesPossible();
  }

  applyAddress(address: Address, removed: boolean, fromDump: boolean, time: number, hooks: ApplyHooks): void {
    if (removed) {
      const previous = this.store.removeAddress(address);
      if (!previous) return;
      this.ledger.report({ type: 'address', action: 'removed', address, previous, time }, fromDump, hooks);
      // IPv4 flushes routes using this source, or all of the device's routes with its last
      // address, without RTM_DELROUTE (fib_del_ifaddr, fib_disable_ip): confirm with a dump.
      if (!fromDump && address.family === 4) hooks.silentChangesPossible();
      return;
    }
    const previous = this.store.putAddress(address, this.ledger.gen[DumpObject.Addr]);
    if (!previous) {
      this.ledger.report({ type: 'address', action: 'added', address, previous: null, time }, fromDump, hooks);
    } else if (!fromDump || !sameAddress(previous, address)) {
      // Live RTM_NEWADDR always counts: it refreshes lifetimes (DHCP renew, every RA).
      this.ledger.report({ type: 'address', action: 'changed', address, previous, time }, fromDump, hooks);
    }
  }

  /** A link dump completed: what it did not see is gone, with all it took along. */
  sweepLinks(time: number, hooks: ApplyHooks): void {
    for (const link of this.store.staleLinks(this.ledger.gen[DumpObject.Link])) this.removeLink(link, time, hooks, true);
  }

  /** An address dump completed: what it did not see is gone. */
  sweepAddresses(time: number, hooks: ApplyHooks): void {
    this.store.sweepAddresses(this.ledger.gen[DumpObject.Addr], (a) =>
      this.ledger.report({ type: 'address', action: 'removed', address: a, previous: a, time }, true, hooks),
    );
  }
}
