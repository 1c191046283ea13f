/*
 * The libuv calls of the native sources a test program links without Node:
 * opening a socket in another namespace (a thread) is not available there.
 */
#include <uv.h>

int uv_thread_create(uv_thread_t* tid, uv_thread_cb entry, void* arg) {
  (void)tid;
  (void)entry;
  (void)arg;
  return UV_ENOSYS;
}

int uv_thread_join(uv_thread_t* tid) {
  (void)tid;
  return 0;
}

const char* uv_strerror(int err) {
  (void)err;
  return "not available in this test program";
}
