// spectral_norm against an independent Jacobi SVD and closed forms.
#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <cmath>

#include "varlearn/core/random.hpp"
#include "varlearn/core/spectral.hpp"

namespace varlearn {
namespace {

TEST(SpectralNorm, MatchesJacobiSvdOnWideTallAndSquare) {
  Rng rng(7);
  std::normal_distribution<double> normal;
  for (const auto& [rows, cols] : std::vector<std::pair<Index, Index>>{{5, 5}, {3, 9}, {12, 4}, {40, 40}}) {
    Matrix r(rows, cols);
    for (Index i = 0; i < r.size(); ++i) r.data()[i] = normal(rng);
    const double svd = Eigen::JacobiSVD<Matrix>(r).singularValues()(0);
    EXPECT_NEAR(spectral_norm(r), svd, 1e-12 * svd) << rows << " x " << cols;
  }
}

TEST(SpectralNorm, ClosedForms) {
  EXPECT_EQ(spectral_norm(Matrix()), 0.0);
  EXPECT_NEAR(spectral_norm(Matrix::Identity(6, 6) * 3.0), 3.0, 1e-14);
  // First differences D (n-1 x n): ||D||^2 = 2 + 2 cos(pi / n).
  const Index n = 32;
  Matrix d = Matrix::Zero(n - 1, n);
  for (Index i = 0; i + 1 < n; ++i) d(i, i) = -1, d(i, i + 1) = 1;
  const double pi = std::acos(-1.0);
  EXPECT_NEAR(spectral_norm(d), std::sqrt(2.0 + 2.0 * std::cos(pi / double(n))), 1e-13);
  EXPECT_EQ(spectral_norm(Matrix::Zero(4, 3)), 0.0);
}

}  // namespace
}  // namespace varlearn
