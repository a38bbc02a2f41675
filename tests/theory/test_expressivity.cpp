// Expressivity: membership of constructed matrices, realization round trips, rejections.
#include <gtest/gtest.h>

#include <Eigen/QR>
#include <random>

#include "varlearn/core/error.hpp"
#include "varlearn/theory/expressivity.hpp"

using namespace varlearn;
using namespace varlearn::theory;

namespace {
Matrix orthogonal(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> z;
  Matrix a(n, n);
  for (Index i = 0; i < a.size(); ++i) a.data()[i] = z(rng);
  return Eigen::HouseholderQR<Matrix>(a).householderQ();
}
Matrix with_spectrum(const std::vector<double>& lam, unsigned seed) {
  const int n = int(lam.size());
  const Matrix q = orthogonal(n, seed);
  return q * Eigen::Map<const Vector>(lam.data(), n).asDiagonal() * q.transpose();
}
}  // namespace

TEST(Expressivity, BilevelSet) {
  const Family f = Family::bilevel();
  const Matrix t = with_spectrum({1, 1, 1, 0.4, 0.2, 1, 1}, 1);
  EXPECT_TRUE(membership(f, t, 2).member);
  EXPECT_FALSE(membership(f, t, 1).member);  // two eigenvalues differ from 1
  const Matrix r = realize(f, t, 2);
  EXPECT_EQ(r.rows(), 2);
  EXPECT_LT((f.apply(r.transpose() * r) - t).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_FALSE(membership(f, with_spectrum({1, 1.2, 1}, 2), 3).member);  // T <= I violated
  EXPECT_FALSE(membership(f, with_spectrum({1, 0.0, 1}, 2), 3).member);  // 0 < T violated
  EXPECT_THROW(realize(f, with_spectrum({1, 0.0, 1}, 2), 3), Error);
}

TEST(Expressivity, UnrolledEvenAndOdd) {
  const double omega = 0.6;
  for (int N : {2, 4}) {
    const Family f = Family::unrolled(N, omega);
    const double b = f.at_zero();
    const Matrix u = with_spectrum({b, b, b - 0.5, -3.0, b, b, b}, 3);
    EXPECT_TRUE(membership(f, u, 2).member);
    const Matrix r = realize(f, u, 2);
    EXPECT_LT((f.apply(r.transpose() * r) - u).cwiseAbs().maxCoeff(), 1e-10);
    EXPECT_FALSE(membership(f, with_spectrum({b, b + 0.1, b}, 4), 3).member);  // U <= bI violated
  }
  for (int N : {3, 5}) {
    const Family f = Family::unrolled(N, omega);
    const double b = f.at_zero(), c = cmin(N, omega);
    const Matrix u = with_spectrum({b, c, b, 4.0, c + 0.01, b}, 5);
    EXPECT_TRUE(membership(f, u, 3).member);
    const Matrix r = realize(f, u, 3);
    EXPECT_LT((f.apply(r.transpose() * r) - u).cwiseAbs().maxCoeff(), 1e-9);
    EXPECT_FALSE(membership(f, with_spectrum({b, c - 0.01, b}, 6), 3).member);  // U >= cI violated
  }
  const Family one = Family::unrolled(1, omega);
  EXPECT_TRUE(membership(one, omega * Matrix::Identity(4, 4), 1).member);
  EXPECT_FALSE(membership(one, with_spectrum({omega, omega, 2 * omega}, 7), 3).member);
}

TEST(Expressivity, RejectsNonSymmetricAndBadShapes) {
  Matrix t = Matrix::Identity(3, 3);
  t(0, 1) = 0.3;
  EXPECT_FALSE(membership(Family::bilevel(), t, 3).member);
  EXPECT_THROW(membership(Family::bilevel(), Matrix::Identity(3, 4), 1), Error);
  EXPECT_THROW(membership(Family::bilevel(), Matrix::Identity(3, 3), 4), Error);
}
