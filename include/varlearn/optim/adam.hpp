#pragma once
/// \file adam.hpp
/// Adam (Kingma & Ba 2015) with an optional step decay of the learning rate.
#include <type_traits>

#include "varlearn/core/types.hpp"
#include "varlearn/optim/function.hpp"
#include "varlearn/optim/progress.hpp"
#include "varlearn/optim/state.hpp"

namespace varlearn::optim {

/// Adam with learning-rate decay
/// \f$\eta_t = \eta\cdot\texttt{decay}^{\lfloor t/\texttt{decay\_every}\rfloor}\f$.
struct AdamOptions {
  double learning_rate = 1e-2;  ///< \f$\eta\f$, > 0
  double beta1 = 0.9;           ///< \f$\beta_1\f$, first-moment decay, in [0,1)
  double beta2 = 0.999;         ///< \f$\beta_2\f$, second-moment decay, in [0,1)
  double epsilon = 1e-8;        ///< \f$\epsilon\f$, denominator guard, > 0
  double decay = 1.0;           ///< multiplicative learning-rate decay factor, in (0,1]
  int decay_every = 1000;       ///< iterations between decays, >= 1
  int max_iterations = 1000;    ///< objective calls (= steps), >= 1
  double gradient_tolerance = 0;  ///< Converged when \f$\|\nabla L\|_2\le\f$ this; 0 = never
  /// Diverged when the loss is non-finite or exceeds divergence_factor * (|first loss| + 1e-300);
  /// +inf disables the explosion test. > 1.
  double divergence_factor = 1e8;
  bool record_history = true;   ///< Result::history gets the loss of every step
  void validate() const;        ///< throws Error naming the bad field
};

/// Adam's moment estimates, for callers that drive their own loop (one step per gradient).
template <class T>
class AdamState {
public:
  AdamState(const AdamOptions& options, Index size);
  /// One update \f$x \leftarrow x - \eta_t \hat m/(\sqrt{\hat v}+\epsilon)\f$ for gradient g, with
  /// \f$m \leftarrow \beta_1 m + (1-\beta_1)g\f$, \f$v \leftarrow \beta_2 v + (1-\beta_2)g^2\f$ and the
  /// bias corrections \f$\hat m = m/(1-\beta_1^t)\f$, \f$\hat v = v/(1-\beta_2^t)\f$.
  void step(VectorT<T>& x, const VectorT<T>& g);
  int steps() const { return t_; }
  double current_learning_rate() const;  ///< \f$\eta_t\f$ of the next step
  void reset();
  const VectorT<T>& first_moment() const { return m_; }   ///< m
  const VectorT<T>& second_moment() const { return v_; }  ///< v
  /// Sets m, v and the step count t (resume); throws Error on a size mismatch or t < 0.
  void restore(const VectorT<T>& m, const VectorT<T>& v, int steps);

private:
  AdamOptions opt_;
  VectorT<T> m_, v_;
  int t_ = 0;
};

/// The Adam optimizer: minimize() runs options().max_iterations steps on an objective
/// (stochastic ones included), stopping early on the gradient tolerance, divergence (x is then
/// the last good iterate) or the observer.
class Adam {
public:
  explicit Adam(const AdamOptions& options = {});
  const AdamOptions& options() const { return options_; }
  /// Minimizes f from x (in place). T is float or double. `checkpointing` hands out the
  /// state every few iterations and/or resumes from one (state.hpp); the observer is called
  /// before the sink for the same iteration.
  template <class T>
  Result minimize(const std::type_identity_t<Function<T>>& f, VectorT<T>& x, const Observer& observer = {},
                  const Checkpointing& checkpointing = {}) const;

private:
  AdamOptions options_;
};

}  // namespace varlearn::optim
