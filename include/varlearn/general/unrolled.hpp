#pragma once
/// \file unrolled.hpp
/// Unrolled learning (docs/general.md): N gradient steps on the energy E,
/// \f$f^{t+1} = f^t - \omega_t\nabla_F E(f^t)\f$, \f$\omega_t = \mathrm{softplus}(\alpha_t)\f$
/// (one shared \f$\alpha\f$ or one per step), from \f$f^0 = 0\f$ or \f$A^TG\f$; loss
/// \f$\ell = \tfrac12\|f^N - F^\dagger\|_F^2 / B\f$ and its gradient in \f$(\theta, \alpha)\f$
/// by reverse mode through the stored iterates (all N + 1 of them: no checkpointing yet).
#include <string>

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
};

struct UnrolledOptions {
  int steps = 10;  ///< N >= 1
  UnrolledInit init = UnrolledInit::Zero;
  StepSharing sharing = StepSharing::Shared;
  /// Number of step parameters \f$\alpha\f$: 1 (shared) or N (per iteration).
  Index num_step_parameters() const { return sharing == StepSharing::Shared ? 1 : steps; }
  /// Throws Error naming the bad field.
  void validate() const;
};

struct UnrolledResult {
  double loss = 0;      ///< \f$\ell = \tfrac12\|f^N - F^\dagger\|_F^2 / B\f$
  Matrix output;        ///< \f$f^N\f$ (n x B)
  Vector theta_gradient;  ///< \f$d\ell/d\theta\f$ (empty unless requested)
  Vector alpha_gradient;  ///< \f$d\ell/d\alpha\f$, size num_step_parameters() (empty unless requested)
};

/// \f$f^N\f$ of the unrolled solver for step parameters alpha (size num_step_parameters()).
Matrix unrolled_output(const Energy& energy, const Vector& alpha, const UnrolledOptions& options);

/// The loss against targets F† (n x B) and, when `with_gradient`, its gradient by reverse mode:
/// \f$\lambda^N = (f^N - F^\dagger)/B\f$; for t = N-1 .. 0:
/// \f$d\ell/d\theta \mathrel{+}= -\omega_t\,\texttt{mixed\_product}(f^t, \lambda^{t+1})\f$,
/// \f$d\ell/d\omega_t = -\langle\lambda^{t+1}, \nabla E(f^t)\rangle\f$ (times softplus'
/// \f$(\alpha_t)\f$, summed over t when shared), \f$\lambda^t = \lambda^{t+1} -
/// \omega_t\nabla^2E(f^t)\lambda^{t+1}\f$. Throws Error on bad shapes or a non-finite iterate.
UnrolledResult unrolled_loss(const Energy& energy, const Matrix& target, const Vector& alpha,
                             const UnrolledOptions& options, bool with_gradient = true);

/// The unrolled loss as an optim objective over the flat vector \f$x = [\theta, \alpha]\f$
/// (optim::check_gradient, optim::Adam, optim::Lbfgs take it). Owns a copy of the energy
/// (its regularizer is set to \f$\theta\f$ on each call).
class UnrolledObjective {
public:
  UnrolledObjective(Energy energy, Matrix target, UnrolledOptions options);
  Index num_parameters() const;  ///< p + num_step_parameters()
  /// \f$[\theta, \alpha]\f$ with the energy's current \f$\theta\f$ and the given alpha.
  Vector pack(const Vector& alpha) const;
  double evaluate_with_gradient(const Vector& x, Vector& grad);
  double evaluate(const Vector& x);
  const Energy& energy() const { return energy_; }
  const UnrolledOptions& options() const { return options_; }

private:
  Vector set(const Vector& x, const char* where);  ///< sets \f$\theta\f$, returns \f$\alpha\f$
  Energy energy_;
  Matrix target_;
  UnrolledOptions options_;
};

}  // namespace varlearn::general
