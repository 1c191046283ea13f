// The NETLINK_ROUTE socket layer: opening sockets (optionally inside another
// network namespace), and the monitor that joins the rtnetlink multicast groups,
// runs the dumps and turns what it reads into records (record_format.h).
// C++, libc and (for one short-lived thread that opens sockets in another namespace)
// libuv; no Node-API: native/addon.cc drives it from a uv_poll_t between dumps and from
// dump_pipeline.h's reader thread while a dump runs (never both at once, always under the
// pipeline's lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "record_encoder.h"
#include "record_format.h"

namespace routeguard {

// A failed system call or kernel request. `errnum` is positive; `syscall` names
// what failed ("open", "setns", "socket", ...; empty when the kernel answered a
// netlink request with an error); `message` says what went wrong and what to do.
class SystemError : public std::exception {
 public:
  SystemError(int errnum, std::string syscall, std::string message, std::string extack = {})
      : errnum_(errnum),
        syscall_(std::move(syscall)),
        message_(std::move(message)),
        extack_(std::move(extack)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  int errnum() const { return errnum_; }
  const std::string& syscall() const { return syscall_; }
  const std::string& message() const { return message_; }
  // The kernel's extended-ack text (NLMSGERR_ATTR_MSG), when it sent one.
  const std::string& extack() const { return extack_; }

 private:
  int errnum_;
  std::string syscall_;
  std::string message_;
  std::string extack_;
};

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release();
  void reset();

