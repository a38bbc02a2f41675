#include "varlearn/general/unrolled.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/threads.hpp"

namespace varlearn::general {

void UnrolledOptions::validate() const {
  const std::string where = "general::UnrolledOptions: ";
  if (steps < 1) throw Error(where + "steps must be >= 1, got " + std::to_string(steps));
  if (sharing != StepSharing::Shared && sharing != StepSharing::PerIteration && sharing != StepSharing::Fixed)
    throw Error(where + "sharing is not shared, per-iteration or fixed");
  if (init != UnrolledInit::Zero && init != UnrolledInit::Adjoint)
    throw Error(where + "init is not zero or adjoint");
  if (!(stepsize > 0) || !std::isfinite(stepsize))
    throw Error(where + "stepsize must be > 0 and finite, got " + format_general(stepsize));
  if (checkpoint_every < 1)
    throw Error(where + "checkpoint_every must be >= 1, got " + std::to_string(checkpoint_every));
}

int sqrt_checkpointing(int steps) {
  if (steps < 1) throw Error(std::string("general::sqrt_checkpointing: steps must be >= 1, got ") + std::to_string(steps));
  int k = static_cast<int>(std::sqrt(static_cast<double>(steps)));
  while (k * k < steps) ++k;  // ceil, exact for perfect squares
  while (k > 1 && (k - 1) * (k - 1) >= steps) --k;
  return k;
}

namespace {

/// Threads for an elementwise pass over `entries` values: one below ~64k (the team costs more).
int pass_threads(Index entries) { return entries >= 65536 ? omp_get_max_threads() : 1; }

/// out = x + s y (threads over columns; out may be x). Returns false if an entry of out is not
/// finite (sum of v - v: 0 unless some v is inf or NaN).
template <class T>
bool axpy_finite(MatrixT<T>& out, const MatrixT<T>& x, T s, const MatrixT<T>& y) {
  if (&out != &x) out.resize(x.rows(), x.cols());
  const Index rows = x.rows(), cols = x.cols();
  T* po = out.data();
  const T* px = x.data();
  const T* py = y.data();
  T nonfinite = 0;
#pragma omp parallel for schedule(static) reduction(+ : nonfinite) num_threads(pass_threads(rows * cols))
  for (Index c = 0; c < cols; ++c) {
    T acc = 0;
#pragma omp simd reduction(+ : acc)
    for (Index r = c * rows; r < (c + 1) * rows; ++r) {
      const T v = px[r] + s * py[r];
      po[r] = v;
      acc += v - v;
    }
    nonfinite += acc;
  }
  return nonfinite == T(0);
}

/// lambda^t = rho + (1 + beta) mu and rho <- -beta mu, in one pass (lambda holds mu on entry).
template <class T>
void momentum_adjoint(T beta, MatrixT<T>& lambda, MatrixT<T>& rho) {
  const Index rows = lambda.rows(), cols = lambda.cols();
  T* pl = lambda.data();
  T* pr = rho.data();
#pragma omp parallel for schedule(static) num_threads(pass_threads(rows * cols))
  for (Index c = 0; c < cols; ++c) {
#pragma omp simd
    for (Index r = c * rows; r < (c + 1) * rows; ++r) {
      const T mu = pl[r];
      pl[r] = pr[r] + (T(1) + beta) * mu;
      pr[r] = -beta * mu;
    }
  }
}

/// y = f + beta (f - f_prev) in one threaded pass.
template <class T>
void extrapolate(MatrixT<T>& y, const MatrixT<T>& f, const MatrixT<T>& f_prev, T beta) {
  y.resize(f.rows(), f.cols());
  const Index rows = f.rows(), cols = f.cols();
  T* py = y.data();
  const T* pf = f.data();
  const T* pp = f_prev.data();
#pragma omp parallel for schedule(static) num_threads(pass_threads(rows * cols))
  for (Index c = 0; c < cols; ++c) {
#pragma omp simd
    for (Index r = c * rows; r < (c + 1) * rows; ++r) py[r] = pf[r] + beta * (pf[r] - pp[r]);
  }
}

/// beta_t = t / (t + 3) (Nesterov's (t - 1)/(t + 2) counted from t = 0), 0 without momentum.
double momentum_beta(int t, const UnrolledOptions& options) {
  return options.momentum ? static_cast<double>(t) / static_cast<double>(t + 3) : 0.0;
}

template <class T>
std::vector<double> step_sizes(const VectorT<T>& alpha, const UnrolledOptions& options, const char* where) {
  options.validate();
  if (alpha.size() != options.num_step_parameters())
    throw Error(std::string(where) + ": " + std::to_string(alpha.size()) + " step parameters, expected " +
                std::to_string(options.num_step_parameters()));
  if (!alpha.allFinite()) throw Error(std::string(where) + ": a step parameter is not finite");
  std::vector<double> omega(static_cast<std::size_t>(options.steps));
  for (int t = 0; t < options.steps; ++t) {
    switch (options.sharing) {
      case StepSharing::Fixed: omega[static_cast<std::size_t>(t)] = options.stepsize; break;
      case StepSharing::Shared: omega[static_cast<std::size_t>(t)] = softplus(static_cast<double>(alpha(0))); break;
      case StepSharing::PerIteration: omega[static_cast<std::size_t>(t)] = softplus(static_cast<double>(alpha(t))); break;
    }
  }
  return omega;
}

/// The forward recursion and its reverse mode, with checkpointing. States: f^t and, with
/// momentum, f^{t-1}. `iterates[t]` holds f^t where stored (every k-th from the forward pass,
/// the current segment during the backward pass); `previous[t]` holds f^{t-1} at a
/// checkpoint t > 0 with momentum when f^{t-1} is not itself stored.
template <class T>
class Unroller {
public:
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;

