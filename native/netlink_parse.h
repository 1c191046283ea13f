// Bounds-checked parsing of NETLINK_ROUTE datagrams, in the manner of libmnl:
// walk messages with a length check at every step, validate each attribute's
// type and length before reading it, skip what we do not know.
// Pure C++ (no Node-API): fuzzed by native/fuzz/fuzz_parse.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "netlink_types.h"

namespace routeguard {

struct MessageHeader {
  uint16_t type = 0;    // nlmsg_type
  uint16_t flags = 0;   // nlmsg_flags (NLM_F_MULTI, NLM_F_DUMP_INTR, ...)
  uint32_t seq = 0;
  uint32_t pid = 0;     // nlmsg_pid
};

// Why a message (or the rest of a datagram) was not delivered.
enum class Malformed : uint8_t {
  kTruncatedHeader = 1,   // fewer bytes left than a nlmsghdr, or nlmsg_len overruns the datagram
  kBadLength = 2,         // nlmsg_len smaller than its fixed header
  kBadAttribute = 3,      // an attribute whose length overruns its message or is too short for its type
};

// Receives what the parser finds, in datagram order. Every method has a no-op default.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual void OnLink(const MessageHeader&, bool /*removed*/, const Link&) {}
  virtual void OnAddress(const MessageHeader&, bool /*removed*/, const Address&) {}
  virtual void OnRoute(const MessageHeader&, bool /*removed*/, const Route&) {}
  virtual void OnNexthop(const MessageHeader&, bool /*removed*/, const Nexthop&) {}
  virtual void OnRule(const MessageHeader&, bool /*removed*/, const FibRule&) {}
  virtual void OnNeighbour(const MessageHeader&, bool /*removed*/, const Neighbour&) {}
  // NLMSG_DONE. `error` is the (negative) errno carried by a DONE, 0 normally.
  virtual void OnDone(const MessageHeader&, int32_t /*error*/) {}
  // NLMSG_ERROR. error == 0 is an ACK. `extack` is NLMSGERR_ATTR_MSG when sent.
  // `request` is the header of the request that failed.
  virtual void OnError(const MessageHeader&, int32_t /*error*/, const std::string& /*extack*/,
                       const MessageHeader& /*request*/) {}
  // NLMSG_OVERRUN, NLMSG_NOOP, message types we do not handle, and objects of
  // families we do not mirror (multicast routing rules, bridge fdb entries, ...).
  virtual void OnOther(const MessageHeader&) {}
  // A message that failed validation; parsing continues with the next message when
  // its length was sane, otherwise the rest of the datagram is dropped.
  virtual void OnMalformed(const MessageHeader&, Malformed) {}
};

// Parses one datagram (a sequence of netlink messages). Never reads outside
// [data, data + len). Returns the number of messages delivered to the sink
// (malformed ones are reported but not counted).
size_t ParseDatagram(const uint8_t* data, size_t len, MessageSink& sink);

}  // namespace routeguard
