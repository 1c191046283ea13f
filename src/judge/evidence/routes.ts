/**
 * Route and rule evidence: which paths a route, nexthop or policy-rule change can
 * affect; sources the kernel accepts without an address object; whether a path's
 * source still fits where the kernel sends it; and whether another path would
 * reach the peer now (the alternative that makes a loss worth confirming fast).
 */
import { parseIp, prefixContains } from '../../netlink/ip';
import { routeKey } from '../../netlink/keys';
import type { Family, Nexthop, Route, Rule } from '../../netlink/types';
import type { NetworkStateView } from '../../netlink/view';
import { linkLabel } from '../evidence-log';
import { isLinkLocalText, isUsable, linkIsUp } from '../interface-history';
import { isRoutable, type CheckEnv, type NewConnection, type PathMemory } from '../path-queries';
import type { IndexedPath, PathIndex } from '../path-index';
import type { CanonicalPath, NormalizedPath } from '../path-spec';
import { failedNextHop, nextHopKey, nextHopOf } from './neighbours';

const IFF_LOOPBACK = 0x8;

/**
 * `local` routes outside the local table (AnyIP prefixes put into another table):
 * kept from route events so that a source they cover needs no scan of every route.
 */
export class LocalRoutes {
  private readonly routes = new Map<string, { family: Family; bytes: Uint8Array; length: number }>();

  onRoute(r: Route, removed: boolean): void {
    if (r.type !== 'local' || r.table === 255) return;
    const key = routeKey(r);
    const bytes = parseIp(r.destination)?.bytes;
    if (removed || !bytes) this.routes.delete(key);
    else this.routes.set(key, { family: r.family, bytes, length: r.destinationLength });
  }

  covers(family: Family, bytes: Uint8Array): boolean {
    for (const r of this.routes.values()) if (r.family === family && prefixContains(r.bytes, r.length, bytes)) return true;
    return false;
  }
}

/**
 * A source with no address object that the kernel treats as local: the local table
 * answers `local` for it (all of 127/8, AnyIP `ip route add local PREFIX dev lo`), or a
 * `local` route in another table covers it.
 */
export function sourceWithoutAddress(path: NormalizedPath, env: CheckEnv): boolean {
  return env.memo(['local-source', path.local, path.mark], () => {
    const q = path.mark !== null ? { to: path.local, mark: path.mark } : { to: path.local };
    const r = env.lookup(q);
    if (r.ok && r.route.type === 'local') return true;
    return env.localRouteCovers(path.family, path.localBytes);
  });
}

/**
 * The source-must-fit-the-egress rule. A path's egress has moved (the lookup from its
 * source now leaves through another interface than at its last good check) and:
 * - its source belonged to the old egress (an address of that interface, not of a
 *   loopback: routers and anycast hosts that source from `lo` are never caught),
 * - the new egress does not hold it,
 * - and the kernel would give a new connection to the peer another source.
 * Then the peer sees a foreign source (a full-tunnel VPN's 0/1 + 128/1, wg-quick's
 * rules, a second uplink after the first went down): the path is lost, even though
 * the lookup succeeds. Returns why, or null when the source fits.
 */
export function sourceMisfit(
  path: NormalizedPath,
  memory: PathMemory,
  route: Route,
  preferredSource: string | null,
  view: NetworkStateView,
): string | null {
  if (memory.egress === null || route.oif === null || route.oif === memory.egress || !memory.sourceOnEgress) return null;
  if (preferredSource === null || preferredSource === path.local) return null;
  const onNew = view.addressesOn(route.oif).some((a) => (a.local ?? a.address) === path.local);
  if (onNew) return null;
  const owner = memory.addressIndex !== null ? view.link(memory.addressIndex) : undefined;
  if (owner && owner.flags & IFF_LOOPBACK) return null;
  return `the kernel now sends it through ${linkLabel(view, route.oif)} instead of ${linkLabel(view, memory.egress)}, ` +
    `where ${path.local} is not an address; new connections would use ${preferredSource}`;
}

/**
 * How a new connection to the peer would go now, or null when it would not: the
 * lookup without a source succeeds, is routable, leaves through a link that is up,
 * whose next hop has not failed, with a usable source other than the path's own (and
 * not a link-local one for a peer beyond the link).
 */
export function alternativeFor(path: CanonicalPath, env: CheckEnv, memory: PathMemory): string | null {
  // What a new connection to the peer gets is the same for every path to it: asked once per pass.
  const way = env.newConnection(path, newConnectionTo);
  if (!way || way.source === path.local) return null;
  // Through the very next hop the path is suspect for (not answered yet, though not FAILED
  // again): a reconnect would wait on the same neighbour.
  if (memory.windowReason === 'neighbour-failed' && way.hop !== null && way.hop === memory.nextHop) return null;
  // A link-local source reaches only link-local peers (what the kernel offers when nothing else is left).
  if (!path.linkLocal && isLinkLocalText(way.source)) return null;
  return way.text;
}

