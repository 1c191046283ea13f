// RouteLookup::GetMany against a lookup socket whose send buffer is smaller than a
// chunk of requests (net.core.wmem_default lowered, or SO_SNDBUF set later): every
// query must still get the kernel's answer, never EMSGSIZE. Built and run by
// lookup-sndbuf.test.ts, in a namespace of its own; prints one JSON line.
//   lookup-sndbuf BYTES   (SO_SNDBUF set on the socket before the lookup takes it, and after)
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "route_lookup.h"

using namespace routeguard;

namespace {

// 1024 IPv6 lookups of ::1 from ::1 with a mark and a uid: the largest requests.
int CountAnswered(RouteLookup& lookup, int* emsgsize) {
  std::vector<RouteQuery> queries(1024);
  for (auto& q : queries) {
    q.family = 6;
    q.to[15] = 1;
    q.has_from = true;
    q.from[15] = 1;
    q.has_mark = true;
    q.has_uid = true;
  }
  std::vector<LookupAnswer> out;
  lookup.GetMany(queries.data(), queries.size(), out);
  int ok = 0;
  *emsgsize = 0;
  for (const auto& a : out) {
    if (a.error == 0) ok++;
    if (a.error == EMSGSIZE) ++*emsgsize;
  }
  return ok;
}

int SendBuffer(int fd) {
  int bytes = 0;
  socklen_t len = sizeof(bytes);
  getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, &len);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  const int small = argc > 1 ? std::atoi(argv[1]) : 20000;
  UniqueFd fd = OpenRouteSocket("");
  const int raw = fd.get();
  setsockopt(raw, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  const int before = SendBuffer(raw);
  RouteLookup lookup(std::move(fd));
  const int taken = SendBuffer(raw);
  int emsg_first = 0;
  const int first = CountAnswered(lookup, &emsg_first);
  // Shrunk again under the lookup: the chunk it sized no longer fits one sendmsg().
  setsockopt(raw, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  const int after = SendBuffer(raw);
  int emsg_second = 0;
  const int second = CountAnswered(lookup, &emsg_second);
  std::printf("{\"before\":%d,\"taken\":%d,\"first\":%d,\"firstEmsgsize\":%d,\"after\":%d,\"second\":%d,\"secondEmsgsize\":%d}\n",
              before, taken, first, emsg_first, after, second, emsg_second);
  return 0;
}
