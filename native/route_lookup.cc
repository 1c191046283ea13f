#include "route_lookup.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netlink_parse.h"
#include "query_format.h"

namespace routeguard {

namespace {

// Appends one RTM_GETROUTE request (header, rtmsg, a few small attributes) to `out`.
void AppendRequest(std::vector<uint8_t>& out, const RouteQuery& query, uint32_t seq, uint32_t port_id) {
  const size_t start = out.size();
  out.resize(start + RouteLookup::kMaxRequestBytes, 0);
  uint8_t* bytes = out.data() + start;
  auto* header = reinterpret_cast<nlmsghdr*>(bytes);
  auto* rtm = reinterpret_cast<rtmsg*>(bytes + NLMSG_HDRLEN);
  header->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  header->nlmsg_type = RTM_GETROUTE;
  header->nlmsg_flags = NLM_F_REQUEST;
  header->nlmsg_seq = seq;
  header->nlmsg_pid = port_id;
  auto add = [&](uint16_t type, const void* data, size_t len) {
    auto* attr = reinterpret_cast<rtattr*>(bytes + NLMSG_ALIGN(header->nlmsg_len));
    attr->rta_type = type;
    attr->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    std::memcpy(RTA_DATA(attr), data, len);
    header->nlmsg_len = NLMSG_ALIGN(header->nlmsg_len) + RTA_ALIGN(attr->rta_len);
  };
  auto add_u32 = [&](uint16_t type, uint32_t value) { add(type, &value, sizeof(value)); };

  const bool v6 = query.family == 6;
  const size_t addr_len = v6 ? 16 : 4;
  const uint8_t bits = v6 ? 128 : 32;
  rtm->rtm_family = v6 ? AF_INET6 : AF_INET;
  rtm->rtm_dst_len = bits;
  // RTM_F_LOOKUP_TABLE (IPv4): report the table the route was found in, after
  // policy rules, as `ip route get` does. IPv6 always reports that table and,
  // with strict checking, rejects any flag but RTM_F_FIB_MATCH
  // (inet6_rtm_valid_getroute_req: "Invalid flags for get route request").
  if (!v6) rtm->rtm_flags = RTM_F_LOOKUP_TABLE;
  add(RTA_DST, query.to.data(), addr_len);
  if (query.has_from) {
    rtm->rtm_src_len = bits;
    add(RTA_SRC, query.from.data(), addr_len);
  }
  if (query.has_oif) add_u32(RTA_OIF, query.oif);
  if (query.has_iif) add_u32(RTA_IIF, query.iif);
  if (query.has_mark) add_u32(RTA_MARK, query.mark);
  if (query.has_uid) add_u32(RTA_UID, query.uid);
  out.resize(start + NLMSG_ALIGN(header->nlmsg_len));
}

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string Describe(const RouteQuery& query) {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(query.family == 6 ? AF_INET6 : AF_INET, query.to.data(), text, sizeof(text));
  return std::string("route lookup for ") + text;
}

void Fail(LookupAnswer& answer, const RouteQuery& query, int errnum, std::string syscall, const std::string& what) {
  answer.error = errnum;
  answer.syscall = std::move(syscall);
  answer.message = Describe(query) + ": " + what;
}

// Matches the kernel's answers to the chunk's queries: answer i carries seq first + i
// and our port id. Anything else is a stale answer to an earlier chunk or Get().
class AnswerSink : public MessageSink {
 public:
  AnswerSink(uint32_t first_seq, uint32_t port_id, const RouteQuery* queries, const uint32_t* indexes,
             size_t count, std::vector<LookupAnswer>& out, std::vector<uint8_t>& answered)
      : first_seq_(first_seq), port_id_(port_id), queries_(queries), indexes_(indexes), count_(count),
        out_(out), answered_(answered) {}

  // The position in the chunk of an unanswered query this header answers, or -1.
  long Position(const MessageHeader& h) const {
    if (h.pid != port_id_) return -1;
    const uint32_t at = h.seq - first_seq_;  // wraps for seqs before first_seq_
    if (at >= count_ || answered_[at]) return -1;
    return static_cast<long>(at);
  }

