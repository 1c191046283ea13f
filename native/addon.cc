// The Node-API surface (src/native/binding-types.ts): Monitor, RouteLookup, parse.
// Thin by design: validation and conversion at the boundary; the socket layer
// (netlink_socket, route_lookup) does the work, src/ owns the policy.
//
// I/O: a uv_poll_t on the environment's own loop watches the non-blocking
// netlink socket; no timers. Each readable event drains the socket (bounded per
// batch) and calls onBatch once with an ArrayBuffer of records, through
// MakeCallback and an async context, so AsyncLocalStorage survives. The only
// thread is the short-lived one that opens sockets inside another namespace.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "netlink_parse.h"
#include "netlink_socket.h"
#include "record_encoder.h"
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

// ---- Monitor -----------------------------------------------------------------

class Monitor;

// Outlives the Monitor when needed: libuv owns the handle's memory from
// uv_close() until the close callback.
struct PollWatcher {
  uv_poll_t handle;  // first member: the uv_poll_t* converts back to PollWatcher*
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
                       });
  }

  explicit Monitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Monitor>(info) {
    Napi::Env env = info.Env();
    Napi::Object options = ReadOptions(info[0], "options");
    std::string netns = ReadNetns(options.Get("netns"));
    uint32_t rcvbuf = NetlinkMonitor::kDefaultReceiveBufferBytes;
    Napi::Value bytes = options.Get("receiveBufferBytes");
    if (!IsAbsent(bytes)) rcvbuf = ReadUint32(bytes, "receiveBufferBytes", 1, INT_MAX);
    if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "onBatch must be a function");
    // The callback lives on the JS object (not in a strong native reference), so
    // a monitor whose callback closes over it can still be garbage collected.
    Value().DefineProperty(Napi::PropertyDescriptor::Value(OnBatchKey(env), info[1], napi_configurable));
    // The resource is this object: an AsyncLocalStorage store active here is
    // the one active in onBatch.
    async_context_ = std::make_unique<Napi::AsyncContext>(env, "routeguard.Monitor", Value());

    try {
      // Both sockets at once, from one thread inside the namespace: lookups keep
      // answering for the namespace we watch even if its name is deleted and
      // reused, or the process later drops CAP_SYS_ADMIN.
      std::vector<UniqueFd> fds = OpenRouteSockets(netns, 2);
      core_ = std::make_unique<NetlinkMonitor>(std::move(fds[0]), rcvbuf);
      lookup_ = std::make_unique<RouteLookup>(std::move(fds[1]));
    } catch (const SystemError& e) {
      throw ToJsError(env, e);
    }

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      throw Napi::Error::New(env, "cannot get the event loop of this environment");
    }
    auto* watcher = new PollWatcher();
    int err = uv_poll_init(loop, &watcher->handle, core_->fd());
    if (err != 0) {
      delete watcher;  // never registered with the loop
      throw Napi::Error::New(env, std::string("uv_poll_init failed: ") + uv_strerror(err));
    }
    watcher->owner = this;
    watcher_ = watcher;
    // worker.terminate() tears the environment down with our handle open; an
    // async cleanup hook lets us close it first (the hook is removed in the
    // handle's close callback, which also tells Node the cleanup is done).
    if (napi_add_async_cleanup_hook(env, OnEnvCleanup, watcher, &watcher->cleanup_hook) != napi_ok) {
      watcher->cleanup_hook = nullptr;
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
    if (!watcher_) throw StateError(env, "start(): the monitor is closed");
    if (core_->started()) throw StateError(env, "start(): the monitor is already started");
    int err = uv_poll_start(&watcher_->handle, UV_READABLE, OnPoll);
    if (err != 0) throw Napi::Error::New(env, std::string("uv_poll_start failed: ") + uv_strerror(err));
    try {
      core_->Start(pending_);
    } catch (const SystemError& e) {
      uv_poll_stop(&watcher_->handle);
      throw ToJsError(env, e);
    }
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
    if (!watcher_ || lookup_->closed()) throw StateError(env, "lookup(): the monitor is closed");
    return RunLookup(env, *lookup_, info[0]);
  }

  Napi::Value Resync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!watcher_) throw StateError(env, "resync(): the monitor is closed");
    if (!core_->started()) throw StateError(env, "resync(): call start() first");
    try {
      core_->Resync(pending_);
    } catch (const SystemError& e) {
      throw ToJsError(env, e);
    }
    return env.Undefined();
  }

  Napi::Value RefHandle(const Napi::CallbackInfo& info) {
    if (watcher_) uv_ref(reinterpret_cast<uv_handle_t*>(&watcher_->handle));
    return info.Env().Undefined();
  }

  Napi::Value UnrefHandle(const Napi::CallbackInfo& info) {
    if (watcher_) uv_unref(reinterpret_cast<uv_handle_t*>(&watcher_->handle));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (watcher_) {
      Release();
      Value().Delete(OnBatchKey(env));  // let the callback (and what it holds) go
    }
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const MonitorStats& s = core_->stats();
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

  // Stops polling and closes the socket; the handle's memory goes in its close
  // callback. Idempotent; safe from close(), the destructor (GC), the
  // environment cleanup hook, and from inside onBatch.
  void Release() {
    if (!watcher_) return;
    PollWatcher* watcher = watcher_;
    watcher_ = nullptr;
    watcher->owner = nullptr;
    // uv_close stops the poll at once (uv__poll_stop): after it, libuv no longer
    // refers to the descriptor, so closing the socket cannot hit a reused fd.
    uv_close(reinterpret_cast<uv_handle_t*>(&watcher->handle), OnHandleClosed);
    core_->Close();
    lookup_->Close();
    pending_.Release();  // records nobody will receive
    if (held_) {
      held_ = false;
      Unref();  // may make this object collectable; nothing touches it after
    }
  }

  static void OnHandleClosed(uv_handle_t* handle) {
    auto* watcher = reinterpret_cast<PollWatcher*>(handle);
    if (watcher->cleanup_hook) napi_remove_async_cleanup_hook(watcher->cleanup_hook);
    delete watcher;
  }

  static void OnEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
    auto* watcher = static_cast<PollWatcher*>(arg);
    // If the monitor already let go, its uv_close is pending and the close
    // callback removes the hook, which completes this cleanup.
    if (watcher->owner) watcher->owner->Release();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* watcher = reinterpret_cast<PollWatcher*>(handle);
    if (watcher->owner) watcher->owner->OnReadable(status);
  }

  void OnReadable(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // The JS object may already be collected while its finalizer (which calls
    // Release()) has not run yet: nobody is listening any more.
    if (Value().IsEmpty()) return Release();
    try {
      // On POLLERR libuv stops the handle and reports UV_EBADF (uv__poll_io).
      // Netlink raises POLLERR for a pending socket error, i.e. ENOBUFS after an
      // overflow: read to learn what it is, then poll again.
      NetlinkMonitor::DrainResult result = core_->Drain(pending_);
      if (result == NetlinkMonitor::DrainResult::kFatal) {
        uv_poll_stop(&watcher_->handle);
      } else if (status < 0) {
        int err = uv_poll_start(&watcher_->handle, UV_READABLE, OnPoll);
        if (err != 0) {
          pending_.Error(-err, std::string("cannot resume polling the netlink socket: ") + uv_strerror(err));
        }
      }
      Deliver(env);
    } catch (const Napi::Error& e) {
      // A Node-API call failed (while a worker terminates, most likely): report
      // it if JS can still hear it. C++ exceptions must not unwind into libuv.
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

  void Deliver(Napi::Env env) {
    if (pending_.empty()) return;
    Napi::ArrayBuffer batch = ToArrayBuffer(env, pending_);
    pending_.Recycle();
    core_->CountBatch();
    Napi::Value fn = Value().Get(OnBatchKey(env));
    if (!fn.IsFunction()) return;
    napi_value argv[] = {batch};
    napi_value result;
    // Keep the wrapper alive while JS runs: the callback may drop the last
    // reference to it (close() inside onBatch is fine: Release() is idempotent).
    Ref();
    napi_status status = napi_make_callback(env, static_cast<napi_async_context>(*async_context_),
                                            Value(), fn, 1, argv, &result);
    Unref();
    if (status == napi_ok) return;
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

  std::unique_ptr<NetlinkMonitor> core_;
  std::unique_ptr<RouteLookup> lookup_;  // same namespace as core_ (see the constructor)
  bool held_ = false;                    // the strong reference taken by start()
  PollWatcher* watcher_ = nullptr;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  RecordWriter pending_;  // records for the next batch (start()/resync() write here too)
};

// ---- RouteLookup -------------------------------------------------------------

class Lookup : public Napi::ObjectWrap<Lookup> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RouteLookup",
                       {
                           InstanceMethod<&Lookup::Get>("get"),
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
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "tcpKeepalive() needs a socket descriptor");
  int fd = info[0].As<Napi::Number>().Int32Value();
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