  Unroller(const BasicEnergy<T>& energy, const UnrolledOptions& options, std::vector<double> omega, const char* where)
      : e_(energy), o_(options), omega_(std::move(omega)), where_(where), k_(options.checkpoint_every) {}

  /// f^N; with `keep`, stores the checkpoints (and, for k = 1, every step's Linearization) for backward().
  Mat forward(bool keep) {
    const auto n = static_cast<std::size_t>(o_.steps);
    if (keep) {
      iterates_.assign(n + 1, Mat());
      previous_.assign(n + 1, Mat());
      kept_.assign(n, {});
    }
    Mat f = o_.init == UnrolledInit::Zero ? Mat(Mat::Zero(e_.dimension(), e_.batch())) : e_.adjoint_observations();
    if (keep && k_ == 1) {  // every iterate stored: step straight into its slot, no copies
      iterates_[0] = std::move(f);
      if (o_.momentum) points_.assign(n, Mat());
      for (int t = 0; t < o_.steps; ++t) {
        const auto ut = static_cast<std::size_t>(t);
        step(t, iterates_[ut], iterates_[t > 0 ? ut - 1 : 0], iterates_[ut + 1], &kept_[ut]);
        if (o_.momentum && t > 0) points_[ut].swap(y_);  // keep y^t for the backward step
      }
      return iterates_[n];
    }
    Mat f_prev = o_.momentum ? f : Mat();
    Mat next;
    for (int t = 0; t < o_.steps; ++t) {
      const auto ut = static_cast<std::size_t>(t);
      if (keep && t % k_ == 0) {
        iterates_[ut] = f;
        if (o_.momentum && t > 0 && k_ > 1) previous_[ut] = f_prev;
      }
      step(t, f, f_prev, next, nullptr);
      if (o_.momentum) f_prev.swap(f);
      f.swap(next);
    }
    return f;
  }

