/**
 * What the judge remembers about interfaces beyond the kernel's current state:
 * when each address was first seen on one (to tell a new address from one re-added
 * by churn), where an address was last seen, and when its valid lifetime ends.
 * O(1) work per event.
 */
import { IFA_F_DADFAILED, IFA_F_DEPRECATED, IFA_F_OPTIMISTIC, IFA_F_TENTATIVE } from '../netlink/flags';
import type { Address, Family, Link } from '../netlink/types';
import type { NetworkStateView } from '../netlink/view';

/** Forgotten this long after removal: an address gone longer counts as new when it returns. */
const REMOVED_MEMORY_MS = 60_000;

interface AddressRecord {
  firstSeenAt: number;
  removedAt: number | null;
  /** Clock time the valid lifetime ends, null = forever. */
  validUntil: number | null;
}

interface InterfaceRecord {
  addresses: Map<string, AddressRecord>;
}

export function addressText(a: Address): string {
  return a.local ?? a.address;
}

/** fe80::/10, for canonical text (as the monitor and normalizePathSpec give it): no parsing. */
export function isLinkLocalText(canonical: string): boolean {
  // /^fe[89ab][0-9a-f]:/ without a regex: it runs for every path on every failed check.
  if (canonical.charCodeAt(0) !== 102 || canonical.charCodeAt(1) !== 101 || canonical.charCodeAt(4) !== 58) return false;
  const c2 = canonical.charCodeAt(2);
  const c3 = canonical.charCodeAt(3);
  return (c2 === 56 || c2 === 57 || (c2 >= 97 && c2 <= 98)) && ((c3 >= 48 && c3 <= 57) || (c3 >= 97 && c3 <= 102));
}

/** Administratively up and with carrier. */
export function linkIsUp(link: Link): boolean {
  return link.up && link.lowerUp && link.carrier !== false;
}

export function isTentative(a: Address): boolean {
  return (a.flags & IFA_F_TENTATIVE) !== 0 && (a.flags & IFA_F_OPTIMISTIC) === 0;
}

export function isDadFailed(a: Address): boolean {
  return (a.flags & IFA_F_DADFAILED) !== 0;
}

/** Usable for new traffic: not tentative, not dadfailed, not deprecated. */
export function isUsable(a: Address): boolean {
  return !isTentative(a) && !isDadFailed(a) && (a.flags & IFA_F_DEPRECATED) === 0;
}

export class InterfaceHistory {
  private readonly interfaces = new Map<number, InterfaceRecord>();
  private readonly lastIndex = new Map<string, number>();

  /** Takes the current state as known since forever (nothing in it is "new"). */
  seed(view: NetworkStateView, now: number): void {
    for (const a of view.addresses()) this.onAddress(a, false, now, -Infinity);
  }

  /** A deleted link takes its address records with it (a re-created one gets another index). */
  onLinkRemoved(link: Link): void {
    this.interfaces.delete(link.index);
  }

  /** Records an address event; `firstSeen` overrides the time a new address counts from. */
  onAddress(a: Address, removed: boolean, now: number, firstSeen = now): void {
    const rec = this.interfaceOf(a.index);
    const text = addressText(a);
    let entry = rec.addresses.get(text);
    if (removed) {
      if (entry) entry.removedAt = now;
      return;
    }
    if (!entry || (entry.removedAt !== null && now - entry.removedAt > REMOVED_MEMORY_MS)) {
      entry = { firstSeenAt: firstSeen, removedAt: null, validUntil: null };
      rec.addresses.set(text, entry);
    }
    entry.removedAt = null;
    entry.validUntil = a.validLifetime === null ? null : now + a.validLifetime * 1000;
    this.lastIndex.set(text, a.index);
    if (rec.addresses.size > 64) this.prune(rec, now);
  }

  /** Interface the address was last seen on (link-local addresses: any of them). */
  lastSeenOn(address: string): number | null {
    return this.lastIndex.get(address) ?? null;
  }

  /** When the address's valid lifetime ends on that interface; null = forever or unknown. */
  validUntil(index: number, address: string): number | null {
    return this.interfaces.get(index)?.addresses.get(address)?.validUntil ?? null;
  }

  /**
   * Takes the lifetimes of `address` from the state as it is now, e.g. right after a
   * resync: the mirror ignores lifetime-only differences in a re-dump (they count down),
   * so a renewal lost in an overflow arrives this way, never as an event.
   */
  refreshLifetimes(view: NetworkStateView, address: string, now: number): void {
    for (const a of view.findAddresses(address)) {
      const entry = this.interfaces.get(a.index)?.addresses.get(address);
      if (!entry) continue;
      if (a.validLifetime === null) {
        entry.validUntil = null;
        continue;
      }
      // A dump reports whole seconds left, rounded down from the kernel's timestamp: the
      // lifetime ends within the second before now + left. An estimate inside it is the
      // same lifetime, seen earlier and more precisely; keep it.
      const dumped = now + a.validLifetime * 1000;
      const same = entry.validUntil !== null && entry.validUntil > dumped - 1000 && entry.validUntil <= dumped;
      if (!same) entry.validUntil = dumped;
    }
  }

  /**
   * Replacement: an address of the same family and scope, usable, on the same
   * interface, first seen after `since` — the interface was configured again and
   * the old address is not among its addresses. Returns it, or null.
   */
  replacementOn(
    view: NetworkStateView,
    index: number,
    family: Family,
    linkLocal: boolean,
    old: string,
    since: number,
  ): string | null {
    const rec = this.interfaces.get(index);
    if (!rec) return null;
    for (const a of view.addressesOn(index)) {
      const text = addressText(a);
      if (a.family !== family || text === old || isLinkLocalText(text) !== linkLocal || !isUsable(a)) continue;
      const seen = rec.addresses.get(text)?.firstSeenAt ?? -Infinity;
      if (seen > since) return text;
    }
    return null;
  }

  private interfaceOf(index: number): InterfaceRecord {
    let rec = this.interfaces.get(index);
    if (!rec) {
      rec = { addresses: new Map() };
      this.interfaces.set(index, rec);
    }
    return rec;
  }

  private prune(rec: InterfaceRecord, now: number): void {
    for (const [text, entry] of rec.addresses) {
      if (entry.removedAt !== null && now - entry.removedAt > REMOVED_MEMORY_MS) rec.addresses.delete(text);
    }
  }
}
