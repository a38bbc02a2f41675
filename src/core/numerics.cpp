#include "varlearn/core/numerics.hpp"

#include <omp.h>

#include <cmath>

#include "varlearn/core/error.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <pmmintrin.h>
#include <xmmintrin.h>
#define VARLEARN_HAS_MXCSR 1
#else
#define VARLEARN_HAS_MXCSR 0
#endif

namespace varlearn {

namespace {
#if VARLEARN_HAS_MXCSR
constexpr unsigned kFlushBits = _MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON;  // 0x8000 | 0x0040
unsigned set_flush() {
  const unsigned old = _mm_getcsr();
  _mm_setcsr(old | kFlushBits);
  return old;
}
void restore_flush(unsigned old) { _mm_setcsr((_mm_getcsr() & ~kFlushBits) | (old & kFlushBits)); }
#endif
}  // namespace

FlushDenormals::FlushDenormals(bool active) : active_(active) {
#if VARLEARN_HAS_MXCSR
  if (!active_) return;
  saved_caller_ = set_flush();  // first: the caller is also thread 0 of the team below
  threads_ = omp_get_max_threads();
  saved_workers_ = new unsigned[static_cast<unsigned>(threads_)]();
  unsigned* saved = saved_workers_;
  const int team = threads_;
  // Cannot throw (reads and writes MXCSR only): nothing for core/parallel.hpp to capture.
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    if (t < team) saved[t] = set_flush();
  }
#else
  active_ = false;
#endif
}

FlushDenormals::~FlushDenormals() {
#if VARLEARN_HAS_MXCSR
  if (!active_) return;
  unsigned* saved = saved_workers_;
  const int team = threads_;
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    if (t > 0 && t < team) restore_flush(saved[t]);
  }
  restore_flush(saved_caller_);
  delete[] saved_workers_;
#endif
}

bool FlushDenormals::enabled_in_this_thread() {
#if VARLEARN_HAS_MXCSR
  return (_mm_getcsr() & kFlushBits) == kFlushBits;
#else
  return false;
#endif
}

bool FlushDenormals::supported() { return VARLEARN_HAS_MXCSR != 0; }

double softplus(double a) { return a > 0 ? a + std::log1p(std::exp(-a)) : std::log1p(std::exp(a)); }

double softplus_derivative(double a) {
  return a >= 0 ? 1.0 / (1.0 + std::exp(-a)) : std::exp(a) / (1.0 + std::exp(a));
}

double softplus_inverse(double w) {
  require(std::isfinite(w) && w > 0, "softplus_inverse", "stepsize omega must be > 0");
  return w > 30 ? w + std::log1p(-std::exp(-w)) : std::log(std::expm1(w));
}

}  // namespace varlearn
