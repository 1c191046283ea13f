#include "route_lookup.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "netlink_parse.h"

namespace routeguard {

namespace {

constexpr size_t kBufferSize = 64 * 1024;

// RTM_GETROUTE request: header, rtmsg, then a few small attributes.
class Request {
 public:
  Request(uint16_t type, uint16_t flags, uint32_t seq, uint32_t port_id) {
    std::memset(bytes_, 0, sizeof(bytes_));
    header()->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
    header()->nlmsg_type = type;
    header()->nlmsg_flags = flags;
    header()->nlmsg_seq = seq;
    header()->nlmsg_pid = port_id;
  }
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(bytes_); }
  rtmsg* body() { return reinterpret_cast<rtmsg*>(bytes_ + NLMSG_HDRLEN); }
  void Add(uint16_t type, const void* data, size_t len) {
    // Capacity: at most 6 attributes of <= 16 bytes, far below sizeof(bytes_).
    rtattr* attr = reinterpret_cast<rtattr*>(bytes_ + NLMSG_ALIGN(header()->nlmsg_len));
    attr->rta_type = type;
    attr->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    std::memcpy(RTA_DATA(attr), data, len);
    header()->nlmsg_len = NLMSG_ALIGN(header()->nlmsg_len) + RTA_ALIGN(attr->rta_len);
  }
  void AddU32(uint16_t type, uint32_t value) { Add(type, &value, sizeof(value)); }
  const void* data() const { return bytes_; }
  size_t size() { return header()->nlmsg_len; }

 private:
  alignas(nlmsghdr) uint8_t bytes_[256];
};

// Picks out the answer to one request: its seq, sent to our port id. Anything
// else on the socket is a stale answer to an earlier, timed-out request.
class ReplySink : public MessageSink {
 public:
  ReplySink(uint32_t seq, uint32_t port_id) : seq_(seq), port_id_(port_id) {}

  void OnRoute(const MessageHeader& h, bool removed, const Route& route) override {
    if (!Ours(h) || done_) return;
    route_ = route;
    done_ = true;
  }
  void OnError(const MessageHeader& h, int32_t error, const std::string& extack,
               const MessageHeader&) override {
    if (!Ours(h) || done_) return;
    // We ask for no ACK, so a zero error would mean the kernel answered nothing useful.
    error_ = error < 0 ? -error : (error > 0 ? error : EPROTO);
    extack_ = extack;
    done_ = true;
  }
  void OnMalformed(const MessageHeader& h, Malformed) override {
    if (!Ours(h) || done_) return;
    error_ = EBADMSG;
    done_ = true;
  }

  bool done() const { return done_; }
  int error() const { return error_; }
  const std::string& extack() const { return extack_; }
  const Route& route() const { return route_; }

 private:
  bool Ours(const MessageHeader& h) const { return h.seq == seq_ && h.pid == port_id_; }

  uint32_t seq_;
  uint32_t port_id_;
  bool done_ = false;
  int error_ = 0;
  std::string extack_;
  Route route_;
};

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string AddressText(uint8_t family, const IpBytes& bytes) {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(family == 6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof(text));
  return text;
}

}  // namespace

RouteLookup::RouteLookup(UniqueFd fd) : fd_(std::move(fd)), buffer_(kBufferSize) {
  EnableExtendedAck(fd_.get());
  // Strict checking, as `ip route get` asks for: the kernel validates the whole
  // request (inet_rtm_valid_getroute_req) and says what is wrong in the extack
  // instead of ignoring what it does not use. Kernels before 4.20 lack it
  // (ENOPROTOOPT) and are lenient: nothing to do then.
  int one = 1;
  (void)::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
  port_id_ = BindToKernelPort(fd_.get());
}

Route RouteLookup::Get(const RouteQuery& query) {
  if (closed()) throw SystemError(EBADF, "", "route lookup: the lookup socket is closed");
  const bool v6 = query.family == 6;
  const size_t addr_len = v6 ? 16 : 4;
  const uint8_t bits = v6 ? 128 : 32;
  if (++seq_ == 0) ++seq_;
  const uint32_t seq = seq_;

  Request req(RTM_GETROUTE, NLM_F_REQUEST, seq, port_id_);
  rtmsg* rtm = req.body();
  rtm->rtm_family = v6 ? AF_INET6 : AF_INET;
  rtm->rtm_dst_len = bits;
  // RTM_F_LOOKUP_TABLE (IPv4): report the table the route was found in, after
  // policy rules, as `ip route get` does. IPv6 always reports that table and,
  // with strict checking, rejects any flag but RTM_F_FIB_MATCH
  // (inet6_rtm_valid_getroute_req: "Invalid flags for get route request").
  if (!v6) rtm->rtm_flags = RTM_F_LOOKUP_TABLE;
  req.Add(RTA_DST, query.to.data(), addr_len);
  if (query.has_from) {
    rtm->rtm_src_len = bits;
    req.Add(RTA_SRC, query.from.data(), addr_len);
  }
  if (query.has_oif) req.AddU32(RTA_OIF, query.oif);
  if (query.has_iif) req.AddU32(RTA_IIF, query.iif);
  if (query.has_mark) req.AddU32(RTA_MARK, query.mark);
  if (query.has_uid) req.AddU32(RTA_UID, query.uid);

  const std::string what = "route lookup for " + AddressText(query.family, query.to);
  if (int err = SendToKernel(fd_.get(), req.data(), req.size())) {
    throw SystemError(err, "sendto", what + ": cannot send RTM_GETROUTE: " + std::strerror(err));
  }

  ReplySink sink(seq, port_id_);
  const int64_t deadline = NowMs() + kTimeoutMs;
  for (;;) {
    Datagram d;
    int err = ReceiveDatagram(fd_.get(), buffer_, &d);
    if (err == 0) {
      // Only the kernel (port 0) answers; anyone may send to our port id.
      if (d.sender_pid != 0) continue;
      if (d.truncated) {
        nlmsghdr first{};
        if (d.length >= sizeof(first)) std::memcpy(&first, buffer_.data(), sizeof(first));
        if (first.nlmsg_seq == seq && first.nlmsg_pid == port_id_) {
          throw SystemError(EMSGSIZE, "recvmsg", what + ": the kernel's answer (" +
                                                     std::to_string(d.full_length) +
                                                     " bytes) did not fit the receive buffer");
        }
        continue;  // a stale answer
      }
      ParseDatagram(buffer_.data(), d.length, sink);
      if (!sink.done()) continue;
      if (sink.error() == 0) return sink.route();
      std::string message = what + ": " + std::strerror(sink.error());
      if (!sink.extack().empty()) message += " (" + sink.extack() + ")";
      throw SystemError(sink.error(), "", message, sink.extack());
    }
    if (err == ENOBUFS) {
      // Answers did not fit the receive buffer and were dropped (netlink_overrun);
      // ours may be among them. Keep waiting: the deadline bounds it.
      continue;
    }
    if (err != EAGAIN && err != EWOULDBLOCK) {
      throw SystemError(err, "recvmsg", what + ": " + std::strerror(err));
    }
    const int64_t left = deadline - NowMs();
    if (left <= 0) {
      throw SystemError(ETIMEDOUT, "poll",
                        what + ": no answer from the kernel within " +
                            std::to_string(kTimeoutMs) + " ms");
    }
    pollfd pfd{fd_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      err = errno;
      throw SystemError(err, "poll", what + ": " + std::strerror(err));
    }
  }
}

}  // namespace routeguard
