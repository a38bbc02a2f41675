#include "varlearn/theory/family.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/theory/ranges.hpp"

namespace varlearn::theory {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
/// Bisection caps. The loops stop when the interval collapses (mid == lo or hi): q*_N in (-1, 0)
/// after ~55 halvings, s = f^{-1}(t) on [0, 2^k] after ~55 + k; the caps only bound NaN-fed loops.
constexpr int kRootBisections = 200;
constexpr int kInverseBisections = 400;
/// Doublings of an upper bracket for f^{-1}: 2^2100 passes every finite double, so a bracket not
/// found by then does not exist (f never reaches the target).
constexpr int kMaxDoublings = 2100;

// p(q) = sum_{j<N} q^j, for |q| < 1 (where the minimizer of odd N lives).
double p_of_q(int n, double q) { return (1.0 - std::pow(q, n)) / (1.0 - q); }

// (q*_N, m_N), cached: the learned-stepsize search asks for them at every grid point.
std::pair<double, double> pmin(int depth) {
  static std::mutex mutex;
  static std::unordered_map<int, std::pair<double, double>> cache;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(depth); it != cache.end()) return it->second;
  }
  // Root of g(q) = (N-1) q^N - N q^{N-1} + 1 on (-1, 0): g(-1) = 2 - 2N < 0 < g(0) = 1.
  auto g = [depth](double q) {
    return (depth - 1) * std::pow(q, depth) - depth * std::pow(q, depth - 1) + 1.0;
  };
  double lo = -1.0, hi = 0.0;
  for (int it = 0; it < kRootBisections; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi) break;
    (g(mid) < 0 ? lo : hi) = mid;
  }
  const double q = 0.5 * (lo + hi);
  const std::pair<double, double> result{q, p_of_q(depth, q)};
  std::lock_guard<std::mutex> lock(mutex);
  cache.emplace(depth, result);
  return result;
}

// f'(s) = [N omega q^{N-1} (1+s) - (1 - q^N)] / (1+s)^2, q = 1 - omega (1+s). Out of line so that
// its rounding (and the compiler's FMA contraction) stays that of the reference numbers.
[[gnu::noinline]] double unrolled_derivative(int depth, double omega, double s) {
  const double q = 1.0 - omega * (1.0 + s);
  const double qn1 = std::pow(q, depth - 1);
  return (depth * omega * qn1 * (1.0 + s) - (1.0 - qn1 * q)) / ((1.0 + s) * (1.0 + s));
}

void check_odd(int depth, const char* where) {
  if (depth < 3 || depth % 2 == 0)
    throw Error(std::string(where) + ": depth N = " + std::to_string(depth) + " must be odd and >= 3");
}

}  // namespace

double pmin_argmin(int depth) {
  check_odd(depth, "theory::pmin_argmin");
  return pmin(depth).first;
}

double pmin_value(int depth) {
  check_odd(depth, "theory::pmin_value");
  return pmin(depth).second;
}

double cmin(int depth, double stepsize) {
  const Family f = Family::unrolled(depth, stepsize);
  if (depth % 2 == 0)
    throw Error("theory::cmin: depth N = " + std::to_string(depth) +
                " is even: f is unbounded below, c_{N,omega} exists for odd N only");
  return f.range().lo;
}

Family Family::bilevel() { return Family{}; }

Family Family::unrolled(int depth, double stepsize) {
  if (depth < 1) throw_out_of_range("theory::Family", "depth N", depth, "N >= 1");
  // 1/omega and b = 1 - (1 - omega)^N must be finite (theory/ranges.hpp): omega >= 1e-300 and
  // N log|1 - omega| <= log 1e300 (every omega in (0, 2] passes).
  if (!(stepsize >= kMinStepsize) || !std::isfinite(stepsize)) throw_out_of_range("theory::Family", "stepsize omega", stepsize, "1e-300 <= omega, finite");
  if (stepsize > 2.0 && double(depth) * std::log(stepsize - 1.0) > std::log(kMaxStepsizePower))
    throw_out_of_range("theory::Family", "stepsize omega", stepsize,
                       "|1 - omega|^N <= 1e300 at depth N = " + std::to_string(depth) +
                           ": omega <= " + format_general(1.0 + std::exp(std::log(kMaxStepsizePower) / depth), 10) +
                           "; every omega in (0, 2] is accepted");
  Family f;
  f.bilevel_ = false;
  f.depth_ = depth;
  f.omega_ = stepsize;
  return f;
}

std::string Family::describe() const {
  if (bilevel_) return "bilevel";
  std::ostringstream s;
  s << "unrolled N=" << depth_ << " omega=" << omega_;
  return s.str();
}

