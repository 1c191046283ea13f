/*
 * The benchmark's floor and its process meter. Compiled by bench/routes.bench.mjs with
 * `cc -O2` (cached in build/bench/).
 *
 *   floor dump NETNS_PATH [SAVE_FILE]
 *     Enters the namespace (setns), opens NETLINK_ROUTE, sends the request routeguard
 *     sends (RTM_GETROUTE, NLM_F_DUMP, AF_UNSPEC: every table, both families), receives
 *     into a 1 MiB buffer and discards, counting route messages. Nearly all of its time
 *     is the kernel's. SAVE_FILE (optional, profiling only) keeps the raw datagrams,
 *     each prefixed by its u32 length.
 *
 *   floor exec -- CMD ARGS...
 *     Runs CMD with stdout on /dev/null and reports its wall time, CPU and peak RSS
 *     (wait4 rusage), like `/usr/bin/time -v` but as one JSON line.
 *
 * Both print one JSON line on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double tv_ms(struct timeval tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; }

static int die(const char *what) {
  printf("{\"ok\":false,\"error\":\"%s: %s\"}\n", what, strerror(errno));
  return 1;
}

static int dump(const char *netns, const char *save) {
  if (netns && *netns) {
    int nsfd = open(netns, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) return die("open netns");
    if (setns(nsfd, CLONE_NEWNET) < 0) return die("setns");
    close(nsfd);
  }
  FILE *out = NULL;
  if (save && *save) {
    out = fopen(save, "wb");
    if (!out) return die("fopen");
  }
  static uint8_t buf[1 << 20];
  double t0 = now_ms();
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return die("socket");
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) return die("bind");

  struct {
    struct nlmsghdr h;
    struct rtmsg r;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETROUTE;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  req.r.rtm_family = AF_UNSPEC;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return die("sendto");

  uint64_t routes = 0, routes4 = 0, bytes = 0, recvs = 0, intr = 0;
  int done = 0;
  while (!done) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return die("recv");
    }
    recvs++;
    bytes += (uint64_t)n;
    if (out) {
      uint32_t len = (uint32_t)n;
      fwrite(&len, 4, 1, out);
      fwrite(buf, 1, (size_t)n, out);
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) intr++;
      if (h->nlmsg_type == NLMSG_DONE) {
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        errno = -e->error;
        return die("dump");
      }
      if (h->nlmsg_type == RTM_NEWROUTE) {
        routes++;
        if (((struct rtmsg *)NLMSG_DATA(h))->rtm_family == AF_INET) routes4++;
      }
    }
  }
  double ms = now_ms() - t0;
  close(fd);
  if (out) fclose(out);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  // VmHWM, not ru_maxrss: Linux carries ru_maxrss over from before exec (the forking parent).
  long hwm = -1;
  FILE *status = fopen("/proc/self/status", "r");
  if (status) {
    char line[256];
    while (fgets(line, sizeof line, status))
      if (sscanf(line, "VmHWM: %ld kB", &hwm) == 1) break;
    fclose(status);
  }
  printf("{\"ok\":true,\"ms\":%.3f,\"routes\":%llu,\"routes4\":%llu,\"bytes\":%llu,\"recvs\":%llu,"
         "\"dumpIntr\":%llu,\"userMs\":%.3f,\"sysMs\":%.3f,\"maxRssKiB\":%ld}\n",
         ms, (unsigned long long)routes, (unsigned long long)routes4, (unsigned long long)bytes,
         (unsigned long long)recvs, (unsigned long long)intr, tv_ms(ru.ru_utime), tv_ms(ru.ru_stime), hwm);
  return 0;
}

static int run(char **argv) {
  double t0 = now_ms();
  pid_t pid = fork();
  if (pid < 0) return die("fork");
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null < 0 || dup2(null, 1) < 0) _exit(126);
    execvp(argv[0], argv);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) return die("wait4");
  double ms = now_ms() - t0;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  printf("{\"ok\":%s,\"status\":%d,\"ms\":%.3f,\"userMs\":%.3f,\"sysMs\":%.3f,\"maxRssKiB\":%ld}\n",
         code == 0 ? "true" : "false", code, ms, tv_ms(ru.ru_utime), tv_ms(ru.ru_stime), ru.ru_maxrss);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "dump") == 0) return dump(argv[2], argc > 3 ? argv[3] : NULL);
  if (argc >= 4 && strcmp(argv[1], "exec") == 0 && strcmp(argv[2], "--") == 0) return run(argv + 3);
  fprintf(stderr, "usage: floor dump NETNS_PATH [SAVE_FILE] | floor exec -- CMD ARGS...\n");
  return 2;
}
