#include "netlink_socket.h"

#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <uv.h>

#include "netlink_parse.h"

namespace routeguard {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset() {
  if (fd_ >= 0) {
    // close() may report EINTR/EIO, but on Linux the descriptor is released
    // either way: retrying could close a descriptor another thread just got.
    ::close(fd_);
    fd_ = -1;
  }
}

namespace {

std::string ErrnoText(int errnum) { return std::strerror(errnum); }

std::string NetnsOpenMessage(int errnum, const std::string& path) {
  const std::string quoted = "'" + path + "'";
  switch (errnum) {
    case ENOENT:
      return "network namespace " + quoted +
             " does not exist: create it (ip netns add NAME makes /run/netns/NAME) or pass "
             "/proc/PID/ns/net of a running process";
    case ENOTDIR:
      return "network namespace path " + quoted +
             " is invalid: a component of it is not a directory (expected /run/netns/NAME or "
             "/proc/PID/ns/net)";
    case EACCES:
    case EPERM:
      return "permission denied opening network namespace " + quoted +
             ": watching another namespace needs root (CAP_SYS_ADMIN)";
    default:
      return "cannot open network namespace " + quoted + ": " + ErrnoText(errnum);
  }
}

std::string NetnsEnterMessage(int errnum, const std::string& path) {
  const std::string quoted = "'" + path + "'";
  switch (errnum) {
    case EINVAL:
      return quoted + " is not a network namespace (expected /run/netns/NAME or /proc/PID/ns/net)";
    case EPERM:
      return "entering network namespace " + quoted +
             " needs CAP_SYS_ADMIN: run as root, or watch the current namespace (omit netns)";
    default:
      return "cannot enter network namespace " + quoted + ": " + ErrnoText(errnum);
  }
}

UniqueFd CreateSocket(int* errnum) {
  // SOCK_NONBLOCK: the monitor is driven by readiness (uv_poll) and the route
  // lookup waits with poll(); SOCK_CLOEXEC: children must not inherit it.
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  *errnum = fd ? 0 : errno;
  return fd;
}

// What the namespace thread reports back (no exception crosses threads).
struct OpenFailure {
  int errnum = 0;
  std::string syscall;
  std::string message;
};

struct OpenJob {
  const std::string* netns;
  size_t count;
  std::vector<UniqueFd>* fds;
  OpenFailure* failure;
};

void OpenInNamespace(const std::string& netns, size_t count, std::vector<UniqueFd>* fds,
                     OpenFailure* failure) {
  UniqueFd target(::open(netns.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!target) {
    *failure = {errno, "open", NetnsOpenMessage(errno, netns)};
    return;
  }
  // setns() checks the file really is a namespace of that type (EINVAL otherwise)
  // and that we hold CAP_SYS_ADMIN (EPERM). It changes this thread only.
  if (::setns(target.get(), CLONE_NEWNET) != 0) {
    *failure = {errno, "setns", NetnsEnterMessage(errno, netns)};
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    int err = 0;
    UniqueFd fd = CreateSocket(&err);
    if (!fd) {
      *failure = {err, "socket",
                  "cannot open a NETLINK_ROUTE socket in network namespace '" + netns + "': " +
                      ErrnoText(err)};
      return;
    }
    fds->push_back(std::move(fd));
  }
}

}  // namespace

std::vector<UniqueFd> OpenRouteSockets(const std::string& netns, size_t count) {
  std::vector<UniqueFd> fds;
  fds.reserve(count);
  if (netns.empty()) {
    for (size_t i = 0; i < count; ++i) {
      int err = 0;
      UniqueFd fd = CreateSocket(&err);
      if (!fd) {
        throw SystemError(err, "socket", "cannot open a NETLINK_ROUTE socket: " + ErrnoText(err));
      }
      fds.push_back(std::move(fd));
    }
    return fds;
  }
  // Network namespaces are per thread. A thread of our own enters the target
  // and ends there: nothing has to come back, nothing can be left behind.
  // libuv's threads (exported by Node itself), not std::thread: a prebuild links libstdc++
  // statically, and its std::thread would import pthread_create@GLIBC_2.34, which older
  // distributions lack (test/portability.test.ts).
  OpenFailure failure;
  OpenJob job{&netns, count, &fds, &failure};
  uv_thread_t opener;
  int err = uv_thread_create(
      &opener,
      [](void* arg) {
        auto* j = static_cast<OpenJob*>(arg);
        OpenInNamespace(*j->netns, j->count, j->fds, j->failure);
      },
      &job);
  if (err != 0) {
    throw SystemError(-err, "pthread_create",
                      "cannot start a thread to enter network namespace '" + netns + "': " +
                          uv_strerror(err));
  }
  uv_thread_join(&opener);
  if (failure.errnum != 0) {
    throw SystemError(failure.errnum, failure.syscall, failure.message);
  }
  return fds;
}

UniqueFd OpenRouteSocket(const std::string& netns) {
  return std::move(OpenRouteSockets(netns, 1).front());
}

void EnableExtendedAck(int fd) {
  int one = 1;
  // Best effort: kernels before 4.12 answer ENOPROTOOPT and errors carry no text.
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
}

uint32_t BindToKernelPort(int fd) {
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;  // nl_pid 0: the kernel assigns a unique port id
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    throw SystemError(err, "bind", "cannot bind the netlink socket: " + ErrnoText(err));
  }
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    throw SystemError(err, "getsockname",
                      "cannot read the netlink socket's port id: " + ErrnoText(err));
  }
  return addr.nl_pid;
}