/** How a new connection to the path's peer would leave now (source, text), or null when it would not. */
function newConnectionTo(path: CanonicalPath, env: CheckEnv): NewConnection | null {
  const r = env.lookupPath(path, false);
  if (!r.ok || !isRoutable(r.route.type) || r.route.type === 'local') return null;
  const { oif, preferredSource } = r.route;
  if (oif === null || preferredSource === null) return null;
  const link = env.view.link(oif);
  if (!link || !linkIsUp(link)) return null;
  if (!env.view.findAddresses(preferredSource).some(isUsable)) return null;
  const hop = nextHopOf(r.route, path.remote);
  if (failedNextHop(env.view, hop, false)) return null;
  return {
    source: preferredSource,
    text: `a new connection would go through ${linkLabel(env.view, oif)} from ${preferredSource}`,
    hop: hop ? nextHopKey(hop) : null,
  };
}

/** A route refresh that only moved `expires` (RA, userspace-managed routes). */
export function onlyExpiryChanged(a: Route, b: Route): boolean {
  return JSON.stringify({ ...a, expires: null }) === JSON.stringify({ ...b, expires: null });
}

/** Paths on the interfaces a nexthop object (or its group's members) uses, before and after. */
export function pathsUsingNexthop<P extends IndexedPath>(
  index: PathIndex<P>,
  view: NetworkStateView,
  nexthops: Array<Nexthop | null>,
): P[] {
  const oifs = new Set<number>();
  for (const nh of nexthops) {
    if (nh?.oif != null) oifs.add(nh.oif);
    for (const m of nh?.group ?? []) {
      const member = view.nexthop(m.id)?.oif;
      if (member != null) oifs.add(member);
    }
  }
  const out = new Set<P>();
  for (const oif of oifs) for (const p of index.onInterface(oif) ?? []) out.add(p);
  return [...out];
}

/**
 * Paths whose source a `local` route accepts or stopped accepting without an address
 * object (AnyIP: `ip route add local PREFIX dev lo`), so no address event names them.
 * An address's own local route (full length, the address known to `isAddress`) is left
 * to the address's event.
 */
export function pathsSourcedBy<P extends IndexedPath>(index: PathIndex<P>, route: Route, isAddress: (ip: string) => boolean): P[] {
  if (route.type !== 'local') return [];
  const bytes = parseIp(route.destination)?.bytes;
  const out: P[] = [];
  if (!bytes) return out;
  const full = route.destinationLength === (route.family === 4 ? 32 : 128);
  if (full && isAddress(route.destination)) return out;
  index.forEachLocalCovered(route.family, bytes, route.destinationLength, (p) => out.push(p));
  return out;
}

/** Paths whose peer lies inside the route's destination prefix. */
export function pathsCoveredBy<P extends IndexedPath>(index: PathIndex<P>, route: Route): P[] {
  const bytes = parseIp(route.destination)?.bytes;
  const out: P[] = [];
  if (bytes) index.forEachCovered(route.family, bytes, route.destinationLength, (p) => out.push(p));
  return out;
}

function ruleSelects(rule: Rule, path: NormalizedPath): boolean {
  const inside = (prefix: string | null, length: number, bytes: Uint8Array) => {
    const p = prefix === null ? null : parseIp(prefix);
    return !p || prefixContains(p.bytes, length, bytes);
  };
  const mark = path.mark ?? 0;
  const matches =
    inside(rule.source, rule.sourceLength, path.localBytes) &&
    inside(rule.destination, rule.destinationLength, path.remoteBytes) &&
    (rule.fwmark === null || (mark & (rule.fwmask ?? 0xffffffff)) === rule.fwmark);
  // An inverted rule (`not ...`) selects what the selectors do not; other selectors
  // (ports, uid, interfaces) are not known for a path, so count them as matching.
  return rule.invert ? true : matches;
}

/**
 * Paths a rule change can affect: the family's paths that the rule's selectors (before
 * and after) may match. Rule changes are rare; the kernel's lookup decides each one.
 */
export function pathsSelectedBy<P extends IndexedPath>(index: PathIndex<P>, rules: Array<Rule | null>): P[] {
  const out: P[] = [];
  const present = rules.filter((r): r is Rule => r !== null);
  if (present.length === 0) return out;
  index.forEachOfFamily(present[0].family, (p) => {
    if (present.some((r) => ruleSelects(r, p.path))) out.push(p);
  });
  return out;
}
