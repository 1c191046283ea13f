// Portable (prebuilt) builds only: binding.gyp compiles this file when routeguard_portable=1.
//
// A prebuild links libstdc++ statically so it needs no GLIBCXX_* version. The libstdc++.a of
// GCC 12 was built against glibc 2.36 and its objects reference three libc symbols at versions
// newer than the GLIBC_2.28 that official Node 20-24 binaries require:
//   __libc_single_threaded (GLIBC_2.32), from stdexcept.o / cow-string-inst.o
//   getentropy (GLIBC_2.25) and arc4random (GLIBC_2.36), from random.o (std::random_device,
//   pulled in by the COW string objects; routeguard never uses it)
// Hidden definitions here satisfy those references inside the addon, so the dynamic symbol
// table imports none of them (test/portability.test.ts checks every prebuild with objdump -T).
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <sys/syscall.h>

extern "C" long syscall(long number, ...);

#pragma GCC visibility push(hidden)
extern "C" {

// libstdc++ skips atomic reference counting when this is non-zero; 0 ("maybe several threads")
// is always correct, and Node runs several threads anyway.
char __libc_single_threaded = 0;

// getrandom(2) (Linux 3.17, older than any kernel Node 20 supports) with getentropy's contract:
// at most 256 bytes, all or an error.
int getentropy(void* buffer, size_t length) {
  if (length > 256) {
    errno = EIO;
    return -1;
  }
  auto* out = static_cast<unsigned char*>(buffer);
  while (length > 0) {
    long n = syscall(SYS_getrandom, out, length, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    out += n;
    length -= static_cast<size_t>(n);
  }
  return 0;
}

uint32_t arc4random(void) {
  uint32_t value = 0;
  while (getentropy(&value, sizeof value) != 0) {
  }
  return value;
}

}  // extern "C"
#pragma GCC visibility pop
