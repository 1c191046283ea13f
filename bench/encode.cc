// Breakdown helper for routes.bench.mjs: the addon's parse + encode step alone (no
// kernel, no Node-API), on a route dump saved by `floor dump NETNS SAVE_FILE`.
// Compiled at bench time with the addon's own parser and encoder:
//   c++ -O2 -std=c++17 -Inative bench/encode.cc native/netlink_parse.cc native/record_encoder.cc
//
//   encode DUMP_FILE [RECORDS_FILE]
// Parses every saved datagram (ParseDatagram + RecordingSink, as the monitor's Drain()
// does), cutting batches at the monitor's limits (256 datagrams or 4 MiB of records),
// and prints one JSON line: best-of-5 times for parse only (a sink that does nothing)
// and parse + encode. RECORDS_FILE receives the batches (each prefixed by its u32
// byte length), framed like an initial route dump, for the JS mirror step.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "netlink_parse.h"
#include "record_encoder.h"
#include "record_format.h"

using namespace routeguard;

namespace {

constexpr size_t kMaxBatchDatagrams = 256;
constexpr size_t kMaxBatchBytes = 4u << 20;

struct CountingSink : MessageSink {
  size_t routes = 0;
  void OnRoute(const MessageHeader&, bool, const Route&) override { ++routes; }
};

double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: encode DUMP_FILE [RECORDS_FILE]\n");
    return 2;
  }
  FILE* in = std::fopen(argv[1], "rb");
  if (!in) {
    std::perror("open dump");
    return 1;
  }
  std::vector<std::vector<uint8_t>> datagrams;
  uint32_t len;
  while (std::fread(&len, 4, 1, in) == 1) {
    std::vector<uint8_t> d(len);
    if (std::fread(d.data(), 1, len, in) != len) break;
    datagrams.push_back(std::move(d));
  }
  std::fclose(in);

  double parseMs = 1e99, encodeMs = 1e99;
  size_t routes = 0, batches = 0, recordBytes = 0;
  for (int rep = 0; rep < 5; rep++) {
    CountingSink counter;
    double t0 = NowMs();
    for (const auto& d : datagrams) ParseDatagram(d.data(), d.size(), counter);
    parseMs = std::min(parseMs, NowMs() - t0);
    routes = counter.routes;

    RecordWriter writer;
    RecordingSink sink(writer);
    size_t b = 0, bytes = 0, inBatch = 0;
    t0 = NowMs();
    for (const auto& d : datagrams) {
      ParseDatagram(d.data(), d.size(), sink);
      if (++inBatch >= kMaxBatchDatagrams || writer.size_bytes() >= kMaxBatchBytes) {
        bytes += writer.size_bytes();
        writer.Recycle();  // the addon copies each batch out and reuses the buffer
        b++;
        inBatch = 0;
      }
    }
    bytes += writer.size_bytes();
    if (!writer.empty()) b++;
    encodeMs = std::min(encodeMs, NowMs() - t0);
    batches = b;
    recordBytes = bytes;
  }

  if (argc > 2) {
    FILE* out = std::fopen(argv[2], "wb");
    if (!out) {
      std::perror("open records");
      return 1;
    }
    auto flush = [&](RecordWriter& w) {
      uint32_t n = static_cast<uint32_t>(w.size_bytes());
      std::fwrite(&n, 4, 1, out);
      std::fwrite(w.data(), 1, n, out);
      w.Recycle();
    };
    RecordWriter writer;
    RecordingSink sink(writer);
    writer.Control(record::kDumpBegin, record::kObjRoute, record::kInitial);
    size_t inBatch = 0;
    for (const auto& d : datagrams) {
      ParseDatagram(d.data(), d.size(), sink);
      if (++inBatch >= kMaxBatchDatagrams || writer.size_bytes() >= kMaxBatchBytes) {
        flush(writer);
        inBatch = 0;
      }
    }
    writer.Control(record::kDumpEnd, record::kObjRoute);
    writer.Control(record::kSynced, record::kInitial);
    flush(writer);
    std::fclose(out);
  }
  std::printf("{\"ok\":true,\"routes\":%zu,\"datagrams\":%zu,\"parseMs\":%.3f,\"encodeMs\":%.3f,"
              "\"batches\":%zu,\"recordBytes\":%zu}\n",
              routes, datagrams.size(), parseMs, encodeMs, batches, recordBytes);
  return 0;
}