int SendToKernel(int fd, const void* request, size_t len) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd, request, len, 0, reinterpret_cast<const sockaddr*>(&kernel),
                         sizeof(kernel));
    if (n >= 0) return static_cast<size_t>(n) == len ? 0 : EMSGSIZE;
    if (errno != EINTR) return errno;
  }
}

namespace {
// No kernel datagram comes close (notifications are one message; dump parts are
// ~32 KiB): a cap only so a bug cannot make us allocate without bound.
constexpr size_t kMaxDatagram = 16u << 20;

// A read buffer's size for a datagram of `length` bytes: whole pages.
size_t BufferSizeFor(size_t length) { return (length + 4095) & ~size_t{4095}; }
}  // namespace

int ReceiveDatagram(int fd, ReadBuffer& buffer, bool sized, Datagram* out) {
  // Size the read first, as iproute2 does (rtnl_recvmsg): MSG_PEEK|MSG_TRUNC
  // returns the datagram's real length without consuming it, so a notification
  // larger than the buffer (a multipath route with thousands of nexthops is over
  // 64 KiB) is read whole instead of being cut and lost.
  while (sized) {
    ssize_t n = ::recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    const size_t need = static_cast<size_t>(n);
    if (need > buffer.size()) buffer.Resize(std::min(kMaxDatagram, BufferSizeFor(need)));
    break;
  }
  sockaddr_nl sender{};
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_name = &sender;
  msg.msg_namelen = sizeof(sender);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  for (;;) {
    // MSG_TRUNC: netlink then returns the datagram's real length even when it did
    // not fit (netlink_recvmsg), so the caller can tell a cut datagram.
    ssize_t n = ::recvmsg(fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    out->full_length = static_cast<size_t>(n);
    out->truncated = (msg.msg_flags & MSG_TRUNC) != 0 || out->full_length > buffer.size();
    out->length = out->truncated ? buffer.size() : out->full_length;
    // A sender we cannot identify is not the kernel.
    out->sender_pid = msg.msg_namelen >= sizeof(sender) && sender.nl_family == AF_NETLINK
                          ? sender.nl_pid
                          : UINT32_MAX;
    return 0;
  }
}

// ---------------------------------------------------------------------------
// NetlinkMonitor

namespace {

constexpr size_t kMinBuffer = 64 * 1024;
// What dump reads go into, unsized (see Drain): dump parts are at most 32 KiB
// (netlink_recvmsg caps max_recvmsg_len there) unless one object needs more
// (cb->min_dump_alloc), and notifications are sized to their object (nlmsg_new).
constexpr size_t kDumpReadBytes = 1024 * 1024;

const char* ObjectName(record::Object object) {
  switch (object) {
    case record::kObjLink: return "links";
    case record::kObjAddr: return "addresses";
    case record::kObjRoute: return "routes";
    case record::kObjNexthop: return "nexthops";
    case record::kObjRule: return "rules";
    case record::kObjNeigh: return "neighbours";
  }
  return "objects";
}

struct Group {
  unsigned id;
  const char* name;
  bool optional;  // unknown to old kernels: joining fails with EINVAL
};

constexpr Group kGroups[] = {
    {RTNLGRP_LINK, "RTNLGRP_LINK", false},
    {RTNLGRP_IPV4_IFADDR, "RTNLGRP_IPV4_IFADDR", false},
    {RTNLGRP_IPV6_IFADDR, "RTNLGRP_IPV6_IFADDR", false},
    {RTNLGRP_IPV4_ROUTE, "RTNLGRP_IPV4_ROUTE", false},
    {RTNLGRP_IPV6_ROUTE, "RTNLGRP_IPV6_ROUTE", false},
    {RTNLGRP_NEXTHOP, "RTNLGRP_NEXTHOP", true},  // kernel >= 5.3
    {RTNLGRP_IPV4_RULE, "RTNLGRP_IPV4_RULE", false},
    {RTNLGRP_IPV6_RULE, "RTNLGRP_IPV6_RULE", false},
    {RTNLGRP_NEIGH, "RTNLGRP_NEIGH", false},
};

uint32_t SetReceiveBuffer(int fd, uint32_t bytes) {
  int value = static_cast<int>(bytes);
  // SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN; without it
  // SO_RCVBUF is capped at rmem_max (often 208 KiB).
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof(value)) != 0) {
    int err = errno;
    if (err != EPERM) {
      throw SystemError(err, "setsockopt",
                        "cannot set the netlink receive buffer (SO_RCVBUFFORCE): " + ErrnoText(err));
    }
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, sizeof(value)) != 0) {
      err = errno;
      throw SystemError(err, "setsockopt",
                        "cannot set the netlink receive buffer (SO_RCVBUF): " + ErrnoText(err));
    }
  }
  int granted = 0;
  socklen_t len = sizeof(granted);
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len) != 0) {
    int err = errno;
    throw SystemError(err, "getsockopt",
                      "cannot read back the netlink receive buffer size: " + ErrnoText(err));
  }
  return static_cast<uint32_t>(granted);
}

