#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numbers>

#include "lp_reference.hpp"
#include "test_data.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/dct.hpp"

using namespace varlearn;
using namespace varlearn::dequant;

TEST(Dct, OrthonormalDouble) {
  for (Index n : {1, 2, 7, 37, 64, 320}) {
    EXPECT_LT(orthogonality_error(dct_matrix<double>(n)), 1e-13) << "n = " << n;
  }
}

TEST(Dct, OrthonormalFloat) {
  for (Index n : {7, 64, 320}) {
    EXPECT_LT(orthogonality_error(dct_matrix<float>(n).cast<double>()), 1e-5) << "n = " << n;
  }
}

TEST(Dct, MatchesDefinitionAndRoundTrips) {
  const Index n = 37;
  Dct<double> dct(n);
  // Direct evaluation of DCT-II of a random vector, orthonormal scaling.
  Matrix s = test_data::frames(n, 3, 11);
  Matrix x = dct.forward(s);
  for (Index b = 0; b < 3; ++b)
    for (Index k = 0; k < n; ++k) {
      double sum = 0;
      for (Index j = 0; j < n; ++j) sum += s(j, b) * std::cos(std::numbers::pi * (j + 0.5) * k / n);
      sum *= k == 0 ? std::sqrt(1.0 / n) : std::sqrt(2.0 / n);
      ASSERT_NEAR(x(k, b), sum, 1e-12) << k << "," << b;
    }
  EXPECT_LT((dct.inverse(x) - s).cwiseAbs().maxCoeff(), 1e-13);
  // A cosine at bin 5 is a spike at coefficient 5.
  Matrix e = Matrix::Zero(n, 1);
  e(5, 0) = 1.0;
  Matrix spike = dct.forward(dct.inverse(e));
  EXPECT_NEAR(spike(5, 0), 1.0, 1e-13);
  EXPECT_LT(spike.cwiseAbs().sum() - 1.0, 1e-12);
  EXPECT_THROW(dct.forward(Matrix::Zero(n + 1, 2)), Error);
  EXPECT_THROW(dct_matrix<double>(0), Error);
}

TEST(ChambollePock, ConvergedObjectiveMatchesIndependentSimplex) {
  double worst = 0;
  for (auto [n, bits] : {std::pair<Index, int>{16, 3}, {16, 4}, {64, 4}}) {
    const Index b = n == 16 ? 4 : 2;
    auto d = test_data::quantize(test_data::frames(n, b, 100 + n + bits), bits);
    CpOptions opt;
    opt.gap_tolerance = 1e-7;
    opt.max_iterations = 200000;
    CpResult r = solve_l1_dequant(d.quantized, d.lower, d.upper, opt);
    ASSERT_TRUE(r.converged()) << "n " << n << " bits " << bits << " rel gap " << r.max_rel_gap;
    EXPECT_LE(r.max_rel_gap, 1e-7);
    const Matrix c = dct_matrix<double>(n);
    for (Index j = 0; j < b; ++j) {
      const double lp = lp_reference::l1_dequant_lp(c, d.lower.col(j), d.upper.col(j));
      // The certificate brackets the independent optimum ...
      EXPECT_LE(r.dual(j), lp * (1 + 1e-9) + 1e-12) << "frame " << j;
      EXPECT_GE(r.primal(j), lp * (1 - 1e-9) - 1e-12) << "frame " << j;
      // ... and the objective agrees to 1e-4 relative.
      EXPECT_LE(std::abs(r.primal(j) - lp) / lp, 1e-4) << "n " << n << " bits " << bits << " frame " << j;
      worst = std::max(worst, std::abs(r.primal(j) - lp) / lp);
      EXPECT_LE(std::abs(r.coefficients.col(j).lpNorm<1>() - lp) / lp, 1e-4);
    }
    EXPECT_EQ(r.max_cell_violation, 0.0);  // projected output
  }
  std::printf("[ info ] CP vs simplex: worst relative objective error %.2e\n", worst);
}

TEST(ChambollePock, UnprojectedOutputIsNearlyConsistent) {
  auto d = test_data::quantize(test_data::frames(32, 8, 5), 4);
  CpOptions opt;
  opt.gap_tolerance = 1e-8;
  opt.project_output = false;
  CpResult r = solve_l1_dequant(d.quantized, d.lower, d.upper, opt);
  ASSERT_TRUE(r.converged());
  EXPECT_LT(r.max_cell_violation, 1e-5);
}

TEST(ChambollePock, FixedBudgetRunsExactlyN) {
  auto d = test_data::quantize(test_data::frames(64, 10, 6), 4);
  CpOptions opt;
  opt.gap_tolerance = 0;
  opt.max_iterations = 5;
  CpResult r = solve_l1_dequant(d.quantized, d.lower, d.upper, opt);
  EXPECT_EQ(r.iterations(), 5);
  EXPECT_FALSE(r.converged());
  EXPECT_GE(r.max_gap, 0.0);
  EXPECT_TRUE((r.dual.array() <= r.primal.array() + 1e-12).all());
}

TEST(ChambollePock, RejectsBadInput) {
  auto d = test_data::quantize(test_data::frames(16, 2, 7), 3);
  CpOptions opt;
  opt.tau = 0;
  EXPECT_THROW(solve_l1_dequant(d.quantized, d.lower, d.upper, opt), Error);
  opt = CpOptions{};
  opt.max_iterations = 0;
  EXPECT_THROW(solve_l1_dequant(d.quantized, d.lower, d.upper, opt), Error);
  EXPECT_THROW(solve_l1_dequant(d.quantized, d.upper, d.lower), Error);  // lower > upper
  EXPECT_THROW(solve_l1_dequant(d.quantized, d.lower, Matrix(d.upper.leftCols(1))), Error);
}
