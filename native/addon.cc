// The Node-API surface (src/native/binding-types.ts): Monitor, RouteLookup, parse.
// Thin by design: validation and conversion at the boundary; the socket layer
// (netlink_socket, route_lookup) does the work, src/ owns the policy.
//
// I/O: between dumps a uv_poll_t on the environment's own loop watches the
// non-blocking netlink socket; no timers. Each readable event drains the socket
// (bounded per batch). While a dump sequence runs, a reader thread of the
// monitor's own reads it instead (dump_pipeline.h: the kernel's dump time then
// overlaps the JS mirror's) and wakes the loop with a uv_async_t. Either way
// onBatch is called once per batch, in socket order, with an ArrayBuffer of
// records, through MakeCallback and an async context, so AsyncLocalStorage
// survives. The other thread is the short-lived one that opens sockets inside
// another namespace.
#include <napi.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dump_pipeline.h"
#include "netlink_parse.h"
#include "netlink_socket.h"
#include "record_encoder.h"
#include "route_json.h"
#include "route_lookup.h"
#include "tcp_info.h"

namespace routeguard {
namespace {

// ---- Errors ----------------------------------------------------------------

std::string ErrnoName(int errnum) {
  char name[64];
  uv_err_name_r(-errnum, name, sizeof(name));  // libuv's codes are -errno on Unix
  return name;
}

// An Error shaped like Node's system errors, except that errno is positive.
Napi::Error ToJsError(Napi::Env env, const SystemError& e) {
  Napi::Error error = Napi::Error::New(env, e.message());
  Napi::Object obj = error.Value();
  obj.Set("code", ErrnoName(e.errnum()));
  obj.Set("errno", e.errnum());
  if (!e.syscall().empty()) obj.Set("syscall", e.syscall());
  if (!e.extack().empty()) obj.Set("extack", e.extack());
  return error;
}

Napi::Error StateError(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("code", "ERR_INVALID_STATE");
  return error;
}

// ---- Conversions -------------------------------------------------------------

// Copies the records into an ArrayBuffer V8 allocates and accounts for (an
// external buffer would hide its memory from the GC's heuristics), so the
// writer's own buffer can be reused for the next batch.
Napi::ArrayBuffer ToArrayBuffer(Napi::Env env, const RecordWriter& records) {
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, records.size_bytes());
  if (records.size_bytes() > 0) std::memcpy(buffer.Data(), records.data(), records.size_bytes());
  return buffer;
}

bool IsAbsent(const Napi::Value& v) { return v.IsUndefined(); }

std::string ReadNetns(const Napi::Value& v) {
  if (IsAbsent(v)) return {};
  if (!v.IsString()) {
    throw Napi::TypeError::New(v.Env(), "netns must be a string path (/run/netns/NAME or /proc/PID/ns/net)");
  }
  std::string path = v.As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(
        v.Env(), "netns must be a non-empty string path without NUL bytes (/run/netns/NAME or /proc/PID/ns/net)");
  }
  return path;
}

// An integer in [min, max]: TypeError when not a number, RangeError when out of range.
uint32_t ReadUint32(const Napi::Value& v, const char* name, double min, double max) {
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a number");
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    throw Napi::RangeError::New(v.Env(), std::string(name) + " must be an integer from " +
                                             std::to_string(static_cast<uint64_t>(min)) + " to " +
                                             std::to_string(static_cast<uint64_t>(max)));
  }
  return static_cast<uint32_t>(d);
}

Napi::Object ReadOptions(const Napi::Value& v, const char* what) {
  if (IsAbsent(v)) return Napi::Object::New(v.Env());
  if (!v.IsObject() || v.IsFunction()) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an object");
  }
  return v.As<Napi::Object>();
}

// ---- Route queries -----------------------------------------------------------

