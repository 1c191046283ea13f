/*
 * The floor of batched route lookups, for bench/lookups.bench.mjs and
 * bench/judge-kernel.bench.mjs (compiled with `cc -O2` by bench/lookup-floor.mjs, cached
 * in build/bench/).
 *
 *   lookup-floor NETNS_PATH RUNS < queries
 *
 * Enters the namespace (setns), opens NETLINK_ROUTE with a 2 MiB receive buffer, reads
 * one query per line from stdin, "TO" or "TO FROM" (a source goes as RTA_SRC, as a
 * path's own lookup does; parsed before any timing), then RUNS times asks the
 * kernel about all of them the way routeguard's GetMany does but with nothing else:
 * 1024 RTM_GETROUTE requests per sendmsg, answers read with recvmmsg and discarded
 * (counted). Prints one JSON line: the median microseconds per answered lookup.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 1024
#define SLOTS 16
#define SLOT_BYTES 8192

struct request {
  struct nlmsghdr h;
  struct rtmsg r;
  struct rtattr a;
  unsigned char addr[16];
  unsigned char src[RTA_SPACE(16)]; /* RTA_SRC when the line names a source, packed after RTA_DST */
};

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int die(const char *what) {
  printf("{\"ok\":false,\"error\":\"%s: %s\"}\n", what, strerror(errno));
  return 1;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: lookup-floor NETNS_PATH RUNS < queries\n"), 2;
  int runs = atoi(argv[2]);
  int nsfd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) return die("setns");
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return die("socket");
  int rcvbuf = 1 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) return die("SO_RCVBUFFORCE");

  size_t cap = 1024, n = 0;
  struct request *reqs = calloc(cap, sizeof(*reqs));
  char line[128];
  while (fgets(line, sizeof(line), stdin)) {
    line[strcspn(line, "\n")] = 0;
    if (!*line) continue;
    if (n == cap) reqs = realloc(reqs, (cap *= 2) * sizeof(*reqs));
    struct request *q = &reqs[n];
    memset(q, 0, sizeof(*q));
    char *from = strchr(line, ' ');
    if (from) *from++ = 0;
    int v6 = strchr(line, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, line, q->addr) != 1) return fprintf(stderr, "bad address %s\n", line), 2;
    q->r.rtm_family = v6 ? AF_INET6 : AF_INET;
    q->r.rtm_dst_len = v6 ? 128 : 32;
    q->r.rtm_flags = v6 ? 0 : RTM_F_LOOKUP_TABLE;
    q->a.rta_type = RTA_DST;
    q->a.rta_len = RTA_LENGTH(v6 ? 16 : 4);
    q->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)) + RTA_ALIGN(q->a.rta_len);
    if (from) {
      /* Packed right after RTA_DST (an IPv4 address leaves a gap in the struct). */
      struct rtattr sa = {.rta_type = RTA_SRC, .rta_len = RTA_LENGTH(v6 ? 16 : 4)};
      unsigned char bytes[16];
      if (inet_pton(v6 ? AF_INET6 : AF_INET, from, bytes) != 1) return fprintf(stderr, "bad source %s\n", from), 2;
      unsigned char *at = (unsigned char *)q + q->h.nlmsg_len;
      memcpy(at, &sa, sizeof(sa));
      memcpy(at + sizeof(sa), bytes, v6 ? 16 : 4);
      q->r.rtm_src_len = v6 ? 128 : 32;
      q->h.nlmsg_len += RTA_ALIGN(sa.rta_len);
    }
    q->h.nlmsg_type = RTM_GETROUTE;
    q->h.nlmsg_flags = NLM_F_REQUEST;
    n++;
  }
  /* Requests are copied back to back (IPv4 ones are shorter than the struct). */
  unsigned char *wire = malloc(CHUNK * sizeof(struct request));
  unsigned char *slots = malloc(SLOTS * SLOT_BYTES);
  struct mmsghdr msgs[SLOTS];
  struct iovec iov[SLOTS];
  double *samples = calloc(runs, sizeof(double));
  unsigned seq = 0;
  for (int r = 0; r < runs; r++) {
    double t0 = now_us();
    size_t answered = 0;
    for (size_t start = 0; start < n; start += CHUNK) {
      size_t count = n - start < CHUNK ? n - start : CHUNK, len = 0;
      for (size_t i = 0; i < count; i++) {
        struct request *q = &reqs[start + i];
        q->h.nlmsg_seq = ++seq;
        memcpy(wire + len, q, q->h.nlmsg_len);
        len += q->h.nlmsg_len;
      }
      if (send(fd, wire, len, 0) != (ssize_t)len) return die("send");
      size_t got = 0;
      while (got < count) {
        for (int i = 0; i < SLOTS; i++) {
          iov[i].iov_base = slots + i * SLOT_BYTES;
          iov[i].iov_len = SLOT_BYTES;
          memset(&msgs[i], 0, sizeof(msgs[i]));
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int k = recvmmsg(fd, msgs, SLOTS, MSG_DONTWAIT, NULL);
        if (k < 0) return die("recvmmsg");
        got += k;
      }
      answered += got;
    }
    samples[r] = (now_us() - t0) / answered;
  }
  qsort(samples, runs, sizeof(double), cmp);
  printf("{\"ok\":true,\"us\":%.4f,\"queries\":%zu}\n", samples[runs / 2], n);
  return 0;
}
