// NETLINK_ROUTE datagram parser in the manner of libmnl: every length is checked
// before the bytes it covers are read, attributes are validated against a small
// per-type policy and collected into a table indexed by type, and only then read.
// All multi-byte reads go through memcpy: netlink only promises 4-byte alignment
// of attributes, and a fuzzer (or a hostile sender) promises nothing.
#include "netlink_parse.h"

#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

// Constants newer than some distributions' uapi headers. Values are ABI and never change.
#ifndef IFA_FLAGS
#define IFA_FLAGS 8
#endif
#ifndef RTA_VIA
#define RTA_VIA 18
#endif
#ifndef RTA_PREF
#define RTA_PREF 20
#endif
#ifndef RTA_EXPIRES
#define RTA_EXPIRES 23
#endif
#ifndef RTA_NH_ID
#define RTA_NH_ID 30
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG 1
#endif
#ifndef NHA_FDB
#define NHA_FDB 11
#endif
#ifndef RTM_NEWNEXTHOP
#define RTM_NEWNEXTHOP 104
#define RTM_DELNEXTHOP 105
#endif
#ifndef FRA_DPORT_RANGE
#define FRA_L3MDEV 19
#define FRA_UID_RANGE 20
#define FRA_PROTOCOL 21
#define FRA_IP_PROTO 22
#define FRA_SPORT_RANGE 23
#define FRA_DPORT_RANGE 24
#endif
#ifndef NLA_TYPE_MASK
#define NLA_TYPE_MASK 0x3fff
#endif