void JoinGroups(int fd) {
  for (const Group& g : kGroups) {
    unsigned id = g.id;
    if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &id, sizeof(id)) == 0) continue;
    int err = errno;
    if (g.optional && err == EINVAL) continue;
    throw SystemError(err, "setsockopt",
                      std::string("cannot join the rtnetlink multicast group ") + g.name + ": " +
                          ErrnoText(err));
  }
}

}  // namespace

// Routes parsed messages: multicast events and replies to the dump in flight go
// to the records; replies to dumps we gave up on are dropped unseen.
class NetlinkMonitor::Sink : public MessageSink {
 public:
  Sink(NetlinkMonitor& monitor, RecordWriter& out) : m_(monitor), out_(out), records_(out) {}

  void OnLink(const MessageHeader& h, bool removed, const Link& v) override {
    if (Deliver(h)) records_.OnLink(h, removed, v);
  }
  void OnAddress(const MessageHeader& h, bool removed, const Address& v) override {
    if (Deliver(h)) records_.OnAddress(h, removed, v);
  }
  void OnRoute(const MessageHeader& h, bool removed, const Route& v) override {
    if (Deliver(h)) records_.OnRoute(h, removed, v);
  }
  void OnNexthop(const MessageHeader& h, bool removed, const Nexthop& v) override {
    if (Deliver(h)) records_.OnNexthop(h, removed, v);
  }
  void OnRule(const MessageHeader& h, bool removed, const FibRule& v) override {
    if (Deliver(h)) records_.OnRule(h, removed, v);
  }
  void OnNeighbour(const MessageHeader& h, bool removed, const Neighbour& v) override {
    if (Deliver(h)) records_.OnNeighbour(h, removed, v);
  }
  void OnDone(const MessageHeader& h, int32_t error) override {
    if (IsCurrentDump(h)) {
      m_.OnDumpDone(h.flags, error, out_);
    } else if (h.pid == m_.stats_.port_id) {
      m_.OnStaleDumpEnded(out_);  // a dump we gave up on: the kernel is free again
    }
  }
  void OnError(const MessageHeader& h, int32_t error, const std::string& extack,
               const MessageHeader& request) override {
    // The error's own header echoes the request's seq and our port id.
    if (IsCurrentDump(h)) m_.OnDumpError(error, extack, out_);
  }
  void OnMalformed(const MessageHeader& h, Malformed) override {
    ++m_.stats_.dropped_malformed;
    ++m_.pending_malformed_;
    // A malformed dump reply would be malformed again in a re-dump: counting it
    // is all we can do. A malformed notification is a change we did not see.
    if (!IsDumpReply(h)) m_.HandleLostEvent(record::kMalformed, out_);
  }

