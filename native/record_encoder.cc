// Writes parsed netlink objects as records (record_format.h): host-endian u32
// words, a two-word header, variable-length bytes appended and zero padded to 4.
#include "record_encoder.h"

#include <linux/netlink.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>
#include <utility>
#include <vector>

namespace routeguard {
namespace {

using record::kHeaderWords;

// Four bytes into one word, b0 in the low byte (the "a | b << 8 | ..." fields).
uint32_t Pack8(uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3) {
  return static_cast<uint32_t>(b0) | static_cast<uint32_t>(b1) << 8 |
         static_cast<uint32_t>(b2) << 16 | static_cast<uint32_t>(b3) << 24;
}

// Opens a record: reserves the header and the fixed payload (zeroed) and returns
// the index of the payload's first word. Close() fills in the length (bytes, u32:
// a record comes from one netlink message of at most 64 KiB, so it is a few
// hundred KiB at most, even with thousands of multipath nexthops).
size_t Open(RecordWords& w, record::Kind kind, uint16_t flags, uint32_t fixed_words) {
  const size_t start = w.Extend(kHeaderWords + fixed_words);
  w[start] = static_cast<uint32_t>(kind) | static_cast<uint32_t>(flags) << 16;
  return start + kHeaderWords;
}

void Close(RecordWords& w, size_t payload) {
  const size_t start = payload - kHeaderWords;
  w[start + 1] = static_cast<uint32_t>((w.size() - start) * 4);
}

// Appends raw bytes, zero padded to a whole word.
void AppendBytes(RecordWords& w, const uint8_t* bytes, size_t n) {
  if (n == 0) return;
  const size_t at = w.Extend((n + 3) / 4);
  std::memcpy(&w[at], bytes, n);
}

// Several byte strings packed back to back, then padded once (the link record).
void AppendPacked(RecordWords& w, std::initializer_list<std::pair<const uint8_t*, size_t>> parts) {
  std::vector<uint8_t> buf;
  for (const auto& part : parts) buf.insert(buf.end(), part.first, part.first + part.second);
  AppendBytes(w, buf.data(), buf.size());
}

void PutIp(RecordWords& w, size_t word, const IpBytes& ip) {
  std::memcpy(&w[word], ip.data(), ip.size());
}

const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Link lengths are single bytes in the record; interface names are at most 15
// bytes (IFNAMSIZ) and kinds are short, so the cap only matters for hostile input.
size_t CapU8(size_t n) { return std::min<size_t>(n, 0xff); }


}  // namespace

void RecordWriter::Link(bool removed, const routeguard::Link& link, uint16_t flags) {
  const size_t p = Open(words_, removed ? record::kLinkDel : record::kLinkNew, flags,
                        record::kLinkFixedWords);
  const size_t hw_len = std::min<size_t>(link.hwaddr.size(), 32);
  const size_t name_len = CapU8(link.name.size());
  const size_t kind_len = CapU8(link.kind.size());
  words_[p + 0] = static_cast<uint32_t>(link.index);
  words_[p + 1] = link.flags;
  words_[p + 2] = link.change;
  words_[p + 3] = link.mtu;
  words_[p + 4] = link.master;
  words_[p + 5] = static_cast<uint32_t>(link.type) | static_cast<uint32_t>(link.operstate) << 16 |
                  static_cast<uint32_t>(static_cast<uint8_t>(link.carrier)) << 24;
  words_[p + 6] = Pack8(static_cast<uint8_t>(hw_len), static_cast<uint8_t>(name_len),
                        static_cast<uint8_t>(kind_len), 0);
  AppendPacked(words_, {{link.hwaddr.data(), hw_len},
                        {Bytes(link.name), name_len},
                        {Bytes(link.kind), kind_len}});
  Close(words_, p);
}

void RecordWriter::Address(bool removed, const routeguard::Address& addr, uint16_t flags) {
  const size_t p = Open(words_, removed ? record::kAddrDel : record::kAddrNew, flags,
                        record::kAddrFixedWords);
  words_[p + 0] = static_cast<uint32_t>(addr.index);
  words_[p + 1] = addr.flags;
  words_[p + 2] = Pack8(addr.family, addr.prefix_len, addr.scope, addr.present);
  words_[p + 3] = addr.preferred;
  words_[p + 4] = addr.valid;
  words_[p + 5] = addr.cstamp;
  words_[p + 6] = addr.tstamp;
  words_[p + 7] = static_cast<uint32_t>(addr.label.size());
  PutIp(words_, p + 8, addr.address);
  PutIp(words_, p + 12, addr.local);
  AppendBytes(words_, Bytes(addr.label), addr.label.size());
  Close(words_, p);
}

void RecordWriter::Route(bool removed, const routeguard::Route& route, uint16_t flags) {
  const size_t p = Open(words_, removed ? record::kRouteDel : record::kRouteNew, flags,
                        record::kRouteFixedWords);
  words_[p + record::kRouteFamilyDlenSlenTos] = Pack8(route.family, route.dst_len, route.src_len, route.tos);
  words_[p + record::kRouteProtoScopeTypePref] = Pack8(route.protocol, route.scope, route.type, route.pref);
  words_[p + record::kRouteFlags] = route.flags;
  words_[p + record::kRouteTable] = route.table;
  words_[p + record::kRoutePriority] = route.priority;
  words_[p + record::kRouteOif] = route.oif;
  words_[p + record::kRouteNhId] = route.nh_id;
  words_[p + record::kRouteExpires] = route.expires;
  words_[p + record::kRoutePresentGwFamily] = static_cast<uint32_t>(route.present) | static_cast<uint32_t>(route.gw_family) << 16;
  // w9 reserved (the mirror hashes identities itself), left zero by Open().
  words_[p + record::kRouteNhCount] = static_cast<uint32_t>(route.multipath.size());
  words_[p + record::kRouteIif] = route.iif;
  words_[p + record::kRouteMtu] = route.mtu;
  // w13 reserved, left zero by Open().
  PutIp(words_, p + record::kRouteDst, route.dst);
  PutIp(words_, p + record::kRouteSrc, route.src);
  PutIp(words_, p + record::kRouteGateway, route.gateway);
  PutIp(words_, p + record::kRoutePrefsrc, route.prefsrc);
  for (const RouteNexthop& nh : route.multipath) {
    const size_t n = words_.Extend(record::kRouteNexthopWords);
    words_[n + 0] = nh.ifindex;
    words_[n + 1] = Pack8(nh.flags, nh.hops, nh.gw_family, 0);
    PutIp(words_, n + 2, nh.gateway);
  }
  Close(words_, p);
}

void RecordWriter::Nexthop(bool removed, const routeguard::Nexthop& nh, uint16_t flags) {
  const size_t p = Open(words_, removed ? record::kNexthopDel : record::kNexthopNew, flags,
                        record::kNexthopFixedWords);
  words_[p + 0] = nh.id;
  words_[p + 1] = nh.oif;
  words_[p + 2] = nh.flags;
  words_[p + 3] = Pack8(nh.family, nh.protocol, nh.present, nh.gw_family);
  words_[p + 4] = static_cast<uint32_t>(nh.group.size());
  PutIp(words_, p + 5, nh.gateway);
  for (const NexthopGroupMember& m : nh.group) {
    const size_t at = words_.Extend(2);
    words_[at] = m.id;
    words_[at + 1] = m.weight;
  }
  Close(words_, p);
}

void RecordWriter::Rule(bool removed, const routeguard::FibRule& rule, uint16_t flags) {
  const size_t p = Open(words_, removed ? record::kRuleDel : record::kRuleNew, flags,
                        record::kRuleFixedWords);
  const size_t iif_len = CapU8(rule.iifname.size());
  const size_t oif_len = CapU8(rule.oifname.size());
  words_[p + 0] = Pack8(rule.family, rule.dst_len, rule.src_len, rule.tos);
  words_[p + 1] = Pack8(rule.action, rule.protocol, rule.ip_proto, 0);
  words_[p + 2] = rule.flags;
  words_[p + 3] = rule.table;
  words_[p + 4] = rule.priority;
  words_[p + 5] = rule.fwmark;
  words_[p + 6] = rule.fwmask;
  words_[p + 7] = rule.suppress_prefixlen;
  words_[p + 8] = rule.suppress_ifgroup;
  words_[p + 9] = rule.goto_target;
  words_[p + 10] = rule.uid_start;
  words_[p + 11] = rule.uid_end;
  words_[p + 12] = static_cast<uint32_t>(rule.sport_start) | static_cast<uint32_t>(rule.sport_end) << 16;
  words_[p + 13] = static_cast<uint32_t>(rule.dport_start) | static_cast<uint32_t>(rule.dport_end) << 16;
  words_[p + 14] = static_cast<uint32_t>(rule.present) | static_cast<uint32_t>(iif_len) << 16 |
                   static_cast<uint32_t>(oif_len) << 24;
  PutIp(words_, p + 15, rule.src);
  PutIp(words_, p + 19, rule.dst);
  AppendPacked(words_, {{Bytes(rule.iifname), iif_len}, {Bytes(rule.oifname), oif_len}});
  Close(words_, p);
}

void RecordWriter::Neighbour(bool removed, const routeguard::Neighbour& neigh, uint16_t flags) {
  const size_t p = Open(words_, removed ? record::kNeighDel : record::kNeighNew, flags,
                        record::kNeighFixedWords);
  const size_t ll_len = std::min<size_t>(neigh.lladdr.size(), 32);
  words_[p + 0] = static_cast<uint32_t>(neigh.index);
  words_[p + 1] = static_cast<uint32_t>(neigh.state) | static_cast<uint32_t>(neigh.flags) << 16 |
                  static_cast<uint32_t>(neigh.family) << 24;
  words_[p + 2] = Pack8(neigh.type, static_cast<uint8_t>(ll_len), neigh.present, 0);
  PutIp(words_, p + 3, neigh.dst);
  AppendBytes(words_, neigh.lladdr.data(), ll_len);
  Close(words_, p);
}

void RecordWriter::Control(record::Kind kind, uint32_t w0, uint32_t w1) {
  // Always two payload words: readers index w0/w1 without checking the kind.
  const size_t p = Open(words_, kind, 0, 2);
  words_[p + 0] = w0;
  words_[p + 1] = w1;
  Close(words_, p);
}

void RecordWriter::Error(int errnum, const std::string& message) {
  const size_t p = Open(words_, record::kError, 0, 2);
  // Positive errno whichever sign the caller used (netlink reports -errno).
  const uint32_t magnitude = errnum < 0 ? 0u - static_cast<uint32_t>(errnum) : static_cast<uint32_t>(errnum);
  words_[p + 0] = magnitude;
  words_[p + 1] = static_cast<uint32_t>(message.size());
  AppendBytes(words_, Bytes(message), message.size());
  Close(words_, p);
}

void RecordWriter::LookupError(int errnum, const std::string& code, const std::string& message) {
  const size_t p = Open(words_, record::kLookupError, 0, 3);
  words_[p + 0] = static_cast<uint32_t>(errnum);
  words_[p + 1] = static_cast<uint32_t>(code.size());
  words_[p + 2] = static_cast<uint32_t>(message.size());
  AppendPacked(words_, {{Bytes(code), code.size()}, {Bytes(message), message.size()}});
  Close(words_, p);
}

void RecordWriter::Recycle() {
  // Keep at most twice what this batch needed (and never less than 64 KiB):
  // a dump's batches reuse one buffer; after the dump the first small batch
  // lets the megabytes go.
  constexpr size_t kKeepWords = 16 * 1024;
  const size_t keep = std::max(kKeepWords, words_.size() * 2);
  if (words_.capacity() > keep) {
    words_.Free();
  } else {
    words_.Clear();
  }
}

void RecordWriter::Release() { words_.Free(); }

void RecordWords::Free() {
  std::free(data_);
  data_ = nullptr;
  size_ = capacity_ = 0;
}

void RecordWords::Grow(size_t need) {
  constexpr size_t kMinWords = 1024;
  Reallocate(std::max({need, capacity_ * 2, kMinWords}));
}

void RecordWords::Reallocate(size_t n) {
  // realloc keeps the words written so far (big blocks move by mremap, not by copying).
  if (n > SIZE_MAX / sizeof(uint32_t)) throw std::bad_alloc();
  void* grown = std::realloc(data_, n * sizeof(uint32_t));
  if (grown == nullptr) throw std::bad_alloc();
  data_ = static_cast<uint32_t*>(grown);
  capacity_ = n;
}

namespace {
// Dump replies carry NLM_F_MULTI; multicast events do not, but carry the
// request's placement flags.
uint16_t RecordFlags(const MessageHeader& h) {
  if (h.flags & NLM_F_MULTI) return record::kFromDump;
  uint16_t flags = 0;
  if (h.flags & NLM_F_REPLACE) flags |= record::kReplace;
  if (h.flags & NLM_F_APPEND) flags |= record::kAppend;
  if (h.flags & NLM_F_CREATE) flags |= record::kCreate;
  if (h.flags & NLM_F_EXCL) flags |= record::kExcl;
  return flags;
}
}  // namespace

void RecordingSink::OnLink(const MessageHeader& h, bool removed, const routeguard::Link& v) {
  out_.Link(removed, v, RecordFlags(h));
}

void RecordingSink::OnAddress(const MessageHeader& h, bool removed, const routeguard::Address& v) {
  out_.Address(removed, v, RecordFlags(h));
}

void RecordingSink::OnRoute(const MessageHeader& h, bool removed, const routeguard::Route& v) {
  out_.Route(removed, v, RecordFlags(h));
}

void RecordingSink::OnNexthop(const MessageHeader& h, bool removed, const routeguard::Nexthop& v) {
  out_.Nexthop(removed, v, RecordFlags(h));
}

void RecordingSink::OnRule(const MessageHeader& h, bool removed, const routeguard::FibRule& v) {
  out_.Rule(removed, v, RecordFlags(h));
}

void RecordingSink::OnNeighbour(const MessageHeader& h, bool removed, const routeguard::Neighbour& v) {
  out_.Neighbour(removed, v, RecordFlags(h));
}

}  // namespace routeguard
