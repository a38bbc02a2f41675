#include "varlearn/core/minimize.hpp"

#include <boost/math/tools/minima.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "varlearn/core/error.hpp"

namespace varlearn {

void ScalarMinimizeOptions::validate() const {
  require(bits >= 0 && bits <= std::numeric_limits<double>::digits, "minimize_scalar",
          "bits = " + std::to_string(bits) + " must be in 0..53");
  require(max_iterations >= 1, "minimize_scalar",
          "max_iterations = " + std::to_string(max_iterations) + " must be >= 1");
}

ScalarMinimum minimize_scalar(const std::function<double(double)>& f, double lo, double hi,
                              const ScalarMinimizeOptions& options) {
  options.validate();
  require(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "minimize_scalar",
          "the interval [" + std::to_string(lo) + ", " + std::to_string(hi) + "] must be finite with lo <= hi");
  ScalarMinimum best;
  if (lo == hi) {
    best.x = lo, best.value = f(lo);
    return best;
  }
  // Boost caps bits at half the mantissa (26 for double) anyway.
  const int bits = options.bits > 0 ? options.bits : std::numeric_limits<double>::digits / 2;
  std::uintmax_t iterations = static_cast<std::uintmax_t>(options.max_iterations);
  // Brent stops when x is known to tol |x| + tol/4: an absolute floor that would swallow a
  // bracket near 0 (say [1e-10, 2e-10]). On t in [0, 1], x = lo + t (hi - lo), the tolerance is
  // relative to the bracket instead, wherever it lies.
  const double width = hi - lo;
  auto x_of = [lo, hi, width](double t) { return t >= 1 ? hi : lo + t * width; };
  const auto [t, value] = boost::math::tools::brent_find_minima([&](double s) { return f(x_of(s)); }, 0.0, 1.0,
                                                                bits, iterations);
  best.x = x_of(t), best.value = value, best.iterations = static_cast<int>(iterations);
  if (options.include_ends) {
    for (double end : {lo, hi}) {
      const double v = f(end);
      if (v < best.value) best.x = end, best.value = v;
    }
  }
  return best;
}

}  // namespace varlearn
