/*
 * Route churn for bench/events.bench.mjs, sent straight over NETLINK_ROUTE (one request per
 * route change, no ACK asked; errors still come back and are counted). Compiled by the
 * benchmark with `cc -O2` (cached in build/bench/).
 *
 *   churn NETNS_PATH rate EVENTS_PER_S SECONDS TABLE GW1 GW2
 *     BGP-like churn of /24s in TABLE over 10.0.0.0/8 (65536 prefixes, reused in turn): step t adds prefix
 *     t via GW1, replaces prefix t-1024 (via GW2) and deletes prefix t-2048, each one route
 *     notification; ~2048 routes stay live (plus 3072 added in 172.16/12 while the first
 *     steps have nothing to replace or delete yet). Paced per millisecond. Prints one JSON
 *     line: {"ok":true,"sent":N,"ms":T,"errors":E}.
 *
 *   churn NETNS_PATH latency COUNT INTERVAL_MS TABLE GW1
 *     Adds COUNT /24s one at a time, INTERVAL_MS apart, printing "i t_ns" for each (the
 *     CLOCK_MONOTONIC time just before its sendto: the clock process.hrtime() reads),
 *     then deletes them, then the JSON line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int sock = -1;
static uint32_t table_id;
static uint32_t seq;
static long errors;

struct request {
  struct nlmsghdr n;
  struct rtmsg r;
  char attrs[64];
};

static void add_attr(struct request *req, unsigned short type, const void *data, unsigned short len) {
  struct rtattr *rta = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->n.nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(rta), data, len);
  req->n.nlmsg_len = NLMSG_ALIGN(req->n.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Reads back error replies without blocking (a request failed: counted). */
static void drain(void) {
  char buf[8192];
  for (;;) {
    ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) return;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR && ((struct nlmsgerr *)NLMSG_DATA(h))->error != 0) errors++;
    }
  }
}

/* op: 0 add, 1 replace, 2 delete; `net` the /24's address in host order. */
static uint32_t churned(long t) { return 0x0a000000u | ((uint32_t)(t & 0xffff) << 8); }

static void send_route(int op, uint32_t net, struct in_addr gw) {
  struct request req;
  memset(&req, 0, sizeof(req));
  req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
  req.n.nlmsg_type = op == 2 ? RTM_DELROUTE : RTM_NEWROUTE;
  req.n.nlmsg_flags = NLM_F_REQUEST | (op == 0 ? NLM_F_CREATE | NLM_F_EXCL : op == 1 ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  req.n.nlmsg_seq = ++seq;
  req.r.rtm_family = AF_INET;
  req.r.rtm_dst_len = 24;
  req.r.rtm_table = RT_TABLE_UNSPEC;
  req.r.rtm_protocol = 186; /* bgp */
  req.r.rtm_scope = op == 2 ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE;
  req.r.rtm_type = op == 2 ? RTN_UNSPEC : RTN_UNICAST;
  uint32_t dst = htonl(net);
  add_attr(&req, RTA_DST, &dst, 4);
  add_attr(&req, RTA_TABLE, &table_id, 4);
  if (op != 2) add_attr(&req, RTA_GATEWAY, &gw, 4);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  while (sendto(sock, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
    if (errno == EINTR) continue;
    if (errno == ENOBUFS || errno == EAGAIN) {
      drain();
      continue;
    }
    errors++;
    return;
  }
}

static void sleep_until(int64_t t) {
  int64_t d = t - now_ns();
  if (d <= 0) return;
  struct timespec ts = {d / 1000000000, d % 1000000000};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: churn NETNS rate EVENTS_PER_S SECONDS TABLE GW1 GW2 | churn NETNS latency COUNT INTERVAL_MS TABLE GW1\n");
    return 2;
  }
  int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
    printf("{\"ok\":false,\"error\":\"cannot enter %s: %s\"}\n", argv[1], strerror(errno));
    return 1;
  }
  sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) {
    printf("{\"ok\":false,\"error\":\"socket: %s\"}\n", strerror(errno));
    return 1;
  }
  struct in_addr gw1, gw2;
  table_id = (uint32_t)atoi(argv[5]);
  inet_pton(AF_INET, argv[6], &gw1);
  gw2 = gw1;
  if (argc > 7) inet_pton(AF_INET, argv[7], &gw2);
  int64_t t0 = now_ns();
  if (strcmp(argv[2], "latency") == 0) {
    long count = atol(argv[3]);
    int64_t interval = (int64_t)(atof(argv[4]) * 1e6);
    for (long i = 0; i < count; i++) {
      sleep_until(t0 + i * interval);
      int64_t t = now_ns();
      send_route(0, churned(i), gw1);
      printf("%ld %lld\n", i, (long long)t);
      drain();
    }
    for (long i = 0; i < count; i++) send_route(2, churned(i), gw1);
    drain();
    printf("{\"ok\":true,\"sent\":%ld,\"ms\":%.1f,\"errors\":%ld}\n", count * 2, (now_ns() - t0) / 1e6, errors);
    return 0;
  }
  double rate = atof(argv[3]);
  double seconds = atof(argv[4]);
  long total = (long)(rate * seconds);
  long sent = 0;
  long step = 0;
  while (sent < total) {
    /* Sends what the schedule owes by now, then sleeps to the next millisecond. */
    long due = (long)((now_ns() - t0) / 1e9 * rate) + 1;
    if (due > total) due = total;
    while (sent < due) {
      long phase = sent % 3;
      long t = step;
      if (phase == 0) {
        send_route(0, churned(t), gw1);
      } else if (phase == 1) {
        if (t >= 1024) send_route(1, churned(t - 1024), gw2);
        else send_route(0, 0xac100000u | ((uint32_t)t << 8), gw1); /* warm-up: 172.16/14, keeping the rate */
      } else {
        if (t >= 2048) send_route(2, churned(t - 2048), gw1);
        else send_route(0, 0xac200000u | ((uint32_t)t << 8), gw1); /* 172.32/13 */
        step++;
      }
      sent++;
    }
    drain();
    sleep_until(t0 + (int64_t)((double)(sent + 1) / rate * 1e9));
  }
  drain();
  printf("{\"ok\":true,\"sent\":%ld,\"ms\":%.1f,\"errors\":%ld}\n", sent, (now_ns() - t0) / 1e6, errors);
  return 0;
}
