#pragma once
// Private: wall-clock seconds for the optimizers' results.
#include <chrono>

namespace varlearn::optim::detail {
using Clock = std::chrono::steady_clock;
inline double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace varlearn::optim::detail
