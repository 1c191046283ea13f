// Kernel route lookups over NETLINK_ROUTE: RTM_GETROUTE with RTA_DST, like
// `ip route get` — the authoritative answer, policy rules and all tables included.
// Pure C++ and libc, no Node-API.
#pragma once

#include <cstdint>
#include <memory>
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

// One query's answer from GetMany(): the route, or why there is none.
struct LookupAnswer {
  int error = 0;         // 0: `route` is the answer; else a positive errno
  std::string syscall;   // what failed ("sendto", "recvmsg", "poll"); empty when the kernel answered
  std::string message;   // for a person: the query, strerror, the kernel's extack text
  std::string extack;
  Route route;
};

// Reads packed queries (query_format.h) into `out`. Returns "" or what is wrong,
// naming the query ("query 3: family must be 4 or 6, got 5").
std::string DecodeQueries(const uint8_t* data, size_t len, std::vector<RouteQuery>& out);

class RouteLookup {
 public:
  // How long the kernel's answers are waited for (per chunk of GetMany). The
  // kernel answers while handling sendmsg() (rtnetlink runs the lookups
  // synchronously), so this only bounds pathological cases.
  static constexpr int kTimeoutMs = 1000;
  // Receive buffer asked for the lookup socket (the kernel doubles it; SO_RCVBUFFORCE
  // when permitted, else capped at net.core.rmem_max): the answers of one chunk wait there.
  static constexpr uint32_t kReceiveBufferBytes = 1u << 20;
  // Each answer is its own skb: 832 bytes of receive buffer for a route or an error
  // (measured in /proc/net/netlink's Rmem on 6.x, IPv4 and IPv6 alike; an answer
  // carries the chosen nexthop only). Chunks are sized for 1 KiB per answer; within a
  // call, a chunk whose answers were dropped is asked again at half the size.
  static constexpr uint32_t kAnswerBufferBytes = 1024;
  // One sendmsg() must fit the socket's send buffer (netlink_sendmsg: EMSGSIZE past
  // sk_sndbuf - 32; 208 KiB by default, less where net.core.wmem_default is lowered):
  // the constructor raises the buffer to fit kMaxChunk requests of kMaxRequestBytes
  // when it may, and the chunk follows what was granted.
  static constexpr size_t kMaxChunk = 1024;
  // Room taken per request (6 attributes of <= 16 bytes: ~100 bytes with the headers).
  static constexpr size_t kMaxRequestBytes = 128;
  // Times answers dropped (ENOBUFS) are asked again within one call; after that
  // the queries still unanswered fail with ENOBUFS.
  static constexpr int kMaxOverflowRetries = 10;

  // Takes a NETLINK_ROUTE socket (OpenRouteSockets; no multicast groups): the
  // lookups run in whatever namespace it was opened in. Throws SystemError.
  explicit RouteLookup(UniqueFd fd);
  ~RouteLookup();

  // The route the kernel would use. Throws SystemError: the kernel's answer
  // (ENETUNREACH, EHOSTUNREACH, EINVAL, ... with its extack text; syscall empty),
  // ETIMEDOUT when it did not answer in time, or a failed syscall.
  Route Get(const RouteQuery& query);

  // Many lookups for the price of few syscalls: the requests go to the kernel
  // concatenated in one sendmsg() per chunk (netlink_rcv_skb handles each message
  // of the skb in turn and queues one answer per request), the answers come back
  // through recvmmsg() and are matched by sequence number. `out` gets one answer per
  // query, in query order: a failure (the kernel's errno, a timeout, a failed
  // syscall) is that query's answer, never an exception. Answers dropped because
  // the receive buffer overflowed are asked again in smaller chunks. Throws
  // SystemError(EBADF) only when the socket is closed.
  void GetMany(const RouteQuery* queries, size_t count, std::vector<LookupAnswer>& out);

  void Close() { fd_.reset(); }
  bool closed() const { return !fd_; }

 private:
  class Receiver;

  // Asks the kernel about queries[indexes[0..count)]; fills their answers, and
  // appends to `lost` those whose answers the kernel dropped (overflow). Returns
  // false, with nothing answered, when the send buffer refused that many requests
  // in one sendmsg() (EMSGSIZE): the caller asks again in smaller chunks.
  bool RunChunk(const RouteQuery* queries, const uint32_t* indexes, size_t count,
                std::vector<LookupAnswer>& out, std::vector<uint32_t>& lost);

  UniqueFd fd_;
  uint32_t port_id_ = 0;
  uint32_t seq_ = 0;
  size_t chunk_ = 1;  // queries per sendmsg(), from the receive and send buffers granted
  std::vector<uint8_t> requests_;
  std::vector<uint8_t> answered_;
  std::unique_ptr<Receiver> receiver_;
};

}  // namespace routeguard
