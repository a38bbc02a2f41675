#pragma once
/// \file gradient_check.hpp
/// Checkers (API, not test helpers): an analytic gradient against central differences
/// coordinate by coordinate, a finite-difference Hessian and its extreme eigenvalues
/// (curvature). For every engine that hand-writes a backward pass.
#include <cstdint>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/optim/function.hpp"

namespace varlearn::optim {

struct GradientCheckOptions {
  /// Relative step: \f$h_i = \texttt{step}\cdot\max(1,|x_i|)\f$. Default 1e-3 with the
  /// 4th-order stencil (truncation O(h^4), rounding O(eps |L| / h)).
  double step = 1e-3;
  /// Stencil: 2 = \f$(L(x+h)-L(x-h))/2h\f$, 4 = \f$(-L(x+2h)+8L(x+h)-8L(x-h)+L(x-2h))/12h\f$.
  int order = 4;
  /// Pass iff every checked coordinate has relative error below this. Default 1e-6.
  double tolerance = 1e-6;
  /// Relative error of coordinate i: \f$|a_i-d_i| / \max(|a_i|,|d_i|,\texttt{floor}\cdot
  /// \max_j|a_j|)\f$, so coordinates whose gradient is ~0 are judged against the scale of
  /// the whole gradient instead of against rounding noise; the denominator is also at least
  /// \f$10^{-5}|L(x)|\f$ (an all-zero gradient passes when the differences are ~0). Default 1e-4.
  double floor = 1e-4;
  /// Check only this many coordinates, chosen at random with `seed` (0 = all).
  Index max_coordinates = 0;
  std::uint64_t seed = 1;
  /// Throws Error naming the bad field.
  void validate() const;
};

struct CoordinateCheck {
  Index index = 0;
  double analytic = 0;  ///< \f$a_i\f$ from the objective's gradient
  double numeric = 0;   ///< \f$d_i\f$ from central differences
  double abs_error = 0;
  double rel_error = 0;
};

struct GradientCheckResult {
  bool passed = false;
  double max_rel_error = 0;
  double max_abs_error = 0;
  Index worst_index = -1;
  double loss = 0;  ///< L(x)
  std::vector<CoordinateCheck> coordinates;  ///< one per checked coordinate
  /// One line, e.g. "gradient check passed: max rel err 3.1e-10 at coordinate 4 (22 checked)".
  std::string summary() const;
};

/// Checks f's gradient (evaluate_with_gradient) at x against central differences of its
/// value (evaluate). Throws Error when x is empty, the loss is not finite at x, or the
/// gradient has the wrong size.
GradientCheckResult check_gradient(const Function<double>& f, const Vector& x,
                                   const GradientCheckOptions& options = {});

/// Hessian by central differences of the analytic gradient,
/// \f$H_{:,i} = (\nabla L(x+h e_i) - \nabla L(x-h e_i))/2h\f$, \f$h = \texttt{step}\max(1,|x_i|)\f$,
/// symmetrized. 2p gradient calls; for sharpness of minima (p up to a few thousand).
Matrix finite_difference_hessian(const Function<double>& f, const Vector& x, double step = 1e-5);

/// Extreme eigenvalues of a finite-difference Hessian: sharpness (largest) and flatness /
/// saddle check (smallest) of a minimum.
struct Curvature {
  double min_eigenvalue = 0, max_eigenvalue = 0;
  Index negative = 0;  ///< eigenvalues below -1e-6 * max |eigenvalue|
};
Curvature curvature(const Function<double>& f, const Vector& x, double step = 1e-5);

/// Hessian-vector product by central differences of the gradient,
/// \f$Hv \approx (\nabla L(x+hv) - \nabla L(x-hv))/2h\f$: 2 gradient calls, memory O(p).
Vector hessian_vector_product(const Function<double>& f, const Vector& x, const Vector& v, double h);

/// Largest Hessian eigenvalue by power iteration on hessian_vector_product from the unit start
/// vector `start`: the sharpness of a minimum when p is too large for curvature()'s dense
/// Hessian (2 gradient calls per iteration instead of 2p, and no p x p matrix). Returns the
/// Rayleigh quotient \f$v^T H v\f$ of the last iterate (a lower bound that converges to
/// \f$\lambda_{max}\f$ when it dominates).
double max_curvature(const Function<double>& f, const Vector& x, const Vector& start, int iterations, double h);

}  // namespace varlearn::optim
