#pragma once
/// \file threads.hpp
/// The one thread pool is OpenMP's (Eigen's GEMM uses it too). Small problems run faster on
/// one thread: barriers cost more than they save on matrices of a few dozen rows.

#include <mutex>

namespace varlearn {

/// Work (floating-point operations of one call) below which a kernel runs on one thread: at
/// n = 50 the serial direct loss is 16x faster than two threads on a loaded 2-core machine, and
/// the crossover sits near 2e7 flops (a 320 x 320 x 100 GEMM).
inline constexpr double kMinParallelFlops = 2e7;

/// Thread count for ScopedThreads given a call's work: 1 below kMinParallelFlops, else 0
/// (leave OpenMP's setting).
inline int threads_for_flops(double flops) { return flops < kMinParallelFlops ? 1 : 0; }

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

/// The one lock around FFTW's planner (plan creation and destruction are not thread-safe; its
/// execute calls are). Every FFTW user in the library (dequant's DCT, reg's fields of experts)
/// takes this one, so plans made from different threads and concerns never race.
std::mutex& fftw_planner_mutex();

}  // namespace varlearn