  /// Reverse mode from lambda^N = dl/df^N; accumulates into theta_gradient and omega_gradient.
  void backward(Mat lambda, Vec& theta_gradient, std::vector<double>& omega_gradient) {
    theta_gradient = Vec::Zero(e_.num_parameters());
    omega_gradient.assign(static_cast<std::size_t>(o_.steps), 0.0);
    Mat rho;  // momentum: the share of dl/df^{t-1} from step t+1 (f^{t-1} enters y^{t+1})
    if (o_.momentum) rho = Mat::Zero(lambda.rows(), lambda.cols());
    Mat hv, y;
    Vec mixed;
    const int segments = (o_.steps + k_ - 1) / k_;
    for (int s = segments - 1; s >= 0; --s) {
      const int t0 = s * k_, t1 = std::min(o_.steps, t0 + k_);
      recompute(t0, t1);
      for (int t = t1 - 1; t >= t0; --t) {
        const auto ut = static_cast<std::size_t>(t);
        const Mat& point = evaluation_point(t, y);
        const double dot = e_.reverse_kernels(point, lambda, &kept_[ut], hv, mixed);
        const double w = omega_[ut];
        omega_gradient[ut] = -dot;                    // dl/domega_t = -<lambda^{t+1}, grad E(y^t)>
        theta_gradient.noalias() -= static_cast<T>(w) * mixed;
        axpy_finite(lambda, lambda, static_cast<T>(-w), hv);  // mu = (I - omega H(y^t)) lambda^{t+1}
        if (o_.momentum) momentum_adjoint(static_cast<T>(momentum_beta(t, o_)), lambda, rho);
        if (k_ > 1 && t > t0) iterates_[ut] = Mat();  // keep only the checkpoint
        kept_[ut] = {};
        if (ut < points_.size()) points_[ut] = Mat();
      }
    }
  }

private:
  /// y^t (momentum) or f^t: the point where step t evaluates grad E.
  const Mat& evaluation_point(int t, Mat& y) const {
    const Mat& f = iterates_[static_cast<std::size_t>(t)];
    if (!o_.momentum || t == 0) return f;
    if (points_.size() > static_cast<std::size_t>(t) && points_[static_cast<std::size_t>(t)].size() > 0)
      return points_[static_cast<std::size_t>(t)];
    extrapolate(y, f, before(t), static_cast<T>(momentum_beta(t, o_)));
    return y;
  }
  /// f^{t-1} for a stored f^t (t >= 1).
  const Mat& before(int t) const {
    const auto ut = static_cast<std::size_t>(t);
    return iterates_[ut - 1].size() > 0 ? iterates_[ut - 1] : previous_[ut];
  }

  /// One forward step t from f^t (and f^{t-1}) to f^{t+1}.
  void step(int t, const Mat& f, const Mat& f_prev, Mat& next, typename BasicEnergy<T>::Linearization* keep) {
    const Mat* point = &f;
    if (o_.momentum && t > 0) {
      extrapolate(y_, f, f_prev, static_cast<T>(momentum_beta(t, o_)));
      point = &y_;
    }
    e_.gradient_into(*point, grad_, keep);
    if (!axpy_finite(next, *point, static_cast<T>(-omega_[static_cast<std::size_t>(t)]), grad_))
      throw Error(std::string(where_) + ": iterate " + std::to_string(t + 1) +
                  " is not finite (step size too large for the energy?)");
  }

  /// Stores f^{t0+1} .. f^{t1-1} (and the Linearizations of steps t0 .. t1-2) from the checkpoint at
  /// t0, with the same operations as the forward pass (so the same numbers).
  void recompute(int t0, int t1) {
    if (k_ == 1) return;
    Mat f = iterates_[static_cast<std::size_t>(t0)];
    Mat f_prev;
    if (o_.momentum) f_prev = t0 == 0 ? f : before(t0);
    Mat next;
    for (int t = t0; t < t1 - 1; ++t) {
      step(t, f, f_prev, next, &kept_[static_cast<std::size_t>(t)]);
      iterates_[static_cast<std::size_t>(t) + 1] = next;
      if (o_.momentum) f_prev.swap(f);
      f.swap(next);
    }
  }

