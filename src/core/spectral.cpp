#include "varlearn/core/spectral.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

namespace varlearn {

double spectral_norm(const Matrix& r) {
  if (r.size() == 0) return 0;
  const Matrix g = r.rows() <= r.cols() ? Matrix(r * r.transpose()) : Matrix(r.transpose() * r);
  const Eigen::SelfAdjointEigenSolver<Matrix> es(g, Eigen::EigenvaluesOnly);
  return std::sqrt(std::max(0.0, es.eigenvalues().maxCoeff()));
}

}  // namespace varlearn
