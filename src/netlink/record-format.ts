/**
 * The binary record format the addon delivers (one ArrayBuffer per batch).
 * Field-for-field mirror of native/record_format.h — change both together.
 * Words are host-endian u32; word indexes are relative to a record's payload.
 */

export const enum Kind {
  LinkNew = 1,
  LinkDel = 2,
  AddrNew = 3,
  AddrDel = 4,
  RouteNew = 5,
  RouteDel = 6,
  NexthopNew = 7,
  NexthopDel = 8,
  RuleNew = 9,
  RuleDel = 10,
  NeighNew = 11,
  NeighDel = 12,
  DumpBegin = 16,
  DumpEnd = 17,
  Synced = 18,
  Overflow = 19,
  Dropped = 20,
  Error = 21,
  LostEvent = 22,
  DumpIncomplete = 23,
  /** A failed route lookup of a batch (query-format.ts): w0 errno, w1 code length, w2 message length, then the bytes. */
  LookupError = 24,
}

export const FLAG_FROM_DUMP = 1;
/** Notification placement flags (NLM_F_REPLACE / APPEND / CREATE / EXCL echoed by the kernel). */
export const FLAG_REPLACE = 2;
export const FLAG_APPEND = 4;
export const FLAG_CREATE = 8;
export const FLAG_EXCL = 16;
export const HEADER_WORDS = 2;

export const enum DumpObject {
  Link = 1,
  Addr = 2,
  Route = 3,
  Nexthop = 4,
  Rule = 5,
  Neigh = 6,
}

/** DumpObject numbers to what they dump (messages, warnings). */
export const DUMP_OBJECT_NAMES: Readonly<Record<number, string>> = {
  1: 'links',
  2: 'addresses',
  3: 'routes',
  4: 'nexthops',
  5: 'rules',
  6: 'neighbours',
};

export const enum DumpReason {
  Initial = 0,
  Resync = 1,
  Retry = 2,
}

export const DROP_REASONS = ['', 'not-from-kernel', 'truncated', 'malformed'] as const;

// Link payload
export const LINK_INDEX = 0;
export const LINK_FLAGS = 1;
export const LINK_CHANGE = 2;
export const LINK_MTU = 3;
export const LINK_MASTER = 4;
export const LINK_TYPE_OPER_CARRIER = 5;
export const LINK_LENGTHS = 6;
export const LINK_FIXED_WORDS = 7;

// Address payload
export const ADDR_INDEX = 0;
export const ADDR_FLAGS = 1;
export const ADDR_FAMILY_PLEN_SCOPE_PRESENT = 2;
export const ADDR_PREFERRED = 3;
export const ADDR_VALID = 4;
export const ADDR_CSTAMP = 5;
export const ADDR_TSTAMP = 6;
export const ADDR_LABEL_LEN = 7;
export const ADDR_ADDRESS = 8;
export const ADDR_LOCAL = 12;
export const ADDR_FIXED_WORDS = 16;
export const ADDR_HAS_ADDRESS = 1;
export const ADDR_HAS_LOCAL = 2;
export const ADDR_HAS_CACHEINFO = 4;

// Route payload
export const ROUTE_FAMILY_DLEN_SLEN_TOS = 0;
export const ROUTE_PROTO_SCOPE_TYPE_PREF = 1;
export const ROUTE_FLAGS = 2;
export const ROUTE_TABLE = 3;
export const ROUTE_PRIORITY = 4;
export const ROUTE_OIF = 5;
export const ROUTE_NH_ID = 6;
export const ROUTE_EXPIRES = 7;
export const ROUTE_PRESENT_GWFAMILY = 8;
// word 9 is reserved (0); word 13 is reserved (0), the route table's order stamp (route-table.ts)
export const ROUTE_NH_COUNT = 10;
export const ROUTE_IIF = 11;
export const ROUTE_MTU = 12;
export const ROUTE_DST = 14;
export const ROUTE_SRC = 18;
export const ROUTE_GATEWAY = 22;
export const ROUTE_PREFSRC = 26;
export const ROUTE_FIXED_WORDS = 30;
export const ROUTE_NEXTHOP_WORDS = 6;

export const ROUTE_HAS_DST = 1 << 0;
export const ROUTE_HAS_SRC = 1 << 1;
export const ROUTE_HAS_GATEWAY = 1 << 2;
export const ROUTE_HAS_PREFSRC = 1 << 3;
export const ROUTE_HAS_PRIORITY = 1 << 4;
export const ROUTE_HAS_OIF = 1 << 5;
export const ROUTE_HAS_NH_ID = 1 << 6;
export const ROUTE_HAS_EXPIRES = 1 << 7;
export const ROUTE_HAS_PREF = 1 << 8;
export const ROUTE_HAS_MTU = 1 << 9;
export const ROUTE_HAS_MULTIPATH = 1 << 10;
export const ROUTE_HAS_IIF = 1 << 11;

// Nexthop object payload
export const NH_ID = 0;
export const NH_OIF = 1;
export const NH_FLAGS = 2;
export const NH_FAMILY_PROTO_PRESENT_GWFAMILY = 3;
export const NH_GROUP_COUNT = 4;
export const NH_GATEWAY = 5;
export const NH_FIXED_WORDS = 9;
export const NH_HAS_OIF = 1;
export const NH_HAS_GATEWAY = 2;
export const NH_BLACKHOLE = 4;
export const NH_HAS_GROUP = 8;
export const NH_FDB = 16;

// Rule payload
export const RULE_FAMILY_DLEN_SLEN_TOS = 0;
export const RULE_ACTION_PROTO_IPPROTO = 1;
export const RULE_FLAGS = 2;
export const RULE_TABLE = 3;
export const RULE_PRIORITY = 4;
export const RULE_FWMARK = 5;
export const RULE_FWMASK = 6;
export const RULE_SUPPRESS_PREFIXLEN = 7;
export const RULE_SUPPRESS_IFGROUP = 8;
export const RULE_GOTO = 9;
export const RULE_UID_START = 10;
export const RULE_UID_END = 11;
export const RULE_SPORT = 12;
export const RULE_DPORT = 13;
export const RULE_PRESENT_IIFLEN_OIFLEN = 14;
export const RULE_SRC = 15;
export const RULE_DST = 19;
export const RULE_FIXED_WORDS = 23;
export const RULE_HAS_SRC = 1 << 0;
export const RULE_HAS_DST = 1 << 1;
export const RULE_HAS_FWMARK = 1 << 2;
export const RULE_HAS_FWMASK = 1 << 3;
export const RULE_HAS_SUPPRESS_PREFIXLEN = 1 << 4;
export const RULE_HAS_SUPPRESS_IFGROUP = 1 << 5;
export const RULE_HAS_GOTO = 1 << 6;
export const RULE_HAS_UID_RANGE = 1 << 7;
export const RULE_HAS_IP_PROTO = 1 << 8;
export const RULE_HAS_SPORT_RANGE = 1 << 9;
export const RULE_HAS_DPORT_RANGE = 1 << 10;
export const RULE_L3MDEV = 1 << 11;
export const RULE_HAS_PRIORITY = 1 << 12;

// Neighbour payload
export const NEIGH_INDEX = 0;
export const NEIGH_STATE_FLAGS_FAMILY = 1;
export const NEIGH_TYPE_LLLEN_PRESENT = 2;
export const NEIGH_DST = 3;
export const NEIGH_FIXED_WORDS = 7;
export const NEIGH_HAS_DST = 1;
export const NEIGH_HAS_LLADDR = 2;
