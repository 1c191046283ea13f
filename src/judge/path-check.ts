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
import { isRoutable, type CheckEnv, type PathMemory } from './path-queries';
import type { CanonicalPath } from './path-spec';
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
  /** The next hop is a gateway, not the peer itself. */
  viaGateway: boolean;
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
function lookupReason(result: RouteLookupResult, path: CanonicalPath, env: CheckEnv): VerdictReason {
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
      const plain = env.lookupPath(path, false);
      return !plain.ok && plain.code === 'EINVAL' ? 'unreachable' : 'local-address-removed';
    }
    default:
      return 'no-route';
  }
}

function lookupText(path: CanonicalPath): string {
  return `lookup ${path.remote} from ${path.local}`;
}

/**
 * A failed check's finding; says whether another path would reach the peer now (also at
 * the cap, where the verdict is gone either way: the evidence still says it).
 */
function failure(
  path: CanonicalPath,
  memory: PathMemory,
  env: CheckEnv,
  addressIndex: number | null,
  tentative: boolean,
  reason: VerdictReason,
  summary: string,
): PathFailure {
  const alternative = alternativeFor(path, env, memory);
  // One text per (finding, way) in a pass: the paths of a lost address share it (and its entry).
  const text = env.memo5('failure-text', summary, alternative, alternative ? null : path.remoteAtom, null, null, failureText, summary, alternative, path);
  return { ok: false, reason, summary: text, addressIndex, tentative, alternative };
}

function failureText(summary: string, alternative: string | null, path: CanonicalPath): string {
  return alternative ? `${summary}; ${alternative}` : `${summary}; no other path reaches ${path.remote}`;
}

/**
 * A replacement address counts from before the window opened (or from now without one):
 * always a number, never null at one check and a double at the next (it is a memo key).
 */
function replacementSince(memory: PathMemory, env: CheckEnv): number {
  return (memory.windowStart ?? env.now) - env.options.replacementLookbackMs;
}

/** Step 1's outcome: where the local address is, and why it fails (null: it does not). */
interface AddressFinding {
  addressIndex: number | null;
  tentative: boolean;
  reason: VerdictReason | null;
  summary: string;
}

/**
 * Step 1, the local address. It reads nothing of the peer, so one finding serves every
 * path of the address with the same memory in a pass (the 10k paths of a lost address
 * at their shared deadline).
 */
function checkAddress(path: CanonicalPath, memory: PathMemory, env: CheckEnv): AddressFinding {
  const { view, history, options, now } = env;
  const since = replacementSince(memory, env);
  const scoped = path.localLinkLocal;
  const all = view.findAddresses(path.local);
  const found = scoped ? all.filter((a) => a.index === path.ifindex) : all;
  let pick = found[0];
  let aliveCount = 0;
  let allTentative = true;
  for (const a of found) {
    if (isDadFailed(a)) continue;
    if (aliveCount++ === 0) pick = a;
    if (!isTentative(a)) allTentative = false;
  }
  const addressIndex = pick ? pick.index : memory.addressIndex ?? history.lastSeenOn(path.local);
  const tentative = aliveCount > 0 && allTentative;
  const validUntil = addressIndex === null ? null : history.validUntil(addressIndex, path.local);
  let addressReason: VerdictReason | null = null;
  let addressText = '';
  if (found.length === 0 && addressIndex === null && sourceWithoutAddress(path, env)) {
    // 127/8, AnyIP: never an address object (one that was and went is a removal, whose
    // local route the kernel drops with it); the lookup judges.
  } else if (aliveCount === 0) {
    const expired = validUntil !== null && now >= validUntil - options.expirySlackMs;
    addressReason = found.length ? 'local-address-dadfailed' : expired ? 'local-address-expired' : 'local-address-removed';
    addressText = found.length
      ? `address ${path.local} is dadfailed (duplicate on the link)`
      : `address ${path.local} is on no interface${expired ? ' (its valid lifetime ended)' : ''}`;
  } else if (validUntil !== null && now >= validUntil) {
    addressReason = 'local-address-expired';
    addressText = `valid lifetime of ${path.local} ended ${Math.round(now - validUntil)} ms ago without renewal`;
  }
  if (!addressReason) return { addressIndex, tentative, reason: null, summary: '' };
  const linkReason = linkProblem(view, addressIndex);
  if (linkReason) {
    return { addressIndex, tentative, reason: linkReason, summary: `${addressText}; ${linkProblemText(view, addressIndex!, linkReason)}` };
  }
  if (addressReason !== 'local-address-expired' && addressIndex !== null) {
    const replacement = history.replacementOn(view, addressIndex, path.family, scoped, path.local, since);
    if (replacement) {
      return {
        addressIndex,
        tentative,
        reason: 'local-address-replaced',
        summary: `${addressText}; ${linkLabel(view, addressIndex)} was configured again with ${replacement}`,
      };
    }
  }
  return { addressIndex, tentative, reason: addressReason, summary: addressText };
}

