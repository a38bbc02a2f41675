#include <gtest/gtest.h>

#include <random>

#include "varlearn/core/error.hpp"
#include "varlearn/dequant/dct.hpp"

using namespace varlearn;
using namespace varlearn::dequant;

namespace {
Matrix random_columns(Index n, Index b, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  Matrix m(n, b);
  for (Index j = 0; j < b; ++j)
    for (Index i = 0; i < n; ++i) m(i, j) = g(rng);
  return m;
}
}  // namespace

// The FFT path (Makhoul reordering) against the GEMM with the cached matrix, double, 1e-12.
TEST(DctFast, MatchesGemmAndRoundTrips) {
  unsigned seed = 11;
  for (Index n : {7, 64, 320, 64}) {
    Dct<double> dct(n);
    const Matrix s = random_columns(n, 5, seed++);
    const Matrix x_fast = dct.forward_fast(s), x_gemm = dct.forward_gemm(s);
    EXPECT_LT((x_fast - x_gemm).cwiseAbs().maxCoeff(), 1e-12) << "forward, n = " << n;
    const Matrix c = random_columns(n, 5, seed++);
    EXPECT_LT((dct.inverse_fast(c) - dct.inverse_gemm(c)).cwiseAbs().maxCoeff(), 1e-12) << "inverse, n = " << n;
    EXPECT_LT((dct.inverse_fast(x_fast) - s).cwiseAbs().maxCoeff(), 1e-12) << "round trip, n = " << n;
    // The default path agrees with both.
    EXPECT_LT((dct.forward(s) - x_gemm).cwiseAbs().maxCoeff(), 1e-12) << "default, n = " << n;
    EXPECT_LT((dct.inverse(x_gemm) - s).cwiseAbs().maxCoeff(), 1e-12) << "default inverse, n = " << n;
  }
}

// Other lengths (odd, n % 4 == 2, tiny) exercise Eigen's non-optimized real-FFT branches.
TEST(DctFast, SmallAndOddLengths) {
  for (Index n : {1, 2, 3, 5, 6, 10, 37}) {
    Dct<double> dct(n);
    const Matrix s = random_columns(n, 3, static_cast<unsigned>(100 + n));
    EXPECT_LT((dct.forward_fast(s) - dct.forward_gemm(s)).cwiseAbs().maxCoeff(), 1e-12) << "n = " << n;
    EXPECT_LT((dct.inverse_fast(s) - dct.inverse_gemm(s)).cwiseAbs().maxCoeff(), 1e-12) << "n = " << n;
  }
}

TEST(DctFast, FloatAgreesToSinglePrecision) {
  Dct<float> dct(64);
  const MatrixT<float> s = random_columns(64, 5, 7).cast<float>();
  EXPECT_LT((dct.forward_fast(s) - dct.forward_gemm(s)).cwiseAbs().maxCoeff(), 1e-4f);
  EXPECT_LT((dct.inverse_fast(s) - dct.inverse_gemm(s)).cwiseAbs().maxCoeff(), 1e-4f);
}

TEST(DctFast, RowMismatchThrows) {
  Dct<double> dct(8);
  EXPECT_THROW(dct.forward_fast(Matrix::Zero(7, 2)), Error);
  EXPECT_THROW(dct.inverse_fast(Matrix::Zero(9, 2)), Error);
}
