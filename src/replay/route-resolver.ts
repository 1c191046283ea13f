/**
 * A userspace approximation of the kernel's route lookup (RTM_GETROUTE) over a
 * NetworkStateView: tables local, main, default in the order of the default
 * policy rules; longest prefix, then lowest metric; nexthops on deleted or
 * admin-down links skipped, routes on links without carrier kept (the kernel's
 * default, ignore_routes_with_linkdown=0); expired routes skipped; unreachable,
 * prohibit and blackhole answered with the kernel's errnos; an IPv4 source that is
 * not local (no address, no `local` route in the local table) refused with EINVAL;
 * policy rules walked in order (selectors from/to/fwmark/oif, actions to-table with
 * suppress_prefixlength, goto, blackhole/unreachable/prohibit); uid, port and
 * protocol selectors never match (a lookup carries none of them).
 *
 * Replay answers lookups it has no recording for with it; the test suite's fake
 * network answers every lookup with it, so lookups follow the fake's state.
 */
import { parseIp, prefixContains, type ParsedIp } from '../netlink/ip';
import type { Address, Route, RouteQuery, Rule } from '../netlink/types';
import type { NetworkStateView, RouteLookupResult } from '../netlink/view';
import { addressText, isDadFailed, isLinkLocalText, isTentative, isUsable } from '../judge/interface-history';

/** Parsed address text, cached: the same few route and address texts are parsed for every lookup. */
const parsedText = new Map<string, ParsedIp | null>();
function parsed(text: string): ParsedIp | null {
  let ip = parsedText.get(text);
  if (ip === undefined) {
    if (parsedText.size > 65_536) parsedText.clear();
    ip = parseIp(text);
    parsedText.set(text, ip);
  }
  return ip;
}

function bytesOf(text: string): Uint8Array | null {
  return parsed(text)?.bytes ?? null;
}

const ERRORS: Record<string, [number, string]> = {
  ENETUNREACH: [101, 'Network is unreachable'],
  EHOSTUNREACH: [113, 'No route to host'],
  EACCES: [13, 'Permission denied'],
  EINVAL: [22, 'Invalid argument'],
};

function failure(code: keyof typeof ERRORS): RouteLookupResult {
  const [errno, message] = ERRORS[code];
  return { ok: false, code, errno, message };
}

interface Hop {
  oif: number | null;
  gateway: string | null;
}

function hopsOf(view: NetworkStateView, r: Route): Hop[] {
  if (r.nexthopId !== null) {
    const nh = view.nexthop(r.nexthopId);
    if (!nh) return [];
    if (!nh.group) return [{ oif: nh.oif, gateway: nh.gateway }];
    return nh.group.flatMap((m) => {
      const member = view.nexthop(m.id);
      return member ? [{ oif: member.oif, gateway: member.gateway }] : [];
    });
  }
  if (r.multipath) return r.multipath.map((h) => ({ oif: h.index, gateway: h.gateway }));
  return [{ oif: r.oif, gateway: r.gateway }];
}

function hopAlive(view: NetworkStateView, hop: Hop): boolean {
  if (hop.oif === null) return true;
  const link = view.link(hop.oif);
  return !!link && link.up;
}

function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < 16; i++) {
    const x = a[i] ^ b[i];
    if (x === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(x) - 24;
  }
  return bits;
}

/** Source address selection, roughly RFC 6724 for IPv6 and inet_select_addr for IPv4. */
function selectSource(view: NetworkStateView, family: 4 | 6, oif: number | null, to: Uint8Array, linkLocalDst: boolean): string | null {
  const eligible = (a: Address) => a.family === family && !isTentative(a) && !isDadFailed(a);
  const rank = (a: Address): number => {
    const bytes = bytesOf(addressText(a))!;
    const scopeMatch = isLinkLocalText(addressText(a)) === linkLocalDst ? 1 : 0;
    const inSubnet = prefixContains(bytes, a.prefixLength, to) ? 1 : 0;
    return scopeMatch * 1e6 + (isUsable(a) ? 1e5 : 0) + inSubnet * 1e4 + (family === 6 ? commonPrefixBits(bytes, to) : 0);
  };
  const pick = (list: Address[]) => {
    let best: Address | null = null;
    for (const a of list) if (!best || rank(a) > rank(best)) best = a;
    return best ? addressText(best) : null;
  };
  const onLink = oif === null ? [] : view.addressesOn(oif).filter(eligible);
  return pick(onLink) ?? (linkLocalDst ? null : pick([...view.addresses()].filter((a) => eligible(a) && !isLinkLocalText(addressText(a)) && a.scope === 0)));
}

function hashOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export interface ResolveOptions {
  /** Current clock time, to skip expired routes. */
  now: number;
  /** Clock time a route expires at (null = never); default: routes never expire. */
  expiresAt?(route: Route): number | null;
}

/** The default policy rules: local, main, default (`ip rule` on a fresh host). */
const DEFAULT_TABLES = [255, 254, 253];

function ruleMatches(rule: Rule, view: NetworkStateView, query: RouteQuery, to: ParsedIp, from: ParsedIp | null): boolean {
  const inside = (prefix: string | null, length: number, ip: ParsedIp | null) => {
    if (prefix === null || length === 0) return true;
    const p = bytesOf(prefix);
    return !!p && !!ip && prefixContains(p, length, ip.bytes);
  };
  const mark = query.mark ?? 0;
  const oifName = query.oif !== undefined ? view.link(query.oif)?.name : undefined;
  const matches =
    inside(rule.source, rule.sourceLength, from) &&
    inside(rule.destination, rule.destinationLength, to) &&
    (rule.fwmark === null || (mark & (rule.fwmask ?? 0xffffffff)) === rule.fwmark) &&
    (rule.oifName === null || rule.oifName === oifName) &&
    rule.iifName === null &&
    rule.uidRange === null &&
    rule.ipProtocol === null &&
    rule.sourcePorts === null &&
    rule.destinationPorts === null;
  return rule.invert ? !matches : matches;
}

