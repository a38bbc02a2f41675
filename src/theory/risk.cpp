#include "varlearn/theory/risk.hpp"

#include <Eigen/SVD>
#include <cmath>
#include <sstream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/theory/ranges.hpp"

namespace varlearn::theory {

void check_noise_std(double noise_std, const char* where) {
  // sigma^2 must be a normal double and sigma^2 + gamma finite (theory/ranges.hpp).
  check_range(noise_std, kMinNoiseStd, kMaxNoiseStd, where, "noise standard deviation sigma",
              "1e-150 <= sigma <= 1e150");
}

RiskSplit risk(const DataModel& data, double noise_std, const Matrix& t) {
  check_noise_std(noise_std, "theory::risk");
  if (t.rows() != data.n() || t.cols() != data.n())
    throw Error("theory::risk: denoiser is " + std::to_string(t.rows()) + " x " + std::to_string(t.cols()) +
                ", the data model has n = " + std::to_string(data.n()));
  if (!t.allFinite()) throw Error("theory::risk: denoiser has a NaN or infinite entry");
  Matrix a = t;
  a.diagonal().array() -= 1.0;
  RiskSplit r;
  r.bias = 0.5 * data.quadratic_trace(a);
  r.variance = 0.5 * noise_std * noise_std * t.squaredNorm();
  if (!std::isfinite(r.bias) || !std::isfinite(r.variance))
    throw Error("theory::risk: risk out of range (bias " + format_general(r.bias, 6) + ", variance " +
                format_general(r.variance, 6) + " exceed the double range): the entries of T (largest |T_ij| = " +
                format_general(t.cwiseAbs().maxCoeff(), 6) + ") or sigma are too large");
  return r;
}

RiskSplit risk_of_regularizer(const DataModel& data, double noise_std, const Family& family, const Matrix& r) {
  if (r.cols() != data.n())
    throw Error("theory::risk_of_regularizer: R has " + std::to_string(r.cols()) + " columns, n = " +
                std::to_string(data.n()));
  if (r.rows() < 1) throw Error("theory::risk_of_regularizer: R has no rows (rank k must be >= 1)");
  if (!r.allFinite()) throw Error("theory::risk_of_regularizer: R has a NaN or infinite entry");
  // T = f(R^T R) through the SVD of R: R^T R = V diag(s_i^2) V^T exactly on the row space,
  // and the n - rank(R) other directions have s = 0 exactly: T = b I + V (f(s^2) - b) V^T.
  Eigen::BDCSVD<Matrix> svd(r, Eigen::ComputeThinV);
  const Vector sv = svd.singularValues();
  const double b = family.at_zero();
  Vector d(sv.size());
  for (Index i = 0; i < sv.size(); ++i) d(i) = family(sv(i) * sv(i)) - b;
  const Matrix& v = svd.matrixV();
  Matrix t = v * d.asDiagonal() * v.transpose();
  t.diagonal().array() += b;
  return risk(data, noise_std, t);
}

}  // namespace varlearn::theory
