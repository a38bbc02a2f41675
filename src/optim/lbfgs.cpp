#include "varlearn/optim/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "convert.hpp"
#include "run.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::optim {

void LbfgsOptions::validate() const {
  const char* w = "LbfgsOptions";
  require(memory >= 1, w, "memory must be >= 1");
  require(max_iterations >= 1, w, "max_iterations must be >= 1");
  require(gradient_tolerance >= 0, w, "gradient_tolerance must be >= 0");
  require(loss_tolerance >= 0, w, "loss_tolerance must be >= 0");
  require(past >= 1, w, "past must be >= 1");
  line_search.validate();
}

Lbfgs::Lbfgs(const LbfgsOptions& options) : options_(options) { options_.validate(); }

namespace {
template <class T>
double dot(const VectorT<T>& a, const VectorT<T>& b) {
  return static_cast<double>(a.template cast<double>().dot(b.template cast<double>()));
}
}  // namespace

template <class T>
Result Lbfgs::minimize(const std::type_identity_t<Function<T>>& f, VectorT<T>& x, const Observer& observer,
                       const Checkpointing& cp) const {
  const LbfgsOptions& o = options_;
  cp.validate();
  detail::RunClock clock;
  const Index p = x.size();
  const LineSearch<T> line_search(o.line_search);
  Result res;
  VectorT<T> g(p), xt(p), gt(p), d(p);
  std::deque<VectorT<T>> S, Y;
  std::deque<double> rho;
  std::deque<double> past_losses;
  bool restarted = false;
  double fx = 0;
  int start = 0;
  if (cp.resume) {
    const State& s = *cp.resume;
    const char* where = "L-BFGS: cannot resume";
    s.check_compatible(StateKind::Lbfgs, std::is_same_v<T, float>, p, where);
    require(static_cast<int>(s.lbfgs.s.size()) <= o.memory, where,
            "the state holds " + std::to_string(s.lbfgs.s.size()) + " correction pairs, memory is " +
                std::to_string(o.memory));
    require(static_cast<int>(s.lbfgs.past_losses.size()) <= o.past + 1, where,
            "the state holds " + std::to_string(s.lbfgs.past_losses.size()) + " past losses, past + 1 is " +
                std::to_string(o.past + 1));
    x = detail::from_doubles<T>(s.x);
    g = detail::from_doubles<T>(s.lbfgs.gradient);
    fx = s.loss;
    for (size_t i = 0; i < s.lbfgs.s.size(); ++i) {
      S.push_back(detail::from_doubles<T>(s.lbfgs.s[i]));
      Y.push_back(detail::from_doubles<T>(s.lbfgs.y[i]));
      rho.push_back(s.lbfgs.rho[i]);
    }
    past_losses.assign(s.lbfgs.past_losses.begin(), s.lbfgs.past_losses.end());
    restarted = s.lbfgs.restarted;
    start = s.iteration;
    clock.before = s.elapsed_s;
    res.iterations = s.iteration;
    res.evaluations = s.evaluations;
    res.history = s.history;
    if (start >= o.max_iterations) res.message = "reached max_iterations = " + std::to_string(o.max_iterations);
  } else {
    g.setZero();
    fx = static_cast<double>(f.evaluate_with_gradient(x, g));
    res.evaluations = 1;
    if (!std::isfinite(fx) || !g.allFinite()) {
      res.status = Status::Diverged;
      res.message = "L-BFGS: loss or gradient is NaN/inf at the starting point";
      res.loss = fx;
      res.seconds = clock.seconds();
      return res;
    }
    past_losses.push_back(fx);
  }
  // The state after the last accepted iteration (the point the next one starts from).
  int handed_out = -1;
  auto hand_out = [&](bool final) {
    if (!cp.sink || (handed_out == res.iterations && !final)) return;
    State s = detail::common_state<T>(StateKind::Lbfgs, res, x, fx, clock.seconds());
    s.lbfgs.gradient = detail::to_doubles<T>(g);
    for (size_t i = 0; i < S.size(); ++i) {
      s.lbfgs.s.push_back(detail::to_doubles<T>(S[i]));
      s.lbfgs.y.push_back(detail::to_doubles<T>(Y[i]));
    }
    s.lbfgs.rho.assign(rho.begin(), rho.end());
    s.lbfgs.past_losses.assign(past_losses.begin(), past_losses.end());
    s.lbfgs.restarted = restarted;
    if (final) detail::set_final(s, res);
    handed_out = res.iterations;
    cp.sink(s);
  };
  if (detail::finished_before(cp, res)) {  // a finished run: nothing left to do
    hand_out(true);
    res.seconds = clock.seconds();
    return res;
  }
  bool resumable_end = true;  // false after a failed line search (x is then not an end-of-iteration state)

  res.loss = fx;
  res.grad_norm = static_cast<double>(g.norm());
  for (int it = start; it < o.max_iterations; ++it) {
    if (static_cast<double>(g.cwiseAbs().maxCoeff()) <= o.gradient_tolerance * std::max(1.0, std::abs(fx))) {
      res.status = Status::Converged;
      res.message = "gradient below tolerance";
      resumable_end = it == res.iterations;
      break;
    }
    // Two-loop recursion: d = -H g.
    d = -g;
    const size_t m = S.size();
    std::vector<double> alpha(m);
    for (size_t i = m; i-- > 0;) {
      alpha[i] = rho[i] * dot<T>(S[i], d);
      d -= static_cast<T>(alpha[i]) * Y[i];
    }
    if (m > 0) {
      const double sy = 1.0 / rho[m - 1];
      const double yy = static_cast<double>(Y[m - 1].template cast<double>().squaredNorm());
      d *= static_cast<T>(sy / yy);
    }
    for (size_t i = 0; i < m; ++i) {
      const double beta = rho[i] * dot<T>(Y[i], d);
      d += static_cast<T>(alpha[i] - beta) * S[i];
    }
    double d0 = dot<T>(g, d);
    if (!(d0 < 0)) {  // not a descent direction: restart from steepest descent
      S.clear(); Y.clear(); rho.clear();
      d = -g;
      d0 = -static_cast<double>(g.template cast<double>().squaredNorm());
    }
    const double inv_gnorm = 1.0 / std::max(1e-300, static_cast<double>(g.norm()));
    double a0 = S.empty() ? std::min(1.0, inv_gnorm) : 1.0;
    if (S.empty() && it == 0) a0 = inv_gnorm;
    const LineSearchResult ls = line_search.search(f, x, fx, d0, d, a0, S.empty() ? inv_gnorm : 1.0, xt, gt);
    res.evaluations += ls.evaluations;
    if (!ls.found) {
      if (!restarted && !S.empty()) {
        S.clear(); Y.clear(); rho.clear();
        restarted = true;
        continue;
      }
      // Predicted decrease below the arithmetic's resolution of the loss: converged.
      if (-d0 <= std::sqrt(std::numeric_limits<T>::epsilon()) * std::max(std::abs(fx), 1e-300)) {
        res.status = Status::Converged;
        res.message = "converged to the precision limit (no decrease representable at iteration " +
                      std::to_string(it) + ")";
        resumable_end = false;
        break;
      }
      res.status = Status::LineSearchFailed;
      res.message = "L-BFGS: line search found no decrease at iteration " + std::to_string(it) +
                    " (loss " + std::to_string(fx) + "; likely at the precision limit)";
      resumable_end = false;
      break;
    }
    restarted = false;
    // Update memory.
    VectorT<T> s = xt - x, y = gt - g;
    const double sy = dot<T>(s, y);
    if (sy > 1e-12 * static_cast<double>(y.template cast<double>().squaredNorm()) && sy > 0) {
      S.push_back(std::move(s)); Y.push_back(std::move(y)); rho.push_back(1.0 / sy);
      if (static_cast<int>(S.size()) > o.memory) { S.pop_front(); Y.pop_front(); rho.pop_front(); }
    }
    x = xt;
    g = gt;
    fx = ls.loss;
    res.iterations = it + 1;
    res.loss = fx;
    res.grad_norm = static_cast<double>(g.norm());
    if (o.record_history) res.history.push_back(fx);
    past_losses.push_back(fx);
    if (static_cast<int>(past_losses.size()) > o.past + 1) past_losses.pop_front();
    if (observer) {
      Progress pr;
      pr.iteration = res.iterations;
      pr.max_iterations = o.max_iterations;
      pr.loss = fx;
      pr.grad_norm = res.grad_norm;
      pr.step = ls.step;
      pr.evaluations = res.evaluations;
      pr.elapsed_s = clock.seconds();
      if (!observer(pr)) {
        res.status = Status::Stopped;
        res.message = "stopped by observer at iteration " + std::to_string(res.iterations);
        hand_out(true);
        res.seconds = clock.seconds();
        return res;
      }
    }
    if (static_cast<int>(past_losses.size()) == o.past + 1) {
      const double old = past_losses.front();
      if ((old - fx) <= o.loss_tolerance * std::max({std::abs(fx), std::abs(old), 1e-300})) {
        res.status = Status::Converged;
        res.message = "relative loss decrease below tolerance over " + std::to_string(o.past) + " iterations";
        break;
      }
    }
    if (it + 1 == o.max_iterations) {
      res.status = Status::MaxIterations;
      res.message = "reached max_iterations = " + std::to_string(o.max_iterations);
    } else if (cp.every > 0 && res.iterations % cp.every == 0) {
      hand_out(false);
    }
  }
  if (resumable_end) hand_out(true);  // converged or budget spent
  res.seconds = clock.seconds();
  return res;
}

template Result Lbfgs::minimize<float>(const Function<float>&, VectorT<float>&, const Observer&,
                                       const Checkpointing&) const;
template Result Lbfgs::minimize<double>(const Function<double>&, VectorT<double>&, const Observer&,
                                        const Checkpointing&) const;

}  // namespace varlearn::optim
