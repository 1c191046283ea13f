/**
 * Address and link evidence: which paths an address or link event can affect.
 * - A path's own address came, went or changed state: that path.
 * - Another address of the same family on an interface the path uses came, went or
 *   changed state: a suspect path may now see replacement (a full check); a viable one
 *   may get another source for new connections (its peer's new-connection lookup
 *   only). Other families' addresses touch nothing.
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

/**
 * What an address event does to the paths: `own` (its address came, went or changed
 * state) get a full check; `sharing` (viable paths on the same interface and family)
 * can only see another source for new connections to their peers, since a path's own
 * lookup does not depend on another address of its interface (the routes that go
 * with that address come as route events of their own). Suspect paths on the
 * interface get a full check (the address may be their replacement).
 */
export function pathsAffectedByAddress<P extends Judged>(
  index: PathIndex<P>,
  a: Address,
  previous: Address | null,
): { own: P[]; sharing: P[] } {
  const refreshOnly = previous !== null && onlyLifetimesChanged(previous, a);
  const own = new Set<P>();
  const sharing: P[] = [];
  // Indexed loops: this runs once per event, over up to every path of an interface (100k),
  // mostly before V8 optimizes it, where each step of for-of allocates its result.
  const mine = index.withLocal(addressText(a));
  for (let i = 0; i < mine.length; i++) if (!refreshOnly || mine[i].state !== 'viable') own.add(mine[i]);
  const onLink = refreshOnly ? undefined : index.onInterface(a.index);
  if (onLink) {
    for (let i = 0; i < onLink.length; i++) {
      const p = onLink[i];
      if (p.path.family !== a.family || own.has(p)) continue;
      if (p.state === 'viable') sharing.push(p);
      else own.add(p);
    }
  }
  return { own: [...own], sharing };
}

export function pathsAffectedByLink<P extends Judged>(index: PathIndex<P>, link: Link, previous: Link | null, removed: boolean): P[] {
  if (!removed && previous && linkIsUp(previous) === linkIsUp(link)) return [];
  return [...(index.onInterface(link.index) ?? [])];
}
