#pragma once
/// \file unrolled.hpp
/// Unrolled learning (docs/general.md): N gradient steps on the energy E,
/// \f$f^{t+1} = f^t - \omega_t\nabla_F E(f^t)\f$, or with Nesterov momentum
/// \f$y^t = f^t + \beta_t(f^t - f^{t-1})\f$, \f$\beta_t = t/(t+3)\f$,
/// \f$f^{t+1} = y^t - \omega_t\nabla_F E(y^t)\f$ (\f$f^{-1} = f^0\f$), from \f$f^0 = 0\f$ or
/// \f$A^TG\f$; \f$\omega_t\f$ fixed, \f$\mathrm{softplus}(\alpha)\f$ (shared) or
/// \f$\mathrm{softplus}(\alpha_t)\f$ (per step). Loss \f$\ell = \tfrac12\|f^N - F^\dagger\|_F^2 / B\f$
/// and its exact gradient in \f$(\theta, \alpha)\f$ by reverse mode, storing every iterate or
/// every k-th and recomputing the rest (checkpointing). Templated on the scalar T (float, double).
#include <string>
#include <type_traits>

#include "varlearn/core/types.hpp"
#include "varlearn/general/energy.hpp"

namespace varlearn::general {

enum class UnrolledInit {
  Zero,     ///< \f$f^0 = 0\f$
  Adjoint,  ///< \f$f^0 = A^TG\f$
};

enum class StepSharing {
  Shared,        ///< one \f$\alpha\f$: \f$\omega_t = \mathrm{softplus}(\alpha)\f$ for all t
  PerIteration,  ///< N values: \f$\omega_t = \mathrm{softplus}(\alpha_t)\f$
  Fixed,         ///< \f$\omega_t\f$ = UnrolledOptions::stepsize for all t, not learned
};

struct UnrolledOptions {
  int steps = 10;  ///< N >= 1
  UnrolledInit init = UnrolledInit::Zero;
  StepSharing sharing = StepSharing::Shared;
  /// Nesterov momentum: \f$y^t = f^t + \beta_t(f^t - f^{t-1})\f$, \f$\beta_t = t/(t+3)\f$,
  /// \f$f^{t+1} = y^t - \omega_t\nabla E(y^t)\f$, \f$f^{-1} = f^0\f$.
  bool momentum = false;
  /// \f$\omega\f$ > 0 of StepSharing::Fixed (unused otherwise).
  double stepsize = 0.1;
  /// k >= 1: the forward pass keeps every k-th state (f^t, and f^{t-1} with momentum); the
  /// backward pass recomputes each segment of k steps from its checkpoint. 1 = store all
  /// N + 1 iterates; sqrt_checkpointing(N) = ceil(sqrt N) keeps O(sqrt N) batches for about
  /// one more forward pass. The gradient does not depend on k (same operations).
  int checkpoint_every = 1;
  /// Number of step parameters \f$\alpha\f$: 1 (shared), N (per iteration) or 0 (fixed).
  Index num_step_parameters() const {
    return sharing == StepSharing::Shared ? 1 : sharing == StepSharing::PerIteration ? steps : 0;
  }
  /// Throws Error naming the bad field.
  void validate() const;
};

/// \f$\lceil\sqrt N\rceil\f$: the checkpoint spacing with O(sqrt N) stored batches (N >= 1,
/// else Error).
int sqrt_checkpointing(int steps);

template <class T>
struct BasicUnrolledResult {
  T loss = 0;                     ///< \f$\ell = \tfrac12\|f^N - F^\dagger\|_F^2 / B\f$
  MatrixT<T> output;              ///< \f$f^N\f$ (n x B)
  VectorT<T> theta_gradient;      ///< \f$d\ell/d\theta\f$ (empty unless requested)
  VectorT<T> alpha_gradient;      ///< \f$d\ell/d\alpha\f$, size num_step_parameters() (empty unless requested)
};
using UnrolledResult = BasicUnrolledResult<double>;

/// \f$f^N\f$ of the unrolled solver for step parameters alpha (size num_step_parameters()).
template <class T>
MatrixT<T> unrolled_output(const BasicEnergy<T>& energy, const std::type_identity_t<VectorT<T>>& alpha,
                           const UnrolledOptions& options);

/// The loss against targets F† (n x B) and, when `with_gradient`, its gradient by reverse mode.
/// Without momentum: \f$\lambda^N = (f^N - F^\dagger)/B\f$; for t = N-1 .. 0:
/// \f$d\ell/d\theta \mathrel{+}= -\omega_t\,\texttt{mixed\_product}(f^t, \lambda^{t+1})\f$,
/// \f$d\ell/d\omega_t = -\langle\lambda^{t+1}, \nabla E(f^t)\rangle\f$ (times softplus'
/// \f$(\alpha_t)\f$, summed over t when shared), \f$\lambda^t = \lambda^{t+1} -
/// \omega_t\nabla^2E(f^t)\lambda^{t+1}\f$. With momentum the same kernels act at \f$y^t\f$ and
/// one more adjoint state carries \f$f^{t-1}\f$'s share: \f$\mu = \lambda^{t+1} -
/// \omega_t\nabla^2E(y^t)\lambda^{t+1}\f$, \f$\lambda^t = \rho + (1+\beta_t)\mu\f$,
/// \f$\rho \leftarrow -\beta_t\mu\f$ (\f$\rho = 0\f$ at t = N-1). Throws Error on bad shapes or
/// options, or a non-finite iterate.
template <class T>
BasicUnrolledResult<T> unrolled_loss(const BasicEnergy<T>& energy, const std::type_identity_t<MatrixT<T>>& target,
                                     const std::type_identity_t<VectorT<T>>& alpha, const UnrolledOptions& options,
                                     bool with_gradient = true);

/// The unrolled loss as an optim objective over the flat vector \f$x = [\theta, \alpha]\f$
/// (\f$x = \theta\f$ with a fixed stepsize; optim::check_gradient, optim::Adam, optim::Lbfgs
/// take it). Owns a copy of the energy (its regularizer is set to \f$\theta\f$ on each call).
template <class T>
class BasicUnrolledObjective {
public:
  using Scalar = T;
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;
  BasicUnrolledObjective(BasicEnergy<T> energy, Mat target, UnrolledOptions options);
  Index num_parameters() const;  ///< p + num_step_parameters()
  /// \f$[\theta, \alpha]\f$ with the energy's current \f$\theta\f$ and the given alpha
  /// (empty for a fixed stepsize).
  Vec pack(const Vec& alpha) const;
  T evaluate_with_gradient(const Vec& x, Vec& grad);
  T evaluate(const Vec& x);
  const BasicEnergy<T>& energy() const { return energy_; }
  const UnrolledOptions& options() const { return options_; }

private:
  Vec set(const Vec& x, const char* where);  ///< sets \f$\theta\f$, returns \f$\alpha\f$
  BasicEnergy<T> energy_;
  Mat target_;
  UnrolledOptions options_;
};

using UnrolledObjective = BasicUnrolledObjective<double>;

extern template class BasicUnrolledObjective<float>;
extern template class BasicUnrolledObjective<double>;

}  // namespace varlearn::general
