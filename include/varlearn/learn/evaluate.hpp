#pragma once
/// \file evaluate.hpp
/// Learning meets theory: the exact population risk of a trained model, the theory optimum of
/// its class, and a model initialized at that optimum.
#include <vector>

#include "varlearn/learn/model.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/optimal.hpp"

namespace varlearn::learn {

/// \f$E(T_R) = \tfrac12\mathrm{tr}((T-I)\Sigma(T-I)^T) + \tfrac{\sigma^2}{2}\|T\|_F^2\f$
/// (theory::risk of model.denoiser()). Throws Error when n differs.
double population_risk(const QuadraticModel& model, const theory::DataModel& data, double noise_std);

/// The theory optimum of the model's class for this data: best_bilevel (bilevel),
/// best_unrolled (fixed stepsize, the model's omega), best_unrolled_learned (learned; also
/// used as the reference for per-iteration stepsizes, which can only do as well or better).
theory::OptimalRisk theory_optimum(const QuadraticModel& model, const theory::DataModel& data,
                                   double noise_std, bool with_regularizer = false);

/// A model of this spec at the theory optimum (realizing R and optimal stepsize; fixed
/// stepsize: `fixed_stepsize`). Throws Error when the optimum is only an infimum that no
/// omega > 0 reaches (learned stepsize with omega -> 0+), or k > n.
QuadraticModel model_at_theory_optimum(const ModelSpec& spec, const theory::DataModel& data,
                                       double noise_std, double fixed_stepsize = 0.5);

}  // namespace varlearn::learn
