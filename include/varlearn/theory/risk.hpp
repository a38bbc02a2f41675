#pragma once
/// \file risk.hpp
/// Population risk of a linear denoiser T (loss 1/2 ||T x - y||^2):
/// \f$E(T) = \tfrac12 \mathrm{tr}((T-I)\Sigma(T-I)^T) + \tfrac{\sigma^2}{2}\|T\|_F^2\f$,
/// the talk's bias/variance split for all its models.
#include "varlearn/core/types.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/family.hpp"

namespace varlearn::theory {

struct RiskSplit {
  double bias = 0;      ///< \f$\tfrac12 \mathrm{tr}((T-I)\Sigma(T-I)^T)\f$
  double variance = 0;  ///< \f$\tfrac{\sigma^2}{2}\|T\|_F^2\f$
  double total() const { return bias + variance; }
};

/// Throws Error unless sigma > 0 is finite (the noise standard deviation).
void check_noise_std(double noise_std, const char* where);

/// Risk of a given n x n matrix T under `data` with noise std sigma.
RiskSplit risk(const DataModel& data, double noise_std, const Matrix& t);

/// Risk of \f$T_R = f(R^T R)\f$ for a given k x n regularizer R (eigendecomposition of R^T R).
RiskSplit risk_of_regularizer(const DataModel& data, double noise_std, const Family& family,
                              const Matrix& r);

}  // namespace varlearn::theory
