/**
 * Reads batches in the record format (record-format.ts) into typed objects.
 * Route records can also be read in place (`readRoute` on any word array), which
 * is how the route table keeps a million routes without a million objects.
 */
import * as F from './record-format';
import { Kind } from './record-format';
import { formatIp } from './ip';
import type {
  Address,
  Family,
  Link,
  Neighbour,
  NeighbourState,
  Nexthop,
  OperState,
  Route,
  RouteNexthop,
  RouteType,
  Rule,
  RuleAction,
} from './types';

const OPER_STATES: OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];
const ROUTE_TYPES: RouteType[] = [
  'unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole',
  'unreachable', 'prohibit', 'throw', 'nat', 'xresolve',
];
const OBJECTS = ['', 'link', 'address', 'route', 'nexthop', 'rule', 'neighbour'] as const;
const REASONS = ['initial', 'resync', 'retry'] as const;
const utf8 = new TextDecoder();

export type DumpObjectName = 'link' | 'address' | 'route' | 'nexthop' | 'rule' | 'neighbour';
export type DumpReasonName = 'initial' | 'resync' | 'retry';

/** A batch viewed as words and bytes. */
export interface RecordView {
  u32: Uint32Array;
  u8: Uint8Array;
}

/** `byteLength`: the batch's records when the buffer is larger (the addon's reused batch buffer). */
export function viewOf(buffer: ArrayBuffer, byteLength = buffer.byteLength): RecordView {
  return { u32: new Uint32Array(buffer, 0, byteLength >>> 2), u8: new Uint8Array(buffer, 0, byteLength) };
}

/**
 * Walks the records of a batch. `visit(kind, flags, payloadWord, lengthWords)` gets the word
 * index of each record's payload. Stops (and throws) on a framing error — the addon never
 * produces one, so it means memory corruption or a format mismatch, not bad kernel input.
 */
export function forEachRecord(
  view: RecordView,
  visit: (kind: number, flags: number, payload: number, payloadWords: number) => void,
): void {
  const { u32 } = view;
  let w = 0;
  while (w < u32.length) {
    const head = u32[w];
    const bytes = u32[w + 1];
    if (bytes < 8 || bytes % 4 !== 0 || w + bytes / 4 > u32.length) {
      throw new Error(`routeguard: malformed record batch at word ${w} (length ${bytes})`);
    }
    visit(head & 0xffff, head >>> 16, w + F.HEADER_WORDS, bytes / 4 - F.HEADER_WORDS);
    w += bytes / 4;
  }
}

/**
 * Per address field (a route's gateway, its preferred source, ...), the last address
 * formatted, by its words: the answers of a lookup batch and the routes of a dump
 * repeat their gateway and source record after record.
 */
const Field = { Other: 0, Gateway: 1, PreferredSource: 2 } as const;
type Field = (typeof Field)[keyof typeof Field];
const lastWords = new Uint32Array(3 * 4);
const lastFamily = new Int32Array(3);
const lastText: string[] = ['', '', ''];

function ip(view: RecordView, word: number, family: number, field: Field = Field.Other): string {
  const u32 = view.u32;
  if (field !== Field.Other) {
    const at = field * 4;
    if (
      lastFamily[field] === family &&
      lastWords[at] === u32[word] &&
      (family !== 10 || (lastWords[at + 1] === u32[word + 1] && lastWords[at + 2] === u32[word + 2] && lastWords[at + 3] === u32[word + 3]))
    ) {
      return lastText[field];
    }
    const text = formatIp(view.u8, family === 10 ? 6 : 4, word * 4);
    lastFamily[field] = family;
    lastWords[at] = u32[word];
    if (family === 10) {
      lastWords[at + 1] = u32[word + 1];
      lastWords[at + 2] = u32[word + 2];
      lastWords[at + 3] = u32[word + 3];
    }
    lastText[field] = text;
    return text;
  }
  return formatIp(view.u8, family === 10 ? 6 : 4, word * 4);
}

function familyOf(af: number): Family {
  return af === 10 ? 6 : 4;
}

function text(view: RecordView, byteOffset: number, length: number): string {
  return utf8.decode(view.u8.subarray(byteOffset, byteOffset + length));
}

