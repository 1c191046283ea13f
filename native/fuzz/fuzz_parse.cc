// libFuzzer entry: any bytes as one NETLINK_ROUTE datagram. ASan/UBSan catch reads
// outside the input; record_check.h decodes every record written, as
// src/netlink/decode.ts would, and aborts on one that reader would misread.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "../netlink_parse.h"
#include "../record_encoder.h"
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // libFuzzer hands over an exactly sized heap copy: ASan flags a one-byte overread.
  routeguard::RecordWriter writer;
  CountingSink sink(writer);
  const size_t delivered = routeguard::ParseDatagram(data, size, sink);
  if (delivered != sink.delivered) abort();
  writer.Control(routeguard::record::kDropped, routeguard::record::kMalformed, sink.malformed());
  routeguard::fuzz::CheckRecords(writer.data(), writer.size_bytes() / 4);
  if (writer.size_bytes() < 16) abort();
  writer.Recycle();  // the monitor's path between batches
  if (!writer.empty()) abort();
  return 0;
}
