#pragma once
/// \file timer.hpp
/// Wall-clock time of a piece of work: the one stopwatch of the library (monotonic clock).
#include <chrono>

namespace varlearn {

/// Starts at construction; seconds() reads the elapsed time without stopping it.
class Stopwatch {
public:
  using Clock = std::chrono::steady_clock;
  Stopwatch() : start_(Clock::now()) {}
  /// Sets the start to now.
  void restart() { start_ = Clock::now(); }
  /// Seconds since construction or the last restart().
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

private:
  Clock::time_point start_;
};

}  // namespace varlearn