/** Colon-separated lowercase hex, as `ip` prints hardware addresses. */
function hex(u8: Uint8Array, byteOffset: number, length: number): string {
  const parts: string[] = [];
  for (let i = 0; i < length; i++) parts.push(u8[byteOffset + i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

export function readLink(view: RecordView, p: number): Link {
  const { u32, u8 } = view;
  const flags = u32[p + F.LINK_FLAGS];
  const toc = u32[p + F.LINK_TYPE_OPER_CARRIER];
  const lengths = u32[p + F.LINK_LENGTHS];
  const hwLen = lengths & 0xff;
  const nameLen = (lengths >>> 8) & 0xff;
  const kindLen = (lengths >>> 16) & 0xff;
  let b = (p + F.LINK_FIXED_WORDS) * 4;
  const hardwareAddress = hwLen > 0 ? hex(u8, b, hwLen) : null;
  b += hwLen;
  const name = text(view, b, nameLen);
  b += nameLen;
  const carrier = toc >>> 24;
  const master = u32[p + F.LINK_MASTER];
  return {
    index: u32[p + F.LINK_INDEX] | 0,
    name,
    flags,
    up: (flags & 0x1) !== 0,
    running: (flags & 0x40) !== 0,
    lowerUp: (flags & 0x10000) !== 0,
    operstate: OPER_STATES[(toc >>> 16) & 0xff] ?? 'unknown',
    carrier: carrier === 0xff ? null : carrier !== 0,
    mtu: u32[p + F.LINK_MTU],
    kind: kindLen > 0 ? text(view, b, kindLen) : null,
    master: master === 0 ? null : master,
    hardwareAddress,
    type: toc & 0xffff,
  };
}

function lifetime(v: number): number | null {
  return v === 0xffffffff ? null : v;
}

export function readAddress(view: RecordView, p: number): Address {
  const { u32 } = view;
  const fps = u32[p + F.ADDR_FAMILY_PLEN_SCOPE_PRESENT];
  const af = fps & 0xff;
  const present = fps >>> 24;
  const labelLen = u32[p + F.ADDR_LABEL_LEN];
  const cache = (present & F.ADDR_HAS_CACHEINFO) !== 0;
  return {
    family: familyOf(af),
    index: u32[p + F.ADDR_INDEX] | 0,
    prefixLength: (fps >>> 8) & 0xff,
    scope: (fps >>> 16) & 0xff,
    flags: u32[p + F.ADDR_FLAGS],
    // An IPv4 address without IFA_ADDRESS has only IFA_LOCAL; report that as the address.
    address: ip(view, p + ((present & F.ADDR_HAS_ADDRESS) ? F.ADDR_ADDRESS : F.ADDR_LOCAL), af),
    local: present & F.ADDR_HAS_LOCAL ? ip(view, p + F.ADDR_LOCAL, af) : null,
    label: labelLen > 0 ? text(view, (p + F.ADDR_FIXED_WORDS) * 4, labelLen) : null,
    preferredLifetime: cache ? lifetime(u32[p + F.ADDR_PREFERRED]) : null,
    validLifetime: cache ? lifetime(u32[p + F.ADDR_VALID]) : null,
  };
}

/** The nexthops stored after a route's fixed part (`p` is its payload word). */
export function readRouteNexthops(view: RecordView, p: number, count: number): RouteNexthop[] {
  const { u32 } = view;
  const out: RouteNexthop[] = [];
  for (let i = 0; i < count; i++) {
    const n = p + F.ROUTE_FIXED_WORDS + i * F.ROUTE_NEXTHOP_WORDS;
    const fhg = u32[n + 1];
    const gwFamily = (fhg >>> 16) & 0xff;
    out.push({
      index: u32[n],
      flags: fhg & 0xff,
      weight: ((fhg >>> 8) & 0xff) + 1,
      gateway: gwFamily ? ip(view, n + 2, gwFamily, Field.Gateway) : null,
    });
  }
  return out;
}

/** Texts a lookup's answer may take for its addresses instead of formatting them (RouteQueryBatch). */
export interface AddressNames {
  knownText(index: number, from: boolean, u32: Uint32Array, word: number): string | null;
}

/**
 * Reads a route's fixed part at payload word `p`. `multipath` supplies the nexthops
 * when they are stored elsewhere (the route table); otherwise they are read in place.
 * `names`, `index`: the answer to query `index` of a lookup batch, whose destination
 * and source are the query's own addresses.
 */
export function readRoute(view: RecordView, p: number, multipath?: RouteNexthop[] | null, names?: AddressNames | null, index = 0): Route {
  const { u32 } = view;
  const w0 = u32[p + F.ROUTE_FAMILY_DLEN_SLEN_TOS];
  const w1 = u32[p + F.ROUTE_PROTO_SCOPE_TYPE_PREF];
  const w8 = u32[p + F.ROUTE_PRESENT_GWFAMILY];
  const present = w8 & 0xffff;
  const gwFamily = (w8 >>> 16) & 0xff;
  const af = w0 & 0xff;
  const type = (w1 >>> 16) & 0xff;
  const has = (bit: number) => (present & bit) !== 0;
  return {
    family: familyOf(af),
    table: u32[p + F.ROUTE_TABLE],
    type: ROUTE_TYPES[type] ?? `type-${type}`,
    protocol: w1 & 0xff,
    scope: (w1 >>> 8) & 0xff,
    destination: names?.knownText(index, false, u32, p + F.ROUTE_DST) ?? ip(view, p + F.ROUTE_DST, af),
    destinationLength: (w0 >>> 8) & 0xff,
    source: has(F.ROUTE_HAS_SRC) ? names?.knownText(index, true, u32, p + F.ROUTE_SRC) ?? ip(view, p + F.ROUTE_SRC, af) : null,
    sourceLength: (w0 >>> 16) & 0xff,
    tos: w0 >>> 24,
    gateway: has(F.ROUTE_HAS_GATEWAY) ? ip(view, p + F.ROUTE_GATEWAY, gwFamily || af, Field.Gateway) : null,
    preferredSource: has(F.ROUTE_HAS_PREFSRC) ? ip(view, p + F.ROUTE_PREFSRC, af, Field.PreferredSource) : null,
    oif: has(F.ROUTE_HAS_OIF) ? u32[p + F.ROUTE_OIF] : null,
    iif: has(F.ROUTE_HAS_IIF) ? u32[p + F.ROUTE_IIF] : null,
    metric: has(F.ROUTE_HAS_PRIORITY) ? u32[p + F.ROUTE_PRIORITY] : null,
    preference: has(F.ROUTE_HAS_PREF) ? w1 >>> 24 : null,
    expires: has(F.ROUTE_HAS_EXPIRES) ? u32[p + F.ROUTE_EXPIRES] : null,
    nexthopId: has(F.ROUTE_HAS_NH_ID) ? u32[p + F.ROUTE_NH_ID] : null,
    flags: u32[p + F.ROUTE_FLAGS],
    mtu: has(F.ROUTE_HAS_MTU) ? u32[p + F.ROUTE_MTU] : null,
    multipath: has(F.ROUTE_HAS_MULTIPATH)
      ? multipath ?? readRouteNexthops(view, p, u32[p + F.ROUTE_NH_COUNT])
      : null,
  };
}

export function readNexthop(view: RecordView, p: number): Nexthop {
  const { u32 } = view;
  const w3 = u32[p + F.NH_FAMILY_PROTO_PRESENT_GWFAMILY];
  const af = w3 & 0xff;
  const present = (w3 >>> 16) & 0xff;
  const gwFamily = w3 >>> 24;
  let group: Nexthop['group'] = null;
  if (present & F.NH_HAS_GROUP) {
    group = [];
    const count = u32[p + F.NH_GROUP_COUNT];
    for (let i = 0; i < count; i++) {
      const g = p + F.NH_FIXED_WORDS + i * 2;
      group.push({ id: u32[g], weight: u32[g + 1] });
    }
  }
  return {
    id: u32[p + F.NH_ID],
    family: af === 10 ? 6 : af === 2 ? 4 : 0,
    protocol: (w3 >>> 8) & 0xff,
    flags: u32[p + F.NH_FLAGS],
    oif: present & F.NH_HAS_OIF ? u32[p + F.NH_OIF] : null,
    gateway: present & F.NH_HAS_GATEWAY ? ip(view, p + F.NH_GATEWAY, gwFamily || af) : null,
    blackhole: (present & F.NH_BLACKHOLE) !== 0,
    fdb: (present & F.NH_FDB) !== 0,
    group,
  };
}

/** FR_ACT_* by number; the reserved 4 and 5 and anything newer keep their number. */
const RULE_ACTIONS: Array<RuleAction | undefined> = [
  undefined, 'to-table', 'goto', 'nop', undefined, undefined, 'blackhole', 'unreachable', 'prohibit',
];
const FIB_RULE_INVERT = 0x2;

function range(word: number): { start: number; end: number } {
  return { start: word & 0xffff, end: word >>> 16 };
}

export function readRule(view: RecordView, p: number): Rule {
  const { u32 } = view;
  const w0 = u32[p + F.RULE_FAMILY_DLEN_SLEN_TOS];
  const w1 = u32[p + F.RULE_ACTION_PROTO_IPPROTO];
  const w14 = u32[p + F.RULE_PRESENT_IIFLEN_OIFLEN];
  const present = w14 & 0xffff;
  const iifLen = (w14 >>> 16) & 0xff;
  const oifLen = w14 >>> 24;
  const af = w0 & 0xff;
  const action = w1 & 0xff;
  const flags = u32[p + F.RULE_FLAGS];
  const has = (bit: number) => (present & bit) !== 0;
  // The kernel sends FRA_FWMASK whenever a rule matches on marks (even `fwmark 0/0x1`,
  // which has no FRA_FWMARK); a mark without a mask means the full mask.
  const marks = has(F.RULE_HAS_FWMARK) || has(F.RULE_HAS_FWMASK);
  const names = (p + F.RULE_FIXED_WORDS) * 4;
  return {
    family: familyOf(af),
    priority: u32[p + F.RULE_PRIORITY],
    action: RULE_ACTIONS[action] ?? `action-${action}`,
    table: u32[p + F.RULE_TABLE],
    flags,
    invert: (flags & FIB_RULE_INVERT) !== 0,
    source: has(F.RULE_HAS_SRC) ? ip(view, p + F.RULE_SRC, af) : null,
    sourceLength: (w0 >>> 16) & 0xff,
    destination: has(F.RULE_HAS_DST) ? ip(view, p + F.RULE_DST, af) : null,
    destinationLength: (w0 >>> 8) & 0xff,
    tos: w0 >>> 24,
    fwmark: marks ? u32[p + F.RULE_FWMARK] : null,
    fwmask: marks ? (has(F.RULE_HAS_FWMASK) ? u32[p + F.RULE_FWMASK] : 0xffffffff) : null,
    iifName: iifLen > 0 ? text(view, names, iifLen) : null,
    oifName: oifLen > 0 ? text(view, names + iifLen, oifLen) : null,
    suppressPrefixLength: has(F.RULE_HAS_SUPPRESS_PREFIXLEN) ? u32[p + F.RULE_SUPPRESS_PREFIXLEN] : null,
    suppressIfGroup: has(F.RULE_HAS_SUPPRESS_IFGROUP) ? u32[p + F.RULE_SUPPRESS_IFGROUP] : null,
    goto: has(F.RULE_HAS_GOTO) ? u32[p + F.RULE_GOTO] : null,
    uidRange: has(F.RULE_HAS_UID_RANGE) ? { start: u32[p + F.RULE_UID_START], end: u32[p + F.RULE_UID_END] } : null,
    ipProtocol: has(F.RULE_HAS_IP_PROTO) ? (w1 >>> 16) & 0xff : null,
    sourcePorts: has(F.RULE_HAS_SPORT_RANGE) ? range(u32[p + F.RULE_SPORT]) : null,
    destinationPorts: has(F.RULE_HAS_DPORT_RANGE) ? range(u32[p + F.RULE_DPORT]) : null,
    l3mdev: has(F.RULE_L3MDEV),
    protocol: (w1 >>> 8) & 0xff,
  };
}

/** NUD_* bit -> name, lowest bit first; a state's name is that of its highest bit. */
const NUD_NAMES: NeighbourState[] = [
  'incomplete', 'reachable', 'stale', 'delay', 'probe', 'failed', 'noarp', 'permanent',
];

export function neighbourStateName(state: number): NeighbourState {
  for (let bit = NUD_NAMES.length - 1; bit >= 0; bit--) if (state & (1 << bit)) return NUD_NAMES[bit];
  return 'none';
}

export function readNeighbour(view: RecordView, p: number): Neighbour {
  const { u32 } = view;
  const w1 = u32[p + F.NEIGH_STATE_FLAGS_FAMILY];
  const w2 = u32[p + F.NEIGH_TYPE_LLLEN_PRESENT];
  const af = w1 >>> 24;
  const state = w1 & 0xffff;
  const llLen = (w2 >>> 8) & 0xff;
  const present = (w2 >>> 16) & 0xff;
  return {
    family: familyOf(af),
    index: u32[p + F.NEIGH_INDEX] | 0,
    address: ip(view, p + F.NEIGH_DST, af),
    state,
    stateName: neighbourStateName(state),
    flags: (w1 >>> 16) & 0xff,
    // The kernel sends NDA_LLADDR only for valid entries (not INCOMPLETE/FAILED); a
    // device without link-layer addresses sends an empty one, which `ip neigh` omits too.
    linkAddress: present & F.NEIGH_HAS_LLADDR && llLen > 0 ? hex(view.u8, (p + F.NEIGH_FIXED_WORDS) * 4, llLen) : null,
  };
}

/** An error record's errno and message (the addon's kError). */
export function readError(view: RecordView, p: number): { errno: number; message: string } {
  return { errno: view.u32[p], message: text(view, (p + 2) * 4, view.u32[p + 1]) };
}

export type DecodedRecord =
  | { kind: 'link'; removed: boolean; fromDump: boolean; link: Link }
  | { kind: 'address'; removed: boolean; fromDump: boolean; address: Address }
  | { kind: 'route'; removed: boolean; fromDump: boolean; route: Route }
  | { kind: 'nexthop'; removed: boolean; fromDump: boolean; nexthop: Nexthop }
  | { kind: 'rule'; removed: boolean; fromDump: boolean; rule: Rule }
  | { kind: 'neighbour'; removed: boolean; fromDump: boolean; neighbour: Neighbour }
  | { kind: 'dump-begin'; object: DumpObjectName; reason: DumpReasonName }
  | { kind: 'dump-end'; object: DumpObjectName }
  | { kind: 'synced'; reason: DumpReasonName }
  | { kind: 'overflow'; count: number }
  | { kind: 'dropped'; reason: (typeof F.DROP_REASONS)[number]; count: number }
  | { kind: 'error'; errno: number; message: string };

export function objectName(obj: number): DumpObjectName {
  return (OBJECTS[obj] || 'link') as DumpObjectName;
}

export function reasonName(reason: number): DumpReasonName {
  return REASONS[reason] ?? 'resync';
}

/** Decodes every record of a batch into objects (tests, tools; the mirror reads routes in place). */
export function decodeBatch(buffer: ArrayBuffer): DecodedRecord[] {
  const view = viewOf(buffer);
  const out: DecodedRecord[] = [];
  forEachRecord(view, (kind, flags, p) => {
    const fromDump = (flags & F.FLAG_FROM_DUMP) !== 0;
    const u32 = view.u32;
    switch (kind) {
      case Kind.LinkNew:
      case Kind.LinkDel:
        out.push({ kind: 'link', removed: kind === Kind.LinkDel, fromDump, link: readLink(view, p) });
        break;
      case Kind.AddrNew:
      case Kind.AddrDel:
        out.push({ kind: 'address', removed: kind === Kind.AddrDel, fromDump, address: readAddress(view, p) });
        break;
      case Kind.RouteNew:
      case Kind.RouteDel:
        out.push({ kind: 'route', removed: kind === Kind.RouteDel, fromDump, route: readRoute(view, p) });
        break;
      case Kind.NexthopNew:
      case Kind.NexthopDel:
        out.push({ kind: 'nexthop', removed: kind === Kind.NexthopDel, fromDump, nexthop: readNexthop(view, p) });
        break;
      case Kind.RuleNew:
      case Kind.RuleDel:
        out.push({ kind: 'rule', removed: kind === Kind.RuleDel, fromDump, rule: readRule(view, p) });
        break;
      case Kind.NeighNew:
      case Kind.NeighDel:
        out.push({ kind: 'neighbour', removed: kind === Kind.NeighDel, fromDump, neighbour: readNeighbour(view, p) });
        break;
      case Kind.DumpBegin:
        out.push({ kind: 'dump-begin', object: objectName(u32[p]), reason: reasonName(u32[p + 1]) });
        break;
      case Kind.DumpEnd:
        out.push({ kind: 'dump-end', object: objectName(u32[p]) });
        break;
      case Kind.Synced:
        out.push({ kind: 'synced', reason: reasonName(u32[p]) });
        break;
      case Kind.Overflow:
        out.push({ kind: 'overflow', count: u32[p] });
        break;
      case Kind.Dropped:
        out.push({ kind: 'dropped', reason: F.DROP_REASONS[u32[p]] ?? 'malformed', count: u32[p + 1] });
        break;
      case Kind.Error:
        out.push({ kind: 'error', ...readError(view, p) });
        break;
      default:
        break; // a newer addon's record kind: skip it
    }
  });
  return out;
}