IpBytes ReadAddress(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      v.As<Napi::Uint8Array>().ElementLength() != 16) {
    throw Napi::TypeError::New(v.Env(), std::string(name) +
                                            " must be a Uint8Array of 16 bytes (IPv4 in the first 4)");
  }
  IpBytes bytes{};
  std::memcpy(bytes.data(), v.As<Napi::Uint8Array>().Data(), bytes.size());
  return bytes;
}

RouteQuery ReadQuery(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsObject() || v.IsFunction()) throw Napi::TypeError::New(env, "query must be an object");
  Napi::Object q = v.As<Napi::Object>();
  RouteQuery query;
  Napi::Value family = q.Get("family");
  if (!family.IsNumber() || (family.As<Napi::Number>().DoubleValue() != 4 &&
                             family.As<Napi::Number>().DoubleValue() != 6)) {
    throw Napi::TypeError::New(env, "query.family must be 4 or 6");
  }
  query.family = static_cast<uint8_t>(family.As<Napi::Number>().Uint32Value());
  query.to = ReadAddress(q.Get("to"), "query.to");
  Napi::Value from = q.Get("from");
  if (!IsAbsent(from)) {
    query.has_from = true;
    query.from = ReadAddress(from, "query.from");
  }
  struct Field {
    const char* key;
    const char* name;
    bool* has;
    uint32_t* value;
  } fields[] = {
      {"oif", "query.oif", &query.has_oif, &query.oif},
      {"iif", "query.iif", &query.has_iif, &query.iif},
      {"mark", "query.mark", &query.has_mark, &query.mark},
      {"uid", "query.uid", &query.has_uid, &query.uid},
  };
  for (const Field& f : fields) {
    Napi::Value value = q.Get(f.key);
    if (IsAbsent(value)) continue;
    *f.has = true;
    *f.value = ReadUint32(value, f.name, 0, UINT32_MAX);
  }
  return query;
}

// Runs one RTM_GETROUTE and returns the route as a one-record buffer.
Napi::Value RunLookup(Napi::Env env, RouteLookup& lookup, const Napi::Value& query_value) {
  RouteQuery query = ReadQuery(query_value);
  Route route;
  try {
    route = lookup.Get(query);
  } catch (const SystemError& e) {
    throw ToJsError(env, e);
  }
  RecordWriter out;
  out.Route(false, route, 0);
  return ToArrayBuffer(env, out);
}

// Runs a batch of RTM_GETROUTE (packed queries, native/query_format.h) and returns
// one record per query, in order: the route (kRouteNew) or why not (kLookupError).
Napi::Value RunLookupMany(Napi::Env env, RouteLookup& lookup, const Napi::Value& packed) {
  if (!packed.IsTypedArray() || packed.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "queries must be a Uint8Array of packed query records (RouteQueryBatch)");
  }
  Napi::Uint8Array bytes = packed.As<Napi::Uint8Array>();
  std::vector<RouteQuery> queries;
  std::string problem = DecodeQueries(bytes.Data(), bytes.ElementLength(), queries);
  if (!problem.empty()) throw Napi::RangeError::New(env, problem);
  std::vector<LookupAnswer> answers;
  try {
    lookup.GetMany(queries.data(), queries.size(), answers);
  } catch (const SystemError& e) {
    throw ToJsError(env, e);
  }
  RecordWriter out;
  for (const LookupAnswer& answer : answers) {
    if (answer.error == 0) {
      out.Route(false, answer.route, 0);
    } else {
      out.LookupError(answer.error, ErrnoName(answer.error), answer.message);
    }
  }
  return ToArrayBuffer(env, out);
}

// ---- Monitor -----------------------------------------------------------------

class Monitor;

// Outlives the Monitor when needed: libuv owns the handles' memory from
// uv_close() until both close callbacks ran.
struct LoopHandles {
  uv_poll_t poll;    // the socket, polled on the loop between dumps
  uv_async_t async;  // the dump reader's "batches are ready" (and "the dump is over")
  int open = 0;      // handles initialised and not yet closed
  Monitor* owner = nullptr;  // null once the monitor let go
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
};