 private:
  // Dump replies are unicast to our port id with NLM_F_MULTI and the request's
  // seq. Multicast notifications carry the seq and port id of whichever process
  // caused the change, never NLM_F_MULTI, so they cannot be mistaken for ours.
  bool IsDumpReply(const MessageHeader& h) const {
    return (h.flags & NLM_F_MULTI) != 0 && h.pid == m_.stats_.port_id;
  }
  bool IsCurrentDump(const MessageHeader& h) const {
    return m_.dump_.active && !m_.dump_.resend && h.seq == m_.dump_.seq &&
           h.pid == m_.stats_.port_id;
  }
  bool Deliver(const MessageHeader& h) {
    if (!IsDumpReply(h)) return true;  // an event
    if (!IsCurrentDump(h)) return false;  // a stale dump's reply
    m_.OnDumpReply(h.flags);
    return true;
  }

  NetlinkMonitor& m_;
  RecordWriter& out_;
  RecordingSink records_;
};

NetlinkMonitor::NetlinkMonitor(UniqueFd fd, uint32_t receive_buffer_bytes)
    : fd_(std::move(fd)), buffer_(kMinBuffer) {
  stats_.receive_buffer_bytes = SetReceiveBuffer(fd_.get(), receive_buffer_bytes);
  EnableExtendedAck(fd_.get());
  // NETLINK_NO_ENOBUFS is deliberately not set: it would hide lost events.
  // Bind before joining: an unbound socket has port id 0 and the kernel skips
  // it when broadcasting (do_one_broadcast compares port ids).
  stats_.port_id = BindToKernelPort(fd_.get());
  // Join first, dump second: events racing the dump are then queued, not lost.
  JoinGroups(fd_.get());
}

uint32_t NetlinkMonitor::NextSeq() {
  if (++seq_ == 0) ++seq_;  // 0 is what notifications from the kernel itself carry
  return seq_;
}

namespace {
// The family a dump of `object` starts with. Routes are asked for per family:
// an AF_UNSPEC route dump walks every family (rtnl_dump_all: IPv4, IPv6, the
// multicast routing tables, MPLS) and, on an IPv6 route too large for a dump
// message (ECMP with ~1000 siblings), the kernel answers that walk with empty
// datagrams, forever; the AF_INET6 dump ends there with NLMSG_DONE instead.
uint8_t FirstFamily(record::Object object) {
  return object == record::kObjRoute ? AF_INET : AF_UNSPEC;
}
}  // namespace