 private:
  int fd_ = -1;
};

// Opens `count` non-blocking, close-on-exec NETLINK_ROUTE sockets. With a
// non-empty `netns` ("/run/netns/NAME" or "/proc/PID/ns/net") they are created
// inside that network namespace, from a short-lived thread that enters it with
// setns() and ends there (a socket stays in the namespace it was created in):
// the calling thread never changes namespace, so a failure cannot strand it in
// the wrong one. The path is opened O_NONBLOCK: a FIFO or device node given by
// mistake fails setns() with EINVAL at once instead of blocking in open().
// Opening all sockets together means they share one namespace even if the
// name is deleted and reused later. Throws SystemError (ENOENT/ENOTDIR for a
// bad path, EINVAL for a file that is no network namespace, EPERM without
// CAP_SYS_ADMIN).
std::vector<UniqueFd> OpenRouteSockets(const std::string& netns, size_t count);
UniqueFd OpenRouteSocket(const std::string& netns);

// Asks the kernel to attach extended-ack messages (NLMSGERR_ATTR_MSG) to errors.
// Kernels before 4.12 do not know the option; errors then simply carry no text.
void EnableExtendedAck(int fd);

// Binds to a kernel-assigned port id and returns it (getsockname()'s nl_pid).
uint32_t BindToKernelPort(int fd);

// Sends one netlink request to the kernel (port 0). Returns 0 or an errno.
int SendToKernel(int fd, const void* request, size_t len);

// One datagram read by ReceiveDatagram().
struct Datagram {
  size_t length = 0;        // bytes in the buffer (the prefix kept when truncated)
  size_t full_length = 0;   // the datagram's real size (MSG_TRUNC)
  bool truncated = false;
  uint32_t sender_pid = 0;  // nl_pid of the sender: 0 for the kernel
};

// A datagram buffer that grows without zero-filling: the kernel writes only what a
// datagram holds, so pages no read reaches stay untouched (not resident).
class ReadBuffer {
 public:
  explicit ReadBuffer(size_t size) { Resize(size); }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  // The contents are not kept.
  void Resize(size_t size) {
    data_.reset(new uint8_t[size]);
    size_ = size;
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

// Reads one datagram without blocking into `buffer`. `sized`: peek at its length
// first and grow the buffer to fit, so nothing up to 16 MiB is cut; otherwise read
// at once, and a datagram longer than the buffer comes back truncated.
// Returns 0, or the errno of recvmsg (EINTR is retried here; EAGAIN means empty).
int ReceiveDatagram(int fd, ReadBuffer& buffer, bool sized, Datagram* out);

struct MonitorStats {
  uint32_t port_id = 0;
  uint32_t receive_buffer_bytes = 0;  // what SO_RCVBUF reads back (the kernel doubles the request)
  uint64_t overflows = 0;
  uint64_t dropped_not_from_kernel = 0;
  uint64_t dropped_truncated = 0;
  uint64_t dropped_malformed = 0;
  uint64_t dump_retries = 0;
  uint64_t dump_errors = 0;           // dumps that ended in an error (kError records)
  uint64_t messages = 0;
  uint64_t batches = 0;               // counted by the driver (one per delivered batch)
};

// Watches NETLINK_ROUTE: links, addresses, routes, nexthop objects, policy
// routing rules and neighbours (ARP/NDP).
//
// Record stream it produces (besides the parser's object records):
//   start():  kDumpBegin(link, kInitial) ... kDumpEnd(link)
//             kDumpBegin(addr, ..) ... kDumpEnd(addr)  (same for route, nexthop,
//             rule, neighbour, in that order)
//             kSynced(kInitial)
//   resync(): the same with kResync (queued when a sequence is running).
//   A dump whose replies carried NLM_F_DUMP_INTR is drained to its DONE and then
//   restarted: kDumpBegin(obj, kRetry) follows, with no kDumpEnd for the
//   interrupted one (likewise when a datagram of the dump was truncated). A dump
//   that failed yields kError and no kDumpEnd; the sequence moves on (nexthops
//   on kernels without them, EINVAL/EOPNOTSUPP, count as an empty dump).
//   ENOBUFS yields kOverflow (once per batch) and abandons the dump in flight
//   (no kDumpEnd). The new sequence from links (kResync, or kInitial when the
//   initial sync had not finished, so kSynced(kInitial) comes exactly once)
//   starts only once the socket is drained: until a read finds the queue empty
//   the kernel keeps dropping events silently, and a dump sent at once would
//   stretch that window to the dump's length. A notification that arrives cut or
//   malformed is a lost event too: kLostEvent, then the same recovery.
//   A dump interrupted kMaxDumpAttempts times in a row is given up for this
//   sequence: kDumpIncomplete(obj, attempts), no kDumpEnd (so nothing is swept);
//   the caller re-syncs later, with a backoff.
//   So: only kDumpEnd(obj) vouches for a complete dump of obj; a kDumpBegin
//   while a frame is open means the open one was abandoned.
//   kDropped(reason, count) records close a batch when datagrams were dropped.
// Multicast events are delivered as they arrive, also while a dump runs.
class NetlinkMonitor {
 public:
  // Batch limits: fairness to the event loop, and bounded ArrayBuffers.
  static constexpr size_t kMaxBatchDatagrams = 256;
  static constexpr size_t kMaxBatchBytes = 4u << 20;
  // pyroute2 uses 1 MiB, systemd-networkd 128 MiB; the default rcvbuf (208 KiB)
  // overflows on the first burst of route changes.
  static constexpr uint32_t kDefaultReceiveBufferBytes = 8u << 20;
  // A storm that never lets the queue run dry must not postpone recovery forever.
  static constexpr uint32_t kMaxDeferredBatches = 16;
  // Constant churn of one object type (a flapping link) can interrupt every dump.
  static constexpr uint32_t kMaxDumpAttempts = 4;

  // Takes a NETLINK_ROUTE socket (OpenRouteSockets), sizes its receive buffer,
  // binds and joins the multicast groups. Throws SystemError.
  NetlinkMonitor(UniqueFd fd, uint32_t receive_buffer_bytes);

  int fd() const { return fd_.get(); }
  bool started() const { return started_; }
  bool closed() const { return !fd_; }
  // A dump is in flight, or one starts once the queue drains (recovery): the
  // driver reads on its dump thread until this turns false.
  bool dumping() const { return started_ && (dump_.active || recovery_pending_); }
  const MonitorStats& stats() const { return stats_; }
  // Leaves routes out of every dump (before Start()): for users that ask the kernel
  // (RTM_GETROUTE) instead of keeping a route table. Route notifications still arrive.
  void SetDumpRoutes(bool dump) { dump_routes_ = dump; }
  void CountBatch() { ++stats_.batches; }

  // Begins the initial sync. Throws SystemError if the first request cannot be
  // sent (nothing is written then). Call once, before Drain().
  void Start(RecordWriter& out);
  // Re-dumps everything; queued behind a sequence that is running. Throws like Start().
  void Resync(RecordWriter& out);

  enum class DrainResult {
    kDrained,   // reached EAGAIN
    kMore,      // stopped at the batch limit: datagrams are still queued
    kFatal,     // the socket is unusable (a kError record says why)
  };
  // Reads and parses datagrams into `out` until EAGAIN or the batch limit.
  DrainResult Drain(RecordWriter& out);

  // Closes the socket. Idempotent; stats() stays readable.
  void Close() { fd_.reset(); }

 private:
  class Sink;
  friend class Sink;

  struct Dump {
    bool active = false;
    record::Object object = record::kObjLink;
    uint32_t seq = 0;
    bool replied = false;      // something came back for this seq: the kernel took the request
    bool interrupted = false;  // a reply carried NLM_F_DUMP_INTR
    bool resend = false;       // refused with EBUSY: resend when the kernel's previous dump ends
    // Routes are dumped one family at a time (IPv4, then IPv6) inside one frame.
    uint8_t family = 0;
  };

  uint32_t NextSeq();
  int SendDumpRequest(record::Object object, uint32_t seq, uint8_t family);
  void BeginObject(record::Object object, record::DumpReason reason, RecordWriter& out);
  void NextObject(RecordWriter& out);
  void ResendDump(RecordWriter& out);
  void HandleOverflow(RecordWriter& out);
  void HandleLostEvent(record::DropReason reason, RecordWriter& out);
  void AbandonForRecovery();
  void StartRecovery(RecordWriter& out);
  void HandleTruncated(const Datagram& d, RecordWriter& out);
  void FlushDropCounts(RecordWriter& out);

  // Called by Sink for messages that belong to the dump in flight.
  void OnDumpReply(uint16_t nlmsg_flags);
  void OnDumpDone(uint16_t nlmsg_flags, int32_t error, RecordWriter& out);
  void OnDumpError(int32_t error, const std::string& extack, RecordWriter& out);
  void OnDumpFailed(int errnum, const std::string& extack, RecordWriter& out);
  void OnStaleDumpEnded(RecordWriter& out);

  UniqueFd fd_;
  MonitorStats stats_;
  ReadBuffer buffer_;
  uint32_t seq_ = 0;
  bool started_ = false;
  bool dump_routes_ = true;
  bool synced_once_ = false;
  bool resync_queued_ = false;
  bool recovery_pending_ = false;       // events were lost: re-dump once drained
  uint32_t recovery_deferred_ = 0;      // batches the recovery waited for the queue to drain
  uint32_t dump_attempts_ = 0;          // interrupted attempts at the current object
  record::DumpReason sequence_reason_ = record::kInitial;
  // The dump in flight. Netlink runs one dump per socket (__netlink_dump_start
  // answers EBUSY while cb_running): a dump we gave up on keeps the kernel busy
  // until it ends, and its replies (older seqs) are dropped unseen.
  Dump dump_;
  bool overflow_reported_in_batch_ = false;
  bool consume_next_ = false;           // the read after an ENOBUFS takes a datagram unsized (Drain)
  uint32_t pending_not_from_kernel_ = 0;
  uint32_t pending_truncated_ = 0;
  uint32_t pending_malformed_ = 0;
};

}  // namespace routeguard