class Monitor : public Napi::ObjectWrap<Monitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Monitor",
                       {
                           InstanceMethod<&Monitor::Start>("start"),
                           InstanceMethod<&Monitor::Resync>("resync"),
                           InstanceMethod<&Monitor::RefHandle>("ref"),
                           InstanceMethod<&Monitor::UnrefHandle>("unref"),
                           InstanceMethod<&Monitor::Close>("close"),
                           InstanceMethod<&Monitor::Stats>("stats"),
                           InstanceMethod<&Monitor::LookupRoute>("lookup"),
                           InstanceMethod<&Monitor::LookupRoutes>("lookupMany"),
                       });
  }

  explicit Monitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Monitor>(info) {
    Napi::Env env = info.Env();
    Napi::Object options = ReadOptions(info[0], "options");
    std::string netns = ReadNetns(options.Get("netns"));
    uint32_t rcvbuf = NetlinkMonitor::kDefaultReceiveBufferBytes;
    Napi::Value bytes = options.Get("receiveBufferBytes");
    if (!IsAbsent(bytes)) rcvbuf = ReadUint32(bytes, "receiveBufferBytes", 1, INT_MAX);
    bool dump_routes = true;
    Napi::Value routes = options.Get("dumpRoutes");
    if (!IsAbsent(routes)) {
      if (!routes.IsBoolean()) throw Napi::TypeError::New(env, "dumpRoutes must be a boolean");
      dump_routes = routes.As<Napi::Boolean>().Value();
    }
    Napi::Value reuse = options.Get("reuseBatchBuffer");
    if (!IsAbsent(reuse)) {
      if (!reuse.IsBoolean()) throw Napi::TypeError::New(env, "reuseBatchBuffer must be a boolean");
      reuse_batch_buffer_ = reuse.As<Napi::Boolean>().Value();
    }
    if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "onBatch must be a function");
    // The callback lives on the JS object (not in a strong native reference), so
    // a monitor whose callback closes over it can still be garbage collected.
    Value().DefineProperty(Napi::PropertyDescriptor::Value(OnBatchKey(env), info[1], napi_configurable));
    // The resource is this object: an AsyncLocalStorage store active here is
    // the one active in onBatch.
    async_context_ = std::make_unique<Napi::AsyncContext>(env, "routeguard.Monitor", Value());

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      throw Napi::Error::New(env, "cannot get the event loop of this environment");
    }
    auto* handles = new LoopHandles();
    try {
      // Both sockets at once, from one thread inside the namespace: lookups keep
      // answering for the namespace we watch even if its name is deleted and
      // reused, or the process later drops CAP_SYS_ADMIN.
      std::vector<UniqueFd> fds = OpenRouteSockets(netns, 2);
      auto core = std::make_unique<NetlinkMonitor>(std::move(fds[0]), rcvbuf);
      lookup_ = std::make_unique<RouteLookup>(std::move(fds[1]));
      // The reader thread wakes the loop; uv_async_send is the one libuv call
      // that is safe from another thread. The pipeline joins the reader before
      // the handle is closed (Release), so the handle outlives every send.
      uv_async_t* async = &handles->async;
      pipeline_ = std::make_unique<DumpPipeline>(std::move(core), [async] { uv_async_send(async); });
      pipeline_->SetDumpRoutes(dump_routes);
    } catch (const SystemError& e) {
      delete handles;
      throw ToJsError(env, e);
    }

    int err = uv_poll_init(loop, &handles->poll, pipeline_->fd());
    if (err == 0) {
      ++handles->open;
      err = uv_async_init(loop, &handles->async, OnAsync);
      if (err == 0) ++handles->open;
    }
    handles->poll.data = handles;
    handles->async.data = handles;
    handles->owner = this;
    handles_ = handles;
    if (err != 0) {
      Release();
      throw Napi::Error::New(env, std::string("cannot watch the netlink socket: ") + uv_strerror(err));
    }
    // An async handle keeps the loop alive whenever it is referenced: only while
    // the reader runs (and the user wants the monitor to hold the process).
    uv_unref(reinterpret_cast<uv_handle_t*>(&handles->async));
    // worker.terminate() tears the environment down with our handles open; an
    // async cleanup hook lets us close them first (the hook is removed once both
    // are closed, which also tells Node the cleanup is done).
    if (napi_add_async_cleanup_hook(env, OnEnvCleanup, handles, &handles->cleanup_hook) != napi_ok) {
      handles->cleanup_hook = nullptr;
      Release();
      throw Napi::Error::New(env, "cannot register an environment cleanup hook");
    }
  }

  ~Monitor() override { Release(); }

 private:
  static Napi::Symbol OnBatchKey(Napi::Env env) {
    return Napi::Symbol::For(env, "routeguard.Monitor.onBatch");
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!handles_) throw StateError(env, "start(): the monitor is closed");
    if (pipeline_->started()) throw StateError(env, "start(): the monitor is already started");
    bool reading;
    try {
      reading = pipeline_->Run([](NetlinkMonitor& core, RecordWriter& out) { core.Start(out); });
    } catch (const SystemError& e) {
      throw ToJsError(env, e);
    }
    SetReaderRunning(reading);
    // A started monitor lives until close(), as Node's own handles do: without
    // this strong reference a monitor reachable only from its listeners, a
    // pending start() promise or a suspended async function is collected, its
    // socket closed, and the process exits with nothing said.
    Ref();
    held_ = true;
    return env.Undefined();
  }

  Napi::Value LookupRoute(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!handles_ || lookup_->closed()) throw StateError(env, "lookup(): the monitor is closed");
    return RunLookup(env, *lookup_, info[0]);
  }

  Napi::Value LookupRoutes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!handles_ || lookup_->closed()) throw StateError(env, "lookupMany(): the monitor is closed");
    return RunLookupMany(env, *lookup_, info[0]);
  }

  Napi::Value Resync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!handles_) throw StateError(env, "resync(): the monitor is closed");
    if (!pipeline_->started()) throw StateError(env, "resync(): call start() first");
    bool reading;
    try {
      reading = pipeline_->Run([](NetlinkMonitor& core, RecordWriter& out) { core.Resync(out); });
    } catch (const SystemError& e) {
      throw ToJsError(env, e);
    }
    SetReaderRunning(reading);
    return env.Undefined();
  }

  Napi::Value RefHandle(const Napi::CallbackInfo& info) {
    user_ref_ = true;
    if (handles_) {
      uv_ref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
      if (reader_running_) uv_ref(reinterpret_cast<uv_handle_t*>(&handles_->async));
    }
    return info.Env().Undefined();
  }

  Napi::Value UnrefHandle(const Napi::CallbackInfo& info) {
    user_ref_ = false;
    if (handles_) {
      uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
      uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->async));
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (handles_) {
      Release();
      Value().Delete(OnBatchKey(env));  // let the callback (and what it holds) go
    }
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const MonitorStats s = pipeline_->Stats();
    Napi::Object out = Napi::Object::New(env);
    out.Set("portId", s.port_id);
    out.Set("receiveBufferBytes", s.receive_buffer_bytes);
    out.Set("overflows", static_cast<double>(s.overflows));
    out.Set("droppedNotFromKernel", static_cast<double>(s.dropped_not_from_kernel));
    out.Set("droppedTruncated", static_cast<double>(s.dropped_truncated));
    out.Set("droppedMalformed", static_cast<double>(s.dropped_malformed));
    out.Set("dumpRetries", static_cast<double>(s.dump_retries));
    out.Set("dumpErrors", static_cast<double>(s.dump_errors));
    out.Set("messages", static_cast<double>(s.messages));
    out.Set("batches", static_cast<double>(s.batches));
    return out;
  }

  // The socket is read either by the loop (uv_poll) or by the dump reader, never both.
  void SetReaderRunning(bool running) {
    reader_running_ = running;
    if (!handles_) return;
    auto* async = reinterpret_cast<uv_handle_t*>(&handles_->async);
    if (running) {
      uv_poll_stop(&handles_->poll);
      if (user_ref_) uv_ref(async);
      return;
    }
    uv_unref(async);
    int err = uv_poll_start(&handles_->poll, UV_READABLE, OnPoll);
    if (err != 0) {
      std::string text = std::string("cannot poll the netlink socket: ") + uv_strerror(err);
      pipeline_->Run([&](NetlinkMonitor&, RecordWriter& out) { out.Error(-err, text); });
    }
  }

  // Stops the reader and polling, closes the sockets; the handles' memory goes
  // in their close callbacks. Idempotent; safe from close(), the destructor
  // (GC), the environment cleanup hook, and from inside onBatch.
  void Release() {
    if (!handles_) return;
    LoopHandles* handles = handles_;
    handles_ = nullptr;
    handles->owner = nullptr;
    // The poll first, while its descriptor is still open: uv_close stops it at once
    // (uv__poll_stop takes the descriptor out of epoll), and libuv asks that a polled
    // descriptor never be closed under it. Its memory lives until OnHandleClosed.
    const int open = handles->open;
    if (open >= 1) uv_close(reinterpret_cast<uv_handle_t*>(&handles->poll), OnHandleClosed);
    // Then the reader is joined: after this nothing calls uv_async_send, and nothing
    // reads the socket, which Stop() closes.
    if (pipeline_) pipeline_->Stop();
    if (open == 0) {
      delete handles;
    } else if (open >= 2) {
      uv_close(reinterpret_cast<uv_handle_t*>(&handles->async), OnHandleClosed);
    }
    if (lookup_) lookup_->Close();
    reuse_.Reset();
    if (held_) {
      held_ = false;
      Unref();  // may make this object collectable; nothing touches it after
    }
  }

  static void OnHandleClosed(uv_handle_t* handle) {
    auto* handles = static_cast<LoopHandles*>(handle->data);
    if (--handles->open > 0) return;
    if (handles->cleanup_hook) napi_remove_async_cleanup_hook(handles->cleanup_hook);
    delete handles;
  }

  static void OnEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
    auto* handles = static_cast<LoopHandles*>(arg);
    // If the monitor already let go, its uv_close calls are pending and the last
    // close callback removes the hook, which completes this cleanup.
    if (handles->owner) handles->owner->Release();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* handles = static_cast<LoopHandles*>(handle->data);
    if (handles->owner) handles->owner->OnReadable(status);
  }

  static void OnAsync(uv_async_t* handle) {
    auto* handles = static_cast<LoopHandles*>(handle->data);
    if (handles->owner) handles->owner->OnReaderSignal();
  }

  // Runs `step` with a handle scope and turns failures into uncaught exceptions:
  // C++ exceptions must not unwind into libuv.
  template <typename Step>
  void OnLoop(Step step) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // The JS object may already be collected while its finalizer (which calls
    // Release()) has not run yet: nobody is listening any more.
    if (Value().IsEmpty()) return Release();
    try {
      step();
      Deliver(env);
    } catch (const Napi::Error& e) {
      // A Node-API call failed (while a worker terminates, most likely): report
      // it if JS can still hear it.
      if (!e.IsEmpty()) napi_fatal_exception(env, e.Value());
    } catch (const std::exception& e) {
      napi_value message;
      napi_value error;
      std::string text = std::string("routeguard: ") + e.what();
      if (napi_create_string_utf8(env, text.c_str(), text.size(), &message) == napi_ok &&
          napi_create_error(env, nullptr, message, &error) == napi_ok) {
        napi_fatal_exception(env, error);
      }
    }
  }

  void OnReadable(int status) {
    OnLoop([&] {
      // On POLLERR libuv stops the handle and reports UV_EBADF (uv__poll_io).
      // Netlink raises POLLERR for a pending socket error, i.e. ENOBUFS after an
      // overflow: read to learn what it is, then poll again.
      bool fatal = false;
      bool reading = pipeline_->DrainHere(&fatal);
      if (fatal) {
        uv_poll_stop(&handles_->poll);
      } else if (reading) {
        SetReaderRunning(true);  // a recovery dump started: the reader takes the socket
      } else if (status < 0) {
        SetReaderRunning(false);  // polls again
      }
    });
  }

  void OnReaderSignal() {
    OnLoop([&] {
      // An ended reader is joined before its last batches are delivered, so their
      // buffers are freed (and trimmed) before JS hears the sync is done. Polling
      // resumes now but its callback runs only after this one: what the loop reads
      // then is newer than everything the reader queued, which Deliver() (in OnLoop)
      // hands over first.
      if (!reader_running_) return;
      switch (pipeline_->Reap()) {
        case DumpPipeline::ReaderState::kRunning: break;
        case DumpPipeline::ReaderState::kIdle: SetReaderRunning(false); break;
        case DumpPipeline::ReaderState::kFatal:
          reader_running_ = false;
          uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->async));
          break;
      }
    });
  }

  // The batch as an ArrayBuffer V8 allocates and accounts for (an external
  // buffer would hide its memory from the GC's heuristics), so the writer's own
  // buffer is reused for the next batch. With reuseBatchBuffer one ArrayBuffer
  // serves every batch (onBatch must not keep it): a dump then leaves no
  // megabytes of garbage per batch for the GC to find.
  Napi::ArrayBuffer BatchBuffer(Napi::Env env, const RecordWriter& records) {
    const size_t size = records.size_bytes();
    // Between dumps one small buffer serves the events; a dump's megabytes do not
    // outlive it (the last batches of a dump are delivered after its reader ended).
    if (!reader_running_ && !reuse_.IsEmpty() && reuse_.Value().ByteLength() > kMinReuseBytes) reuse_.Reset();
    if (!reuse_batch_buffer_ || (!reader_running_ && size > kMinReuseBytes)) return ToArrayBuffer(env, records);
    Napi::ArrayBuffer buffer;
    if (!reuse_.IsEmpty()) buffer = reuse_.Value();
    // Keep what a dump's batches need; let it go when batches shrink (events).
    const size_t capacity = buffer.IsEmpty() ? 0 : buffer.ByteLength();
    if (capacity < size || capacity > std::max(kMinReuseBytes, size * 16)) {
      buffer = Napi::ArrayBuffer::New(env, std::max(kMinReuseBytes, size));
      reuse_ = Napi::Persistent(buffer);
    }
    if (size > 0) std::memcpy(buffer.Data(), records.data(), size);
    return buffer;
  }

  void Deliver(Napi::Env env) {
    RecordWriter records;
    while (handles_ && pipeline_->Pop(&records)) {
      Napi::ArrayBuffer batch = BatchBuffer(env, records);
      const double length = static_cast<double>(records.size_bytes());
      pipeline_->Recycle(std::move(records));
      records = RecordWriter();
      pipeline_->TrimIfIdle();
      Napi::Value fn = Value().Get(OnBatchKey(env));
      if (!fn.IsFunction()) continue;
      napi_value argv[] = {batch, Napi::Number::New(env, length)};
      napi_value result;
      // Keep the wrapper alive while JS runs: the callback may drop the last
      // reference to it (close() inside onBatch is fine: Release() is idempotent
      // and ends this loop).
      Ref();
      napi_status status = napi_make_callback(env, static_cast<napi_async_context>(*async_context_),
                                              Value(), fn, 2, argv, &result);
      Unref();
      if (status == napi_ok) continue;
      // The callback threw: surface it as an uncaught exception, as for any other
      // callback. Our state was settled before the call, so nothing is half-done.
      // While a worker is terminating nothing is pending and JS cannot run.
      bool pending = false;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
        napi_value exception;
        if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) {
          napi_fatal_exception(env, exception);
        }
      }
    }
  }

  static constexpr size_t kMinReuseBytes = 64 * 1024;

  std::unique_ptr<DumpPipeline> pipeline_;  // the monitor's socket, its reader, its batches
  std::unique_ptr<RouteLookup> lookup_;  // same namespace as the monitor (see the constructor)
  bool held_ = false;                    // the strong reference taken by start()
  bool user_ref_ = true;                 // ref()/unref()
  bool reader_running_ = false;          // the dump reader has the socket
  bool reuse_batch_buffer_ = false;
  Napi::Reference<Napi::ArrayBuffer> reuse_;
  LoopHandles* handles_ = nullptr;
  std::unique_ptr<Napi::AsyncContext> async_context_;
};