int NetlinkMonitor::SendDumpRequest(record::Object object, uint32_t seq, uint8_t family) {
  struct {
    nlmsghdr header;
    union {
      ifinfomsg link;
      ifaddrmsg addr;
      rtmsg route;
      nhmsg nexthop;
      fib_rule_hdr rule;
      ndmsg neigh;
    } body;
  } request;
  std::memset(&request, 0, sizeof(request));
  size_t body_len = 0;
  switch (object) {
    case record::kObjLink:
      request.header.nlmsg_type = RTM_GETLINK;
      request.body.link.ifi_family = AF_UNSPEC;
      body_len = sizeof(ifinfomsg);
      break;
    case record::kObjAddr:
      request.header.nlmsg_type = RTM_GETADDR;
      request.body.addr.ifa_family = AF_UNSPEC;  // IPv4 and IPv6
      body_len = sizeof(ifaddrmsg);
      break;
    case record::kObjRoute:
      request.header.nlmsg_type = RTM_GETROUTE;
      request.body.route.rtm_family = family;
      request.body.route.rtm_table = RT_TABLE_UNSPEC;  // all tables, local included
      body_len = sizeof(rtmsg);
      break;
    case record::kObjNexthop:
      request.header.nlmsg_type = RTM_GETNEXTHOP;
      request.body.nexthop.nh_family = AF_UNSPEC;
      body_len = sizeof(nhmsg);
      break;
    case record::kObjRule:
      request.header.nlmsg_type = RTM_GETRULE;
      request.body.rule.family = AF_UNSPEC;  // IPv4 and IPv6 (and multicast, dropped by the parser)
      body_len = sizeof(fib_rule_hdr);
      break;
    case record::kObjNeigh:
      request.header.nlmsg_type = RTM_GETNEIGH;
      request.body.neigh.ndm_family = AF_UNSPEC;  // the ARP and NDP caches
      body_len = sizeof(ndmsg);
      break;
  }
  request.header.nlmsg_len = NLMSG_LENGTH(body_len);
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = seq;
  request.header.nlmsg_pid = stats_.port_id;
  return SendToKernel(fd_.get(), &request, request.header.nlmsg_len);
}

void NetlinkMonitor::Start(RecordWriter& out) {
  if (started_ || closed()) return;
  uint32_t seq = NextSeq();
  if (int err = SendDumpRequest(record::kObjLink, seq, AF_UNSPEC)) {
    throw SystemError(err, "sendto", "cannot request the links dump: " + ErrnoText(err));
  }
  started_ = true;
  sequence_reason_ = record::kInitial;
  dump_ = Dump{true, record::kObjLink, seq, false, false, false, AF_UNSPEC};
  out.Control(record::kDumpBegin, record::kObjLink, record::kInitial);
}

void NetlinkMonitor::Resync(RecordWriter& out) {
  if (!started_ || closed()) return;
  if (recovery_pending_) return;  // a full pass starts once the socket is drained
  if (dump_.active) {
    // One dump at a time per socket: a full pass follows the running one.
    resync_queued_ = true;
    return;
  }
  uint32_t seq = NextSeq();
  if (int err = SendDumpRequest(record::kObjLink, seq, AF_UNSPEC)) {
    throw SystemError(err, "sendto", "cannot request the links dump: " + ErrnoText(err));
  }
  sequence_reason_ = record::kResync;
  dump_ = Dump{true, record::kObjLink, seq, false, false, false, AF_UNSPEC};
  out.Control(record::kDumpBegin, record::kObjLink, record::kResync);
}

void NetlinkMonitor::BeginObject(record::Object object, record::DumpReason reason,
                                 RecordWriter& out) {
  uint32_t seq = NextSeq();
  const uint8_t family = FirstFamily(object);
  int err = SendDumpRequest(object, seq, family);
  if (err == 0) {
    dump_ = Dump{true, object, seq, false, false, false, family};
    out.Control(record::kDumpBegin, object, reason);
    return;
  }
  // Sending to the kernel only fails for want of memory (ENOBUFS/ENOMEM): report
  // it and go on with the next object rather than stall the sequence.
  dump_ = Dump{false, object, seq, false, false, false, family};
  ++stats_.dump_errors;
  out.Error(err, std::string("cannot request the ") + ObjectName(object) + " dump: " +
                     ErrnoText(err));
  NextObject(out);
}