type TableAnswer = { route: Route; hop: Hop } | { error: keyof typeof ERRORS } | null;

/** One table's answer: longest prefix, then metric; null when it has none (or a `throw`). */
function lookupTable(table: number, candidates: Route[], view: NetworkStateView, query: RouteQuery): TableAnswer {
  const inTable = candidates
    .filter((r) => r.table === table)
    .sort((a, b) => b.destinationLength - a.destinationLength || (a.metric ?? 0) - (b.metric ?? 0));
  for (const r of inTable) {
    if (r.type === 'throw') return null;
    if (r.type === 'unreachable') return { error: 'EHOSTUNREACH' };
    if (r.type === 'prohibit') return { error: 'EACCES' };
    if (r.type === 'blackhole') return { error: 'EINVAL' };
    const hops = hopsOf(view, r).filter((h) => hopAlive(view, h) && (query.oif === undefined || h.oif === query.oif || r.type === 'local'));
    if (hops.length === 0) continue;
    return { route: r, hop: hops[hashOf(`${query.to}|${query.from ?? ''}`) % hops.length] };
  }
  return null;
}

/** Walks the policy rules (or the default tables) as fib_rules_lookup does. */
function lookupByRules(view: NetworkStateView, query: RouteQuery, to: ParsedIp, from: ParsedIp | null, candidates: Route[]): TableAnswer {
  const rules = view.rules(to.family);
  if (rules.length === 0) {
    for (const table of DEFAULT_TABLES) {
      const answer = lookupTable(table, candidates, view, query);
      if (answer) return answer;
    }
    return null;
  }
  let gotoPriority: number | null = null;
  for (const rule of rules) {
    if (gotoPriority !== null && rule.priority < gotoPriority) continue;
    gotoPriority = null;
    if (!ruleMatches(rule, view, query, to, from)) continue;
    switch (rule.action) {
      case 'blackhole':
        return { error: 'EINVAL' };
      case 'unreachable':
        return { error: 'EHOSTUNREACH' };
      case 'prohibit':
        return { error: 'EACCES' };
      case 'goto':
        gotoPriority = rule.goto;
        continue;
      case 'to-table': {
        const answer = lookupTable(rule.table, candidates, view, query);
        if (!answer) continue;
        // suppress_prefixlength N: an answer this general is ignored (wg-quick's `table main suppress_prefixlength 0`).
        if ('route' in answer && rule.suppressPrefixLength !== null && answer.route.destinationLength <= rule.suppressPrefixLength) continue;
        return answer;
      }
      default:
        continue;
    }
  }
  return null;
}

export function resolveRoute(view: NetworkStateView, query: RouteQuery, options: ResolveOptions): RouteLookupResult {
  const to = parsed(query.to);
  if (!to) return failure('EINVAL');
  const from = query.from !== undefined ? parsed(query.from) : null;
  if (query.from !== undefined && (!from || from.family !== to.family)) return failure('EINVAL');
  const candidates: Route[] = [];
  for (const r of view.routes()) {
    if (r.family !== to.family) continue;
    const dst = bytesOf(r.destination);
    if (!dst || !prefixContains(dst, r.destinationLength, to.bytes)) continue;
    if (r.source && (!from || !prefixContains(bytesOf(r.source)!, r.sourceLength, from.bytes))) continue;
    const expires = options.expiresAt?.(r) ?? null;
    if (expires !== null && expires <= options.now) continue;
    candidates.push(r);
  }
  // IPv4 refuses a source that is not local: an address, or a `local` route of the local table (127/8, AnyIP).
  if (from && to.family === 4 && view.findAddresses(query.from!).length === 0 && !isLocalByTable(view, from)) return failure('EINVAL');
  const answer = lookupByRules(view, query, to, from, candidates);
  if (!answer) return failure('ENETUNREACH');
  if ('error' in answer) return failure(answer.error);
  const { route: r, hop } = answer;
  const oif = r.type === 'local' ? (view.linkByName('lo')?.index ?? hop.oif) : hop.oif;
  const preferredSource =
    r.preferredSource ?? query.from ?? selectSource(view, to.family, oif, to.bytes, to.family === 6 && to.bytes[0] === 0xfe && (to.bytes[1] & 0xc0) === 0x80);
  const route: Route = {
    ...r,
    destination: query.to,
    destinationLength: to.family === 4 ? 32 : 128,
    source: query.from ?? null,
    sourceLength: query.from ? (to.family === 4 ? 32 : 128) : 0,
    gateway: hop.gateway,
    oif,
    preferredSource,
    multipath: null,
    nexthopId: null,
    expires: null,
  };
  return { ok: true, route };
}

function isLocalByTable(view: NetworkStateView, ip: ParsedIp): boolean {
  for (const r of view.routes()) {
    if (r.table !== 255 || r.type !== 'local' || r.family !== ip.family) continue;
    const dst = bytesOf(r.destination);
    if (dst && prefixContains(dst, r.destinationLength, ip.bytes)) return true;
  }
  return false;
}