// ---- RouteLookup -------------------------------------------------------------

class Lookup : public Napi::ObjectWrap<Lookup> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RouteLookup",
                       {
                           InstanceMethod<&Lookup::Get>("get"),
                           InstanceMethod<&Lookup::GetMany>("getMany"),
                           InstanceMethod<&Lookup::Close>("close"),
                       });
  }

  explicit Lookup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Lookup>(info), env_(info.Env()) {
    Napi::Object options = ReadOptions(info[0], "options");
    std::string netns = ReadNetns(options.Get("netns"));
    try {
      core_ = std::make_unique<RouteLookup>(OpenRouteSocket(netns));
    } catch (const SystemError& e) {
      throw ToJsError(info.Env(), e);
    }
    // Close the socket when the environment goes (worker.terminate()) even if
    // the object is never collected.
    if (napi_add_env_cleanup_hook(env_, OnEnvCleanup, this) == napi_ok) hook_registered_ = true;
  }

  ~Lookup() override { Release(); }

 private:
  Napi::Value Get(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (core_->closed()) throw StateError(env, "get(): the route lookup is closed");
    return RunLookup(env, *core_, info[0]);
  }

  Napi::Value GetMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (core_->closed()) throw StateError(env, "getMany(): the route lookup is closed");
    return RunLookupMany(env, *core_, info[0]);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  void Release() {
    if (hook_registered_) {
      napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
      hook_registered_ = false;
    }
    if (core_) core_->Close();
  }

  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<Lookup*>(arg);
    self->hook_registered_ = false;  // Node drops it after calling it
    self->core_->Close();
  }

  napi_env env_;
  std::unique_ptr<RouteLookup> core_;
  bool hook_registered_ = false;
};

