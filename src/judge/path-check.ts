/**
 * The fresh check of one path against the kernel's state and its route lookups.
 * Pure: everything it reads comes through CheckEnv, so the same code runs on a
 * live monitor, a fake network and a replayed recording.
 *
 * Order:
 * 1. the local address: present on some interface (link-local: on `ifindex`), not
 *    dadfailed, valid lifetime not over — or, with no address object, a source the
 *    kernel's local table accepts (127/8, AnyIP `local` routes);
 * 2. the kernel's lookup from local to remote (with the bound device as oif and the
 *    mark): it must succeed, be routable, leave through a link that is up, through a
 *    next hop whose neighbour entry has not failed, and fit the source (routes.ts).
 * When a check fails because the interface itself went away or down, that is the
 * reason given. A failure says whether another path would reach the peer now.
 */
import type { Route } from '../netlink/types';
import type { NetworkStateView, RouteLookupResult } from '../netlink/view';
import { linkLabel } from './evidence-log';
import { failedNextHop, nextHopKey, nextHopOf } from './evidence/neighbours';
import { alternativeFor, sourceMisfit, sourceWithoutAddress } from './evidence/routes';
import { isDadFailed, isTentative, linkIsUp } from './interface-history';
import { boundQuery, isRoutable, unboundQuery, type CheckEnv, type PathMemory } from './path-queries';
import type { NormalizedPath } from './path-spec';
import type { PathRoute, VerdictReason } from './types';

interface FindingBase {
  summary: string;
  addressIndex: number | null;
  /** The local address is present but DAD has not finished. */
  tentative: boolean;
}

export interface PathOk extends FindingBase {
  ok: true;
  route: PathRoute;
  /** The kernel's answer for the path (from the local address). */
  bound: Route;
  /** The local address belongs to the egress interface. */
  sourceOnEgress: boolean;
  /** "oif|address" of the next hop whose neighbour entry speaks for the path; null for local routes. */
  nextHop: string | null;
}

export interface PathFailure extends FindingBase {
  ok: false;
  reason: VerdictReason;
  /** How a new connection would reach the peer now, or null when nothing would. */
  alternative: string | null;
}

export type Finding = PathOk | PathFailure;

function linkProblem(view: NetworkStateView, index: number | null): VerdictReason | null {
  if (index === null) return null;
  const link = view.link(index);
  if (!link) return 'link-removed';
  return linkIsUp(link) ? null : 'link-down';
}

function linkProblemText(view: NetworkStateView, index: number, reason: VerdictReason): string {
  return reason === 'link-removed' ? `link index ${index} was deleted` : `link ${linkLabel(view, index)} is down or without carrier`;
}

/** Maps a failed lookup to a reason. EINVAL is either a non-local source or a blackhole. */
function lookupReason(result: RouteLookupResult, path: NormalizedPath, env: CheckEnv): VerdictReason {
  if (result.ok) return 'unreachable';
  switch (result.code) {
    case 'ENETUNREACH':
      return 'no-route';
    case 'EHOSTUNREACH':
    case 'EACCES':
    case 'EPERM':
      return 'unreachable';
    case 'EINVAL': {
      // IPv4 refuses a source it does not own with EINVAL; a blackhole answers EINVAL
      // whatever the source. Ask again without the source to tell them apart.
      if (path.family === 6) return 'unreachable';
      const plain = env.lookup(unboundQuery(path));
      return !plain.ok && plain.code === 'EINVAL' ? 'unreachable' : 'local-address-removed';
    }
    default:
      return 'no-route';
  }
}

