// Carries a NetlinkMonitor's records to the JS thread, in order, and reads dumps
// on a thread of their own. Pure C++ (no Node-API, no libuv): native/addon.cc
// drives it and tells it how to wake the loop.
//
// Why a thread: the kernel builds a dump inside our recvmsg (netlink_recvmsg
// calls netlink_dump once the queue is below half the receive buffer), so on
// the loop's thread the kernel's time and the JS mirror's add up. The reader
// thread does the recvmsg, the parse and the encoding while JS applies the
// previous batch. It exists only while a dump sequence runs (start, resync,
// recovery after an overflow) and is joined before the next one starts or the
// monitor closes; between dumps the loop polls the socket as before.
//
// Order: only one side reads the socket at a time (the loop stops polling
// before the reader starts and polls again only once it has ended), and every
// record, dump reply or event, goes through one FIFO queue. Events that arrive
// during a dump are read by the thread in socket order, between the replies
// they were queued among, exactly as the loop would have read them.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include <pthread.h>
#include <uv.h>
#include <vector>

#include "netlink_socket.h"
#include "record_encoder.h"

namespace routeguard {

// A joinable thread on libuv's API (exported by Node itself): std::thread, from the static
// libstdc++ of a prebuild, would import pthread_create@GLIBC_2.34, which older distributions
// lack (test/portability.test.ts).
// A condition variable on std::mutex's native handle. std::condition_variable is defined in
// libstdc++'s condition_variable.o, which also brings notify_all_at_thread_exit and with it
// pthread_key_create/pthread_once@GLIBC_2.34 into a prebuild; pthread_cond_* need GLIBC_2.3.2.
class Condition {
 public:
  Condition() { pthread_cond_init(&cond_, nullptr); }
  ~Condition() { pthread_cond_destroy(&cond_); }
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  template <typename Predicate>
  void wait(std::unique_lock<std::mutex>& lock, Predicate ready) {
    while (!ready()) pthread_cond_wait(&cond_, lock.mutex()->native_handle());
  }
  void notify_one() { pthread_cond_signal(&cond_); }
  void notify_all() { pthread_cond_broadcast(&cond_); }

 private:
  pthread_cond_t cond_;
};

class ReaderThread {
 public:
  bool Start(void (*entry)(void*), void* arg) {
    if (uv_thread_create(&thread_, entry, arg) != 0) return false;
    joinable_ = true;
    return true;
  }
  bool joinable() const { return joinable_; }
  void join() {
    if (!joinable_) return;
    uv_thread_join(&thread_);
    joinable_ = false;
  }

 private:
  uv_thread_t thread_{};
  bool joinable_ = false;
};

class DumpPipeline {
 public:
  // Batches read ahead of JS at most (each up to NetlinkMonitor::kMaxBatchBytes):
  // the reader waits beyond this, and the kernel then waits for us as it would
  // for a slow loop (dump replies are produced only as we read).
  static constexpr size_t kMaxQueuedBatches = 4;
  // What a fresh batch reserves on the reader thread (see ReaderLoop).
  static constexpr size_t kDumpBatchReserveBytes = NetlinkMonitor::kMaxBatchBytes + (512u << 10);

  // `notify` is called from the reader thread after it queued a batch or ended.
  DumpPipeline(std::unique_ptr<NetlinkMonitor> core, std::function<void()> notify);
  ~DumpPipeline() { Stop(); }
  DumpPipeline(const DumpPipeline&) = delete;
  DumpPipeline& operator=(const DumpPipeline&) = delete;

  // ---- From the JS thread only ----

  int fd() const { return core_->fd(); }
  void SetDumpRoutes(bool dump) { core_->SetDumpRoutes(dump); }  // before the first Run()
  bool started() const;

  // Runs `op(core, writer)` on the monitor under its lock (start, resync), queues
  // what it wrote, and starts the reader when a dump is now running. Returns
  // whether the reader runs (the loop must not poll the socket then).
  bool Run(const std::function<void(NetlinkMonitor&, RecordWriter&)>& op);
  // One drain on the loop's thread (poll mode). `fatal` is set when the socket
  // is unusable. Returns whether the reader now runs (a recovery dump started).
  bool DrainHere(bool* fatal);
  // After the reader signalled: joins it if it ended. kRunning: it still reads;
  // kIdle: poll the socket again; kFatal: the socket is unusable.
  enum class ReaderState { kRunning, kIdle, kFatal };
  ReaderState Reap();

  // The next batch in order; false when none is ready.
  bool Pop(RecordWriter* out);
  // Gives a delivered batch's writer back: kept for reuse while the reader runs,
  // freed otherwise (a dump's megabytes must not outlive it).
  void Recycle(RecordWriter&& writer);
  // Returns freed dump buffers to the system once the reader has ended: called
  // before each batch reaches JS, so the memory is gone by the time the sync is.
  void TrimIfIdle();

  MonitorStats Stats();
  // Stops and joins the reader, closes the socket, drops queued batches. Idempotent.
  void Stop();

 private:
  void ReaderLoop();
  bool StartReaderLocked();        // core_mu_ held
  void QueueCurrentLocked();       // core_mu_ held
  void TrimLocked();               // core_mu_ held; the reader has ended
  bool WaitForSpace();

  std::unique_ptr<NetlinkMonitor> core_;
  std::function<void()> notify_;

  // Lock order: core_mu_, then queue_mu_.
  std::mutex core_mu_;       // core_, current_, reader_ (start/join)
  RecordWriter current_;     // the batch being written
  ReaderThread reader_;

  std::mutex queue_mu_;
  Condition space_;
  std::deque<RecordWriter> ready_;
  std::vector<RecordWriter> spare_;
  MonitorStats stats_;       // a copy taken after every operation on core_
  bool reader_running_ = false;
  bool fatal_ = false;
  bool untrimmed_ = false;   // megabytes were freed since the last malloc_trim

  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;         // eventfd: wakes the reader's poll() on Stop()
};

}  // namespace routeguard