// ---- parse -------------------------------------------------------------------

Napi::Value Parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "parse() needs a Uint8Array of netlink datagram bytes");
  }
  Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
  RecordWriter out;
  RecordingSink sink(out);
  ParseDatagram(bytes.Data(), bytes.ElementLength(), sink);
  return ToArrayBuffer(env, out);
}

// routeJson(batch: ArrayBuffer, byteLength, fromByte, out: Uint8Array): { written, next,
// needed }. The dumped routes of a batch as JSON text (native/route_json.h), from the
// record at byte `fromByte` on, written into `out` until it is full; `next` is where to
// go on (byteLength when done); `needed` > out.length: the next route needs a larger `out`.
// The caller's `out` is reused chunk after chunk: no allocation, no fresh pages per batch.
Napi::Value RouteJson(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsTypedArray() ||
      info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "routeJson() needs a record batch (ArrayBuffer), its length, a start offset and a Uint8Array");
  }
  Napi::ArrayBuffer batch = info[0].As<Napi::ArrayBuffer>();
  const double length = info[1].As<Napi::Number>().DoubleValue();
  const double from = info[2].As<Napi::Number>().DoubleValue();
  if (!(length >= 0) || length > static_cast<double>(batch.ByteLength()) || std::fmod(length, 4) != 0 ||
      !(from >= 0) || from > length || std::fmod(from, 4) != 0) {
    throw Napi::RangeError::New(env, "routeJson(): byteLength and fromByte must be multiples of 4 within the batch");
  }
  Napi::Uint8Array out = info[3].As<Napi::Uint8Array>();
  RouteJsonProgress progress;
  const RouteJsonStatus status =
      FormatDumpedRoutesJson(static_cast<const uint32_t*>(batch.Data()), static_cast<size_t>(length) / 4,
                             static_cast<size_t>(from) / 4, reinterpret_cast<char*>(out.Data()),
                             out.ByteLength(), &progress);
  if (status == RouteJsonStatus::kMalformed) {
    throw Napi::Error::New(env, "routeJson(): malformed record batch at byte " + std::to_string(progress.next_word * 4));
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("written", static_cast<double>(progress.written));
  result.Set("next", static_cast<double>(progress.next_word * 4));
  result.Set("needed", static_cast<double>(progress.needed));
  return result;
}

