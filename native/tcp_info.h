// TCP socket state read through a socket's descriptor: struct tcp_info (getsockopt
// TCP_INFO) for many sockets at once, and the keepalive / user-timeout options the
// idle-socket probe tightens and restores. Pure C++ and libc, no Node-API.
#pragma once

#include <cstddef>
#include <cstdint>

namespace routeguard {

// One socket's sample: kTcpInfoFields doubles, in this order. Every value fits a
// double exactly (u32 counters, u64 byte counts below 2^53). A field the kernel did
// not fill (an older kernel's shorter struct) is NaN; a socket that could not be
// read has slot kErrno > 0 and every other field NaN.
enum TcpInfoField : size_t {
  kErrno = 0,        // 0, or the errno of getsockopt (EBADF, ENOTSOCK, EOPNOTSUPP, ...)
  kState,            // TCP_ESTABLISHED = 1, ... (include/net/tcp_states.h)
  kRetransmits,      // retransmissions of the current unacked segment (icsk_retransmits)
  kBackoff,          // RTO exponential backoff count
  kUnacked,          // segments in flight
  kLost,             // segments believed lost
  kLastDataSent,     // ms since the last data sent
  kLastDataRecv,     // ms since the last data received
  kLastAckRecv,      // ms since the last ACK received
  kRtt,              // smoothed RTT, us
  kRttVar,           // RTT variance, us
  kTotalRetrans,     // retransmissions over the connection's life
  kBytesAcked,       // bytes the peer acknowledged (Linux 4.1+)
  kBytesReceived,    // bytes received in order (Linux 4.1+)
  kDataSegsIn,       // data segments received (Linux 4.6+)
  kDelivered,        // segments delivered, including retransmits (Linux 4.10+)
  kTcpInfoFields,
};

// Fills `out[i * kTcpInfoFields ...]` for each of the `count` descriptors. Never
// fails as a whole: each socket carries its own errno.
void ReadTcpInfo(const int* fds, size_t count, double* out);

// The options the keepalive probe sets. -1 in a field given to SetTcpKeepalive
// leaves that option as it is.
struct TcpKeepalive {
  int enabled = -1;         // SO_KEEPALIVE
  int idle_s = -1;          // TCP_KEEPIDLE
  int interval_s = -1;      // TCP_KEEPINTVL
  int count = -1;           // TCP_KEEPCNT
  int user_timeout_ms = -1; // TCP_USER_TIMEOUT (0 = the kernel's default)
};

// Reads the five options. Returns 0 or an errno.
int GetTcpKeepalive(int fd, TcpKeepalive* out);

// Sets the fields that are not -1 (the count and interval before enabling, so the
// first probe already uses them). Returns 0 or the errno of the first failure.
int SetTcpKeepalive(int fd, const TcpKeepalive& values);

}  // namespace routeguard
