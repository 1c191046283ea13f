// The packed route-query format: many RTM_GETROUTE queries in one Uint8Array,
// one Node-API crossing for a burst of lookups (RouteLookup::GetMany), filled in
// JavaScript without building an object per query.
// Mirrored field by field in src/netlink/query-format.ts — change both together.
//
// Fixed-size records of kRecordBytes, host-endian, 4-byte aligned fields:
//   byte 0      family (4 or 6)
//   byte 1      present: which optional fields are set (Present bits)
//   bytes 2..3  reserved, 0
//   bytes 4..19   to   (16 bytes; IPv4 in the first 4)
//   bytes 20..35  from (16 bytes; IPv4 in the first 4), when kHasFrom
//   bytes 36..39  oif (u32)   40..43 iif (u32)   44..47 mark (u32)   48..51 uid (u32)
//
// The answers (one ArrayBuffer) hold one record per query, in query order, in the
// record format (record_format.h): kRouteNew for a route, kLookupError otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace routeguard {
namespace query {

constexpr size_t kRecordBytes = 52;

constexpr size_t kFamily = 0;
constexpr size_t kPresent = 1;
constexpr size_t kReserved = 2;
constexpr size_t kTo = 4;
constexpr size_t kFrom = 20;
constexpr size_t kOif = 36;
constexpr size_t kIif = 40;
constexpr size_t kMark = 44;
constexpr size_t kUid = 48;

enum Present : uint8_t {
  kHasFrom = 1,
  kHasOif = 2,
  kHasIif = 4,
  kHasMark = 8,
  kHasUid = 16,
};
constexpr uint8_t kKnownPresent = kHasFrom | kHasOif | kHasIif | kHasMark | kHasUid;

}  // namespace query
}  // namespace routeguard
