// Plain C++ value types for what the kernel reports over NETLINK_ROUTE.
// No Node-API here: the parser fills these, the record encoder serialises them,
// and the fuzzer exercises both.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace routeguard {

// IPv4 addresses occupy the first 4 bytes; the rest stays zero.
using IpBytes = std::array<uint8_t, 16>;

struct Link {
  int32_t index = 0;
  uint16_t type = 0;        // ARPHRD_*
  uint32_t flags = 0;       // IFF_* (incl. IFF_UP, IFF_RUNNING, IFF_LOWER_UP)
  uint32_t change = 0;      // ifi_change
  std::string name;         // IFLA_IFNAME
  uint32_t mtu = 0;         // IFLA_MTU
  uint8_t operstate = 0;    // IFLA_OPERSTATE (IF_OPER_*), 0 = unknown/absent
  int8_t carrier = -1;      // IFLA_CARRIER, -1 when absent
  uint32_t master = 0;      // IFLA_MASTER
  std::string kind;         // IFLA_LINKINFO / IFLA_INFO_KIND ("veth", "bridge", ...)
  std::vector<uint8_t> hwaddr;  // IFLA_ADDRESS (at most 32 bytes kept)
};

// Presence bits for Address::present.
enum AddressPresent : uint8_t {
  kAddrHasAddress = 1,     // IFA_ADDRESS
  kAddrHasLocal = 2,       // IFA_LOCAL (IPv4 only in practice)
  kAddrHasCacheinfo = 4,   // IFA_CACHEINFO
};

struct Address {
  uint8_t family = 0;       // AF_INET / AF_INET6
  uint8_t prefix_len = 0;
  uint8_t scope = 0;        // RT_SCOPE_*
  uint8_t present = 0;      // AddressPresent bits
  int32_t index = 0;        // ifa_index
  uint32_t flags = 0;       // IFA_FLAGS (32-bit) when present, else ifa_flags
  IpBytes address{};        // IFA_ADDRESS (peer for point-to-point IPv4)
  IpBytes local{};          // IFA_LOCAL
  std::string label;        // IFA_LABEL
  uint32_t preferred = 0xffffffffu;  // ifa_cacheinfo.ifa_prefered, seconds (0xffffffff = forever)
  uint32_t valid = 0xffffffffu;      // ifa_cacheinfo.ifa_valid
  uint32_t cstamp = 0;      // hundredths of a second since boot
  uint32_t tstamp = 0;
};

// Presence bits for Route::present.
enum RoutePresent : uint16_t {
  kRouteHasDst = 1 << 0,
  kRouteHasSrc = 1 << 1,
  kRouteHasGateway = 1 << 2,    // RTA_GATEWAY or RTA_VIA
  kRouteHasPrefsrc = 1 << 3,
  kRouteHasPriority = 1 << 4,
  kRouteHasOif = 1 << 5,
  kRouteHasNhId = 1 << 6,
  kRouteHasExpires = 1 << 7,
  kRouteHasPref = 1 << 8,
  kRouteHasMtu = 1 << 9,
  kRouteHasMultipath = 1 << 10,
  kRouteHasIif = 1 << 11,
};

struct RouteNexthop {
  uint32_t ifindex = 0;     // rtnh_ifindex
  uint8_t flags = 0;        // RTNH_F_*
  uint8_t hops = 0;         // rtnh_hops (weight - 1)
  uint8_t gw_family = 0;    // 0 = no gateway
  IpBytes gateway{};
};

struct Route {
  uint8_t family = 0;
  uint8_t dst_len = 0;
  uint8_t src_len = 0;
  uint8_t tos = 0;
  uint8_t protocol = 0;     // RTPROT_*
  uint8_t scope = 0;        // RT_SCOPE_*
  uint8_t type = 0;         // RTN_*
  uint8_t pref = 0;         // RTA_PREF (IPv6 router preference)
  uint8_t gw_family = 0;    // family of gateway (differs from family with RTA_VIA)
  uint16_t present = 0;     // RoutePresent bits
  uint32_t flags = 0;       // rtm_flags (RTM_F_*, RTNH_F_* e.g. linkdown)
  uint32_t table = 0;       // RTA_TABLE when present, else rtm_table
  uint32_t priority = 0;    // RTA_PRIORITY (metric)
  uint32_t oif = 0;         // RTA_OIF
  uint32_t iif = 0;         // RTA_IIF
  uint32_t nh_id = 0;       // RTA_NH_ID
  uint32_t expires = 0;     // seconds until expiry (RTA_EXPIRES, or RTA_CACHEINFO rta_expires / USER_HZ)
  uint32_t mtu = 0;         // RTA_METRICS / RTAX_MTU
  IpBytes dst{};
  IpBytes src{};
  IpBytes gateway{};
  IpBytes prefsrc{};
  std::vector<RouteNexthop> multipath;  // RTA_MULTIPATH
};

