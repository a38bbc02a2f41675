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

/// Columns per block when a batch of independent frames (the columns of an n x B matrix) runs
/// through an iterative method block by block: a block's iterates stay in cache across the
/// iterations, and the blocks run on the threads (one join per call instead of one per
/// product). About 40k scalars per iterate and at least 128 columns, a multiple of 16; all
/// frames when fewer. A function of the shape only, so that results do not depend on the
/// thread count.
inline long frame_block_columns(long rows, long frames) {
  const long r = rows > 0 ? rows : 1;
  long b = ((40960 / r + 15) / 16) * 16;
  if (b < 128) b = 128;
  if (b > frames) b = frames;
  return b > 0 ? b : 1;
}

/// The one lock around FFTW's planner (plan creation and destruction are not thread-safe; its
/// execute calls are). Every FFTW user in the library (dequant's DCT, reg's fields of experts)
/// takes this one, so plans made from different threads and concerns never race.
std::mutex& fftw_planner_mutex();

}  // namespace varlearn
