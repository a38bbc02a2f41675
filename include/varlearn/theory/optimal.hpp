#pragma once
/// \file optimal.hpp
/// Best risks by the spectral reduction (theory.md): the optimal T shares Sigma's
/// eigenvectors; n-k "forced" directions take t = b = f(0), cost \f$h(\gamma) =
/// \gamma(b-1)^2 + \sigma^2 b^2\f$; k "free" directions take t in F = range(f), cost
/// \f$g(\gamma) = \min_{t\in F} \gamma(t-1)^2 + \sigma^2 t^2\f$; the free ones are the k with
/// the largest savings h - g. Risk = 1/2 (sum of costs).
#include <optional>
#include <string>

#include "varlearn/core/types.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/family.hpp"

namespace varlearn::theory {

struct OptimalOptions {
  bool with_regularizer = false;  ///< also build a realizing R (and T); n up to a few thousand
  double gap = 1e-9;              ///< for an infimum: R's risk within gap*(1+risk) of it
};

struct OptimalRisk {
  double risk = 0;         ///< best (infimal) population risk
  bool attained = true;    ///< false: an infimum, approached but reached by no finite R / omega > 0
  double stepsize = 0;     ///< unrolled: optimal omega (learned: a point of the optimal set;
                           ///< 0 when only approached as omega -> 0+)
  /// Learned stepsize: the whole interval of optimal omega in (0, 1] when it has width
  /// (e.g. k = n); lower end 0 means "(0, hi]".
  std::optional<std::pair<double, double>> stepsize_interval;
  Index free_directions = 0;  ///< directions with s > 0 in the optimum (<= k)
  Matrix regularizer;         ///< R (k x n) when requested (for an infimum: within the gap)
  Matrix denoiser;            ///< T = f(R^T R) when requested (linear: T*)
  double regularizer_risk = 0;  ///< risk of `denoiser` when requested (re-evaluated)
};

/// Best linear denoiser \f$T^* = \Sigma(\Sigma+\sigma^2 I)^{-1}\f$, risk
/// \f$\tfrac12\sum \sigma^2\gamma_i/(\gamma_i+\sigma^2)\f$.
OptimalRisk best_linear(const DataModel& data, double noise_std, const OptimalOptions& opt = {});

/// Infimum over \f$T = (I+R^TR)^{-1}\f$, R k x n; not attained where a free direction has
/// \f$\gamma = 0\f$ (t -> 0 needs \f$\|R\| \to \infty\f$).
OptimalRisk best_bilevel(const DataModel& data, double noise_std, Index rank,
                         const OptimalOptions& opt = {});

/// Best unrolled risk for depth N and a fixed stepsize omega > 0.
OptimalRisk best_unrolled(const DataModel& data, double noise_std, Index rank, int depth,
                          double stepsize, const OptimalOptions& opt = {});

/// Best unrolled risk with the stepsize learned: global search over omega in (0, 1] plus the
/// limit omega -> 0+ (which suffices: theory.md).
OptimalRisk best_unrolled_learned(const DataModel& data, double noise_std, Index rank, int depth,
                                  const OptimalOptions& opt = {});

/// Risk of the best T in the family for fixed family parameters (the inner problem of all
/// of the above; no R built). Exposed for sweeps.
double best_risk_for_family(const DataModel& data, double noise_std, Index rank, const Family& family);

}  // namespace varlearn::theory