// ---- TCP sockets --------------------------------------------------------------

// tcpInfo(fds: Int32Array): ArrayBuffer of fds.length * kTcpInfoFields doubles
// (native/tcp_info.h). One crossing for any number of sockets; each carries its errno.
Napi::Value TcpInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(env, "tcpInfo() needs an Int32Array of socket descriptors");
  }
  Napi::Int32Array fds = v.As<Napi::Int32Array>();
  size_t count = fds.ElementLength();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, count * kTcpInfoFields * sizeof(double));
  ReadTcpInfo(fds.Data(), count, static_cast<double*>(buffer.Data()));
  return buffer;
}

// tcpKeepalive(fd, set?: Int32Array(5)): Int32Array(6) [errno, SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT] as they were, read before `set` (same
// order without errno; -1 leaves an option) is applied. errno is the first failure's.
Napi::Value TcpKeepaliveFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // An integer descriptor, not a coerced one: NaN, 1.9 or fd + 2^32 would name another
  // descriptor (0, 1, fd) and `set` would change a socket the caller never named.
  const int fd = static_cast<int>(ReadUint32(info[0], "tcpKeepalive(): the socket descriptor", 0, INT32_MAX));
  bool has_set = !info[1].IsUndefined();
  if (has_set && (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
                  info[1].As<Napi::Int32Array>().ElementLength() != 5)) {
    throw Napi::TypeError::New(env, "tcpKeepalive(): values must be an Int32Array of 5 options");
  }
  TcpKeepalive previous;
  int err = GetTcpKeepalive(fd, &previous);
  if (!err && has_set) {
    Napi::Int32Array set = info[1].As<Napi::Int32Array>();
    TcpKeepalive next;
    next.enabled = set[0];
    next.idle_s = set[1];
    next.interval_s = set[2];
    next.count = set[3];
    next.user_timeout_ms = set[4];
    err = SetTcpKeepalive(fd, next);
  }
  Napi::Int32Array out = Napi::Int32Array::New(env, 6);
  out[0] = err;
  out[1] = previous.enabled;
  out[2] = previous.idle_s;
  out[3] = previous.interval_s;
  out[4] = previous.count;
  out[5] = previous.user_timeout_ms;
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Monitor", Monitor::Define(env));
  exports.Set("RouteLookup", Lookup::Define(env));
  exports.Set("parse", Napi::Function::New<Parse>(env, "parse"));
  exports.Set("routeJson", Napi::Function::New<RouteJson>(env, "routeJson"));
  exports.Set("tcpInfo", Napi::Function::New<TcpInfo>(env, "tcpInfo"));
  exports.Set("tcpKeepalive", Napi::Function::New<TcpKeepaliveFn>(env, "tcpKeepalive"));
  return exports;
}

}  // namespace
}  // namespace routeguard

static Napi::Object InitRouteguard(Napi::Env env, Napi::Object exports) {
  return routeguard::Init(env, exports);
}

NODE_API_MODULE(routeguard, InitRouteguard)
