// A second reader of the record format, for the fuzzer: walks every record the way
// src/netlink/decode.ts does and aborts on anything that reader would misread (a
// payload shorter than its kind's fixed words, variable-length fields running past
// the record, unknown kinds). The parser is fuzzed through it, so every record a
// hostile datagram can produce is checked against the decoder's assumptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "../record_format.h"

namespace routeguard {
namespace fuzz {

inline void Require(bool ok) {
  if (!ok) abort();
}

// Checks one record's payload (words [p, p + n) of w).
inline void CheckRecord(const uint32_t* w, uint16_t kind, size_t p, size_t n) {
  using namespace record;
  switch (kind) {
    case kLinkNew:
    case kLinkDel: {
      Require(n >= kLinkFixedWords);
      const uint32_t lengths = w[p + 6];
      const size_t bytes = (lengths & 0xff) + ((lengths >> 8) & 0xff) + ((lengths >> 16) & 0xff);
      Require(kLinkFixedWords + (bytes + 3) / 4 == n);
      Require((lengths & 0xff) <= 32);
      return;
    }
    case kAddrNew:
    case kAddrDel: {
      Require(n >= kAddrFixedWords);
      Require(kAddrFixedWords + (static_cast<size_t>(w[p + 7]) + 3) / 4 == n);
      const uint8_t family = w[p + 2] & 0xff;
      Require(family == 2 || family == 10);
      return;
    }
    case kRouteNew:
    case kRouteDel: {
      Require(n >= kRouteFixedWords);
      Require(kRouteFixedWords + static_cast<size_t>(w[p + 10]) * kRouteNexthopWords == n);
      const uint8_t family = w[p] & 0xff;
      Require(family == 2 || family == 10);
      Require(w[p + 9] == 0 && w[p + 13] == 0);  // reserved words stay zero
      return;
    }
    case kNexthopNew:
    case kNexthopDel:
      Require(n >= kNexthopFixedWords);
      Require(kNexthopFixedWords + static_cast<size_t>(w[p + 4]) * 2 == n);
      return;
    case kRuleNew:
    case kRuleDel: {
      Require(n >= kRuleFixedWords);
      const uint32_t w14 = w[p + 14];
      const size_t bytes = ((w14 >> 16) & 0xff) + ((w14 >> 24) & 0xff);
      Require(kRuleFixedWords + (bytes + 3) / 4 == n);
      const uint8_t family = w[p] & 0xff;
      Require(family == 2 || family == 10);
      return;
    }
    case kNeighNew:
    case kNeighDel: {
      Require(n >= kNeighFixedWords);
      const size_t lladdr = (w[p + 2] >> 8) & 0xff;
      Require(lladdr <= 32 && kNeighFixedWords + (lladdr + 3) / 4 == n);
      const uint8_t family = (w[p + 1] >> 24) & 0xff;
      Require(family == 2 || family == 10);
      return;
    }
    case kDumpBegin:
    case kDumpEnd:
    case kSynced:
    case kOverflow:
    case kDropped:
    case kLostEvent:
    case kDumpIncomplete:
      Require(n <= 2);
      return;
    case kError:
      Require(n >= 2 && 2 + (static_cast<size_t>(w[p + 1]) + 3) / 4 == n);
      return;
    default:
      abort();  // a kind the decoder does not know
  }
}

// Framing (every record: length >= header, whole words, lengths sum to the batch) and
// each record's own layout.
inline void CheckRecords(const uint32_t* w, size_t words) {
  size_t at = 0;
  while (at < words) {
    Require(words - at >= record::kHeaderWords);
    const uint32_t bytes = w[at + 1];
    Require(bytes >= 8 && bytes % 4 == 0 && bytes / 4 <= words - at);
    CheckRecord(w, static_cast<uint16_t>(w[at] & 0xffff), at + record::kHeaderWords,
                bytes / 4 - record::kHeaderWords);
    at += bytes / 4;
  }
  Require(at == words);
}

}  // namespace fuzz
}  // namespace routeguard
