/**
 * Address and link evidence: which paths an address or link event can affect.
 * - A path's own address came, went or changed state: that path.
 * - Another address of the same family on an interface the path uses came, went or
 *   changed state: a suspect path may now see replacement; a viable one may get
 *   another source for new connections. Other families' addresses touch nothing.
 * - Lifetime-only refreshes (DHCP renew, every RA) touch only paths already suspect.
 * - A link whose up/carrier state did not change (Wi-Fi scans re-send RTM_NEWLINK)
 *   touches nothing.
 */
import type { Address, Link } from '../../netlink/types';
import { addressText, linkIsUp } from '../interface-history';
import type { IndexedPath, PathIndex } from '../path-index';

interface Judged extends IndexedPath {
  readonly state: 'viable' | 'suspect' | 'gone';
}

/** An RTM_NEWADDR that only refreshed lifetimes (DHCP renew, every RA). */
export function onlyLifetimesChanged(a: Address, b: Address): boolean {
  return a.flags === b.flags && a.scope === b.scope && a.prefixLength === b.prefixLength && a.local === b.local &&
    a.address === b.address;
}

export function pathsAffectedByAddress<P extends Judged>(index: PathIndex<P>, a: Address, previous: Address | null): P[] {
  const refreshOnly = previous !== null && onlyLifetimesChanged(previous, a);
  const out = new Set<P>();
  for (const p of index.withLocal(addressText(a))) if (!refreshOnly || p.state !== 'viable') out.add(p);
  if (!refreshOnly) for (const p of index.onInterface(a.index) ?? []) if (p.path.family === a.family) out.add(p);
  return [...out];
}

export function pathsAffectedByLink<P extends Judged>(index: PathIndex<P>, link: Link, previous: Link | null, removed: boolean): P[] {
  if (!removed && previous && linkIsUp(previous) === linkIsUp(link)) return [];
  return [...(index.onInterface(link.index) ?? [])];
}