namespace routeguard {
namespace {

constexpr size_t kNlHdrLen = sizeof(nlmsghdr);  // 16
constexpr size_t kAttrHdrLen = sizeof(rtattr);  // 4, same layout as struct nlattr
constexpr size_t kRtnhHdrLen = sizeof(rtnexthop);  // 8

constexpr size_t Align4(size_t n) { return (n + 3) & ~static_cast<size_t>(3); }

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// A validated attribute payload. `data` is null when the attribute was absent.
struct Attr {
  const uint8_t* data = nullptr;
  size_t len = 0;
  bool present() const { return data != nullptr; }
  uint8_t u8() const { return data[0]; }
  uint32_t u32() const { return Load<uint32_t>(data); }
};

// How an attribute's payload length is checked before it goes into the table.
enum class Check : uint8_t {
  kSkip,       // not interesting: never stored
  kU8,         // at least 1 byte (a minimum, as libmnl's mnl_attr_validate checks)
  kU32,        // exactly 4 bytes
  kU32OrU64,   // 4 or 8 bytes (RTA_EXPIRES: either width is accepted)
  kAddress,    // 4 bytes for AF_INET, 16 for AF_INET6; unknown families: ignored
  kString,     // any length; read up to the first NUL
  kFlag,       // presence only
  kBinary,     // any length, the reader bounds itself
  kMinSize,    // at least `min` bytes (fixed-size structs that may grow)
  kArray,      // a non-empty multiple of `min` bytes
};

struct Rule {
  Check check = Check::kSkip;
  uint16_t min = 0;
};

// Attribute table for types [0, N). The policy is a function of type so that
// tables are filled by one walker for every message kind.
template <size_t N>
struct AttrTable {
  Attr at[N];
  const Attr& operator[](size_t type) const { return at[type]; }
};

size_t AddressLength(uint8_t family) {
  switch (family) {
    case AF_INET:
      return 4;
    case AF_INET6:
      return 16;
    default:
      return 0;
  }
}

// Validates one attribute's payload against its rule. false = malformed;
// `store` = false means "valid but deliberately ignored".
bool Validate(const Rule& rule, size_t len, uint8_t family, bool* store) {
  *store = true;
  switch (rule.check) {
    case Check::kSkip:
      *store = false;
      return true;
    case Check::kU8:
      return len >= 1;
    case Check::kU32:
      return len == 4;
    case Check::kU32OrU64:
      return len == 4 || len == 8;
    case Check::kAddress: {
      const size_t want = AddressLength(family);
      // Only IP is mirrored; e.g. an AF_MPLS label is not an address we can hold.
      if (want == 0) {
        *store = false;
        return true;
      }
      return len == want;
    }
    case Check::kString:
    case Check::kFlag:
    case Check::kBinary:
      return true;
    case Check::kMinSize:
      return len >= rule.min;
    case Check::kArray:
      return rule.min != 0 && len != 0 && len % rule.min == 0;
  }
  return false;
}

// Walks the attributes in [p, p+len), validating each against `policy(type)` and
// storing the last occurrence of each known type (as the kernel's nla_parse does).
// Trailing bytes shorter than an attribute header are padding and ignored, like
// nla_parse in non-strict mode. Returns false on any malformed attribute.
template <size_t N, typename Policy>
bool ParseAttrs(const uint8_t* p, size_t len, uint8_t family, Policy policy, AttrTable<N>* table) {
  size_t off = 0;
  while (len - off >= kAttrHdrLen) {
    const uint16_t rta_len = Load<uint16_t>(p + off);
    const uint16_t rta_type = Load<uint16_t>(p + off + 2) & NLA_TYPE_MASK;
    if (rta_len < kAttrHdrLen || rta_len > len - off) return false;
    const uint8_t* payload = p + off + kAttrHdrLen;
    const size_t plen = rta_len - kAttrHdrLen;
    if (rta_type < N) {
      bool store = false;
      if (!Validate(policy(rta_type), plen, family, &store)) return false;
      if (store) table->at[rta_type] = Attr{payload, plen};
    }
    // The last attribute's alignment padding may be missing: stop, do not overrun.
    off += std::min(Align4(rta_len), len - off);
  }
  return true;
}

std::string ReadString(const Attr& a) {
  if (!a.present()) return {};
  const void* nul = std::memchr(a.data, 0, a.len);
  const size_t n = nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - a.data) : a.len;
  return std::string(reinterpret_cast<const char*>(a.data), n);
}

void ReadAddress(const Attr& a, IpBytes* out) {
  // Length already equals the family's address size (Check::kAddress).
  out->fill(0);
  std::memcpy(out->data(), a.data, std::min(a.len, out->size()));
}

// Optional attributes: copy the value and set its presence bit.
template <typename Bits>
void TakeU32(const Attr& a, uint32_t* out, Bits* present, unsigned bit) {
  if (!a.present()) return;
  *out = a.u32();
  *present = static_cast<Bits>(*present | bit);
}

template <typename Bits>
void TakeAddress(const Attr& a, IpBytes* out, Bits* present, unsigned bit) {
  if (!a.present()) return;
  ReadAddress(a, out);
  *present = static_cast<Bits>(*present | bit);
}

// struct rtvia: u16 family, then an address of that family. The gateway family
// may differ from the route's (IPv4 over an IPv6 nexthop, RFC 5549).
// Returns false when malformed; leaves *family 0 for families we do not mirror.
bool ReadVia(const Attr& a, uint8_t* family, IpBytes* gw) {
  *family = 0;
  if (a.len < 2) return false;
  const uint16_t via_family = Load<uint16_t>(a.data);
  const size_t want = via_family <= 0xff ? AddressLength(static_cast<uint8_t>(via_family)) : 0;
  if (want == 0) return true;  // e.g. AF_PACKET for MPLS: valid, not an IP gateway
  if (a.len - 2 != want) return false;
  gw->fill(0);
  std::memcpy(gw->data(), a.data + 2, want);
  *family = static_cast<uint8_t>(via_family);
  return true;
}

MessageHeader ReadHeader(const uint8_t* p) {
  const nlmsghdr h = Load<nlmsghdr>(p);
  MessageHeader out;
  out.type = h.nlmsg_type;
  out.flags = h.nlmsg_flags;
  out.seq = h.nlmsg_seq;
  out.pid = h.nlmsg_pid;
  return out;
}

// What a message handler concluded. Anything but kOk is reported to OnMalformed
// and the walk goes on with the next message (its nlmsg_len was sane).
enum class Outcome : uint8_t { kOk, kBadLength, kBadAttribute };

// Table sizes cover the attributes we read even when the uapi headers are older.
constexpr size_t kIflaSize = IFLA_MAX + 1;
constexpr size_t kIfaSize = std::max<size_t>(IFA_MAX, IFA_FLAGS) + 1;
constexpr size_t kRtaSize = std::max<size_t>(RTA_MAX, RTA_NH_ID) + 1;
constexpr size_t kNhaSize = std::max<size_t>(NHA_MAX, NHA_FDB) + 1;
constexpr size_t kFraSize = std::max<size_t>(FRA_MAX, FRA_DPORT_RANGE) + 1;
constexpr size_t kNdaSize = NDA_LLADDR + 1;

// Attributes start after the family header, rounded up to 4 (all of ours are).
template <typename FixedHeader>
const uint8_t* AttrStart(const uint8_t* body, size_t len, size_t* attr_len) {
  const size_t start = std::min(Align4(sizeof(FixedHeader)), len);
  *attr_len = len - start;
  return body + start;
}

// ---- Links ----

Rule LinkPolicy(uint16_t type) {
  switch (type) {
    case IFLA_IFNAME:
      return {Check::kString};
    case IFLA_MTU:
    case IFLA_MASTER:
      return {Check::kU32};
    case IFLA_OPERSTATE:
    case IFLA_CARRIER:
      return {Check::kU8};
    case IFLA_ADDRESS:
    case IFLA_LINKINFO:
    case IFLA_WIRELESS:
      return {Check::kBinary};
    default:
      return {};
  }
}

Rule LinkInfoPolicy(uint16_t type) {
  return type == IFLA_INFO_KIND ? Rule{Check::kString} : Rule{};
}

Outcome ParseLink(const MessageHeader& h, const uint8_t* body, size_t len, MessageSink& sink) {
  if (len < sizeof(ifinfomsg)) return Outcome::kBadLength;
  const ifinfomsg ifi = Load<ifinfomsg>(body);
  // Only AF_UNSPEC messages describe the link itself. The bridge sends RTM_NEWLINK
  // and RTM_DELLINK with AF_BRIDGE on RTNLGRP_LINK for port state; such a DELLINK
  // means "left the bridge", not "link deleted" (br_ifinfo_notify). Likewise
  // AF_INET6 per-device info (RTNLGRP_IPV6_IFINFO) has no carrier and no kind:
  // a partial view that must not replace the real one.
  if (ifi.ifi_family != AF_UNSPEC) {
    sink.OnOther(h);
    return Outcome::kOk;
  }
  size_t alen = 0;
  const uint8_t* attrs = AttrStart<ifinfomsg>(body, len, &alen);
  AttrTable<kIflaSize> tb;
  if (!ParseAttrs(attrs, alen, AF_UNSPEC, LinkPolicy, &tb)) return Outcome::kBadAttribute;
  // Wireless extensions (CONFIG_CFG80211_WEXT) announce every scan and association
  // as an RTM_NEWLINK carrying only IFLA_IFNAME + IFLA_WIRELESS (wireless_nlevent):
  // no MTU, operstate, carrier or address. It says nothing about the link, and
  // taken as a link it would wipe the mirror's. Chromium's AddressTrackerLinux
  // ignores these messages the same way (IgnoreWirelessChange).
  if (tb[IFLA_WIRELESS].present()) {
    sink.OnOther(h);
    return Outcome::kOk;
  }
  AttrTable<IFLA_INFO_MAX + 1> info;
  if (tb[IFLA_LINKINFO].present() &&
      !ParseAttrs(tb[IFLA_LINKINFO].data, tb[IFLA_LINKINFO].len, AF_UNSPEC, LinkInfoPolicy, &info)) {
    return Outcome::kBadAttribute;
  }

  Link link;
  link.index = ifi.ifi_index;
  link.type = ifi.ifi_type;
  link.flags = ifi.ifi_flags;
  link.change = ifi.ifi_change;
  link.name = ReadString(tb[IFLA_IFNAME]);
  if (tb[IFLA_MTU].present()) link.mtu = tb[IFLA_MTU].u32();
  if (tb[IFLA_OPERSTATE].present()) link.operstate = tb[IFLA_OPERSTATE].u8();
  if (tb[IFLA_CARRIER].present()) link.carrier = tb[IFLA_CARRIER].u8() ? 1 : 0;
  if (tb[IFLA_MASTER].present()) link.master = tb[IFLA_MASTER].u32();
  if (tb[IFLA_ADDRESS].present()) {
    // Hardware addresses are 6 bytes for Ethernet, up to 20 (InfiniBand) elsewhere.
    const Attr& a = tb[IFLA_ADDRESS];
    link.hwaddr.assign(a.data, a.data + std::min<size_t>(a.len, 32));
  }
  link.kind = ReadString(info[IFLA_INFO_KIND]);
  sink.OnLink(h, h.type == RTM_DELLINK, link);
  return Outcome::kOk;
}

// ---- Addresses ----

Rule AddressPolicy(uint16_t type) {
  switch (type) {
    case IFA_ADDRESS:
    case IFA_LOCAL:
      return {Check::kAddress};
    case IFA_LABEL:
      return {Check::kString};
    case IFA_FLAGS:
      return {Check::kU32};
    case IFA_CACHEINFO:
      return {Check::kMinSize, sizeof(ifa_cacheinfo)};
    default:
      return {};
  }
}

Outcome ParseAddress(const MessageHeader& h, const uint8_t* body, size_t len, MessageSink& sink) {
  if (len < sizeof(ifaddrmsg)) return Outcome::kBadLength;
  const ifaddrmsg ifa = Load<ifaddrmsg>(body);
  if (AddressLength(ifa.ifa_family) == 0) {
    sink.OnOther(h);  // not IP (e.g. a legacy DECnet/phonet address): nothing to mirror
    return Outcome::kOk;
  }
  size_t alen = 0;
  const uint8_t* attrs = AttrStart<ifaddrmsg>(body, len, &alen);
  AttrTable<kIfaSize> tb;
  if (!ParseAttrs(attrs, alen, ifa.ifa_family, AddressPolicy, &tb)) return Outcome::kBadAttribute;

  Address addr;
  addr.family = ifa.ifa_family;
  addr.prefix_len = ifa.ifa_prefixlen;
  addr.scope = ifa.ifa_scope;
  addr.index = static_cast<int32_t>(ifa.ifa_index);
  // ifa_flags is 8 bits; IFA_F_NOPREFIXROUTE, IFA_F_MANAGETEMPADDR and newer flags
  // live only in the 32-bit IFA_FLAGS attribute, which repeats the low 8 bits.
  addr.flags = tb[IFA_FLAGS].present() ? tb[IFA_FLAGS].u32() : ifa.ifa_flags;
  TakeAddress(tb[IFA_ADDRESS], &addr.address, &addr.present, kAddrHasAddress);
  TakeAddress(tb[IFA_LOCAL], &addr.local, &addr.present, kAddrHasLocal);
  addr.label = ReadString(tb[IFA_LABEL]);
  if (tb[IFA_CACHEINFO].present()) {
    const ifa_cacheinfo ci = Load<ifa_cacheinfo>(tb[IFA_CACHEINFO].data);
    addr.preferred = ci.ifa_prefered;
    addr.valid = ci.ifa_valid;
    addr.cstamp = ci.cstamp;
    addr.tstamp = ci.tstamp;
    addr.present |= kAddrHasCacheinfo;
  }
  sink.OnAddress(h, h.type == RTM_DELADDR, addr);
  return Outcome::kOk;
}

// ---- Routes ----

Rule RoutePolicy(uint16_t type) {
  switch (type) {
    case RTA_DST:
    case RTA_SRC:
    case RTA_GATEWAY:
    case RTA_PREFSRC:
      return {Check::kAddress};
    case RTA_TABLE:
    case RTA_OIF:
    case RTA_IIF:
    case RTA_PRIORITY:
    case RTA_NH_ID:
      return {Check::kU32};
    case RTA_PREF:
      return {Check::kU8};
    case RTA_EXPIRES:
      return {Check::kU32OrU64};
    case RTA_VIA:
      return {Check::kMinSize, 2};  // rtvia_family; the address is checked by ReadVia
    case RTA_CACHEINFO:
      return {Check::kMinSize, sizeof(rta_cacheinfo)};
    case RTA_MULTIPATH:
    case RTA_METRICS:
      return {Check::kBinary};
    default:
      return {};
  }
}

Rule RouteNexthopPolicy(uint16_t type) {
  switch (type) {
    case RTA_GATEWAY:
      return {Check::kAddress};
    case RTA_VIA:
      return {Check::kMinSize, 2};
    default:
      return {};
  }
}

Rule MetricsPolicy(uint16_t type) {
  return type == RTAX_MTU ? Rule{Check::kU32} : Rule{};
}

// RTA_GATEWAY (same family as the route) or RTA_VIA (any family).
bool ReadGateway(const Attr& gateway, const Attr& via, uint8_t route_family, uint8_t* gw_family,
                 IpBytes* gw) {
  if (gateway.present()) {
    ReadAddress(gateway, gw);
    *gw_family = route_family;
    return true;
  }
  if (via.present()) return ReadVia(via, gw_family, gw);
  return true;
}

// RTA_MULTIPATH: a packed list of struct rtnexthop, each followed by its own
// attributes within rtnh_len (fib_get_nhs / rt6_fill_node's mpath encoding).
bool ParseMultipath(const Attr& mp, uint8_t family, std::vector<RouteNexthop>* out) {
  size_t off = 0;
  while (mp.len - off >= kRtnhHdrLen) {
    const rtnexthop rtnh = Load<rtnexthop>(mp.data + off);
    if (rtnh.rtnh_len < kRtnhHdrLen || rtnh.rtnh_len > mp.len - off) return false;
    AttrTable<RTA_VIA + 1> tb;
    if (!ParseAttrs(mp.data + off + kRtnhHdrLen, rtnh.rtnh_len - kRtnhHdrLen, family,
                    RouteNexthopPolicy, &tb)) {
      return false;
    }
    RouteNexthop nh;
    nh.ifindex = static_cast<uint32_t>(rtnh.rtnh_ifindex);
    nh.flags = rtnh.rtnh_flags;
    nh.hops = rtnh.rtnh_hops;
    if (!ReadGateway(tb[RTA_GATEWAY], tb[RTA_VIA], family, &nh.gw_family, &nh.gateway)) return false;
    out->push_back(nh);
    off += std::min(Align4(rtnh.rtnh_len), mp.len - off);
  }
  return true;
}

Outcome ParseRoute(const MessageHeader& h, const uint8_t* body, size_t len, MessageSink& sink) {
  if (len < sizeof(rtmsg)) return Outcome::kBadLength;
  const rtmsg rtm = Load<rtmsg>(body);
  // An AF_UNSPEC dump also returns AF_MPLS and multicast (RTNL_FAMILY_IPMR) routes:
  // they do not decide where unicast IP traffic goes.
  if (AddressLength(rtm.rtm_family) == 0) {
    sink.OnOther(h);
    return Outcome::kOk;
  }
  size_t alen = 0;
  const uint8_t* attrs = AttrStart<rtmsg>(body, len, &alen);
  AttrTable<kRtaSize> tb;
  if (!ParseAttrs(attrs, alen, rtm.rtm_family, RoutePolicy, &tb)) return Outcome::kBadAttribute;

  Route r;
  r.family = rtm.rtm_family;
  r.dst_len = rtm.rtm_dst_len;
  r.src_len = rtm.rtm_src_len;
  r.tos = rtm.rtm_tos;
  r.protocol = rtm.rtm_protocol;
  r.scope = rtm.rtm_scope;
  r.type = rtm.rtm_type;
  r.flags = rtm.rtm_flags;
  // rtm_table is 8 bits; tables >= 256 are only in RTA_TABLE (rtm_table = RT_TABLE_COMPAT).
  r.table = tb[RTA_TABLE].present() ? tb[RTA_TABLE].u32() : rtm.rtm_table;
  TakeAddress(tb[RTA_DST], &r.dst, &r.present, kRouteHasDst);
  TakeAddress(tb[RTA_SRC], &r.src, &r.present, kRouteHasSrc);
  if (!ReadGateway(tb[RTA_GATEWAY], tb[RTA_VIA], r.family, &r.gw_family, &r.gateway)) {
    return Outcome::kBadAttribute;
  }
  if (r.gw_family != 0) r.present |= kRouteHasGateway;
  TakeAddress(tb[RTA_PREFSRC], &r.prefsrc, &r.present, kRouteHasPrefsrc);
  TakeU32(tb[RTA_PRIORITY], &r.priority, &r.present, kRouteHasPriority);
  TakeU32(tb[RTA_OIF], &r.oif, &r.present, kRouteHasOif);
  TakeU32(tb[RTA_IIF], &r.iif, &r.present, kRouteHasIif);
  TakeU32(tb[RTA_NH_ID], &r.nh_id, &r.present, kRouteHasNhId);
  if (tb[RTA_PREF].present()) {
    r.pref = tb[RTA_PREF].u8();
    r.present |= kRouteHasPref;
  }
  if (tb[RTA_EXPIRES].present()) {
    const Attr& a = tb[RTA_EXPIRES];
    const uint64_t secs = a.len == 8 ? Load<uint64_t>(a.data) : a.u32();
    r.expires = static_cast<uint32_t>(std::min<uint64_t>(secs, UINT32_MAX));
    r.present |= kRouteHasExpires;
  } else if (tb[RTA_CACHEINFO].present()) {
    // rta_expires is jiffies_to_clock_t(): USER_HZ (100) ticks, signed. The kernel
    // reports IPv6 RTF_EXPIRES routes this way; <= 0 means already expired (the fib6
    // garbage collector removes it later).
    const rta_cacheinfo ci = Load<rta_cacheinfo>(tb[RTA_CACHEINFO].data);
    if (ci.rta_expires != 0) {
      r.expires = ci.rta_expires > 0 ? static_cast<uint32_t>(ci.rta_expires) / 100 : 0;
      r.present |= kRouteHasExpires;
    }
  }
  if (tb[RTA_METRICS].present()) {
    AttrTable<RTAX_MTU + 1> metrics;
    if (!ParseAttrs(tb[RTA_METRICS].data, tb[RTA_METRICS].len, r.family, MetricsPolicy, &metrics)) {
      return Outcome::kBadAttribute;
    }
    if (metrics[RTAX_MTU].present()) {
      r.mtu = metrics[RTAX_MTU].u32();
      r.present |= kRouteHasMtu;
    }
  }
  if (tb[RTA_MULTIPATH].present()) {
    if (!ParseMultipath(tb[RTA_MULTIPATH], r.family, &r.multipath)) return Outcome::kBadAttribute;
    r.present |= kRouteHasMultipath;
  }
  sink.OnRoute(h, h.type == RTM_DELROUTE, r);
  return Outcome::kOk;
}

// ---- Nexthop objects ----

Rule NexthopPolicy(uint16_t type) {
  switch (type) {
    case NHA_ID:
    case NHA_OIF:
      return {Check::kU32};
    case NHA_GROUP:
      return {Check::kArray, sizeof(nexthop_grp)};
    case NHA_BLACKHOLE:
    case NHA_FDB:
      return {Check::kFlag};
    case NHA_GATEWAY:
      return {Check::kAddress};
    default:
      return {};
  }
}

Outcome ParseNexthop(const MessageHeader& h, const uint8_t* body, size_t len, MessageSink& sink) {
  if (len < sizeof(nhmsg)) return Outcome::kBadLength;
  const nhmsg nhm = Load<nhmsg>(body);
  size_t alen = 0;
  const uint8_t* attrs = AttrStart<nhmsg>(body, len, &alen);
  AttrTable<kNhaSize> tb;
  // Groups and blackholes are AF_UNSPEC; a gateway's size follows nh_family.
  if (!ParseAttrs(attrs, alen, nhm.nh_family, NexthopPolicy, &tb)) return Outcome::kBadAttribute;

  Nexthop nh;
  nh.family = nhm.nh_family;
  nh.protocol = nhm.nh_protocol;
  nh.flags = nhm.nh_flags;
  if (tb[NHA_ID].present()) nh.id = tb[NHA_ID].u32();
  TakeU32(tb[NHA_OIF], &nh.oif, &nh.present, kNhHasOif);
  if (tb[NHA_GATEWAY].present()) {
    ReadAddress(tb[NHA_GATEWAY], &nh.gateway);
    nh.gw_family = nh.family;
    nh.present |= kNhHasGateway;
  }
  if (tb[NHA_BLACKHOLE].present()) nh.present |= kNhBlackhole;
  if (tb[NHA_FDB].present()) nh.present |= kNhFdb;
  if (tb[NHA_GROUP].present()) {
    const Attr& g = tb[NHA_GROUP];
    nh.group.reserve(g.len / sizeof(nexthop_grp));
    for (size_t off = 0; off < g.len; off += sizeof(nexthop_grp)) {
      // struct nexthop_grp { u32 id; u8 weight; u8 weight_high; u16 resvd2 }: the
      // kernel sends weight - 1; since Linux 6.12 the high byte lives in the former
      // resvd1 (older kernels always send 0 there).
      const uint8_t* m = g.data + off;
      NexthopGroupMember member;
      member.id = Load<uint32_t>(m);
      member.weight = ((static_cast<uint32_t>(m[5]) << 8) | m[4]) + 1;
      nh.group.push_back(member);
    }
    nh.present |= kNhHasGroup;
  }
  sink.OnNexthop(h, h.type == RTM_DELNEXTHOP, nh);
  return Outcome::kOk;
}

// ---- Policy routing rules ----

// struct fib_rule_uid_range and struct fib_rule_port_range (linux/fib_rules.h,
// the latter only since 4.17: spelled out so older headers build).
struct UidRange {
  uint32_t start;
  uint32_t end;
};
struct PortRange {
  uint16_t start;
  uint16_t end;
};

Rule RulePolicy(uint16_t type) {
  switch (type) {
    case FRA_SRC:
    case FRA_DST:
      return {Check::kAddress};
    case FRA_IIFNAME:
    case FRA_OIFNAME:
      return {Check::kString};
    case FRA_PRIORITY:
    case FRA_TABLE:
    case FRA_FWMARK:
    case FRA_FWMASK:
    case FRA_GOTO:
    case FRA_SUPPRESS_PREFIXLEN:
    case FRA_SUPPRESS_IFGROUP:
      return {Check::kU32};
    case FRA_L3MDEV:
    case FRA_PROTOCOL:
    case FRA_IP_PROTO:
      return {Check::kU8};
    case FRA_UID_RANGE:
      return {Check::kMinSize, sizeof(UidRange)};
    case FRA_SPORT_RANGE:
    case FRA_DPORT_RANGE:
      return {Check::kMinSize, sizeof(PortRange)};
    default:
      return {};
  }
}

// Ranges are (start, end) pairs of the attribute's width; the kernel always sends both.
template <typename Range, typename T>
void TakeRange(const Attr& a, T* start, T* end, uint16_t* present, unsigned bit) {
  if (!a.present()) return;
  const Range r = Load<Range>(a.data);
  *start = static_cast<T>(r.start);
  *end = static_cast<T>(r.end);
  *present = static_cast<uint16_t>(*present | bit);
}

Outcome ParseRule(const MessageHeader& h, const uint8_t* body, size_t len, MessageSink& sink) {
  if (len < sizeof(fib_rule_hdr)) return Outcome::kBadLength;
  const fib_rule_hdr frh = Load<fib_rule_hdr>(body);
  // An AF_UNSPEC dump also returns the multicast routing rules (RTNL_FAMILY_IPMR,
  // RTNL_FAMILY_IP6MR): they choose multicast forwarding tables, not unicast paths.
  if (AddressLength(frh.family) == 0) {
    sink.OnOther(h);
    return Outcome::kOk;
  }
  size_t alen = 0;
  const uint8_t* attrs = AttrStart<fib_rule_hdr>(body, len, &alen);
  AttrTable<kFraSize> tb;
  if (!ParseAttrs(attrs, alen, frh.family, RulePolicy, &tb)) return Outcome::kBadAttribute;

  FibRule r;
  r.family = frh.family;
  r.dst_len = frh.dst_len;
  r.src_len = frh.src_len;
  r.tos = frh.tos;
  r.action = frh.action;
  r.flags = frh.flags;
  // frh.table is 8 bits; tables >= 256 are only in FRA_TABLE (table = RT_TABLE_COMPAT).
  r.table = tb[FRA_TABLE].present() ? tb[FRA_TABLE].u32() : frh.table;
  // fib_nl_fill_rule omits FRA_PRIORITY for priority 0 (the local-table rule).
  TakeU32(tb[FRA_PRIORITY], &r.priority, &r.present, kRuleHasPriority);
  TakeAddress(tb[FRA_SRC], &r.src, &r.present, kRuleHasSrc);
  TakeAddress(tb[FRA_DST], &r.dst, &r.present, kRuleHasDst);
  TakeU32(tb[FRA_FWMARK], &r.fwmark, &r.present, kRuleHasFwmark);
  TakeU32(tb[FRA_FWMASK], &r.fwmask, &r.present, kRuleHasFwmask);
  TakeU32(tb[FRA_GOTO], &r.goto_target, &r.present, kRuleHasGoto);
  // The kernel always sends FRA_SUPPRESS_PREFIXLEN, and FRA_SUPPRESS_IFGROUP only
  // when set; both use -1 for "unset" (fib_nl_fill_rule).
  if (tb[FRA_SUPPRESS_PREFIXLEN].present() && tb[FRA_SUPPRESS_PREFIXLEN].u32() != UINT32_MAX) {
    TakeU32(tb[FRA_SUPPRESS_PREFIXLEN], &r.suppress_prefixlen, &r.present, kRuleHasSuppressPrefixlen);
  }
  if (tb[FRA_SUPPRESS_IFGROUP].present() && tb[FRA_SUPPRESS_IFGROUP].u32() != UINT32_MAX) {
    TakeU32(tb[FRA_SUPPRESS_IFGROUP], &r.suppress_ifgroup, &r.present, kRuleHasSuppressIfgroup);
  }
  r.iifname = ReadString(tb[FRA_IIFNAME]);
  r.oifname = ReadString(tb[FRA_OIFNAME]);
  if (tb[FRA_L3MDEV].present() && tb[FRA_L3MDEV].u8() != 0) r.present |= kRuleL3mdev;
  if (tb[FRA_PROTOCOL].present()) r.protocol = tb[FRA_PROTOCOL].u8();
  if (tb[FRA_IP_PROTO].present()) {
    r.ip_proto = tb[FRA_IP_PROTO].u8();
    r.present |= kRuleHasIpProto;
  }
  TakeRange<UidRange>(tb[FRA_UID_RANGE], &r.uid_start, &r.uid_end, &r.present, kRuleHasUidRange);
  TakeRange<PortRange>(tb[FRA_SPORT_RANGE], &r.sport_start, &r.sport_end, &r.present,
                       kRuleHasSportRange);
  TakeRange<PortRange>(tb[FRA_DPORT_RANGE], &r.dport_start, &r.dport_end, &r.present,
                       kRuleHasDportRange);
  sink.OnRule(h, h.type == RTM_DELRULE, r);
  return Outcome::kOk;
}

// ---- Neighbours ----

Rule NeighbourPolicy(uint16_t type) {
  switch (type) {
    case NDA_DST:
      return {Check::kAddress};
    case NDA_LLADDR:
      return {Check::kBinary};
    default:
      return {};
  }
}

Outcome ParseNeighbour(const MessageHeader& h, const uint8_t* body, size_t len, MessageSink& sink) {
  if (len < sizeof(ndmsg)) return Outcome::kBadLength;
  const ndmsg ndm = Load<ndmsg>(body);
  // Only the ARP (AF_INET) and NDP (AF_INET6) caches say whether a next hop answers.
  // AF_BRIDGE messages on RTNLGRP_NEIGH are the bridge's forwarding database (MAC ->
  // port, `bridge fdb`), vxlan sends its fdb the same way, and NTF_PROXY entries are
  // proxy-ARP/NDP answers we give for others (pneigh): none is a neighbour we route via.
  if (AddressLength(ndm.ndm_family) == 0 || (ndm.ndm_flags & NTF_PROXY) != 0) {
    sink.OnOther(h);
    return Outcome::kOk;
  }
  size_t alen = 0;
  const uint8_t* attrs = AttrStart<ndmsg>(body, len, &alen);
  AttrTable<kNdaSize> tb;
  if (!ParseAttrs(attrs, alen, ndm.ndm_family, NeighbourPolicy, &tb)) return Outcome::kBadAttribute;

  Neighbour n;
  n.family = ndm.ndm_family;
  n.index = ndm.ndm_ifindex;
  n.state = ndm.ndm_state;
  n.flags = ndm.ndm_flags;
  n.type = ndm.ndm_type;
  TakeAddress(tb[NDA_DST], &n.dst, &n.present, kNeighHasDst);
  if (tb[NDA_LLADDR].present()) {
    // 6 bytes for Ethernet; up to 20 (InfiniBand); 0 for a device without one (tun).
    const Attr& a = tb[NDA_LLADDR];
    n.lladdr.assign(a.data, a.data + std::min<size_t>(a.len, 32));
    n.present |= kNeighHasLladdr;
  }
  sink.OnNeighbour(h, h.type == RTM_DELNEIGH, n);
  return Outcome::kOk;
}

// ---- Control messages ----

Rule ExtackPolicy(uint16_t type) {
  return type == NLMSGERR_ATTR_MSG ? Rule{Check::kString} : Rule{};
}

Outcome ParseError(const MessageHeader& h, const uint8_t* body, size_t len, MessageSink& sink) {
  if (len < sizeof(nlmsgerr)) return Outcome::kBadLength;
  const int32_t error = Load<int32_t>(body);
  const size_t req_off = offsetof(nlmsgerr, msg);
  const MessageHeader request = ReadHeader(body + req_off);
  std::string extack;
  if (h.flags & NLM_F_ACK_TLVS) {
    // netlink_ack(): the TLVs follow the echoed request, which is the bare header
    // when NLM_F_CAPPED (always for ACKs, or with NETLINK_CAP_ACK) and the whole
    // request (nlmsg_len bytes, padded to 4) otherwise.
    size_t tlv_off = sizeof(nlmsgerr);
    if (!(h.flags & NLM_F_CAPPED)) {
      const uint32_t req_len = Load<uint32_t>(body + req_off);
      if (req_len < kNlHdrLen) return Outcome::kBadAttribute;
      tlv_off = req_off + Align4(req_len);
      if (tlv_off > len) return Outcome::kBadAttribute;
    }
    AttrTable<NLMSGERR_ATTR_MSG + 1> tb;
    if (!ParseAttrs(body + tlv_off, len - tlv_off, AF_UNSPEC, ExtackPolicy, &tb)) {
      return Outcome::kBadAttribute;
    }
    extack = ReadString(tb[NLMSGERR_ATTR_MSG]);
  }
  sink.OnError(h, error, extack, request);
  return Outcome::kOk;
}

Outcome ParseDone(const MessageHeader& h, const uint8_t* body, size_t len, MessageSink& sink) {
  // The payload is an int: 0, or a negative errno when a dump failed part-way.
  const int32_t error = len >= sizeof(int32_t) ? Load<int32_t>(body) : 0;
  sink.OnDone(h, error);
  return Outcome::kOk;
}

Outcome Dispatch(const MessageHeader& h, const uint8_t* body, size_t len, MessageSink& sink) {
  switch (h.type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      return ParseLink(h, body, len, sink);
    case RTM_NEWADDR:
    case RTM_DELADDR:
      return ParseAddress(h, body, len, sink);
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      return ParseRoute(h, body, len, sink);
    case RTM_NEWNEXTHOP:
    case RTM_DELNEXTHOP:
      return ParseNexthop(h, body, len, sink);
    case RTM_NEWRULE:
    case RTM_DELRULE:
      return ParseRule(h, body, len, sink);
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
      return ParseNeighbour(h, body, len, sink);
    case NLMSG_ERROR:
      return ParseError(h, body, len, sink);
    case NLMSG_DONE:
      return ParseDone(h, body, len, sink);
    default:
      sink.OnOther(h);  // NLMSG_NOOP, NLMSG_OVERRUN, netconf, ...
      return Outcome::kOk;
  }
}

}  // namespace

