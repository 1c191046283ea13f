/**
 * The fresh check of one path against the kernel's state and its route lookup.
 * Pure: everything it reads comes through CheckEnv, so the same code runs on a
 * live monitor, a fake network and a replayed recording.
 *
 * Order: the local address first (present on some interface, not dadfailed, valid
 * lifetime not over), then the kernel's lookup from local to remote (it must
 * succeed, be routable, and leave through a link that is up). When a check fails
 * because the interface itself went away or down, that is the reason given.
 */
import type { Route, RouteQuery, RouteType } from '../netlink/types';
import type { NetworkStateView, RouteLookupResult } from '../netlink/view';
import { linkLabel } from './evidence-log';
import type { ResolvedJudgeOptions } from './hold-downs';
import { InterfaceHistory, isDadFailed, isTentative, linkIsUp } from './interface-history';
import type { NormalizedPath } from './path-spec';
import type { PathRoute, VerdictReason } from './types';

export interface CheckEnv {
  readonly view: NetworkStateView;
  readonly history: InterfaceHistory;
  readonly options: ResolvedJudgeOptions;
  readonly now: number;
  lookup(query: RouteQuery): RouteLookupResult;
  /** Caches an interface-level fact for the rest of the pass (many paths share an interface). */
  memo<T>(key: string, compute: () => T): T;
}

/** What the path's evaluation remembers between checks. */
export interface PathMemory {
  /** Interface the local address was last seen on. */
  addressIndex: number | null;
  /** Output interface of the last successful lookup. */
  egress: number | null;
  /** Start of the open suspect window, null while viable. */
  windowStart: number | null;
}

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
}

export interface PathFailure extends FindingBase {
  ok: false;
  reason: VerdictReason;
  /** When the interface's reconfiguration grace ends, if it is mid-reconfiguration. */
  reconfiguringUntil: number | null;
}

export type Finding = PathOk | PathFailure;

/** Lookup answers that carry traffic. */
const ROUTABLE: ReadonlySet<RouteType> = new Set(['unicast', 'local', 'broadcast', 'multicast', 'anycast']);

/** The query the path's own traffic makes (from its local address). */
export function boundQuery(path: NormalizedPath): RouteQuery {
  const q: RouteQuery = { to: path.remote, from: path.local };
  if (path.linkLocal && path.ifindex !== null) q.oif = path.ifindex;
  if (path.mark !== null) q.mark = path.mark;
  return q;
}

/** The query a new connection to the peer would make (the kernel picks the source). */
export function unboundQuery(path: NormalizedPath): RouteQuery {
  const q: RouteQuery = { to: path.remote };
  if (path.linkLocal && path.ifindex !== null) q.oif = path.ifindex;
  if (path.mark !== null) q.mark = path.mark;
  return q;
}

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
  const reconfiguring = (index: number | null) =>
    index === null
      ? null
      : env.memo(`reconfiguring|${index}|${path.family}|${scoped}`, () =>
          history.reconfiguringUntil(view, index, path.family, scoped, now, options.reconfigurationGraceMs),
        );
  const fail = (reason: VerdictReason, summary: string, index: number | null): PathFailure => ({
    ok: false,
    reason,
    summary,
    addressIndex,
    tentative,
    reconfiguringUntil: reconfiguring(index),
  });

  // 1. The local address.
  const validUntil = addressIndex === null ? null : history.validUntil(addressIndex, path.local);
  let addressReason: VerdictReason | null = null;
  let addressText = '';
  if (alive.length === 0) {
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
    if (linkReason) {
      return fail(linkReason, `${addressText}; ${linkProblemText(view, addressIndex!, linkReason)}`, addressIndex);
    }
    if (addressReason !== 'local-address-expired' && addressIndex !== null) {
      const since = (memory.windowStart ?? now) - options.replacementLookbackMs;
      const replacement = env.memo(`replacement|${addressIndex}|${path.local}|${since}`, () =>
        history.replacementOn(view, addressIndex, path.family, scoped, path.local, since),
      );
      if (replacement) {
        return fail(
          'local-address-replaced',
          `${addressText}; ${linkLabel(view, addressIndex)} was configured again with ${replacement}`,
          addressIndex,
        );
      }
    }
    return fail(addressReason, addressText, addressIndex);
  }

  // 2. The kernel's route lookup from the local address.
  const query = boundQuery(path);
  const result = env.lookup(query);
  const dadNote = tentative ? `; ${path.local} still tentative (DAD running)` : '';
  if (result.ok && ROUTABLE.has(result.route.type)) {
    const r = result.route;
    const linkReason = linkProblem(view, r.oif);
    if (linkReason) {
      return fail(linkReason, `lookup ${path.remote} from ${path.local} leaves through ${linkProblemText(view, r.oif!, linkReason)}`, r.oif);
    }
    const plain = env.lookup(unboundQuery(path));
    const route: PathRoute = {
      oif: r.oif,
      preferredSource: plain.ok ? plain.route.preferredSource : null,
      gateway: r.gateway,
      table: r.table,
    };
    return {
      ok: true,
      summary:
        `lookup ${path.remote} from ${path.local}: ${r.type} ${r.gateway ? `via ${r.gateway} ` : ''}dev ${linkLabel(view, r.oif)}` +
        ` table ${r.table}${route.preferredSource ? `; new connections would use ${route.preferredSource}` : ''}${dadNote}`,
      addressIndex,
      tentative,
      route,
      bound: r,
    };
  }
  const answer = result.ok ? `${result.route.type} route` : `${result.code} (${result.message})`;
  const linkReason = linkProblem(view, memory.egress);
  if (linkReason) {
    return fail(
      linkReason,
      `lookup ${path.remote} from ${path.local}: ${answer}; ${linkProblemText(view, memory.egress!, linkReason)}`,
      memory.egress,
    );
  }
  return fail(
    lookupReason(result, path, env),
    `lookup ${path.remote} from ${path.local}: ${answer}${dadNote}`,
    memory.egress ?? addressIndex,
  );
}
