#include "varlearn/core/memory.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace varlearn {
namespace {
FreedMemoryPolicy& latest() {
  static FreedMemoryPolicy p{false, "not requested"};
  return p;
}
}  // namespace

FreedMemoryPolicy freed_memory_policy() { return latest(); }

FreedMemoryPolicy keep_freed_memory() {
  FreedMemoryPolicy& p = latest();
  p = FreedMemoryPolicy{};
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables != nullptr && std::strstr(tunables, "glibc.malloc") != nullptr) ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) {
    p.reason = "the environment sets glibc's malloc tunables";
    return p;
  }
  // 32 MB is glibc's largest mmap threshold on 64-bit systems (HEAP_MAX_SIZE / 2).
  p.applied = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1 && mallopt(M_TRIM_THRESHOLD, 2047 * 1024 * 1024) == 1;
  if (!p.applied) p.reason = "mallopt refused the thresholds";
#else
  p.reason = "not glibc";
#endif
  return p;
}

}  // namespace varlearn