export function checkPath(path: NormalizedPath, memory: PathMemory, env: CheckEnv): Finding {
  const { view, history, options, now } = env;
  const scoped = path.localLinkLocal;
  const found = view.findAddresses(path.local).filter((a) => !scoped || a.index === path.ifindex);
  const alive = found.filter((a) => !isDadFailed(a));
  const pick = alive[0] ?? found[0];
  const addressIndex = pick ? pick.index : memory.addressIndex ?? history.lastSeenOn(path.local);
  const tentative = alive.length > 0 && alive.every(isTentative);
  const fail = (reason: VerdictReason, summary: string): PathFailure => {
    const alternative = alternativeFor(path, env);
    return {
      ok: false,
      reason,
      summary: alternative ? `${summary}; ${alternative}` : `${summary}; no other path reaches ${path.remote}`,
      addressIndex,
      tentative,
      alternative,
    };
  };

  // 1. The local address.
  const validUntil = addressIndex === null ? null : history.validUntil(addressIndex, path.local);
  let addressReason: VerdictReason | null = null;
  let addressText = '';
  if (found.length === 0 && addressIndex === null && sourceWithoutAddress(path, env)) {
    // 127/8, AnyIP: never an address object (one that was and went is a removal, whose
    // local route the kernel drops with it); the lookup below judges.
  } else if (alive.length === 0) {
    const expired = validUntil !== null && now >= validUntil - options.expirySlackMs;
    addressReason = found.length ? 'local-address-dadfailed' : expired ? 'local-address-expired' : 'local-address-removed';
    addressText = found.length
      ? `address ${path.local} is dadfailed (duplicate on the link)`
      : `address ${path.local} is on no interface${expired ? ' (its valid lifetime ended)' : ''}`;
  } else if (validUntil !== null && now >= validUntil) {
    addressReason = 'local-address-expired';
    addressText = `valid lifetime of ${path.local} ended ${Math.round(now - validUntil)} ms ago without renewal`;
  }
  if (addressReason) {
    const linkReason = linkProblem(view, addressIndex);
    if (linkReason) return fail(linkReason, `${addressText}; ${linkProblemText(view, addressIndex!, linkReason)}`);
    if (addressReason !== 'local-address-expired' && addressIndex !== null) {
      const since = (memory.windowStart ?? now) - options.replacementLookbackMs;
      const replacement = env.memo(`replacement|${addressIndex}|${path.local}|${since}`, () =>
        history.replacementOn(view, addressIndex, path.family, scoped, path.local, since),
      );
      if (replacement) {
        return fail('local-address-replaced', `${addressText}; ${linkLabel(view, addressIndex)} was configured again with ${replacement}`);
      }
    }
    return fail(addressReason, addressText);
  }

  // 2. The kernel's route lookup from the local address.
  const result = env.lookup(boundQuery(path));
  const dadNote = tentative ? `; ${path.local} still tentative (DAD running)` : '';
  const lookupText = `lookup ${path.remote} from ${path.local}`;
  if (result.ok && isRoutable(result.route.type)) {
    const r = result.route;
    const linkReason = linkProblem(view, r.oif);
    if (linkReason) return fail(linkReason, `${lookupText} leaves through ${linkProblemText(view, r.oif!, linkReason)}`);
    const nextHop = nextHopOf(r, path.remote);
    // The hop a neighbour-failed window is about stays suspect until it answers.
    const suspectedHop = memory.windowReason === 'neighbour-failed' && nextHop !== null && nextHopKey(nextHop) === memory.nextHop;
    const failedHop = failedNextHop(view, nextHop, suspectedHop);
    if (failedHop) return fail('neighbour-failed', `${lookupText}: ${failedHop}`);
    const plain = env.lookup(unboundQuery(path));
    const route: PathRoute = {
      oif: r.oif,
      preferredSource: plain.ok ? plain.route.preferredSource : null,
      gateway: r.gateway,
      table: r.table,
    };
    const misfit = sourceMisfit(path, memory, r, route.preferredSource, view);
    if (misfit) return fail('source-mismatch', `${lookupText}: ${misfit}`);
    return {
      ok: true,
      summary:
        `${lookupText}: ${r.type} ${r.gateway ? `via ${r.gateway} ` : ''}dev ${linkLabel(view, r.oif)}` +
        ` table ${r.table}${route.preferredSource ? `; new connections would use ${route.preferredSource}` : ''}${dadNote}`,
      addressIndex,
      tentative,
      route,
      bound: r,
      sourceOnEgress: r.oif !== null && view.addressesOn(r.oif).some((a) => (a.local ?? a.address) === path.local),
      nextHop: nextHop ? nextHopKey(nextHop) : null,
    };
  }
  const answer = result.ok ? `${result.route.type} route` : `${result.code} (${result.message})`;
  const linkReason = linkProblem(view, memory.egress);
  if (linkReason) {
    return fail(linkReason, `${lookupText}: ${answer}; ${linkProblemText(view, memory.egress!, linkReason)}`);
  }
  return fail(lookupReason(result, path, env), `${lookupText}: ${answer}${dadNote}`);
}