double Family::operator()(double s) const {
  if (bilevel_) return 1.0 / (1.0 + s);
  if (depth_ == 1) return omega_;
  // s -> inf (or omega (1+s) beyond the double range): f -> -inf for even N, +inf for odd N.
  if (!std::isfinite(omega_ * (1.0 + s))) return depth_ % 2 == 0 ? -kInf : kInf;
  // f(s) = (1 - q^N)/(1+s), q = 1 - u, u = omega (1+s). Write |q| = 1 + d with d computed
  // without cancellation (d = -u for q >= 0, u - 2 for q < 0) and q^N = sign e^L, L = N log1p(d):
  // 1 - q^N = -expm1(L) (sign +) or 1 + e^L (sign -): accurate for q near +-1 and tiny omega.
  const double u = omega_ * (1.0 + s);
  const double q = 1.0 - u;
  const double d = q >= 0 ? -u : u - 2.0;
  const double L = depth_ * std::log1p(d);
  const bool negative_power = q < 0 && (depth_ % 2 == 1);
  if (L > 700.0) {
    // |q^N| dominates 1: |f| = e^{L - log1p(s)}; saturate beyond the double range.
    const double log_mag = L - std::log1p(s);
    const double mag = log_mag > 709.0 ? kInf : std::exp(log_mag);
    return negative_power ? mag : -mag;
  }
  const double one_minus_qn = negative_power ? 1.0 + std::exp(L) : -std::expm1(L);
  if (q >= 0) {
    // = (1 - q^N)/(1+s), no division by tiny 1+s issue; omega (1 - q^N) underflows for omega
    // near 1e-300: then divide first (ordinary inputs keep the first form, bit for bit).
    const double num = omega_ * one_minus_qn;
    if (num >= std::numeric_limits<double>::min() || one_minus_qn == 0) return num / u;
    return omega_ * (one_minus_qn / u);
  }
  return one_minus_qn / (1.0 + s);
}

double Family::derivative(double s) const {
  if (bilevel_) return -1.0 / ((1.0 + s) * (1.0 + s));
  // f' = [N omega q^{N-1} (1+s) - (1 - q^N)] / (1+s)^2
  const double d = unrolled_derivative(depth_, omega_, s);
  if (std::isfinite(d)) return d;
  if (depth_ == 1) return 0.0;  // f = omega
  {
    // |q|^{N-1} or (1+s)^2 beyond the double range: f' = [q^{N-1} (1 + (N-1) u) - 1]/(1+s)^2 with
    // u = omega (1+s), where the -1 is negligible; its magnitude in the log domain, saturated.
    const double u = omega_ * (1.0 + s);
    const double q = 1.0 - u;
    const bool negative = q < 0 && (depth_ - 1) % 2 == 1;
    const double log_mag = (depth_ - 1) * std::log(std::abs(q)) + std::log1p((depth_ - 1) * u) - 2.0 * std::log1p(s);
    const double mag = !(log_mag <= 709.0) ? kInf : std::exp(log_mag);
    return negative ? -mag : mag;
  }
}

double Family::at_zero() const {
  if (bilevel_) return 1.0;
  return (*this)(0.0);  // b = 1 - (1 - omega)^N
}

Interval Family::range() const {
  Interval r;
  if (bilevel_) {
    r.lo = 0.0;
    r.hi = 1.0;
    r.lo_closed = false;
    r.hi_closed = true;
  } else if (depth_ == 1) {
    r.lo = r.hi = omega_;
    r.lo_closed = r.hi_closed = true;
  } else if (depth_ % 2 == 0) {
    r.hi = at_zero();  // f decreasing from b to -inf
    r.hi_closed = true;
  } else {
    const auto [qstar, m] = pmin(depth_);
    r.lo = omega_ < 1.0 - qstar ? omega_ * m : at_zero();
    r.lo_closed = true;
  }
  return r;
}

double Family::inverse(double t) const {
  const Interval r = range();
  if (!std::isfinite(t) || !r.contains(t)) {
    std::ostringstream m;
    m.precision(17);
    m << "theory::Family::inverse: t = " << t << " is outside the range of f (" << describe() << ")";
    throw Error(m.str());
  }
  if (bilevel_) return 1.0 / t - 1.0;
  if (depth_ == 1) return 0.0;
  // Bracket [lo, hi] on a monotone branch, then bisect to machine precision.
  double lo = 0.0, hi = 0.0;
  bool decreasing = true, bounded = false;
  if (depth_ % 2 == 1) {
    const double qstar = pmin(depth_).first;
    const double sstar = (1.0 - qstar) / omega_ - 1.0;  // minimizer of f when > 0
    if (t == r.lo) return std::max(sstar, 0.0);
    if (sstar > 0 && t <= at_zero()) {
      hi = sstar;  // smaller preimage: the decreasing branch [0, s*]
      bounded = true;
    } else {
      decreasing = false;
      lo = std::max(sstar, 0.0);
    }
  }
  if (!bounded) {
    hi = std::max(1.0, 2.0 * lo);
    for (int i = 0; i < kMaxDoublings; ++i) {
      const double v = (*this)(hi);
      if (decreasing ? v <= t : v >= t) break;
      hi *= 2.0;
    }
    // The preimage is beyond the double range (e.g. odd N, tiny omega: s ~ t^{1/2} omega^{-3/2}).
    if (!std::isfinite(hi)) {
      std::ostringstream m;
      m.precision(10);
      m << "theory::Family::inverse: t = " << t
        << " out of range (its preimage s = f^{-1}(t) exceeds the double range, 1.8e308) for " << describe();
      throw Error(m.str());
    }
  }
  for (int i = 0; i < kInverseBisections; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    const double v = (*this)(mid);
    const bool beyond = decreasing ? v < t : v > t;
    (beyond ? hi : lo) = mid;
  }
  // Return the end whose value is closer to t.
  return std::abs((*this)(lo) - t) <= std::abs((*this)(hi) - t) ? lo : hi;
}

Matrix Family::apply(const Matrix& m) const {
  Eigen::SelfAdjointEigenSolver<Matrix> eig(m);
  if (eig.info() != Eigen::Success) throw Error("theory::Family::apply: eigendecomposition failed", Error::Kind::Internal);
  Vector t = eig.eigenvalues();
  for (Index i = 0; i < t.size(); ++i) t(i) = (*this)(std::max(t(i), 0.0));
  return eig.eigenvectors() * t.asDiagonal() * eig.eigenvectors().transpose();
}

}  // namespace varlearn::theory
