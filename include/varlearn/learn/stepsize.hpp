#pragma once
/// \file stepsize.hpp
/// The stepsize parametrization of the unrolled solver, as one policy: the N stepsizes
/// \f$\omega_j\f$ are either fixed (not trained), one shared \f$\omega = \mathrm{softplus}(\alpha)\f$,
/// or one per iteration \f$\omega_j = \mathrm{softplus}(\alpha_j)\f$. softplus keeps
/// \f$\omega > 0\f$ while \f$\alpha\f$ is unconstrained for the optimizers.
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::learn {

/// The user-facing choice of parametrization.
enum class StepsizeMode {
  Fixed,         ///< \f$\omega\f$ given, not trained
  Learned,       ///< one \f$\omega = \mathrm{softplus}(\alpha)\f$, trained
  PerIteration,  ///< \f$\omega_j = \mathrm{softplus}(\alpha_j)\f$, j < N, trained
};
const char* to_string(StepsizeMode m);  ///< "fixed" | "learned" | "per-iteration"
StepsizeMode parse_stepsize_mode(const std::string& s);  ///< throws Error on unknown names

/// Maps between the trained parameters \f$\alpha\f$ (0, 1 or N of them), the stored stepsizes
/// (0, 1 or N) and the N per-iteration stepsizes \f$\omega_j\f$ the solver runs with, and
/// chains gradients \f$\partial L/\partial\omega_j \to \partial L/\partial\alpha\f$.
/// A policy of depth 0 (the exact, bilevel solver) has no stepsizes at all.
class StepsizePolicy {
public:
  StepsizePolicy() = default;
  StepsizePolicy(StepsizeMode mode, int depth) : mode_(mode), depth_(depth) {}

  StepsizeMode mode() const { return mode_; }
  int depth() const { return depth_; }  ///< N (0: no iterations, no stepsizes)
  /// Trained parameters \f$\alpha\f$: 0 (fixed or depth 0), 1 (learned), N (per-iteration).
  Index count() const;
  /// Stored stepsizes of a model: 0 (depth 0), N (per-iteration), else 1.
  Index num_stored() const;

  /// The N stepsizes \f$\omega_j\f$: softplus of the \f$\alpha\f$ (count() entries at `alpha`),
  /// or, for Fixed, the given stepsizes (1 value repeated, or N). Throws Error (at `where`)
  /// on a wrong number of fixed stepsizes or one <= 0.
  template <class Real>
  std::vector<Real> to_omega(const Real* alpha, const std::vector<double>& fixed, const char* where) const;
  /// \f$d\omega/d\alpha = \mathrm{softplus}'(\alpha)\f$, one per \f$\alpha\f$ (count() entries).
  template <class Real>
  std::vector<double> d_omega(const Real* alpha) const;
  /// \f$\alpha = \mathrm{softplus}^{-1}(\omega)\f$ of the stored stepsizes into alpha[0..count()).
  void to_alpha(const std::vector<double>& stored, double* alpha) const;
  /// Stored stepsizes from \f$\alpha\f$: stored[i] = softplus(alpha[i]) for i < count().
  void from_alpha(const double* alpha, std::vector<double>& stored) const;
  /// Chain rule: \f$\partial L/\partial\alpha\f$ from \f$g_j = \partial L/\partial\omega_j\f$
  /// (N entries) and d_omega(): the sum over j for a shared \f$\alpha\f$, per j otherwise.
  template <class Real>
  void chain(const std::vector<double>& g_omega, const std::vector<double>& d_omega, Real* grad_alpha) const;
  /// The N stepsizes from the stored ones (1 repeated, or N).
  std::vector<double> expand(const std::vector<double>& stored) const;

private:
  StepsizeMode mode_ = StepsizeMode::Learned;
  int depth_ = 0;
};

}  // namespace varlearn::learn
