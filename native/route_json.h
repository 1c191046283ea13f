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

namespace routeguard {

enum class RouteJsonStatus {
  kDone,       // every record from `from_word` on was read
  kFull,       // `out` cannot take the next route: call again from progress.next_word
  kMalformed,  // a record's length or nexthop count does not fit the batch
};

struct RouteJsonProgress {
  size_t next_word = 0;  // the first record not yet read
  size_t written = 0;    // bytes written to `out`
  size_t routes = 0;     // routes written
  // kFull: the room the next route may need. More than `capacity` when even an empty
  // `out` could not hold it (a multipath route with thousands of nexthops): give a
  // larger one.
  size_t needed = 0;
};

// Writes `,` + the JSON object of every dumped route (kRouteNew with kFromDump) among
// the records of `words` (a whole batch, `word_count` words) from record `from_word`
// on, in order, into `out` (`capacity` bytes); other records are skipped. Stops before
// a route whose longest possible text would not fit (kFull), so no write is checked
// byte by byte and none goes past `capacity`. Every read is checked against the batch
// and the record's own length; on kMalformed `out` holds the routes before the bad record.
RouteJsonStatus FormatDumpedRoutesJson(const uint32_t* words, size_t word_count, size_t from_word, char* out,
                                       size_t capacity, RouteJsonProgress* progress);

}  // namespace routeguard
