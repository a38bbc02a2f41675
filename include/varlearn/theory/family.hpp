#pragma once
/// \file family.hpp
/// Denoiser families as spectral functions of \f$M = R^T R\f$: \f$T_R = f(M)\f$.
///  - bilevel (exact lower-level minimizer): \f$f(s) = 1/(1+s)\f$;
///  - unrolled gradient descent, depth N, stepsize omega, \f$z^0 = 0\f$:
///    \f$f(s) = (1 - (1-\omega(1+s))^N)/(1+s) = \omega\, p(q)\f$, \f$q = 1-\omega(1+s)\f$,
///    \f$p(q) = \sum_{j<N} q^j\f$.
#include <limits>
#include <string>

#include "varlearn/core/types.hpp"

namespace varlearn::theory {

/// A closed or half-open interval of the real line (infinite ends allowed).
struct Interval {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_closed = false, hi_closed = false;
  bool contains(double t) const {
    return (t > lo || (lo_closed && t == lo)) && (t < hi || (hi_closed && t == hi));
  }
  /// Nearest point of the closure of the interval.
  double clamp(double t) const { return t < lo ? lo : (t > hi ? hi : t); }
};

/// Minimizer \f$q^*_N \in (-1,0)\f$ of \f$p\f$ for odd N >= 3: the root of
/// \f$(N-1)q^N - N q^{N-1} + 1 = 0\f$; and \f$m_N = p(q^*_N)\f$ (m_3 = 3/4).
double pmin_argmin(int depth);
double pmin_value(int depth);

/// \f$c_{N,\omega} = \min_{s\ge 0} f(s)\f$ for odd N (N = 1: omega). Equals
/// \f$\omega m_N\f$ when \f$\omega < 1 - q^*_N\f$, else \f$b = 1-(1-\omega)^N\f$.
/// Throws Error for even N (f is unbounded below there), N < 1 or omega <= 0.
double cmin(int depth, double stepsize);

/// A spectral family f. Evaluations never return NaN; values beyond the double range
/// saturate to +-inf (only unrolled f at huge s and depth).
class Family {
public:
  static Family bilevel();
  /// Throws Error unless depth >= 1 and stepsize > 0 (finite).
  static Family unrolled(int depth, double stepsize);

  bool is_bilevel() const { return bilevel_; }
  int depth() const { return depth_; }        ///< N (0 for bilevel)
  double stepsize() const { return omega_; }  ///< omega (0 for bilevel)
  std::string describe() const;               ///< "bilevel" or "unrolled N=4 omega=0.5"

  double operator()(double s) const;  ///< f(s), s >= 0
  double derivative(double s) const;  ///< f'(s) (for tests and inverse)
  double at_zero() const;             ///< b = f(0): the eigenvalue of T on ker R
  Interval range() const;             ///< F = f([0, inf))

  /// An s >= 0 with f(s) = t for t in range() (throws Error otherwise). Where two
  /// preimages exist (odd N) the smaller s is returned (smaller ||R||).
  double inverse(double t) const;

  /// T = f(M) for a symmetric PSD M, by eigendecomposition of M (values of M's spectrum
  /// below 0 by rounding are clamped to 0).
  Matrix apply(const Matrix& m) const;

private:
  bool bilevel_ = true;
  int depth_ = 0;
  double omega_ = 0;
};

}  // namespace varlearn::theory
