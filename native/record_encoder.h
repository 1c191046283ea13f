// Serialises parsed netlink objects into the record format (record_format.h).
// Pure C++: used by the addon's socket loop and by the parse() test entry point.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "netlink_parse.h"
#include "record_format.h"

namespace routeguard {

// A writer's words. Grows by zeroed runs inline: std::vector's resize(n, 0) is an
// out-of-line call per record (a quarter of the encoder's time in a 1M-route dump).
class RecordWords {
 public:
  RecordWords() = default;
  RecordWords(RecordWords&& other) noexcept { Take(other); }
  RecordWords& operator=(RecordWords&& other) noexcept {
    if (this != &other) {
      Free();
      Take(other);
    }
    return *this;
  }
  RecordWords(const RecordWords&) = delete;
  RecordWords& operator=(const RecordWords&) = delete;
  ~RecordWords() { Free(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  const uint32_t* data() const { return data_; }
  uint32_t& operator[](size_t i) { return data_[i]; }

  // Appends `n` zeroed words; returns the index of the first.
  size_t Extend(size_t n) {
    if (capacity_ - size_ < n) Grow(size_ + n);
    const size_t at = size_;
    std::memset(data_ + at, 0, n * sizeof(uint32_t));
    size_ += n;
    return at;
  }
  // Room for `n` words in all. Throws std::bad_alloc.
  void Reserve(size_t n) {
    if (n > capacity_) Reallocate(n);
  }
  void Clear() { size_ = 0; }
  // Empties and frees.
  void Free();

 private:
  void Grow(size_t need);
  void Reallocate(size_t n);
  void Take(RecordWords& other) {
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }

  uint32_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

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
  void Reserve(size_t bytes) { words_.Reserve(bytes / 4); }

 private:
  RecordWords words_;
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