// Presence bits for Nexthop::present.
enum NexthopPresent : uint8_t {
  kNhHasOif = 1,
  kNhHasGateway = 2,
  kNhBlackhole = 4,
  kNhHasGroup = 8,
  kNhFdb = 16,
};

struct NexthopGroupMember {
  uint32_t id = 0;
  uint32_t weight = 1;      // nexthop_grp.weight + 1
};

// RTM_NEWNEXTHOP objects (kernel >= 5.3).
struct Nexthop {
  uint32_t id = 0;          // NHA_ID
  uint8_t family = 0;       // nhm_family
  uint8_t protocol = 0;
  uint8_t present = 0;      // NexthopPresent bits
  uint8_t gw_family = 0;
  uint32_t flags = 0;       // nhm_flags
  uint32_t oif = 0;         // NHA_OIF
  IpBytes gateway{};        // NHA_GATEWAY
  std::vector<NexthopGroupMember> group;  // NHA_GROUP
};

// Presence bits for FibRule::present.
enum RulePresent : uint16_t {
  kRuleHasSrc = 1 << 0,              // FRA_SRC
  kRuleHasDst = 1 << 1,              // FRA_DST
  kRuleHasFwmark = 1 << 2,           // FRA_FWMARK
  kRuleHasFwmask = 1 << 3,           // FRA_FWMASK
  kRuleHasSuppressPrefixlen = 1 << 4,
  kRuleHasSuppressIfgroup = 1 << 5,
  kRuleHasGoto = 1 << 6,
  kRuleHasUidRange = 1 << 7,
  kRuleHasIpProto = 1 << 8,
  kRuleHasSportRange = 1 << 9,
  kRuleHasDportRange = 1 << 10,
  kRuleL3mdev = 1 << 11,
  kRuleHasPriority = 1 << 12,
};

// RTM_NEWRULE objects: struct fib_rule_hdr + FRA_* (ip rule).
struct FibRule {
  uint8_t family = 0;       // AF_INET / AF_INET6
  uint8_t dst_len = 0;
  uint8_t src_len = 0;
  uint8_t tos = 0;
  uint8_t action = 0;       // FR_ACT_*
  uint8_t protocol = 0;     // FRA_PROTOCOL (RTPROT_*)
  uint8_t ip_proto = 0;     // FRA_IP_PROTO
  uint16_t present = 0;     // RulePresent bits
  uint32_t flags = 0;       // FIB_RULE_* (invert, unresolved, detached)
  uint32_t table = 0;       // FRA_TABLE when present, else fib_rule_hdr.table
  uint32_t priority = 0;    // FRA_PRIORITY (absent = 0)
  uint32_t fwmark = 0;
  uint32_t fwmask = 0;
  uint32_t suppress_prefixlen = 0;
  uint32_t suppress_ifgroup = 0;
  uint32_t goto_target = 0; // FRA_GOTO
  uint32_t uid_start = 0;   // FRA_UID_RANGE
  uint32_t uid_end = 0;
  uint16_t sport_start = 0; // FRA_SPORT_RANGE
  uint16_t sport_end = 0;
  uint16_t dport_start = 0; // FRA_DPORT_RANGE
  uint16_t dport_end = 0;
  IpBytes src{};
  IpBytes dst{};
  std::string iifname;      // FRA_IIFNAME
  std::string oifname;      // FRA_OIFNAME
};

// Presence bits for Neighbour::present.
enum NeighbourPresent : uint8_t {
  kNeighHasDst = 1,         // NDA_DST
  kNeighHasLladdr = 2,      // NDA_LLADDR
};

// RTM_NEWNEIGH objects of the ARP and NDP caches: struct ndmsg + NDA_*.
struct Neighbour {
  uint8_t family = 0;       // AF_INET / AF_INET6
  uint8_t flags = 0;        // NTF_*
  uint8_t type = 0;         // ndm_type (RTN_*)
  uint8_t present = 0;      // NeighbourPresent bits
  uint16_t state = 0;       // NUD_*
  int32_t index = 0;        // ndm_ifindex
  IpBytes dst{};            // NDA_DST
  std::vector<uint8_t> lladdr;  // NDA_LLADDR (at most 32 bytes kept)
};

}  // namespace routeguard
