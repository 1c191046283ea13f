// Kernel route lookups over NETLINK_ROUTE: RTM_GETROUTE with RTA_DST, like
// `ip route get` — the authoritative answer, policy rules and all tables included.
// Pure C++ and libc, no Node-API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "netlink_socket.h"
#include "netlink_types.h"

namespace routeguard {

struct RouteQuery {
  uint8_t family = 4;       // 4 or 6
  IpBytes to{};             // IPv4 in the first 4 bytes
  bool has_from = false;
  IpBytes from{};
  bool has_oif = false;
  uint32_t oif = 0;
  bool has_iif = false;
  uint32_t iif = 0;
  bool has_mark = false;
  uint32_t mark = 0;
  bool has_uid = false;
  uint32_t uid = 0;
};

class RouteLookup {
 public:
  // How long Get() waits for the kernel's answer. The kernel answers while
  // handling sendto() (rtnetlink runs the lookup synchronously), so this only
  // bounds pathological cases.
  static constexpr int kTimeoutMs = 1000;

  // Takes a NETLINK_ROUTE socket (OpenRouteSockets; no multicast groups): the
  // lookups run in whatever namespace it was opened in. Throws SystemError.
  explicit RouteLookup(UniqueFd fd);

  // The route the kernel would use. Throws SystemError: the kernel's answer
  // (ENETUNREACH, EHOSTUNREACH, EINVAL, ... with its extack text; syscall empty),
  // ETIMEDOUT when it did not answer in time, or a failed syscall.
  Route Get(const RouteQuery& query);

  void Close() { fd_.reset(); }
  bool closed() const { return !fd_; }

 private:
  UniqueFd fd_;
  uint32_t port_id_ = 0;
  uint32_t seq_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace routeguard
