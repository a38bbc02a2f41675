#include "varlearn/optim/adam.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "convert.hpp"
#include "run.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::optim {

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

template <class T>
AdamState<T>::AdamState(const AdamOptions& o, Index size) : opt_(o) {
  opt_.validate();
  m_ = VectorT<T>::Zero(size);
  v_ = VectorT<T>::Zero(size);
}
template <class T>
void AdamState<T>::reset() {
  m_.setZero();
  v_.setZero();
  t_ = 0;
}
template <class T>
void AdamState<T>::restore(const VectorT<T>& m, const VectorT<T>& v, int steps) {
  require(m.size() == m_.size() && v.size() == v_.size(), "AdamState::restore", "size mismatch");
  require(steps >= 0, "AdamState::restore", "steps must be >= 0");
  m_ = m;
  v_ = v;
  t_ = steps;
}
template <class T>
double AdamState<T>::current_learning_rate() const {
  return opt_.learning_rate * std::pow(opt_.decay, static_cast<double>(t_ / opt_.decay_every));
}
template <class T>
void AdamState<T>::step(VectorT<T>& x, const VectorT<T>& g) {
  require(g.size() == m_.size() && x.size() == m_.size(), "AdamState::step", "size mismatch");
  const double lr = current_learning_rate();
  ++t_;
  const T b1 = static_cast<T>(opt_.beta1), b2 = static_cast<T>(opt_.beta2);
  const double c1 = 1.0 - std::pow(opt_.beta1, t_), c2 = 1.0 - std::pow(opt_.beta2, t_);
  const T a = static_cast<T>(lr / c1);
  const T s2 = static_cast<T>(1.0 / std::sqrt(c2));
  const T eps = static_cast<T>(opt_.epsilon);
  // By chunks of kChunk entries, all three updates per chunk (m, v, x and g stay in L1 between
  // them), the chunks over the threads for large vectors: the update was three serial passes,
  // 1-2 % of a training step of the direct path on two threads. Chunks start at multiples of
  // kChunk (aligned like the whole vector), so every entry takes the same vector or scalar path
  // as in one whole-vector pass: the same numbers for every thread count.
  constexpr Index kChunk = 2048;
  const Index size = x.size(), chunks = (size + kChunk - 1) / kChunk;
  auto chunk = [&](Index c) {
    const Index s = c * kChunk, len = std::min(kChunk, size - s);
    auto m = m_.segment(s, len);
    auto v = v_.segment(s, len);
    const auto gs = g.segment(s, len);
    m = b1 * m + (T(1) - b1) * gs;
    v = b2 * v + (T(1) - b2) * gs.cwiseAbs2();
    x.segment(s, len).array() -= a * m.array() / (v.array().sqrt() * s2 + eps);
  };
  // Arithmetic on vectors only (cannot throw): a plain OpenMP loop.
#pragma omp parallel for schedule(static) if (chunks >= 16 && !omp_in_parallel())
  for (Index c = 0; c < chunks; ++c) chunk(c);
}

Adam::Adam(const AdamOptions& options) : options_(options) { options_.validate(); }

