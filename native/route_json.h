// Writes dumped routes straight from their records (record_format.h) as the JSON
// text `routeguard dump --json` prints, without a JS object per route: for a
// million routes the objects, their strings and the joined text cost more than
// the kernel's dump (BENCHMARKS.md). Pure C++ (no Node-API): the addon, the
// fuzz target and tests call it.
//
// The text is byte for byte JSON.stringify(readRoute(...)) of src/netlink/decode.ts
// (same fields, same order, same address text as src/netlink/ip.ts formatIp);
// test/route-json-native.test.ts holds them equal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace routeguard {

enum class RouteJsonStatus {
  kOk,
  kMalformed,  // a record's length or nexthop count does not fit the batch
};

// Appends `,` + the JSON object of every dumped route (kRouteNew with kFromDump)
// among the records of `words` (a whole batch, `word_count` words), in order, to
// `out`; other records are skipped. `*routes` counts the routes written. Every
// read is checked against the batch and the record's own length; on kMalformed
// `out` holds the routes before the bad record.
RouteJsonStatus AppendDumpedRoutesJson(const uint32_t* words, size_t word_count, std::string& out,
                                       size_t* routes);

}  // namespace routeguard