  void OnRoute(const MessageHeader& h, bool, const Route& route) override {
    const long at = Position(h);
    if (at < 0) return;
    out_[indexes_[at]].route = route;
    Answered(at);
  }
  void OnError(const MessageHeader& h, int32_t error, const std::string& extack, const MessageHeader&) override {
    const long at = Position(h);
    if (at < 0) return;
    // We ask for no ACK, so a zero error would mean the kernel answered nothing useful.
    const int errnum = error < 0 ? -error : (error > 0 ? error : EPROTO);
    LookupAnswer& answer = out_[indexes_[at]];
    std::string what = std::strerror(errnum);
    if (!extack.empty()) what += " (" + extack + ")";
    Fail(answer, queries_[indexes_[at]], errnum, "", what);
    answer.extack = extack;
    Answered(at);
  }
  void OnMalformed(const MessageHeader& h, Malformed) override {
    const long at = Position(h);
    if (at < 0) return;
    Fail(out_[indexes_[at]], queries_[indexes_[at]], EBADMSG, "", std::strerror(EBADMSG));
    Answered(at);
  }
  // The kernel's answer did not fit a receive slot (`full_length` bytes).
  void OnTruncated(const MessageHeader& h, size_t full_length) {
    const long at = Position(h);
    if (at < 0) return;
    Fail(out_[indexes_[at]], queries_[indexes_[at]], EMSGSIZE, "recvmsg",
         "the kernel's answer (" + std::to_string(full_length) + " bytes) did not fit the receive buffer");
    Answered(at);
  }
  // Fails every query still waiting.
  void FailRest(int errnum, const std::string& syscall, const std::string& what) {
    for (size_t at = 0; at < count_; ++at) {
      if (answered_[at]) continue;
      Fail(out_[indexes_[at]], queries_[indexes_[at]], errnum, syscall, what);
      Answered(at);
    }
  }
  void CollectRest(std::vector<uint32_t>& lost) const {
    for (size_t at = 0; at < count_; ++at) {
      if (!answered_[at]) lost.push_back(indexes_[at]);
    }
  }
  size_t waiting() const { return count_ - answered_count_; }

 private:
  void Answered(long at) {
    answered_[at] = 1;
    ++answered_count_;
  }

  uint32_t first_seq_;
  uint32_t port_id_;
  const RouteQuery* queries_;
  const uint32_t* indexes_;
  size_t count_;
  std::vector<LookupAnswer>& out_;
  std::vector<uint8_t>& answered_;
  size_t answered_count_ = 0;
};

}  // namespace

// Reads queued answers 8 at a time (recvmmsg): one system call where a read per
// answer took two (MSG_PEEK to size it, then recvmsg). An answer is one skb of at
// most NLMSG_GOODSIZE bytes (the kernel allocates the reply with that size), so a
// slot of 8 KiB holds any of them, also with 64 KiB pages. Allocated on the first
// lookup: 64 KiB, as the single buffer Get() used to keep.
class RouteLookup::Receiver {
 public:
  static constexpr size_t kSlots = 32;
  static constexpr size_t kSlotBytes = 8192;

  Receiver() : storage_(kSlots * kSlotBytes) {}

  // Returns the number of datagrams read (> 0), or -errno (EINTR retried).
  int Receive(int fd) {
    for (size_t i = 0; i < kSlots; ++i) {
      iov_[i] = {storage_.data() + i * kSlotBytes, kSlotBytes};
      senders_[i] = sockaddr_nl{};
      msgs_[i] = mmsghdr{};
      msgs_[i].msg_hdr.msg_name = &senders_[i];
      msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_nl);
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
      // MSG_TRUNC: netlink then reports a datagram's real length even when it did
      // not fit (netlink_recvmsg), so a cut answer is told from a whole one.
      int n = ::recvmmsg(fd, msgs_, kSlots, MSG_DONTWAIT | MSG_TRUNC, nullptr);
      if (n >= 0) return n;
      if (errno != EINTR) return -errno;
    }
  }

  // Hands datagram i to the sink (the kernel's only: anyone may send to our port id).
  void Deliver(int i, AnswerSink& sink) const {
    const msghdr& hdr = msgs_[i].msg_hdr;
    const bool from_kernel = hdr.msg_namelen >= sizeof(sockaddr_nl) && senders_[i].nl_family == AF_NETLINK &&
                             senders_[i].nl_pid == 0;
    if (!from_kernel) return;
    const uint8_t* data = storage_.data() + i * kSlotBytes;
    const size_t length = msgs_[i].msg_len;
    if ((hdr.msg_flags & MSG_TRUNC) != 0 || length > kSlotBytes) {
      nlmsghdr first{};
      std::memcpy(&first, data, sizeof(first));
      MessageHeader h;
      h.seq = first.nlmsg_seq;
      h.pid = first.nlmsg_pid;
      sink.OnTruncated(h, length);
      return;
    }
    ParseDatagram(data, length, sink);
  }

