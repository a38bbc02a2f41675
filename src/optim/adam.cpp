#include "varlearn/optim/adam.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "clock.hpp"
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
double AdamState<T>::current_learning_rate() const {
  return opt_.learning_rate * std::pow(opt_.decay, static_cast<double>(t_ / opt_.decay_every));
}
template <class T>
void AdamState<T>::step(VectorT<T>& x, const VectorT<T>& g) {
  require(g.size() == m_.size() && x.size() == m_.size(), "AdamState::step", "size mismatch");
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

Adam::Adam(const AdamOptions& options) : options_(options) { options_.validate(); }

template <class T>
Result Adam::minimize(const std::type_identity_t<Function<T>>& f, VectorT<T>& x, const Observer& observer) const {
  using detail::since;
  const AdamOptions& o = options_;
  const auto t0 = detail::Clock::now();
  AdamState<T> adam(o, x.size());
  VectorT<T> g(x.size()), last_good = x;
  Result res;
  double first = std::numeric_limits<double>::quiet_NaN();
  for (int it = 0; it < o.max_iterations; ++it) {
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
      res.seconds = since(t0);
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
      p.elapsed_s = since(t0);
      if (!observer(p)) {
        res.status = Status::Stopped;
        res.message = "stopped by observer at iteration " + std::to_string(res.iterations);
        res.seconds = since(t0);
        return res;
      }
    }
    if (it + 1 == o.max_iterations) {
      res.status = Status::MaxIterations;
      res.message = "reached max_iterations = " + std::to_string(o.max_iterations);
    }
  }
  res.seconds = since(t0);
  return res;
}

template class AdamState<float>;
template class AdamState<double>;
template Result Adam::minimize<float>(const Function<float>&, VectorT<float>&, const Observer&) const;
template Result Adam::minimize<double>(const Function<double>&, VectorT<double>&, const Observer&) const;

}  // namespace varlearn::optim
