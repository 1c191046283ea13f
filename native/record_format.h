// The binary record format that carries parsed netlink objects from the addon
// into JavaScript: one ArrayBuffer per batch, many records, one N-API crossing.
// Mirrored field by field in src/netlink/record-format.ts — change both together.
//
// All fields are host-endian (the buffer never leaves the process) and every
// record is 4-byte aligned, so JS reads it through a Uint32Array/Uint8Array
// without copying or DataView calls.
//
// Record header (2 words):
//   w0: kind (u16, low half) | flags (u16, high half)
//   w1: total length of the record in bytes, header included, multiple of 4
// The payload follows; word indexes below are relative to the payload.
#pragma once

#include <cstdint>

namespace routeguard {
namespace record {

enum Kind : uint16_t {
  kLinkNew = 1,
  kLinkDel = 2,
  kAddrNew = 3,
  kAddrDel = 4,
  kRouteNew = 5,
  kRouteDel = 6,
  kNexthopNew = 7,
  kNexthopDel = 8,
  kRuleNew = 9,
  kRuleDel = 10,
  kNeighNew = 11,
  kNeighDel = 12,
  // Control records, produced by the socket layer (not the parser).
  kDumpBegin = 16,  // w0 = Object, w1 = DumpReason
  kDumpEnd = 17,    // w0 = Object
  kSynced = 18,     // w0 = DumpReason (initial sync or a resync finished)
  kOverflow = 19,   // w0 = overflows so far (ENOBUFS: events were lost, a resync follows)
  kDropped = 20,    // w0 = DropReason, w1 = count since the previous kDropped record
  kError = 21,      // w0 = errno (positive), w1 = message length, then message bytes
  kLostEvent = 22,  // w0 = DropReason: a notification was cut or malformed; a resync follows
  kDumpIncomplete = 23,  // w0 = Object, w1 = attempts: kept being interrupted (NLM_F_DUMP_INTR)
  // Answers of a batch of route lookups (query_format.h), not in batches of events.
  kLookupError = 24,  // w0 = errno (positive), w1 = code length, w2 = message length, then code and message bytes
};

enum Flags : uint16_t {
  kFromDump = 1,    // part of a dump reply (initial sync, resync or retry)
  // The request's NLM_F_* as the kernel echoes them in notifications: where a new
  // IPv4 route goes among routes of the same key (rtmsg_fib's nlflags).
  kReplace = 2,     // NLM_F_REPLACE: replaces the first route of its key
  kAppend = 4,      // NLM_F_APPEND: goes last
  kCreate = 8,      // NLM_F_CREATE (without kAppend/kExcl on an existing key: goes first)
  kExcl = 16,       // NLM_F_EXCL
};

enum Object : uint32_t {
  kObjLink = 1,
  kObjAddr = 2,
  kObjRoute = 3,
  kObjNexthop = 4,
  kObjRule = 5,
  kObjNeigh = 6,
};
enum DumpReason : uint32_t { kInitial = 0, kResync = 1, kRetry = 2 };
enum DropReason : uint32_t { kNotFromKernel = 1, kTruncated = 2, kMalformed = 3 };

constexpr uint32_t kHeaderWords = 2;

// ---- Link payload ----
//   w0 index (i32)  w1 flags  w2 change  w3 mtu  w4 master
//   w5 type (u16) | operstate (u8) << 16 | carrier (i8 as u8, 0xff = absent) << 24
//   w6 hwaddr_len (u8) | name_len (u8) << 8 | kind_len (u8) << 16
//   then hwaddr bytes, name bytes, kind bytes; zero padded to 4
constexpr uint32_t kLinkFixedWords = 7;

// ---- Address payload ----
//   w0 index (i32)  w1 flags (32-bit IFA_FLAGS)
//   w2 family (u8) | prefix_len << 8 | scope << 16 | present << 24
//   w3 preferred  w4 valid  w5 cstamp  w6 tstamp  w7 label_len
//   w8..w11 address (16 bytes)  w12..w15 local (16 bytes)
//   then label bytes; zero padded to 4
constexpr uint32_t kAddrFixedWords = 16;

// ---- Route payload ----
//   w0 family (u8) | dst_len << 8 | src_len << 16 | tos << 24
//   w1 protocol (u8) | scope << 8 | type << 16 | pref << 24
//   w2 rtm_flags  w3 table  w4 priority  w5 oif  w6 nh_id  w7 expires
//   w8 present (u16) | gw_family (u8) << 16
//   w9 reserved (0): the mirror hashes route identities itself (src/mirror/route-table.ts)
//   w10 multipath nexthop count  w11 iif  w12 mtu  w13 reserved (0): the mirror keeps a route's order stamp there
//   w14..w17 dst  w18..w21 src  w22..w25 gateway  w26..w29 prefsrc
//   then `count` nexthops of 6 words each:
//     n0 ifindex  n1 flags (u8) | hops << 8 | gw_family << 16  n2..n5 gateway
constexpr uint32_t kRouteFixedWords = 30;
constexpr uint32_t kRouteNexthopWords = 6;
// The route payload's words by name (the encoder writes them, native/route_json.cc reads them).
enum RouteWord : uint32_t {
  kRouteFamilyDlenSlenTos = 0,
  kRouteProtoScopeTypePref = 1,
  kRouteFlags = 2,
  kRouteTable = 3,
  kRoutePriority = 4,
  kRouteOif = 5,
  kRouteNhId = 6,
  kRouteExpires = 7,
  kRoutePresentGwFamily = 8,
  kRouteNhCount = 10,
  kRouteIif = 11,
  kRouteMtu = 12,
  kRouteDst = 14,
  kRouteSrc = 18,
  kRouteGateway = 22,
  kRoutePrefsrc = 26,
};

// ---- Nexthop object payload ----
//   w0 id  w1 oif  w2 flags
//   w3 family (u8) | protocol << 8 | present << 16 | gw_family << 24
//   w4 group member count  w5..w8 gateway
//   then `count` members of 2 words: id, weight
constexpr uint32_t kNexthopFixedWords = 9;

// ---- Rule payload ----
//   w0 family (u8) | dst_len << 8 | src_len << 16 | tos << 24
//   w1 action (u8) | protocol << 8 | ip_proto << 16
//   w2 flags  w3 table  w4 priority  w5 fwmark  w6 fwmask  w7 suppress_prefixlen
//   w8 suppress_ifgroup  w9 goto  w10 uid_start  w11 uid_end
//   w12 sport_start (u16) | sport_end << 16  w13 dport_start (u16) | dport_end << 16
//   w14 present (u16) | iifname_len (u8) << 16 | oifname_len (u8) << 24
//   w15..w18 src  w19..w22 dst
//   then iifname bytes, oifname bytes; zero padded to 4
constexpr uint32_t kRuleFixedWords = 23;

// ---- Neighbour payload ----
//   w0 index (i32)
//   w1 state (u16) | flags (u8) << 16 | family (u8) << 24
//   w2 type (u8) | lladdr_len (u8) << 8 | present (u8) << 16
//   w3..w6 dst
//   then lladdr bytes; zero padded to 4
constexpr uint32_t kNeighFixedWords = 7;

}  // namespace record
}  // namespace routeguard
