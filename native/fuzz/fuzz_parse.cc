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

// Formats every route record of a checked batch as a dump reply (whatever the datagram's
// NLM_F_MULTI said): the formatter must take all the encoder writes, one object per route.
// Then every shorter prefix of the batch, each in an exactly sized heap copy so that ASan
// sees a read past it: the formatter must stop with kMalformed or kOk, never read on.
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
  std::string text;
  size_t routes = 0;
  if (routeguard::AppendDumpedRoutesJson(batch.data(), count, text, &routes) != routeguard::RouteJsonStatus::kOk) abort();
  if (routes != expected || (routes > 0 && (text.compare(0, 2, ",{") != 0 || text.back() != '}'))) abort();
  for (size_t n = count > 64 ? count - 64 : 0; n < count; ++n) {
    std::vector<uint32_t> prefix(batch.begin(), batch.begin() + n);
    std::string partial;
    routeguard::AppendDumpedRoutesJson(prefix.data(), n, partial, &routes);
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