const DAD_NOTE = '; the source is still tentative (DAD running)';

/** What every path with the same answer shares: its route and its text. */
interface RouteFinding {
  route: PathRoute;
  summary: string;
}

function routeFinding(r: Route, label: string, preferredSource: string | null): RouteFinding {
  return makeRouteFinding(r, label, preferredSource, '');
}

function tentativeRouteFinding(r: Route, label: string, preferredSource: string | null): RouteFinding {
  return makeRouteFinding(r, label, preferredSource, DAD_NOTE);
}

function makeRouteFinding(r: Route, label: string, preferredSource: string | null, note: string): RouteFinding {
  return {
    route: Object.freeze({ oif: r.oif, preferredSource, gateway: r.gateway, table: r.table }) as PathRoute,
    summary: `route: ${r.type} ${r.gateway ? `via ${r.gateway} ` : ''}dev ${label} table ${r.table}` +
      `${preferredSource ? `; new connections would use ${preferredSource}` : ''}${note}`,
  };
}

/** Whether interface `index` holds `local`. */
function ownsAddress(view: NetworkStateView, index: number, local: string): boolean {
  return view.addressesOn(index).some((a) => (a.local ?? a.address) === local);
}

export function checkPath(path: CanonicalPath, memory: PathMemory, env: CheckEnv): Finding {
  const { view } = env;
  // 1. The local address: once per address, scope, mark, last interface and lookback in a pass.
  const scope = path.localLinkLocal ? path.ifindex : null;
  const address = env.memo5('address', path.localAtom, scope, path.mark, memory.addressIndex, replacementSince(memory, env), checkAddress, path, memory, env);
  const { addressIndex, tentative } = address;
  if (address.reason) return failure(path, memory, env, addressIndex, tentative, address.reason, address.summary);

  // 2. The kernel's route lookup from the local address.
  const result = env.lookupPath(path, true);
  const dadNote = tentative ? DAD_NOTE : '';
  if (result.ok && isRoutable(result.route.type)) {
    const r = result.route;
    const linkReason = linkProblem(view, r.oif);
    if (linkReason) return failure(path, memory, env, addressIndex, tentative, linkReason, `${lookupText(path)} leaves through ${linkProblemText(view, r.oif!, linkReason)}`);
    const nextHop = nextHopOf(r, path.remote);
    // The hop a neighbour-failed window is about stays suspect until it answers.
    const suspectedHop = memory.windowReason === 'neighbour-failed' && nextHop !== null && nextHopKey(nextHop) === memory.nextHop;
    const failedHop = failedNextHop(view, nextHop, suspectedHop);
    if (failedHop) return failure(path, memory, env, addressIndex, tentative, 'neighbour-failed', `${lookupText(path)}: ${failedHop}`);
    const plain = env.lookupPath(path, false);
    const preferredSource = plain.ok ? plain.route.preferredSource : null;
    const misfit = sourceMisfit(path, memory, r, preferredSource, view);
    if (misfit) return failure(path, memory, env, addressIndex, tentative, 'source-mismatch', `${lookupText(path)}: ${misfit}`);
    // Neither the route nor its text names an end of the path: every path with this
    // answer shares one of each. The link's label (once per pass) is a key: it names the
    // interface, and a rename makes a new text. A tentative source has its own name (its
    // text says so).
    const label = env.memo5('link-label', r.oif, null, null, null, null, linkLabel, view, r.oif, null);
    const shared = env.shared5(tentative ? 'ok-tentative' : 'ok', r.type, r.gateway, label, r.table, preferredSource,
      tentative ? tentativeRouteFinding : routeFinding, r, label, preferredSource);
    return {
      ok: true,
      summary: shared.summary,
      addressIndex,
      tentative,
      route: shared.route,
      bound: r,
      // addressesOn() walks every address of the host: once per egress and local address in a pass.
      sourceOnEgress: r.oif !== null && env.memo5('on-egress', r.oif, path.localAtom, null, null, null, ownsAddress, view, r.oif, path.local),
      nextHop: nextHop ? nextHopKey(nextHop) : null,
      viaGateway: nextHop !== null && nextHop.address !== path.remote,
    };
  }
  const answer = result.ok ? `${result.route.type} route` : `${result.code} (${result.message})`;
  const linkReason = linkProblem(view, memory.egress);
  if (linkReason) {
    return failure(path, memory, env, addressIndex, tentative, linkReason, `${lookupText(path)}: ${answer}; ${linkProblemText(view, memory.egress!, linkReason)}`);
  }
  return failure(path, memory, env, addressIndex, tentative, lookupReason(result, path, env), `${lookupText(path)}: ${answer}${dadNote}`);
}