  const BasicEnergy<T>& e_;
  const UnrolledOptions& o_;
  std::vector<double> omega_;
  const char* where_;
  int k_;
  std::vector<Mat> iterates_, previous_;
  std::vector<Mat> points_;  ///< y^t of the forward pass (momentum, every iterate stored)
  std::vector<typename BasicEnergy<T>::Linearization> kept_;  ///< per step: what gradient_into kept
  Mat y_, grad_;
};

template <class T>
void check_target(const BasicEnergy<T>& energy, const MatrixT<T>& target, const char* where) {
  if (target.rows() != energy.dimension() || target.cols() != energy.batch())
    throw Error(std::string(where) + ": targets are " + std::to_string(target.rows()) + " x " +
                std::to_string(target.cols()) + ", expected " + std::to_string(energy.dimension()) + " x " +
                std::to_string(energy.batch()));
}


}  // namespace

template <class T>
MatrixT<T> unrolled_output(const BasicEnergy<T>& energy, const std::type_identity_t<VectorT<T>>& alpha,
                           const UnrolledOptions& options) {
  const char* where = "general::unrolled_output";
  const std::vector<double> omega = step_sizes<T>(alpha, options, where);
  const FrameBlocks bl = frame_blocks(energy);
  if (bl.count == 1) {
    Unroller<T> unroller(energy, options, omega, where);
    return unroller.forward(false);
  }
  MatrixT<T> out(energy.dimension(), energy.batch());
  parallel_for(
      bl.count,
      [&](Index i) {
        const Index c0 = bl.begin(i), w = bl.width(i, energy.batch());
        const BasicEnergy<T> sub = energy.columns(c0, w);
        Unroller<T> unroller(sub, options, omega, where);
        out.middleCols(c0, w) = unroller.forward(false);
      },
      Schedule::Static, 1, bl.threads > 1);
  return out;
}

template <class T>
BasicUnrolledResult<T> unrolled_loss(const BasicEnergy<T>& energy, const std::type_identity_t<MatrixT<T>>& target,
                                     const std::type_identity_t<VectorT<T>>& alpha, const UnrolledOptions& options,
                                     bool with_gradient) {
  const char* where = "general::unrolled_loss";
  check_target(energy, target, where);
  std::vector<double> omega = step_sizes<T>(alpha, options, where);
  const double inv_b = 1.0 / static_cast<double>(energy.batch());
  const FrameBlocks bl = frame_blocks(energy);
  BasicUnrolledResult<T> result;
  result.output.resize(energy.dimension(), energy.batch());
  VectorT<T> theta_gradient = VectorT<T>::Zero(with_gradient ? energy.num_parameters() : 0);
  std::vector<double> omega_gradient(static_cast<std::size_t>(options.steps), 0.0);
  double loss = 0;
  // One block: its output columns, 1/2 |residual|^2, and (with_gradient) its gradients.
  auto block = [&](Index i, VectorT<T>& tg, std::vector<double>& og) {
    // float32 reverse passes decay into denormals, slow on x86: flush them (per thread).
    const FlushDenormals guard(std::is_same_v<T, float>);
    const Index c0 = bl.begin(i), w = bl.width(i, energy.batch());
    std::optional<BasicEnergy<T>> own;  // the whole batch: the energy itself, no copy
    const BasicEnergy<T>& sub = bl.count == 1 ? energy : own.emplace(energy.columns(c0, w));
    Unroller<T> unroller(sub, options, omega, where);
    auto out = result.output.middleCols(c0, w);
    out = unroller.forward(with_gradient);
    MatrixT<T> residual = out - target.middleCols(c0, w);
    const double l = 0.5 * static_cast<double>(residual.squaredNorm());
    if (with_gradient) {
      residual *= static_cast<T>(inv_b);  // lambda^N
      unroller.backward(std::move(residual), tg, og);
    }
    return l;
  };
  struct Slot {  // one block's sums
    double loss = 0;
    VectorT<T> tg;
    std::vector<double> og;
  };
  std::vector<Slot> slots(static_cast<std::size_t>(bl.threads));
  ordered_blocks(
      bl.count, bl.threads, slots, [&](Index i, Slot& s) { s.loss = block(i, s.tg, s.og); },
      [&](Index, Slot& s) {
        loss += s.loss;
        if (!with_gradient) return;
        theta_gradient += s.tg;
        for (std::size_t t = 0; t < s.og.size(); ++t) omega_gradient[t] += s.og[t];
      });
  result.loss = static_cast<T>(loss * inv_b);
  if (!with_gradient) return result;
  result.theta_gradient = std::move(theta_gradient);
  result.alpha_gradient = VectorT<T>::Zero(options.num_step_parameters());
  if (options.sharing != StepSharing::Fixed) {
    for (int t = 0; t < options.steps; ++t) {
      const Index a = options.sharing == StepSharing::Shared ? 0 : t;
      result.alpha_gradient(a) += static_cast<T>(omega_gradient[static_cast<std::size_t>(t)] *
                                                 softplus_derivative(static_cast<double>(alpha(a))));
    }
  }
  return result;
}

template <class T>
BasicUnrolledObjective<T>::BasicUnrolledObjective(BasicEnergy<T> energy, Mat target, UnrolledOptions options)
    : energy_(std::move(energy)), target_(std::move(target)), options_(options) {
  options_.validate();
  check_target(energy_, target_, "general::UnrolledObjective");
}

template <class T>
Index BasicUnrolledObjective<T>::num_parameters() const {
  return energy_.num_parameters() + options_.num_step_parameters();
}

template <class T>
typename BasicUnrolledObjective<T>::Vec BasicUnrolledObjective<T>::pack(const Vec& alpha) const {
  if (alpha.size() != options_.num_step_parameters())
    throw Error(std::string("general::UnrolledObjective::pack: ") + std::to_string(alpha.size()) +
                " step parameters, expected " + std::to_string(options_.num_step_parameters()));
  Vec x(num_parameters());
  x << energy_.parameters(), alpha;
  return x;
}

template <class T>
typename BasicUnrolledObjective<T>::Vec BasicUnrolledObjective<T>::set(const Vec& x, const char* where) {
  if (x.size() != num_parameters())
    throw Error(std::string(where) + ": " + std::to_string(x.size()) + " parameters, expected " +
                std::to_string(num_parameters()) + " (theta, then alpha)");
  const Index p = energy_.num_parameters();
  energy_.set_parameters(x.head(p));
  return x.tail(options_.num_step_parameters());
}

template <class T>
T BasicUnrolledObjective<T>::evaluate_with_gradient(const Vec& x, Vec& grad) {
  const Vec alpha = set(x, "general::UnrolledObjective::evaluate_with_gradient");
  BasicUnrolledResult<T> r = unrolled_loss<T>(energy_, target_, alpha, options_, true);
  grad.resize(num_parameters());
  grad << r.theta_gradient, r.alpha_gradient;
  return r.loss;
}

template <class T>
T BasicUnrolledObjective<T>::evaluate(const Vec& x) {
  const Vec alpha = set(x, "general::UnrolledObjective::evaluate");
  return unrolled_loss<T>(energy_, target_, alpha, options_, false).loss;
}

#define VARLEARN_GENERAL_UNROLLED(T)                                                                            \
  template MatrixT<T> unrolled_output<T>(const BasicEnergy<T>&, const VectorT<T>&, const UnrolledOptions&);    \
  template BasicUnrolledResult<T> unrolled_loss<T>(const BasicEnergy<T>&, const MatrixT<T>&, const VectorT<T>&, \
                                                   const UnrolledOptions&, bool);                               \
  template class BasicUnrolledObjective<T>;
VARLEARN_GENERAL_UNROLLED(float)
VARLEARN_GENERAL_UNROLLED(double)
#undef VARLEARN_GENERAL_UNROLLED

}  // namespace varlearn::general
