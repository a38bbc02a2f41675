#pragma once
/// \file minimize.hpp
/// The one 1-D minimizer of the library: Brent's method (parabolic interpolation safeguarded
/// by golden section), through Boost.Math's `brent_find_minima`, plus the two end points.
#include <functional>

namespace varlearn {

/// Options of minimize_scalar.
struct ScalarMinimizeOptions {
  /// Bits of the argmin to resolve: x* is located to about \f$2^{1-\text{bits}}(hi - lo)\f$.
  /// A smooth minimum is flat to rounding within \f$\sqrt{\varepsilon}\f$ of x*, so more than
  /// half the mantissa (26 of 53 bits for double) buys nothing: Boost caps it there, and 0
  /// means that cap.
  int bits = 0;
  /// Cap on function evaluations inside Brent's loop (default 200, golden section's old cap).
  int max_iterations = 200;
  /// Also evaluate f(lo) and f(hi) and return an end point when it is strictly lower: Brent's
  /// iterates stay inside (lo, hi), so a minimum on the boundary is otherwise only approached.
  bool include_ends = true;
  /// Throws Error unless 0 <= bits <= 53 and max_iterations >= 1.
  void validate() const;
};

/// A minimizer's answer: the argmin x and \f$f(x)\f$.
struct ScalarMinimum {
  double x = 0;
  double value = 0;
  int iterations = 0;  ///< evaluations spent inside Brent's loop
};

/// \f$\min_{x \in [lo, hi]} f(x)\f$ for f unimodal on [lo, hi] (for a multimodal f: some local
/// minimum; bracket it first). Throws Error unless lo <= hi are finite; lo == hi returns f(lo).
ScalarMinimum minimize_scalar(const std::function<double(double)>& f, double lo, double hi,
                              const ScalarMinimizeOptions& options = {});

}  // namespace varlearn
