#include "varlearn/optim/line_search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "varlearn/core/error.hpp"

namespace varlearn::optim {

void LineSearchOptions::validate() const {
  const char* w = "LineSearchOptions";
  require(c1 > 0 && c1 < c2 && c2 < 1, w, "need 0 < c1 < c2 < 1");
  require(max_evaluations >= 1, w, "max_evaluations must be >= 1");
  require(std::isfinite(expansion) && expansion > 1, w, "expansion must be > 1");
  require(max_backtracking >= 0, w, "max_backtracking must be >= 0");
}

namespace {

// Minimizer of the cubic interpolating (a, fa, da), (b, fb, db), safeguarded into
// [lo + 0.1 w, hi - 0.1 w] of the interval; bisection when the cubic has no minimum.
double cubic_min(double a, double fa, double da, double b, double fb, double db) {
  const double lo = std::min(a, b), hi = std::max(a, b), w = hi - lo;
  double t = 0.5 * (a + b);
  if (std::isfinite(fa) && std::isfinite(fb) && std::isfinite(da) && std::isfinite(db)) {
    const double d1 = da + db - 3 * (fa - fb) / (a - b);
    const double disc = d1 * d1 - da * db;
    if (disc >= 0) {
      const double d2 = std::copysign(std::sqrt(disc), b - a);
      const double den = db - da + 2 * d2;
      if (den != 0) {
        const double c = b - (b - a) * (db + d2 - d1) / den;
        if (std::isfinite(c)) t = c;
      }
    }
  }
  return std::clamp(t, lo + 0.1 * w, hi - 0.1 * w);
}

}  // namespace

template <class T>
LineSearch<T>::LineSearch(const LineSearchOptions& options) : options_(options) {
  options_.validate();
}

template <class T>
LineSearchResult LineSearch<T>::search(const Function<T>& f, const VectorT<T>& x, double fx, double d0,
                                       const VectorT<T>& d, double initial_step, double backtracking_step,
                                       VectorT<T>& xt, VectorT<T>& gt) const {
  const LineSearchOptions& o = options_;
  LineSearchResult res;
  // phi(a) = f(x + a d) into xt, gt; phi'(a) accumulated in double.
  auto eval = [&](double a, double& fa, double& da) {
    xt = x + static_cast<T>(a) * d;
    gt.setZero();
    fa = static_cast<double>(f.evaluate_with_gradient(xt, gt));
    ++res.evaluations;
    da = static_cast<double>(gt.template cast<double>().dot(d.template cast<double>()));
    if (!gt.allFinite()) fa = std::numeric_limits<double>::infinity();
  };
  double a = initial_step;
  double fa = 0, da = 0;
  double a_prev = 0, f_prev = fx, d_prev = d0;
  bool found = false;
  int evals = 0;
  double a_lo = 0, f_lo = fx, d_lo = d0, a_hi = 0, f_hi = 0, d_hi = 0;
  bool zoom = false;
  // Bracketing (N&W Alg. 3.5): grow a until phi rises, the slope turns, or Wolfe holds.
  while (evals < o.max_evaluations) {
    eval(a, fa, da);
    ++evals;
    if (!std::isfinite(fa) || fa > fx + o.c1 * a * d0 || (evals > 1 && fa >= f_prev)) {
      a_lo = a_prev; f_lo = f_prev; d_lo = d_prev; a_hi = a; f_hi = fa; d_hi = da;
      zoom = true;
      break;
    }
    if (std::abs(da) <= -o.c2 * d0) { found = true; break; }
    if (da >= 0) {
      a_lo = a; f_lo = fa; d_lo = da; a_hi = a_prev; f_hi = f_prev; d_hi = d_prev;
      zoom = true;
      break;
    }
    a_prev = a; f_prev = fa; d_prev = da;
    a *= o.expansion;
  }
  // Zoom (N&W Alg. 3.6): shrink [a_lo, a_hi] by safeguarded cubic interpolation.
  if (zoom) {
    while (evals < o.max_evaluations) {
      a = (std::isfinite(f_hi) ? cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi) : 0.5 * (a_lo + a_hi));
      if (std::abs(a_hi - a_lo) <= 1e-16 * std::max(1.0, std::abs(a_lo))) break;
      eval(a, fa, da);
      ++evals;
      if (!std::isfinite(fa) || fa > fx + o.c1 * a * d0 || fa >= f_lo) {
        a_hi = a; f_hi = fa; d_hi = da;
      } else {
        if (std::abs(da) <= -o.c2 * d0) { found = true; break; }
        if (da * (a_hi - a_lo) >= 0) { a_hi = a_lo; f_hi = f_lo; d_hi = d_lo; }
        a_lo = a; f_lo = fa; d_lo = da;
      }
    }
    res.wolfe = found;
    if (!found && a_lo > 0 && f_lo < fx) {  // accept the best sufficient-decrease point
      a = a_lo;
      eval(a, fa, da);
      found = std::isfinite(fa) && fa < fx;
    }
  } else {
    res.wolfe = found;
  }
  if (!found) {  // Armijo backtracking fallback
    a = backtracking_step;
    for (int i = 0; i < o.max_backtracking; ++i, a *= 0.5) {
      eval(a, fa, da);
      if (std::isfinite(fa) && fa <= fx + o.c1 * a * d0 && fa < fx) { found = true; break; }
    }
  }
  res.found = found;
  res.step = a;
  res.loss = fa;
  res.slope = da;
  return res;
}

template class LineSearch<float>;
template class LineSearch<double>;

}  // namespace varlearn::optim
