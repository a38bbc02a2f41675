#pragma once
/// \file threads.hpp
/// The one thread pool is OpenMP's (Eigen's GEMM uses it too). Small problems run faster on
/// one thread: barriers cost more than they save on matrices of a few dozen rows.

namespace varlearn {

/// Sets the calling thread's OpenMP (and so Eigen's) thread count for a scope, restoring the
/// previous count afterwards; `threads <= 0` leaves it unchanged.
class ScopedThreads {
public:
  explicit ScopedThreads(int threads);
  ~ScopedThreads();
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

private:
  int saved_ = 0;
};

}  // namespace varlearn
