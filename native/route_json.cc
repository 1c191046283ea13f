// Route records -> JSON text; see route_json.h.
#include "route_json.h"

#include <cstring>

#include "netlink_types.h"
#include "record_format.h"

namespace routeguard {
namespace {

using namespace record;  // kHeaderWords, kRouteFixedWords, the route payload's word names

constexpr uint32_t kAfInet6 = 10;

// src/netlink/decode.ts ROUTE_TYPES.
constexpr const char* kRouteTypes[] = {
    "unspec",    "unicast",     "local",    "broadcast", "anycast", "multicast",
    "blackhole", "unreachable", "prohibit", "throw",     "nat",     "xresolve",
};
constexpr uint32_t kRouteTypeCount = sizeof(kRouteTypes) / sizeof(kRouteTypes[0]);

// The longest text of one route without its nexthops: ~300 bytes of names and
// punctuation, 15 numbers of at most 10 digits, 4 addresses of at most 41 bytes
// (quotes included) and "type-255". One nexthop: ~50 bytes, a number of 10
// digits, 2 of 3 and an address. The buffers leave twice that.
constexpr size_t kRouteTextMax = 1024;
constexpr size_t kNexthopTextMax = 192;

// Writes into a buffer sized for the longest text (above), so no write checks its end.
class Text {
 public:
  explicit Text(char* at) : begin_(at), p_(at) {}
  size_t size() const { return static_cast<size_t>(p_ - begin_); }

  template <size_t N>
  void Lit(const char (&s)[N]) {
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }
  void Str(const char* s) {
    const size_t n = std::strlen(s);
    std::memcpy(p_, s, n);
    p_ += n;
  }
  void U32(uint32_t v) {
    char digits[10];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p_++ = digits[--n];
  }
  void Null() { Lit("null"); }
  void U32OrNull(bool present, uint32_t v) {
    if (present) U32(v);
    else Null();
  }
  // formatIp of src/netlink/ip.ts, quoted: dotted quad; RFC 5952 IPv6 with the
  // IPv4-mapped form kept dotted (::ffff:192.0.2.1) and a single zero group not
  // compressed. `bytes` is a record's 16-byte address field.
  void Ip(const uint8_t* bytes, bool v6) {
    *p_++ = '"';
    if (!v6) {
      Dotted(bytes);
    } else {
      Ipv6(bytes);
    }
    *p_++ = '"';
  }
  void IpOrNull(bool present, const uint8_t* bytes, bool v6) {
    if (present) Ip(bytes, v6);
    else Null();
  }

 private:
  void Dotted(const uint8_t* b) {
    for (int i = 0; i < 4; ++i) {
      if (i > 0) *p_++ = '.';
      U32(b[i]);
    }
  }
  void Hex(uint32_t v) {
    static const char kDigits[] = "0123456789abcdef";
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const uint32_t d = (v >> shift) & 0xf;
      if (d != 0 || started || shift == 0) {
        *p_++ = kDigits[d];
        started = true;
      }
    }
  }
  void Groups(const uint32_t* g, int from, int to) {
    for (int i = from; i < to; ++i) {
      if (i > from) *p_++ = ':';
      Hex(g[i]);
    }
  }
  void Ipv6(const uint8_t* b) {
    uint32_t g[8];
    for (int i = 0; i < 8; ++i) g[i] = static_cast<uint32_t>(b[i * 2]) << 8 | b[i * 2 + 1];
    if (g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff) {
      Lit("::ffff:");
      Dotted(b + 12);
      return;
    }
    int best_start = -1;
    int best_len = 1;
    for (int i = 0; i < 8;) {
      if (g[i] != 0) {
        ++i;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) ++j;
      if (j - i > best_len) {
        best_start = i;
        best_len = j - i;
      }
      i = j;
    }
    if (best_start < 0) {
      Groups(g, 0, 8);
      return;
    }
    Groups(g, 0, best_start);
    Lit("::");
    Groups(g, best_start + best_len, 8);
  }