void NetlinkMonitor::NextObject(RecordWriter& out) {
  dump_.active = false;
  switch (dump_.object) {
    case record::kObjLink: return BeginObject(record::kObjAddr, sequence_reason_, out);
    case record::kObjAddr:
      return BeginObject(dump_routes_ ? record::kObjRoute : record::kObjNexthop, sequence_reason_, out);
    case record::kObjRoute: return BeginObject(record::kObjNexthop, sequence_reason_, out);
    case record::kObjNexthop: return BeginObject(record::kObjRule, sequence_reason_, out);
    case record::kObjRule: return BeginObject(record::kObjNeigh, sequence_reason_, out);
    case record::kObjNeigh: break;
  }
  out.Control(record::kSynced, sequence_reason_);
  synced_once_ = true;
  if (resync_queued_) {
    resync_queued_ = false;
    sequence_reason_ = record::kResync;
    BeginObject(record::kObjLink, record::kResync, out);
  }
}

void NetlinkMonitor::ResendDump(RecordWriter& out) {
  dump_.resend = false;
  dump_.replied = false;
  dump_.seq = NextSeq();
  if (int err = SendDumpRequest(dump_.object, dump_.seq, dump_.family)) OnDumpFailed(err, {}, out);
}

void NetlinkMonitor::OnDumpReply(uint16_t nlmsg_flags) {
  dump_.replied = true;
  if (nlmsg_flags & NLM_F_DUMP_INTR) dump_.interrupted = true;
}

void NetlinkMonitor::OnDumpDone(uint16_t nlmsg_flags, int32_t error, RecordWriter& out) {
  OnDumpReply(nlmsg_flags);
  if (error != 0) return OnDumpError(error, {}, out);
  if (dump_.interrupted) {
    // The object changed while the kernel walked it (nl_dump_check_consistent):
    // entries may be missing or doubled. The replies are drained; ask again, a
    // few times: constant churn (a flapping link) could interrupt every attempt.
    if (++dump_attempts_ < kMaxDumpAttempts) {
      ++stats_.dump_retries;
      return BeginObject(dump_.object, record::kRetry, out);
    }
    out.Control(record::kDumpIncomplete, dump_.object, dump_attempts_);
    dump_attempts_ = 0;
    return NextObject(out);  // no kDumpEnd: an inconsistent dump must not sweep
  }
  if (dump_.object == record::kObjRoute && dump_.family == AF_INET) {
    // The IPv4 half is in: the same frame goes on with IPv6.
    dump_.family = AF_INET6;
    dump_.seq = NextSeq();
    dump_.replied = false;
    if (int err = SendDumpRequest(dump_.object, dump_.seq, dump_.family)) OnDumpFailed(err, {}, out);
    return;
  }
  dump_attempts_ = 0;
  out.Control(record::kDumpEnd, dump_.object);
  NextObject(out);
}

void NetlinkMonitor::OnDumpError(int32_t error, const std::string& extack, RecordWriter& out) {
  if (error == 0) return;  // an ACK: we never ask for one, nothing to do
  dump_.replied = true;
  int errnum = error < 0 ? -error : error;
  if (errnum == ENOBUFS) {
    // The receive buffer was full when the dump started: __netlink_dump_start
    // reports netlink_dump()'s ENOBUFS yet leaves the dump running, to resume on
    // our next read. A full buffer is also where events get dropped: recover as
    // from an overflow (giving up on this dump, which the kernel finishes).
    return HandleOverflow(out);
  }
  if (errnum == EBUSY) {
    // __netlink_dump_start refuses a second dump while one is running on the
    // socket: the kernel is still producing a dump we gave up on. Reading its
    // replies drives it to the end; ask again then (or when the queue runs dry).
    dump_.resend = true;
    return;
  }
  if (dump_.object == record::kObjNexthop && (errnum == EINVAL || errnum == EOPNOTSUPP)) {
    // Kernels before 5.3 have no nexthop objects: an empty set.
    out.Control(record::kDumpEnd, dump_.object);
    return NextObject(out);
  }
  OnDumpFailed(errnum, extack, out);
}

