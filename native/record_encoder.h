// Serialises parsed netlink objects into the record format (record_format.h).
// Pure C++: used by the addon's socket loop and by the parse() test entry point.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "netlink_parse.h"
#include "record_format.h"

namespace routeguard {


class RecordWriter {
 public:
  void Link(bool removed, const routeguard::Link& link, uint16_t flags);
  void Address(bool removed, const routeguard::Address& addr, uint16_t flags);
  void Route(bool removed, const routeguard::Route& route, uint16_t flags);
  void Nexthop(bool removed, const routeguard::Nexthop& nh, uint16_t flags);
  void Rule(bool removed, const routeguard::FibRule& rule, uint16_t flags);
  void Neighbour(bool removed, const routeguard::Neighbour& neigh, uint16_t flags);
  // Control record with up to two payload words.
  void Control(record::Kind kind, uint32_t w0 = 0, uint32_t w1 = 0);
  void Error(int errnum, const std::string& message);
  // A failed lookup of a batch (query_format.h): positive errno, its code ("ENETUNREACH"), the text.
  void LookupError(int errnum, const std::string& code, const std::string& message);

  size_t size_bytes() const { return words_.size() * 4; }
  bool empty() const { return words_.empty(); }
  const uint32_t* data() const { return words_.data(); }
  size_t capacity_bytes() const { return words_.capacity() * 4; }
  // Empties the writer for the next batch once its records were copied out. The
  // buffer is kept for reuse while batches are as large as what it holds (a
  // dump), and given back once they shrink (events): memory follows the work.
  void Recycle();
  // Empties the writer and frees its buffer.
  void Release();
  // Room for `bytes` of records, so that filling up to them never reallocates.
  void Reserve(size_t bytes) { words_.reserve(bytes / 4); }

 private:
  std::vector<uint32_t> words_;
};

// A MessageSink that writes every parsed object as a record, flagging dump
// replies (NLM_F_MULTI) with record::kFromDump. Malformed messages are counted.
class RecordingSink : public MessageSink {
 public:
  explicit RecordingSink(RecordWriter& out) : out_(out) {}
  void OnLink(const MessageHeader& h, bool removed, const routeguard::Link& v) override;
  void OnAddress(const MessageHeader& h, bool removed, const routeguard::Address& v) override;
  void OnRoute(const MessageHeader& h, bool removed, const routeguard::Route& v) override;
  void OnNexthop(const MessageHeader& h, bool removed, const routeguard::Nexthop& v) override;
  void OnRule(const MessageHeader& h, bool removed, const routeguard::FibRule& v) override;
  void OnNeighbour(const MessageHeader& h, bool removed, const routeguard::Neighbour& v) override;
  void OnMalformed(const MessageHeader&, Malformed) override { ++malformed_; }
  uint32_t malformed() const { return malformed_; }

 private:
  RecordWriter& out_;
  uint32_t malformed_ = 0;
};

}  // namespace routeguard
