#include "varlearn/learn/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

#include "varlearn/core/error.hpp"

namespace varlearn::learn {

const char* to_string(OptimStatus s) {
  switch (s) {
    case OptimStatus::Converged: return "converged";
    case OptimStatus::MaxIterations: return "max_iterations";
    case OptimStatus::Stopped: return "stopped";
    case OptimStatus::Diverged: return "diverged";
    case OptimStatus::LineSearchFailed: return "line_search_failed";
  }
  return "?";
}

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

void AdamOptions::validate() const {
  const char* w = "AdamOptions";
  require(std::isfinite(learning_rate) && learning_rate > 0, w, "learning_rate must be > 0");
  require(beta1 >= 0 && beta1 < 1, w, "beta1 must be in [0, 1)");
  require(beta2 >= 0 && beta2 < 1, w, "beta2 must be in [0, 1)");
  require(std::isfinite(epsilon) && epsilon > 0, w, "epsilon must be > 0");
  require(decay > 0 && decay <= 1, w, "decay must be in (0, 1]");
  require(decay_every >= 1, w, "decay_every must be >= 1");
  require(max_iterations >= 1, w, "max_iterations must be >= 1");
  require(gradient_tolerance >= 0, w, "gradient_tolerance must be >= 0");
  require(divergence_factor > 1, w, "divergence_factor must be > 1");
}

void LbfgsOptions::validate() const {
  const char* w = "LbfgsOptions";
  require(memory >= 1, w, "memory must be >= 1");
  require(max_iterations >= 1, w, "max_iterations must be >= 1");
  require(gradient_tolerance >= 0, w, "gradient_tolerance must be >= 0");
  require(loss_tolerance >= 0, w, "loss_tolerance must be >= 0");
  require(past >= 1, w, "past must be >= 1");
  require(c1 > 0 && c1 < c2 && c2 < 1, w, "need 0 < c1 < c2 < 1");
  require(max_line_search >= 1, w, "max_line_search must be >= 1");
  require(divergence_factor > 1, w, "divergence_factor must be > 1");
}

template <class T>
Adam<T>::Adam(const AdamOptions& o, Index size) : opt_(o) {
  opt_.validate();
  m_ = VectorT<T>::Zero(size);
  v_ = VectorT<T>::Zero(size);
}
template <class T>
void Adam<T>::reset() {
  m_.setZero();
  v_.setZero();
  t_ = 0;
}
template <class T>
double Adam<T>::current_learning_rate() const {
  return opt_.learning_rate * std::pow(opt_.decay, static_cast<double>(t_ / opt_.decay_every));
}
template <class T>
void Adam<T>::step(VectorT<T>& x, const VectorT<T>& g) {
  require(g.size() == m_.size() && x.size() == m_.size(), "Adam::step", "size mismatch");
  const double lr = current_learning_rate();
  ++t_;
  const T b1 = static_cast<T>(opt_.beta1), b2 = static_cast<T>(opt_.beta2);
  m_ = b1 * m_ + (T(1) - b1) * g;
  v_ = b2 * v_ + (T(1) - b2) * g.cwiseAbs2();
  const double c1 = 1.0 - std::pow(opt_.beta1, t_), c2 = 1.0 - std::pow(opt_.beta2, t_);
  const T a = static_cast<T>(lr / c1);
  const T s2 = static_cast<T>(1.0 / std::sqrt(c2));
  const T eps = static_cast<T>(opt_.epsilon);
  x.array() -= a * m_.array() / (v_.array().sqrt() * s2 + eps);
}

template <class T>
OptimResult minimize_adam(const Objective<T>& f, VectorT<T>& x, const AdamOptions& o,
                          const Observer& observer) {
  o.validate();
  const auto t0 = Clock::now();
  Adam<T> adam(o, x.size());
  VectorT<T> g(x.size()), last_good = x;
  OptimResult res;
  double first = std::numeric_limits<double>::quiet_NaN();
  for (int it = 0; it < o.max_iterations; ++it) {
    g.setZero();
    const double loss = static_cast<double>(f(x, g));
    ++res.evaluations;
    const bool finite = std::isfinite(loss) && g.allFinite();
    if (it == 0) first = loss;
    if (!finite || (it > 0 && loss > o.divergence_factor * (std::abs(first) + 1e-300))) {
      x = last_good;
      res.status = OptimStatus::Diverged;
      res.message = !finite ? "Adam diverged at iteration " + std::to_string(it) +
                                  ": loss or gradient is NaN/inf; kept the last good iterate"
                            : "Adam diverged at iteration " + std::to_string(it) + ": loss " +
                                  std::to_string(loss) + " exploded (first " + std::to_string(first) +
                                  "); kept the last good iterate";
      res.seconds = since(t0);
      return res;
    }
    last_good = x;
    res.loss = loss;
    res.grad_norm = static_cast<double>(g.norm());
    if (o.gradient_tolerance > 0 && res.grad_norm <= o.gradient_tolerance) {
      res.status = OptimStatus::Converged;
      res.message = "gradient norm below tolerance";
      break;
    }
    const double lr = adam.current_learning_rate();
    adam.step(x, g);
    res.iterations = it + 1;
    if (o.record_history) res.history.push_back(loss);
    if (observer) {
      Progress p{res.iterations, o.max_iterations, loss, res.grad_norm, lr, res.evaluations, since(t0)};
      if (!observer(p)) {
        res.status = OptimStatus::Stopped;
        res.message = "stopped by observer at iteration " + std::to_string(res.iterations);
        res.seconds = since(t0);
        return res;
      }
    }
    if (it + 1 == o.max_iterations) {
      res.status = OptimStatus::MaxIterations;
      res.message = "reached max_iterations = " + std::to_string(o.max_iterations);
    }
  }
  res.seconds = since(t0);
  return res;
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
OptimResult minimize_lbfgs(const Objective<T>& f, VectorT<T>& x, const LbfgsOptions& o,
                           const Observer& observer) {
  o.validate();
  const auto t0 = Clock::now();
  const Index p = x.size();
  OptimResult res;
  VectorT<T> g(p), xt(p), gt(p), d(p);
  g.setZero();
  double fx = static_cast<double>(f(x, g));
  res.evaluations = 1;
  if (!std::isfinite(fx) || !g.allFinite()) {
    res.status = OptimStatus::Diverged;
    res.message = "L-BFGS: loss or gradient is NaN/inf at the starting point";
    res.loss = fx;
    res.seconds = since(t0);
    return res;
  }
  std::deque<VectorT<T>> S, Y;
  std::deque<double> rho;
  std::deque<double> past_losses{fx};
  bool restarted = false;

  // phi(a) = f(x + a d); evaluates into xt, gt.
  auto eval = [&](double a, double& fa, double& da) {
    xt = x + static_cast<T>(a) * d;
    gt.setZero();
    fa = static_cast<double>(f(xt, gt));
    ++res.evaluations;
    da = static_cast<double>(gt.template cast<double>().dot(d.template cast<double>()));
    if (!gt.allFinite()) fa = std::numeric_limits<double>::infinity();
  };

  res.loss = fx;
  res.grad_norm = static_cast<double>(g.norm());
  for (int it = 0; it < o.max_iterations; ++it) {
    if (static_cast<double>(g.cwiseAbs().maxCoeff()) <= o.gradient_tolerance * std::max(1.0, std::abs(fx))) {
      res.status = OptimStatus::Converged;
      res.message = "gradient below tolerance";
      break;
    }
    // Two-loop recursion: d = -H g.
    d = -g;
    const size_t m = S.size();
    std::vector<double> alpha(m);
    for (size_t i = m; i-- > 0;) {
      alpha[i] = rho[i] * static_cast<double>(S[i].template cast<double>().dot(d.template cast<double>()));
      d -= static_cast<T>(alpha[i]) * Y[i];
    }
    if (m > 0) {
      const double sy = 1.0 / rho[m - 1];
      const double yy = static_cast<double>(Y[m - 1].template cast<double>().squaredNorm());
      d *= static_cast<T>(sy / yy);
    }
    for (size_t i = 0; i < m; ++i) {
      const double beta = rho[i] * static_cast<double>(Y[i].template cast<double>().dot(d.template cast<double>()));
      d += static_cast<T>(alpha[i] - beta) * S[i];
    }
    double d0 = static_cast<double>(g.template cast<double>().dot(d.template cast<double>()));
    if (!(d0 < 0)) {  // not a descent direction: restart from steepest descent
      S.clear(); Y.clear(); rho.clear();
      d = -g;
      d0 = -static_cast<double>(g.template cast<double>().squaredNorm());
    }
    double a = S.empty() ? std::min(1.0, 1.0 / std::max(1e-300, static_cast<double>(g.norm()))) : 1.0;
    if (S.empty() && it == 0) a = 1.0 / std::max(1e-300, static_cast<double>(g.norm()));

    // Strong Wolfe line search (N&W Alg. 3.5 / 3.6).
    double fa = 0, da = 0;
    double a_prev = 0, f_prev = fx, d_prev = d0;
    bool found = false;
    int evals = 0;
    double a_lo = 0, f_lo = fx, d_lo = d0, a_hi = 0, f_hi = 0, d_hi = 0;
    bool zoom = false;
    while (evals < o.max_line_search) {
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
      a *= 2.5;
    }
    if (zoom) {
      while (evals < o.max_line_search) {
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
      if (!found && a_lo > 0 && f_lo < fx) {  // accept the best sufficient-decrease point
        a = a_lo;
        eval(a, fa, da);
        found = std::isfinite(fa) && fa < fx;
      }
    }
    if (!found) {  // Armijo backtracking fallback
      a = S.empty() ? 1.0 / std::max(1e-300, static_cast<double>(g.norm())) : 1.0;
      for (int i = 0; i < 60; ++i, a *= 0.5) {
        eval(a, fa, da);
        if (std::isfinite(fa) && fa <= fx + o.c1 * a * d0 && fa < fx) { found = true; break; }
      }
    }
    if (!found) {
      if (!restarted && !S.empty()) {
        S.clear(); Y.clear(); rho.clear();
        restarted = true;
        continue;
      }
      // Predicted decrease below the arithmetic's resolution of the loss: converged.
      if (-d0 <= std::sqrt(std::numeric_limits<T>::epsilon()) * std::max(std::abs(fx), 1e-300)) {
        res.status = OptimStatus::Converged;
        res.message = "converged to the precision limit (no decrease representable at iteration " +
                      std::to_string(it) + ")";
        break;
      }
      res.status = OptimStatus::LineSearchFailed;
      res.message = "L-BFGS: line search found no decrease at iteration " + std::to_string(it) +
                    " (loss " + std::to_string(fx) + "; likely at the precision limit)";
      break;
    }
    restarted = false;
    // Update memory.
    VectorT<T> s = xt - x, y = gt - g;
    const double sy = static_cast<double>(s.template cast<double>().dot(y.template cast<double>()));
    if (sy > 1e-12 * static_cast<double>(y.template cast<double>().squaredNorm()) && sy > 0) {
      S.push_back(std::move(s)); Y.push_back(std::move(y)); rho.push_back(1.0 / sy);
      if (static_cast<int>(S.size()) > o.memory) { S.pop_front(); Y.pop_front(); rho.pop_front(); }
    }
    x = xt;
    g = gt;
    fx = fa;
    res.iterations = it + 1;
    res.loss = fx;
    res.grad_norm = static_cast<double>(g.norm());
    if (o.record_history) res.history.push_back(fx);
    if (observer) {
      Progress pr{res.iterations, o.max_iterations, fx, res.grad_norm, a, res.evaluations, since(t0)};
      if (!observer(pr)) {
        res.status = OptimStatus::Stopped;
        res.message = "stopped by observer at iteration " + std::to_string(res.iterations);
        res.seconds = since(t0);
        return res;
      }
    }
    past_losses.push_back(fx);
    if (static_cast<int>(past_losses.size()) > o.past + 1) past_losses.pop_front();
    if (static_cast<int>(past_losses.size()) == o.past + 1) {
      const double old = past_losses.front();
      if ((old - fx) <= o.loss_tolerance * std::max({std::abs(fx), std::abs(old), 1e-300})) {
        res.status = OptimStatus::Converged;
        res.message = "relative loss decrease below tolerance over " + std::to_string(o.past) + " iterations";
        break;
      }
    }
    if (it + 1 == o.max_iterations) {
      res.status = OptimStatus::MaxIterations;
      res.message = "reached max_iterations = " + std::to_string(o.max_iterations);
    }
  }
  res.seconds = since(t0);
  return res;
}

template class Adam<float>;
template class Adam<double>;
template OptimResult minimize_adam(const Objective<float>&, VectorT<float>&, const AdamOptions&, const Observer&);
template OptimResult minimize_adam(const Objective<double>&, VectorT<double>&, const AdamOptions&, const Observer&);
template OptimResult minimize_lbfgs(const Objective<float>&, VectorT<float>&, const LbfgsOptions&, const Observer&);
template OptimResult minimize_lbfgs(const Objective<double>&, VectorT<double>&, const LbfgsOptions&, const Observer&);

}  // namespace varlearn::learn
