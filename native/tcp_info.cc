#include "tcp_info.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cmath>
#include <cstring>

namespace routeguard {
namespace {

constexpr double kMissing = NAN;

// A field is present when the kernel's answer reaches past its end: getsockopt
// copies min(optlen, sizeof(kernel's struct)), so an older kernel returns less.
#define TCPI_FIELD(info, len, name) \
  ((len) >= offsetof(struct tcp_info, name) + sizeof((info).name) ? static_cast<double>((info).name) : kMissing)

void ReadOne(int fd, double* out) {
  struct tcp_info info;
  std::memset(&info, 0, sizeof(info));
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
    out[kErrno] = errno;
    for (size_t i = 1; i < kTcpInfoFields; i++) out[i] = kMissing;
    return;
  }
  const size_t n = len;
  out[kErrno] = 0;
  out[kState] = TCPI_FIELD(info, n, tcpi_state);
  out[kRetransmits] = TCPI_FIELD(info, n, tcpi_retransmits);
  out[kBackoff] = TCPI_FIELD(info, n, tcpi_backoff);
  out[kUnacked] = TCPI_FIELD(info, n, tcpi_unacked);
  out[kLost] = TCPI_FIELD(info, n, tcpi_lost);
  out[kLastDataSent] = TCPI_FIELD(info, n, tcpi_last_data_sent);
  out[kLastDataRecv] = TCPI_FIELD(info, n, tcpi_last_data_recv);
  out[kLastAckRecv] = TCPI_FIELD(info, n, tcpi_last_ack_recv);
  out[kRtt] = TCPI_FIELD(info, n, tcpi_rtt);
  out[kRttVar] = TCPI_FIELD(info, n, tcpi_rttvar);
  out[kTotalRetrans] = TCPI_FIELD(info, n, tcpi_total_retrans);
  out[kBytesAcked] = TCPI_FIELD(info, n, tcpi_bytes_acked);
  out[kBytesReceived] = TCPI_FIELD(info, n, tcpi_bytes_received);
  out[kDataSegsIn] = TCPI_FIELD(info, n, tcpi_data_segs_in);
  out[kDelivered] = TCPI_FIELD(info, n, tcpi_delivered);
}

#undef TCPI_FIELD

int GetInt(int fd, int level, int name, int* out) {
  socklen_t len = sizeof(*out);
  return getsockopt(fd, level, name, out, &len) == 0 ? 0 : errno;
}

int SetInt(int fd, int level, int name, int value) {
  if (value < 0) return 0;
  return setsockopt(fd, level, name, &value, sizeof(value)) == 0 ? 0 : errno;
}

}  // namespace

void ReadTcpInfo(const int* fds, size_t count, double* out) {
  for (size_t i = 0; i < count; i++) ReadOne(fds[i], out + i * kTcpInfoFields);
}

int GetTcpKeepalive(int fd, TcpKeepalive* out) {
  int err = GetInt(fd, SOL_SOCKET, SO_KEEPALIVE, &out->enabled);
  if (!err) err = GetInt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &out->idle_s);
  if (!err) err = GetInt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &out->interval_s);
  if (!err) err = GetInt(fd, IPPROTO_TCP, TCP_KEEPCNT, &out->count);
  if (!err) err = GetInt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &out->user_timeout_ms);
  return err;
}

int SetTcpKeepalive(int fd, const TcpKeepalive& v) {
  int err = SetInt(fd, IPPROTO_TCP, TCP_KEEPIDLE, v.idle_s);
  if (!err) err = SetInt(fd, IPPROTO_TCP, TCP_KEEPINTVL, v.interval_s);
  if (!err) err = SetInt(fd, IPPROTO_TCP, TCP_KEEPCNT, v.count);
  if (!err) err = SetInt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, v.user_timeout_ms);
  if (!err) err = SetInt(fd, SOL_SOCKET, SO_KEEPALIVE, v.enabled);
  return err;
}

}  // namespace routeguard