 private:
  std::vector<uint8_t> storage_;
  iovec iov_[kSlots];
  sockaddr_nl senders_[kSlots];
  mmsghdr msgs_[kSlots];
};

std::string DecodeQueries(const uint8_t* data, size_t len, std::vector<RouteQuery>& out) {
  out.clear();
  if (len % query::kRecordBytes != 0) {
    return "the packed queries are " + std::to_string(len) + " bytes, not a multiple of the " +
           std::to_string(query::kRecordBytes) + "-byte query record";
  }
  const size_t count = len / query::kRecordBytes;
  out.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* r = data + i * query::kRecordBytes;
    const std::string where = "query " + std::to_string(i) + ": ";
    const uint8_t family = r[query::kFamily];
    const uint8_t present = r[query::kPresent];
    if (family != 4 && family != 6) return where + "family must be 4 or 6, got " + std::to_string(family);
    if ((present & ~query::kKnownPresent) != 0 || r[query::kReserved] != 0 || r[query::kReserved + 1] != 0) {
      return where + "unknown presence flags or non-zero reserved bytes (a record of another format?)";
    }
    RouteQuery& q = out[i];
    q.family = family;
    std::memcpy(q.to.data(), r + query::kTo, q.to.size());
    q.has_from = (present & query::kHasFrom) != 0;
    if (q.has_from) std::memcpy(q.from.data(), r + query::kFrom, q.from.size());
    auto u32 = [&](size_t offset) {
      uint32_t v;
      std::memcpy(&v, r + offset, sizeof(v));
      return v;
    };
    q.has_oif = (present & query::kHasOif) != 0;
    q.oif = q.has_oif ? u32(query::kOif) : 0;
    q.has_iif = (present & query::kHasIif) != 0;
    q.iif = q.has_iif ? u32(query::kIif) : 0;
    q.has_mark = (present & query::kHasMark) != 0;
    q.mark = q.has_mark ? u32(query::kMark) : 0;
    q.has_uid = (present & query::kHasUid) != 0;
    q.uid = q.has_uid ? u32(query::kUid) : 0;
  }
  return {};
}

RouteLookup::RouteLookup(UniqueFd fd) : fd_(std::move(fd)) {
  EnableExtendedAck(fd_.get());
  // Strict checking, as `ip route get` asks for: the kernel validates the whole
  // request (inet_rtm_valid_getroute_req) and says what is wrong in the extack
  // instead of ignoring what it does not use. Kernels before 4.20 lack it
  // (ENOPROTOOPT) and are lenient: nothing to do then.
  int one = 1;
  (void)::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
  // Room for a chunk's answers. Memory is charged only while answers wait, and
  // GetMany reads them at once. Without CAP_NET_ADMIN SO_RCVBUF is capped at
  // net.core.rmem_max (208 KiB by default): the chunk follows what was granted.
  int bytes = static_cast<int>(kReceiveBufferBytes);
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0) {
    (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  }
  int granted = 0;
  socklen_t len = sizeof(granted);
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &granted, &len) != 0 || granted <= 0) granted = 0;
  chunk_ = std::clamp<size_t>(static_cast<size_t>(granted) / kAnswerBufferBytes, 1, kMaxChunk);
  // The send side: a chunk's requests go in one sendmsg(), refused whole past
  // sk_sndbuf - 32 (netlink_sendmsg). Raised when smaller (the kernel doubles what
  // is set; SO_SNDBUF alone is capped at net.core.wmem_max), never lowered.
  constexpr int kWanted = static_cast<int>(kMaxChunk * kMaxRequestBytes + 64);
  int sndbuf = 0;
  len = sizeof(sndbuf);
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0) sndbuf = 0;
  if (sndbuf < kWanted) {
    const int half = kWanted / 2 + 1;
    if (::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUFFORCE, &half, sizeof(half)) != 0) {
      (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &half, sizeof(half));
    }
    len = sizeof(sndbuf);
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0) sndbuf = 0;
  }
  if (sndbuf > 32) chunk_ = std::clamp<size_t>((static_cast<size_t>(sndbuf) - 32) / kMaxRequestBytes, 1, chunk_);
  port_id_ = BindToKernelPort(fd_.get());
}

RouteLookup::~RouteLookup() = default;

Route RouteLookup::Get(const RouteQuery& query) {
  std::vector<LookupAnswer> answers;
  GetMany(&query, 1, answers);
  LookupAnswer& answer = answers[0];
  if (answer.error != 0) throw SystemError(answer.error, answer.syscall, answer.message, answer.extack);
  return std::move(answer.route);
}

