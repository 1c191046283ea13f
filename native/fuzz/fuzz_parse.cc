// libFuzzer entry: any bytes as one NETLINK_ROUTE datagram. ASan/UBSan catch reads
// outside the input; record_check.h decodes every record written, as
// src/netlink/decode.ts would, and aborts on one that reader would misread; every
// route record is then formatted as `dump --json` writes it (route_json.h).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "../netlink_parse.h"
#include "../record_encoder.h"
#include "../route_json.h"
#include "record_check.h"

namespace {

// Counts callbacks so the return value of ParseDatagram can be checked too.
class CountingSink : public routeguard::RecordingSink {
 public:
  explicit CountingSink(routeguard::RecordWriter& out) : RecordingSink(out), out_(out) {}
  size_t delivered = 0;
  void OnLink(const routeguard::MessageHeader& h, bool r, const routeguard::Link& v) override {
    ++delivered;
    RecordingSink::OnLink(h, r, v);
  }
  void OnAddress(const routeguard::MessageHeader& h, bool r, const routeguard::Address& v) override {
    ++delivered;
    RecordingSink::OnAddress(h, r, v);
  }
  void OnRoute(const routeguard::MessageHeader& h, bool r, const routeguard::Route& v) override {
    ++delivered;
    RecordingSink::OnRoute(h, r, v);
  }
  void OnNexthop(const routeguard::MessageHeader& h, bool r, const routeguard::Nexthop& v) override {
    ++delivered;
    RecordingSink::OnNexthop(h, r, v);
  }
  void OnRule(const routeguard::MessageHeader& h, bool r, const routeguard::FibRule& v) override {
    ++delivered;
    RecordingSink::OnRule(h, r, v);
  }
  void OnNeighbour(const routeguard::MessageHeader& h, bool r, const routeguard::Neighbour& v) override {
    ++delivered;
    RecordingSink::OnNeighbour(h, r, v);
  }
  void OnDone(const routeguard::MessageHeader&, int32_t) override { ++delivered; }
  void OnError(const routeguard::MessageHeader&, int32_t error, const std::string& extack,
               const routeguard::MessageHeader&) override {
    ++delivered;
    out_.Error(error, extack);  // exercises the error record's string padding
  }
  void OnOther(const routeguard::MessageHeader&) override { ++delivered; }

 private:
  routeguard::RecordWriter& out_;
};

// All of a batch's dumped routes as JSON, chunk by chunk into `out` (grown when a route
// asks for more, as src/native/route-json.ts does). Aborts unless every call makes progress
// and ends with kDone, or on kMalformed when `malformed_ok`. Returns the text and its routes.
std::string FormatAll(const uint32_t* words, size_t count, size_t capacity, bool malformed_ok, size_t* routes) {
  std::string text;
  *routes = 0;
  // An exactly sized heap block: ASan sees a write one byte past `capacity`.
  std::vector<char> out(capacity);
  for (size_t at = 0;;) {
    routeguard::RouteJsonProgress progress;
    const routeguard::RouteJsonStatus status =
        routeguard::FormatDumpedRoutesJson(words, count, at, out.data(), out.size(), &progress);
    if (progress.written > out.size()) abort();
    text.append(out.data(), progress.written);
    *routes += progress.routes;
    if (status == routeguard::RouteJsonStatus::kDone) return text;
    if (status == routeguard::RouteJsonStatus::kMalformed) {
      if (!malformed_ok) abort();
      return text;
    }
    if (progress.written == 0 && progress.needed <= out.size()) abort();  // no progress
    if (progress.needed > out.size()) out.resize(progress.needed);
    at = progress.next_word;
  }
}

// Formats every route record of a checked batch as a dump reply (whatever the datagram's
// NLM_F_MULTI said): the formatter must take all the encoder writes, one object per route,
// the same text in small chunks as in one. Then shorter prefixes of the batch, each in an
// exactly sized heap copy so that ASan sees a read past it: the formatter must stop there.
void CheckRouteJson(const uint32_t* words, size_t count) {
  using routeguard::record::kFromDump;
  using routeguard::record::kRouteNew;
  std::vector<uint32_t> batch(words, words + count);
  size_t expected = 0;
  for (size_t w = 0; w < count; w += batch[w + 1] / 4) {
    if ((batch[w] & 0xffff) != kRouteNew) continue;
    batch[w] |= static_cast<uint32_t>(kFromDump) << 16;
    ++expected;
  }
  size_t routes = 0;
  const std::string text = FormatAll(batch.data(), count, 1 << 16, false, &routes);
  if (routes != expected || (routes > 0 && (text.compare(0, 2, ",{") != 0 || text.back() != '}'))) abort();
  if (FormatAll(batch.data(), count, 700, false, &routes) != text) abort();
  for (size_t n = count > 64 ? count - 64 : 0; n < count; ++n) {
    std::vector<uint32_t> prefix(batch.begin(), batch.begin() + n);
    const std::string partial = FormatAll(prefix.data(), n, 4096, true, &routes);
    if (partial.size() > text.size() || text.compare(0, partial.size(), partial) != 0) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // libFuzzer hands over an exactly sized heap copy: ASan flags a one-byte overread.
  routeguard::RecordWriter writer;
  CountingSink sink(writer);
  const size_t delivered = routeguard::ParseDatagram(data, size, sink);
  if (delivered != sink.delivered) abort();
  writer.Control(routeguard::record::kDropped, routeguard::record::kMalformed, sink.malformed());
  routeguard::fuzz::CheckRecords(writer.data(), writer.size_bytes() / 4);
  CheckRouteJson(writer.data(), writer.size_bytes() / 4);
  if (writer.size_bytes() < 16) abort();
  writer.Recycle();  // the monitor's path between batches
  if (!writer.empty()) abort();
  return 0;
}
