#include "varlearn/core/threads.hpp"

#include <omp.h>

namespace varlearn {

ScopedThreads::ScopedThreads(int threads) {
  if (threads > 0) {
    saved_ = omp_get_max_threads();
    omp_set_num_threads(threads);
  }
}

ScopedThreads::~ScopedThreads() {
  if (saved_ > 0) omp_set_num_threads(saved_);
}

std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace varlearn
