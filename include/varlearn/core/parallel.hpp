#pragma once
/// \file parallel.hpp
/// OpenMP loops that let exceptions through: an exception must never leave an OpenMP region
/// (the runtime calls std::terminate), so each iteration runs inside ExceptionCapture::run,
/// which stores the exception of the lowest failing iteration; the loop skips the iterations
/// after it and the caller rethrows it (same type, same message) once the region has ended.
/// Which exception arrives does not depend on the thread count: every iteration below the
/// lowest failing one still runs, so the lowest failing index is found deterministically.
#include <omp.h>

#include <atomic>
#include <exception>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn {

/// Captures the exception of the lowest failing iteration of a parallel loop.
/// \code
///   ExceptionCapture capture;
///   #pragma omp parallel for
///   for (Index i = 0; i < n; ++i) capture.run(i, [&] { work(i); });
///   capture.rethrow_if_failed();
/// \endcode
class ExceptionCapture {
public:
  /// Runs body() for iteration i unless an iteration before i has already failed; never throws.
  template <class Body>
  void run(Index i, Body&& body) noexcept {
    if (i > first_.load(std::memory_order_relaxed)) return;  // a lower iteration failed: skip
    try {
      std::forward<Body>(body)();
    } catch (...) {
      capture(i, std::current_exception());
    }
  }
  /// True when some iteration failed.
  bool failed() const noexcept { return first_.load(std::memory_order_relaxed) != kNone; }
  /// Index of the lowest failing iteration (-1 when none failed).
  Index failed_index() const noexcept { return failed() ? first_.load() : -1; }
  /// Rethrows the captured exception on the calling thread (call after the parallel region).
  void rethrow_if_failed() const {
    if (failed()) std::rethrow_exception(error_);
  }

private:
  static constexpr Index kNone = std::numeric_limits<Index>::max();
  void capture(Index i, std::exception_ptr e) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    if (i < first_.load(std::memory_order_relaxed)) {
      error_ = std::move(e);
      first_.store(i, std::memory_order_relaxed);
    }
  }
  std::atomic<Index> first_{kNone};
  std::exception_ptr error_;
  std::mutex mutex_;
};

/// OpenMP schedule of parallel_for.
enum class Schedule { Static, Dynamic };

/// `for (i = 0; i < count; ++i) body(i)` over the OpenMP threads (`parallel` false: on the
/// calling thread). An exception thrown by body(i) stops the iterations after the lowest
/// failing one and is rethrown here after the loop. `chunk` 0 is OpenMP's default chunk.
template <class Body>
void parallel_for(Index count, Body&& body, Schedule schedule = Schedule::Static, int chunk = 0,
                  bool parallel = true) {
  ExceptionCapture capture;
  if (schedule == Schedule::Dynamic) {
    const int c = chunk > 0 ? chunk : 1;
#pragma omp parallel for schedule(dynamic, c) if (parallel)
    for (Index i = 0; i < count; ++i) capture.run(i, [&] { body(i); });
  } else if (chunk > 0) {
#pragma omp parallel for schedule(static, chunk) if (parallel)
    for (Index i = 0; i < count; ++i) capture.run(i, [&] { body(i); });
  } else {
#pragma omp parallel for schedule(static) if (parallel)
    for (Index i = 0; i < count; ++i) capture.run(i, [&] { body(i); });
  }
  capture.rethrow_if_failed();
}

/// Blocks 0 .. count-1 of a sum, at most `threads` at once (one per thread, in turn), added in
/// block order, so that the sum is the same for every thread count:
/// `compute(i, slot)` evaluates block i into the calling thread's slot (slots[0 .. threads-1],
/// reused from block to block), `combine(i, slot)` then adds it, called for i = 0, 1, ... in
/// order. With threads <= 1 both run on the calling thread (whose own parallel work, e.g. a
/// GEMM, may then use every thread). An exception from compute stops the blocks after the
/// lowest failing one and is rethrown here; combine must not throw.
template <class Slot, class Compute, class Combine>
void ordered_blocks(Index count, int threads, std::vector<Slot>& slots, Compute&& compute, Combine&& combine) {
  if (threads <= 1 || count <= 1) {
    for (Index i = 0; i < count; ++i) {
      compute(i, slots.at(0));
      combine(i, slots[0]);
    }
    return;
  }
  ExceptionCapture capture;
#pragma omp parallel num_threads(threads)
  {
    Slot& slot = slots[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(static, 1) ordered
    for (Index i = 0; i < count; ++i) {
      capture.run(i, [&] { compute(i, slot); });
#pragma omp ordered
      if (!capture.failed()) combine(i, slot);
    }
  }
  capture.rethrow_if_failed();
}

}  // namespace varlearn