  char* begin_;
  char* p_;
};

const uint8_t* Bytes(const uint32_t* payload, uint32_t word) {
  return reinterpret_cast<const uint8_t*>(payload + word);
}

// The most text one route can take (see kRouteTextMax).
size_t RouteTextMax(uint32_t nexthops) { return kRouteTextMax + static_cast<size_t>(nexthops) * kNexthopTextMax; }

// One route's object, `,` first, at `out`, which has RouteTextMax(nexthops) bytes of
// room; `nexthops` is the number of 6-word nexthops the record holds after its fixed
// part (checked by the caller). Returns the bytes written.
size_t WriteRoute(const uint32_t* p, uint32_t nexthops, char* out) {
  Text t(out);
  const uint32_t w0 = p[kRouteFamilyDlenSlenTos];
  const uint32_t w1 = p[kRouteProtoScopeTypePref];
  const uint32_t w8 = p[kRoutePresentGwFamily];
  const uint32_t present = w8 & 0xffff;
  const uint32_t gw_family = (w8 >> 16) & 0xff;
  const bool v6 = (w0 & 0xff) == kAfInet6;
  const uint32_t type = (w1 >> 16) & 0xff;
  auto has = [present](uint32_t bit) { return (present & bit) != 0; };

  t.Lit(",{\"family\":");
  t.U32(v6 ? 6 : 4);
  t.Lit(",\"table\":");
  t.U32(p[kRouteTable]);
  t.Lit(",\"type\":\"");
  if (type < kRouteTypeCount) {
    t.Str(kRouteTypes[type]);
  } else {
    t.Lit("type-");
    t.U32(type);
  }
  t.Lit("\",\"protocol\":");
  t.U32(w1 & 0xff);
  t.Lit(",\"scope\":");
  t.U32((w1 >> 8) & 0xff);
  t.Lit(",\"destination\":");
  t.Ip(Bytes(p, kRouteDst), v6);
  t.Lit(",\"destinationLength\":");
  t.U32((w0 >> 8) & 0xff);
  t.Lit(",\"source\":");
  t.IpOrNull(has(kRouteHasSrc), Bytes(p, kRouteSrc), v6);
  t.Lit(",\"sourceLength\":");
  t.U32((w0 >> 16) & 0xff);
  t.Lit(",\"tos\":");
  t.U32(w0 >> 24);
  t.Lit(",\"gateway\":");
  // decode.ts: ip(view, ..., gwFamily || af): an IPv4 route may have an IPv6 gateway (RTA_VIA).
  t.IpOrNull(has(kRouteHasGateway), Bytes(p, kRouteGateway), gw_family != 0 ? gw_family == kAfInet6 : v6);
  t.Lit(",\"preferredSource\":");
  t.IpOrNull(has(kRouteHasPrefsrc), Bytes(p, kRoutePrefsrc), v6);
  t.Lit(",\"oif\":");
  t.U32OrNull(has(kRouteHasOif), p[kRouteOif]);
  t.Lit(",\"iif\":");
  t.U32OrNull(has(kRouteHasIif), p[kRouteIif]);
  t.Lit(",\"metric\":");
  t.U32OrNull(has(kRouteHasPriority), p[kRoutePriority]);
  t.Lit(",\"preference\":");
  t.U32OrNull(has(kRouteHasPref), w1 >> 24);
  t.Lit(",\"expires\":");
  t.U32OrNull(has(kRouteHasExpires), p[kRouteExpires]);
  t.Lit(",\"nexthopId\":");
  t.U32OrNull(has(kRouteHasNhId), p[kRouteNhId]);
  t.Lit(",\"flags\":");
  t.U32(p[kRouteFlags]);
  t.Lit(",\"mtu\":");
  t.U32OrNull(has(kRouteHasMtu), p[kRouteMtu]);
  t.Lit(",\"multipath\":");
  if (!has(kRouteHasMultipath)) {
    t.Lit("null}");
    return t.size();
  }
  t.Lit("[");
  for (uint32_t i = 0; i < nexthops; ++i) {
    const uint32_t* n = p + kRouteFixedWords + i * kRouteNexthopWords;
    const uint32_t fhg = n[1];
    const uint32_t hop_gw_family = (fhg >> 16) & 0xff;
    if (i > 0) t.Lit(",");
    t.Lit("{\"index\":");
    t.U32(n[0]);
    t.Lit(",\"flags\":");
    t.U32(fhg & 0xff);
    t.Lit(",\"weight\":");
    t.U32(((fhg >> 8) & 0xff) + 1);
    t.Lit(",\"gateway\":");
    t.IpOrNull(hop_gw_family != 0, reinterpret_cast<const uint8_t*>(n + 2), hop_gw_family == kAfInet6);
    t.Lit("}");
  }
  t.Lit("]}");
  return t.size();
}

}  // namespace

RouteJsonStatus FormatDumpedRoutesJson(const uint32_t* words, size_t word_count, size_t from_word, char* out,
                                       size_t capacity, RouteJsonProgress* progress) {
  *progress = RouteJsonProgress{};
  size_t w = from_word;
  auto stop = [&](RouteJsonStatus status) {
    progress->next_word = w;
    return status;
  };
  while (w < word_count) {
    if (word_count - w < kHeaderWords) return stop(RouteJsonStatus::kMalformed);
    const uint32_t head = words[w];
    const uint32_t bytes = words[w + 1];
    if (bytes < kHeaderWords * 4 || bytes % 4 != 0 || bytes / 4 > word_count - w) {
      return stop(RouteJsonStatus::kMalformed);
    }
    const size_t record_words = bytes / 4;
    const uint32_t kind = head & 0xffff;
    const uint32_t flags = head >> 16;
    if (kind == kRouteNew && (flags & kFromDump) != 0) {
      const size_t payload_words = record_words - kHeaderWords;
      if (payload_words < kRouteFixedWords) return stop(RouteJsonStatus::kMalformed);
      const uint32_t* p = words + w + kHeaderWords;
      const uint32_t present = p[kRoutePresentGwFamily] & 0xffff;
      // The nexthops are read only for a multipath route, as decode.ts does.
      const uint32_t nexthops = (present & kRouteHasMultipath) != 0 ? p[kRouteNhCount] : 0;
      if (nexthops > (payload_words - kRouteFixedWords) / kRouteNexthopWords) {
        return stop(RouteJsonStatus::kMalformed);
      }
      const size_t room = RouteTextMax(nexthops);
      if (room > capacity - progress->written) {
        progress->needed = room;
        return stop(RouteJsonStatus::kFull);
      }
      progress->written += WriteRoute(p, nexthops, out + progress->written);
      ++progress->routes;
    }
    w += record_words;
  }
  return stop(RouteJsonStatus::kDone);
}

}  // namespace routeguard