size_t ParseDatagram(const uint8_t* data, size_t len, MessageSink& sink) {
  size_t delivered = 0;
  size_t off = 0;
  while (off < len) {
    const size_t rem = len - off;
    if (rem < kNlHdrLen) {
      sink.OnMalformed(MessageHeader{}, Malformed::kTruncatedHeader);
      break;
    }
    const MessageHeader h = ReadHeader(data + off);
    const uint32_t msg_len = Load<uint32_t>(data + off);
    // Like NLMSG_OK / mnl_nlmsg_ok: a bad nlmsg_len leaves no trustworthy way to
    // find the next message, so the rest of the datagram is dropped.
    if (msg_len < kNlHdrLen) {
      sink.OnMalformed(h, Malformed::kBadLength);
      break;
    }
    if (msg_len > rem) {
      sink.OnMalformed(h, Malformed::kTruncatedHeader);
      break;
    }
    switch (Dispatch(h, data + off + kNlHdrLen, msg_len - kNlHdrLen, sink)) {
      case Outcome::kOk:
        ++delivered;
        break;
      case Outcome::kBadLength:
        sink.OnMalformed(h, Malformed::kBadLength);
        break;
      case Outcome::kBadAttribute:
        sink.OnMalformed(h, Malformed::kBadAttribute);
        break;
    }
    // NLMSG_ALIGN; a last message without its padding simply ends the datagram.
    off += std::min(Align4(msg_len), rem);
  }
  return delivered;
}

}  // namespace routeguard
