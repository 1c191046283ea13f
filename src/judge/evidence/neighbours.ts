/**
 * Neighbour evidence: the next hop of a path (its gateway, or the peer itself when
 * on-link) and its ARP/NDP entry. The kernel declares NUD_FAILED after its probes
 * went unanswered (ucast/mcast_solicit, ~3 s): with the link up that is a router that
 * died at L3, which netlink otherwise shows only at lease or valid-lifetime end.
 */
import { normalizeIp } from '../../netlink/ip';
import type { Family, Neighbour, Route } from '../../netlink/types';
import type { IndexedPath, PathIndex } from '../path-index';
import type { NetworkStateView } from '../../netlink/view';
import { linkLabel } from '../evidence-log';
import { isLinkLocalText } from '../interface-history';

export interface NextHop {
  oif: number;
  address: string;
}

/** The neighbour a route's traffic is handed to; null for routes that hand nothing to a neighbour. */
export function nextHopOf(route: Route, remote: string): NextHop | null {
  if (route.oif === null || route.type !== 'unicast') return null;
  const address = route.gateway !== null ? normalizeIp(route.gateway) : remote;
  return address ? { oif: route.oif, address } : null;
}

/** Interned keys by interface and address: every check of a path through a gateway asks for the same one. */
const keys = new Map<number, Map<string, string>>();
let keyCount = 0;

/** "oif|address": the neighbour index key (a Neighbour's index and address give the same). */
export function nextHopKey(hop: NextHop | Neighbour): string {
  const index = 'oif' in hop ? hop.oif : hop.index;
  let byAddress = keys.get(index);
  if (!byAddress) keys.set(index, (byAddress = new Map()));
  let key = byAddress.get(hop.address);
  if (key === undefined) {
    if (++keyCount > 65_536) {
      keys.clear();
      keyCount = 1;
      keys.set(index, byAddress);
      byAddress.clear();
    }
    byAddress.set(hop.address, (key = `${index}|${hop.address}`));
  }
  return key;
}

/**
 * Why the next hop counts as failed, or null. NUD_FAILED while its link is up; once a
 * path is suspect for it, INCOMPLETE or no entry at all too: after FAILED the next
 * packet restarts resolution, and only an answer (REACHABLE, STALE, ...) shows the
 * neighbour is back.
 */
export function failedNextHop(view: NetworkStateView, hop: NextHop | null, suspected: boolean): string | null {
  if (!hop) return null;
  const n = view.neighbour(hop.oif, hop.address);
  // The kernel garbage-collects a FAILED entry: its removal is no answer either.
  if (!n) return suspected ? `next hop ${hop.address} on ${linkLabel(view, hop.oif)} has not answered (neighbour entry gone)` : null;
  if (!(n.stateName === 'failed' || (suspected && n.stateName === 'incomplete'))) return null;
  return `next hop ${hop.address} on ${linkLabel(view, hop.oif)} does not answer (neighbour ${n.stateName.toUpperCase()})`;
}

/** A neighbour event that can change a verdict: into or out of FAILED/INCOMPLETE, or the entry went. */
export function neighbourMatters(n: Neighbour, previous: Neighbour | null, removed: boolean): boolean {
  const bad = (x: Neighbour | null) => x !== null && (x.stateName === 'failed' || x.stateName === 'incomplete');
  return removed ? bad(n) : bad(n) !== bad(previous);
}

/**
 * The paths of a family that are not handed to their peer directly: through a gateway
 * (their next hop is not the peer), or without a working route now (suspect, or never
 * checked good), which a gateway that answers again may give one.
 */
export function pathsThroughGateways<P extends IndexedPath & { nextHop: string | null; viaGateway: boolean; state: string }>(
  index: PathIndex<P>,
  family: Family,
): P[] {
  const out: P[] = [];
  index.forEachOfFamily(family, (p) => {
    if (p.nextHop === null || p.state !== 'viable' || p.viaGateway) out.push(p);
  });
  return out;
}

const NTF_ROUTER = 0x80;

/**
 * Whether an IPv6 neighbour may be some route's gateway: one a path went through, a
 * link-local address (what router advertisements give as gateways) or an entry flagged
 * NTF_ROUTER. A LAN host's entry failing walks no path.
 */
export function isRouter6(n: Neighbour, gateways: ReadonlySet<string>): boolean {
  return (n.flags & NTF_ROUTER) !== 0 || isLinkLocalText(n.address) || gateways.has(nextHopKey(n));
}