void NetlinkMonitor::OnDumpFailed(int errnum, const std::string& extack, RecordWriter& out) {
  ++stats_.dump_errors;
  std::string message = std::string("dump of ") + ObjectName(dump_.object) +
                        " failed: " + ErrnoText(errnum);
  if (!extack.empty()) message += " (" + extack + ")";
  out.Error(errnum, message);
  NextObject(out);  // no kDumpEnd: what the mirror has for this object stays
}

void NetlinkMonitor::OnStaleDumpEnded(RecordWriter& out) {
  if (dump_.active && dump_.resend) ResendDump(out);
}

void NetlinkMonitor::HandleOverflow(RecordWriter& out) {
  // ENOBUFS: a multicast notification did not fit in the receive buffer and was
  // dropped (netlink_overrun). Our view is wrong until everything is re-dumped.
  ++stats_.overflows;
  if (!overflow_reported_in_batch_) {
    overflow_reported_in_batch_ = true;
    out.Control(record::kOverflow, static_cast<uint32_t>(stats_.overflows));
  }
  AbandonForRecovery();
}

void NetlinkMonitor::HandleLostEvent(record::DropReason reason, RecordWriter& out) {
  out.Control(record::kLostEvent, reason);
  AbandonForRecovery();
}

void NetlinkMonitor::AbandonForRecovery() {
  if (!started_) return;  // start() dumps everything anyway
  recovery_pending_ = true;
  resync_queued_ = false;
  dump_attempts_ = 0;
  // The dump in flight is given up: its replies (our port id, its seq) are now
  // stale and dropped unseen; the kernel finishes it as we read on.
  dump_.active = false;
}

void NetlinkMonitor::StartRecovery(RecordWriter& out) {
  recovery_pending_ = false;
  recovery_deferred_ = 0;
  // Until the first kSynced the recovery is still the initial sync.
  sequence_reason_ = synced_once_ ? record::kResync : record::kInitial;
  BeginObject(record::kObjLink, sequence_reason_, out);
}

void NetlinkMonitor::HandleTruncated(const Datagram& d, RecordWriter& out) {
  // Only a datagram over kMaxDatagram can be cut by a sized read; a dump's
  // unsized read cuts one over kDumpReadBytes (none is known).
  ++stats_.dropped_truncated;
  ++pending_truncated_;
  nlmsghdr first{};
  if (d.length >= sizeof(first)) std::memcpy(&first, buffer_.data(), sizeof(first));
  // Its real length is known (MSG_TRUNC): the next one that long, a retried
  // dump's part above all, fits.
  if (d.full_length > buffer_.size() && d.full_length <= kMaxDatagram) {
    buffer_.Resize(BufferSizeFor(d.full_length));
  }
  const bool dump_reply = (first.nlmsg_flags & NLM_F_MULTI) && first.nlmsg_pid == stats_.port_id;
  if (!dump_reply) return HandleLostEvent(record::kTruncated, out);
  // Replies of our dump: that dump is incomplete (and its DONE may be what was
  // lost): start that object over.
  if (!dump_.active || dump_.resend || first.nlmsg_seq != dump_.seq) return;
  ++stats_.dump_retries;
  BeginObject(dump_.object, record::kRetry, out);
}

void NetlinkMonitor::FlushDropCounts(RecordWriter& out) {
  if (pending_not_from_kernel_) {
    out.Control(record::kDropped, record::kNotFromKernel, pending_not_from_kernel_);
    pending_not_from_kernel_ = 0;
  }
  if (pending_truncated_) {
    out.Control(record::kDropped, record::kTruncated, pending_truncated_);
    pending_truncated_ = 0;
  }
  if (pending_malformed_) {
    out.Control(record::kDropped, record::kMalformed, pending_malformed_);
    pending_malformed_ = 0;
  }
}