void RouteLookup::GetMany(const RouteQuery* queries, size_t count, std::vector<LookupAnswer>& out) {
  if (closed()) throw SystemError(EBADF, "", "route lookup: the lookup socket is closed");
  out.clear();
  out.resize(count);
  if (count == 0) return;
  if (!receiver_) receiver_ = std::make_unique<Receiver>();
  // The queries still to ask, in order; answers lost to an overflow go back in
  // front of the rest and are asked again in a smaller chunk. The smaller size
  // lasts for this call only: an overflow is as likely caused by datagrams others
  // sent to our port id as by the chunk's own answers.
  std::vector<uint32_t> todo(count);
  for (size_t i = 0; i < count; ++i) todo[i] = static_cast<uint32_t>(i);
  std::vector<uint32_t> lost;
  size_t chunk = chunk_;
  size_t next = 0;
  int retries = 0;
  while (next < todo.size()) {
    const size_t n = std::min(chunk, todo.size() - next);
    lost.clear();
    if (!RunChunk(queries, &todo[next], n, out, lost)) {
      // The send buffer shrank below the chunk (someone set SO_SNDBUF): smaller from now on.
      chunk = chunk_ = std::max<size_t>(1, n / 2);
      continue;
    }
    if (lost.empty()) {
      next += n;
      continue;
    }
    if (++retries > kMaxOverflowRetries) {
      for (uint32_t i : lost) {
        Fail(out[i], queries[i], ENOBUFS, "recvmsg",
             "the kernel dropped the answer: the lookup socket's receive buffer overflowed " +
                 std::to_string(retries) + " times (other answers or stale ones filled it)");
      }
      next += n;
      continue;
    }
    chunk = std::max<size_t>(1, n / 2);
    next += n - lost.size();
    std::copy(lost.begin(), lost.end(), todo.begin() + static_cast<long>(next));
  }
}

bool RouteLookup::RunChunk(const RouteQuery* queries, const uint32_t* indexes, size_t count,
                           std::vector<LookupAnswer>& out, std::vector<uint32_t>& lost) {
  // Consecutive seqs, never 0 (netlink's "no sequence"): answer i carries first + i.
  if (seq_ > UINT32_MAX - count - 1) seq_ = 0;
  const uint32_t first_seq = seq_ + 1;
  seq_ += static_cast<uint32_t>(count);

  requests_.clear();
  for (size_t i = 0; i < count; ++i) AppendRequest(requests_, queries[indexes[i]], first_seq + i, port_id_);
  answered_.assign(count, 0);
  AnswerSink sink(first_seq, port_id_, queries, indexes, count, out, answered_);

  if (int err = SendToKernel(fd_.get(), requests_.data(), requests_.size())) {
    if (err == EMSGSIZE && count > 1) return false;
    sink.FailRest(err, "sendto", std::string("cannot send RTM_GETROUTE: ") + std::strerror(err));
    return true;
  }
  bool overflowed = false;
  const int64_t deadline = NowMs() + kTimeoutMs;
  while (sink.waiting() > 0) {
    const int n = receiver_->Receive(fd_.get());
    if (n > 0) {
      for (int i = 0; i < n; ++i) receiver_->Deliver(i, sink);
      continue;
    }
    const int err = n == 0 ? EAGAIN : -n;
    if (err == ENOBUFS) {
      // Answers did not fit the receive buffer and were dropped (netlink_overrun);
      // some of ours may be among them. Read on: what is queued is still good.
      overflowed = true;
      continue;
    }
    if (err != EAGAIN && err != EWOULDBLOCK) {
      sink.FailRest(err, "recvmsg", std::strerror(err));
      return true;
    }
    if (overflowed) {
      // rtnetlink answered every request of the chunk before sendmsg() returned
      // (netlink_unicast_kernel runs the handler synchronously): with the queue
      // empty, what is missing was dropped. Asking again is the only way to know.
      sink.CollectRest(lost);
      return true;
    }
    const int64_t left = deadline - NowMs();
    if (left <= 0) {
      sink.FailRest(ETIMEDOUT, "poll",
                    "no answer from the kernel within " + std::to_string(kTimeoutMs) + " ms");
      return true;
    }
    pollfd pfd{fd_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      const int poll_err = errno;
      sink.FailRest(poll_err, "poll", std::strerror(poll_err));
      return true;
    }
  }
  return true;
}

}  // namespace routeguard