template <class T>
Result Adam::minimize(const std::type_identity_t<Function<T>>& f, VectorT<T>& x, const Observer& observer,
                      const Checkpointing& cp) const {
  const AdamOptions& o = options_;
  cp.validate();
  detail::RunClock clock;
  AdamState<T> adam(o, x.size());
  Result res;
  double first = std::numeric_limits<double>::quiet_NaN();
  int start = 0;
  if (cp.resume) {
    const State& s = *cp.resume;
    s.check_compatible(StateKind::Adam, std::is_same_v<T, float>, x.size(), "Adam: cannot resume");
    x = detail::from_doubles<T>(s.x);
    adam.restore(detail::from_doubles<T>(s.adam.m), detail::from_doubles<T>(s.adam.v), s.adam.steps);
    first = s.adam.first_loss;
    start = s.iteration;
    clock.before = s.elapsed_s;
    res.iterations = s.iteration;
    res.evaluations = s.evaluations;
    res.loss = s.loss;
    res.grad_norm = s.grad_norm;
    res.history = s.history;
    if (start >= o.max_iterations) {
      res.status = Status::MaxIterations;
      res.message = "reached max_iterations = " + std::to_string(o.max_iterations);
    }
  }
  // The state after the last accepted iteration (the point the next one starts from).
  int handed_out = -1;
  auto hand_out = [&](bool final) {
    if (!cp.sink || (handed_out == res.iterations && !final)) return;
    State s = detail::common_state<T>(StateKind::Adam, res, x, res.loss, clock.seconds());
    s.adam.m = detail::to_doubles<T>(adam.first_moment());
    s.adam.v = detail::to_doubles<T>(adam.second_moment());
    s.adam.steps = adam.steps();
    s.adam.first_loss = std::isfinite(first) ? first : 0.0;
    if (final) detail::set_final(s, res);
    handed_out = res.iterations;
    cp.sink(s);
  };
  if (detail::finished_before(cp, res)) {  // a finished run: nothing left to do
    hand_out(true);
    res.seconds = clock.seconds();
    return res;
  }
  VectorT<T> g(x.size()), last_good = x;
  for (int it = start; it < o.max_iterations; ++it) {
    g.setZero();
    const double loss = static_cast<double>(f.evaluate_with_gradient(x, g));
    ++res.evaluations;
    const bool finite = std::isfinite(loss) && g.allFinite();
    if (it == 0) first = loss;
    if (!finite || (it > 0 && loss > o.divergence_factor * (std::abs(first) + 1e-300))) {
      x = last_good;
      res.status = Status::Diverged;
      res.message = !finite ? "Adam diverged at iteration " + std::to_string(it) +
                                  ": loss or gradient is NaN/inf; kept the last good iterate"
                            : "Adam diverged at iteration " + std::to_string(it) + ": loss " +
                                  std::to_string(loss) + " exploded (first " + std::to_string(first) +
                                  "); kept the last good iterate";
      res.seconds = clock.seconds();
      return res;
    }
    last_good = x;
    res.loss = loss;
    res.grad_norm = static_cast<double>(g.norm());
    if (o.gradient_tolerance > 0 && res.grad_norm <= o.gradient_tolerance) {
      res.status = Status::Converged;
      res.message = "gradient norm below tolerance";
      break;
    }
    const double lr = adam.current_learning_rate();
    adam.step(x, g);
    res.iterations = it + 1;
    if (o.record_history) res.history.push_back(loss);
    if (observer) {
      Progress p;
      p.iteration = res.iterations;
      p.max_iterations = o.max_iterations;
      p.loss = loss;
      p.grad_norm = res.grad_norm;
      p.step = lr;
      p.evaluations = res.evaluations;
      p.elapsed_s = clock.seconds();
      if (!observer(p)) {
        res.status = Status::Stopped;
        res.message = "stopped by observer at iteration " + std::to_string(res.iterations);
        hand_out(true);
        res.seconds = clock.seconds();
        return res;
      }
    }
    if (it + 1 == o.max_iterations) {
      res.status = Status::MaxIterations;
      res.message = "reached max_iterations = " + std::to_string(o.max_iterations);
    } else if (cp.every > 0 && res.iterations % cp.every == 0) {
      hand_out(false);
    }
  }
  hand_out(true);  // converged or budget spent
  res.seconds = clock.seconds();
  return res;
}

template class AdamState<float>;
template class AdamState<double>;
template Result Adam::minimize<float>(const Function<float>&, VectorT<float>&, const Observer&,
                                      const Checkpointing&) const;
template Result Adam::minimize<double>(const Function<double>&, VectorT<double>&, const Observer&,
                                       const Checkpointing&) const;

}  // namespace varlearn::optim