NetlinkMonitor::DrainResult NetlinkMonitor::Drain(RecordWriter& out) {
  if (closed()) return DrainResult::kFatal;
  overflow_reported_in_batch_ = false;
  Sink sink(*this, out);
  DrainResult result = DrainResult::kMore;
  for (size_t n = 0; n < kMaxBatchDatagrams && out.size_bytes() < kMaxBatchBytes; ++n) {
    // Outside dumps each read is sized first. During a dump a peek would be a
    // second read per part, and every read, a peek too, makes the kernel build
    // the next part while the queue is under half the receive buffer
    // (netlink_recvmsg calls netlink_dump): the dump would run megabytes ahead
    // of us, and those megabytes would wait behind the kernel's slow stretches
    // (the local table's dump walks the whole merged main trie, ~250 ms at 1M
    // routes, producing nothing) instead of reaching JS before them. So one read
    // per part, into a buffer far larger than any; a longer datagram is cut and
    // recovered like any lost message (HandleTruncated).
    //
    // After an ENOBUFS the next read is not sized either: a peek runs the next part
    // of a dump still running in the kernel (one we abandoned) like any read, and
    // when that part does not fit beside what is queued netlink_dump fails and sets
    // sk_err = ENOBUFS, which the read after the peek returns instead of the
    // datagram. With a receive buffer under two dump parts (~64 KiB of truesize
    // each) every peek did that: nothing was ever consumed, and the socket spun
    // through thousands of ENOBUFS a second while the events behind it were lost
    // (seen on Linux 6.18 with a 4 KiB buffer). A plain read consumes a datagram
    // whatever the dump does.
    const bool sized = !dump_.active && !consume_next_;
    consume_next_ = false;
    if (!sized && buffer_.size() < kDumpReadBytes) buffer_.Resize(kDumpReadBytes);
    Datagram d;
    int err = ReceiveDatagram(fd_.get(), buffer_, sized, &d);
    if (err == EAGAIN || err == EWOULDBLOCK) {
      result = DrainResult::kDrained;
      break;
    }
    if (err == ENOBUFS) {
      consume_next_ = true;
      HandleOverflow(out);
      continue;
    }
    if (err != 0) {
      out.Error(err, "recvmsg on the netlink socket failed: " + ErrnoText(err));
      // These mean the descriptor itself is broken; anything else is transient.
      if (err == EBADF || err == ENOTSOCK || err == EFAULT || err == EINVAL) {
        result = DrainResult::kFatal;
      }
      break;
    }
    // Only the kernel (port 0) speaks for the kernel: any local process may send
    // datagrams to our port id.
    if (d.sender_pid != 0) {
      ++stats_.dropped_not_from_kernel;
      ++pending_not_from_kernel_;
      continue;
    }
    if (d.truncated) {
      HandleTruncated(d, out);
      continue;
    }
    stats_.messages += ParseDatagram(buffer_.data(), d.length, sink);
  }
  // The queue ran dry and the dump in flight has had no answer at all. Had the
  // kernel taken the request, its replies would be queued: the first part is
  // produced inside sendto(), and every read that empties the queue produces
  // the next (netlink_recvmsg calls netlink_dump). So the request was refused
  // (EBUSY) and the refusal may not even have reached us: while the socket is
  // congested after an overflow, netlink_attachskb drops unicast errors without
  // raising a new ENOBUFS. Ask again; a new refusal just means reading on.
  if (result == DrainResult::kDrained && dump_.active && (dump_.resend || !dump_.replied)) {
    ResendDump(out);
  }
  // Events were lost: re-dump once a read found the queue empty (the kernel
  // stops dropping only then), or after a bounded wait under a storm.
  if (recovery_pending_ && result != DrainResult::kFatal &&
      (result == DrainResult::kDrained || ++recovery_deferred_ >= kMaxDeferredBatches)) {
    StartRecovery(out);
  }
  FlushDropCounts(out);
  // The dump's buffer does not outlive it.
  if (!dump_.active && buffer_.size() >= kDumpReadBytes) buffer_.Resize(kMinBuffer);
  return result;
}

}  // namespace routeguard
