#pragma once
/// \file memory.hpp
/// How the process keeps the memory it frees. A training step allocates the same large
/// temporaries every time (the iterates of an unrolled pass, a regularizer's responses KF per
/// column block). glibc gives blocks above its mmap threshold back to the system when they are
/// freed, and trims the top of its heap, so the next step page-faults and zeroes that memory
/// again: 22 % of a fields-of-experts unrolled step (n = 320, B = 4096, one thread;
/// docs/performance.md). Results do not depend on it (only where memory comes from).

namespace varlearn {

/// What keep_freed_memory() did.
struct FreedMemoryPolicy {
  bool applied = false;  ///< the thresholds below were set
  const char* reason = "";  ///< why not, when not applied
};

/// Keeps freed memory in the process for reuse: sets glibc's M_MMAP_THRESHOLD to its maximum
/// (32 MB: smaller blocks come from the heap) and M_TRIM_THRESHOLD to 2 GB (the heap's free top
/// is not returned). The resident size then stays at the run's peak instead of shrinking
/// between steps. Does nothing where the user set glibc's malloc tunables themselves
/// (GLIBC_TUNABLES naming glibc.malloc, or MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_),
/// or off glibc. Call it once at program start, before threads allocate: the CLI and the
/// benchmarks do; the Python module leaves the interpreter's allocator alone, and a program
/// linking the library decides for itself.
FreedMemoryPolicy keep_freed_memory();

/// The result of the latest keep_freed_memory() call (`varlearn info` prints it); before any
/// call: not applied, reason "not requested".
FreedMemoryPolicy freed_memory_policy();

}  // namespace varlearn
