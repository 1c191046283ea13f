#include "dump_pipeline.h"

#include <poll.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <utility>

namespace routeguard {

DumpPipeline::DumpPipeline(std::unique_ptr<NetlinkMonitor> core, std::function<void()> notify)
    : core_(std::move(core)), notify_(std::move(notify)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int err = errno;
    throw SystemError(err, "eventfd", std::string("cannot create the dump thread's wake-up descriptor: ") +
                                          std::strerror(err));
  }
  stats_ = core_->stats();
}

bool DumpPipeline::started() const { return core_->started(); }

void DumpPipeline::QueueCurrentLocked() {
  std::lock_guard<std::mutex> q(queue_mu_);
  const uint64_t batches = stats_.batches;
  stats_ = core_->stats();
  stats_.batches = batches;
  if (current_.empty()) return;
  ready_.push_back(std::move(current_));
  current_ = RecordWriter();
  if (!spare_.empty()) {
    current_ = std::move(spare_.back());
    spare_.pop_back();
  }
}

bool DumpPipeline::StartReaderLocked() {
  {
    std::lock_guard<std::mutex> q(queue_mu_);
    if (reader_running_) return true;
    if (fatal_ || stop_ || !core_->dumping()) return false;
  }
  // A reader that ended is past its last use of core_mu_: joining here cannot wait on us.
  if (reader_.joinable()) reader_.join();
  if (!reader_.Start([](void* self) { static_cast<DumpPipeline*>(self)->ReaderLoop(); }, this)) {
    return false;  // no thread (EAGAIN): the loop reads the dump itself, as before
  }
  std::lock_guard<std::mutex> q(queue_mu_);
  reader_running_ = true;
  return true;
}

bool DumpPipeline::Run(const std::function<void(NetlinkMonitor&, RecordWriter&)>& op) {
  std::lock_guard<std::mutex> c(core_mu_);
  try {
    op(*core_, current_);
  } catch (...) {
    QueueCurrentLocked();
    throw;
  }
  QueueCurrentLocked();
  return StartReaderLocked();
}

bool DumpPipeline::DrainHere(bool* fatal) {
  std::lock_guard<std::mutex> c(core_mu_);
  *fatal = core_->Drain(current_) == NetlinkMonitor::DrainResult::kFatal;
  QueueCurrentLocked();
  if (*fatal) {
    std::lock_guard<std::mutex> q(queue_mu_);
    fatal_ = true;
    return false;
  }
  return StartReaderLocked();
}

bool DumpPipeline::WaitForSpace() {
  std::unique_lock<std::mutex> q(queue_mu_);
  space_.wait(q, [this] { return stop_ || ready_.size() < kMaxQueuedBatches; });
  return !stop_;
}

void DumpPipeline::ReaderLoop() {
  pollfd fds[2] = {{core_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    if (!WaitForSpace()) return;
    // Blocks until the kernel queued something (POLLERR too: ENOBUFS) or Stop().
    // A failed poll (EINTR, ENOMEM) just tries again: the read below never blocks.
    ::poll(fds, 2, -1);
    if (stop_) return;
    bool done;
    {
      std::lock_guard<std::mutex> c(core_mu_);
      if (stop_) return;
      // A dump batch fills to kMaxBatchBytes and at most one datagram's records past it
      // (a 64 KiB datagram of /32 routes: ~190 KiB of records). Room for that up front,
      // instead of doubling from nothing: each doubling copies the batch and faults in
      // fresh pages, ~20 ms before the first batch of a 1M-route dump reaches JS.
      if (current_.capacity_bytes() == 0) current_.Reserve(kDumpBatchReserveBytes);
      const bool fatal = core_->Drain(current_) == NetlinkMonitor::DrainResult::kFatal;
      QueueCurrentLocked();
      done = fatal || !core_->dumping();
      if (done) {
        // Under core_mu_: a resync() that starts a dump after this sees the reader
        // gone and starts a new one.
        std::lock_guard<std::mutex> q(queue_mu_);
        reader_running_ = false;
        fatal_ = fatal;
      }
    }
    notify_();
    if (done) return;
  }
}

DumpPipeline::ReaderState DumpPipeline::Reap() {
  {
    // Not core_mu_ while the reader runs: it holds that lock for a whole Drain()
    // (tens of ms in a big dump) and takes it again at once, so the loop would
    // wait here, batches ready in the queue, until the queue filled up.
    std::lock_guard<std::mutex> q(queue_mu_);
    if (reader_running_) return ReaderState::kRunning;
  }
  std::lock_guard<std::mutex> c(core_mu_);
  {
    std::lock_guard<std::mutex> q(queue_mu_);
    if (reader_running_) return ReaderState::kRunning;
    if (fatal_) {
      if (reader_.joinable()) reader_.join();
      return ReaderState::kFatal;
    }
  }
  if (reader_.joinable()) reader_.join();
  if (StartReaderLocked()) return ReaderState::kRunning;
  TrimLocked();
  return ReaderState::kIdle;
}

void DumpPipeline::TrimLocked() {
  // The dump is over: its batch buffers (megabytes each) are not needed between
  // events, and the reader thread's malloc arena holds them until trimmed.
  if (current_.empty()) current_.Release();
  std::lock_guard<std::mutex> q(queue_mu_);
  spare_.clear();
  untrimmed_ = true;  // TrimIfIdle() returns it before the next batch reaches JS
}

bool DumpPipeline::Pop(RecordWriter* out) {
  std::lock_guard<std::mutex> q(queue_mu_);
  if (ready_.empty()) return false;
  *out = std::move(ready_.front());
  ready_.pop_front();
  ++stats_.batches;
  space_.notify_one();
  return true;
}

void DumpPipeline::Recycle(RecordWriter&& writer) {
  constexpr size_t kLargeBytes = 1u << 20;
  std::lock_guard<std::mutex> q(queue_mu_);
  if (reader_running_ && spare_.size() < kMaxQueuedBatches) {
    writer.Recycle();
    spare_.push_back(std::move(writer));
    return;
  }
  if (writer.capacity_bytes() >= kLargeBytes) untrimmed_ = true;
  writer.Release();
}

void DumpPipeline::TrimIfIdle() {
  {
    std::lock_guard<std::mutex> q(queue_mu_);
    if (reader_running_ || !untrimmed_) return;
    untrimmed_ = false;
  }
#ifdef __GLIBC__
  // The reader's malloc arena keeps freed batch buffers until trimmed.
  malloc_trim(0);
#endif
}

MonitorStats DumpPipeline::Stats() {
  std::lock_guard<std::mutex> q(queue_mu_);
  return stats_;
}

void DumpPipeline::Stop() {
  if (wake_fd_ < 0) return;
  stop_ = true;
  const uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof(one));
  (void)ignored;
  {
    std::lock_guard<std::mutex> q(queue_mu_);
    space_.notify_all();
  }
  // Joined without core_mu_: the reader may be waiting for it, and sees stop_ once it has it.
  // Only the JS thread starts readers, and it is here.
  if (reader_.joinable()) reader_.join();
  std::lock_guard<std::mutex> c(core_mu_);
  core_->Close();
  current_.Release();
  std::lock_guard<std::mutex> q(queue_mu_);
  ready_.clear();
  spare_.clear();
  reader_running_ = false;
  ::close(wake_fd_);
  wake_fd_ = -1;
}

}  // namespace routeguard
