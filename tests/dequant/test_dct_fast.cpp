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

// The default path agrees with the GEMM on both sides of the switch.
TEST(DctDefault, MatchesGemmOnBothSidesOfTheSwitch) {
  unsigned seed = 11;
  for (Index n : {kDctFastMinSize - 1, kDctFastMinSize}) {
    Dct<double> dct(n);
    EXPECT_EQ(dct.uses_fast(), n >= kDctFastMinSize);
    const Matrix s = random_columns(n, 5, seed++);
    EXPECT_LT((dct.forward(s) - dct.forward_gemm(s)).cwiseAbs().maxCoeff(), 1e-12) << "n = " << n;
    EXPECT_LT((dct.inverse(dct.forward(s)) - s).cwiseAbs().maxCoeff(), 1e-12) << "n = " << n;
  }
}

// FFTW's REDFT10/REDFT01 with the orthonormal scaling against the GEMM, double, 1e-12, at the
// measured sizes, odd and tiny ones; round trip; copies share plans; float to single precision.
TEST(DctFftw, MatchesGemmAndRoundTrips) {
  unsigned seed = 41;
  for (Index n : {1, 2, 3, 5, 7, 37, 64, 320}) {
    Dct<double> dct(n);
    const Matrix s = random_columns(n, 4, seed++);
    const Matrix x = dct.forward_fftw(s);
    EXPECT_LT((x - dct.forward_gemm(s)).cwiseAbs().maxCoeff(), 1e-12) << "forward, n = " << n;
    const Matrix c = random_columns(n, 4, seed++);
    EXPECT_LT((dct.inverse_fftw(c) - dct.inverse_gemm(c)).cwiseAbs().maxCoeff(), 1e-12) << "inverse, n = " << n;
    EXPECT_LT((dct.inverse_fftw(x) - s).cwiseAbs().maxCoeff(), 1e-12) << "round trip, n = " << n;
    const Dct<double> copy = dct;  // shares the plans; the original's end must not free them early
    EXPECT_EQ((copy.forward_fftw(s) - x).cwiseAbs().maxCoeff(), 0.0) << "copy, n = " << n;
  }
  // A unit vector e_j maps to column j of C (catches a scaling of alpha_0 vs alpha).
  Dct<double> dct(8);
  const Matrix e = Matrix::Identity(8, 8);
  EXPECT_LT((dct.forward_fftw(e) - dct.matrix()).cwiseAbs().maxCoeff(), 1e-14);
  EXPECT_THROW(dct.forward_fftw(Matrix::Zero(7, 2)), Error);
  EXPECT_THROW(dct.inverse_fftw(Matrix::Zero(9, 2)), Error);
}

TEST(DctFftw, FloatAgreesToSinglePrecision) {
  Dct<float> dct(320);
  const MatrixT<float> s = random_columns(320, 3, 9).cast<float>();
  EXPECT_LT((dct.forward_fftw(s) - dct.forward_gemm(s)).cwiseAbs().maxCoeff(), 1e-4f);
  EXPECT_LT((dct.inverse_fftw(s) - dct.inverse_gemm(s)).cwiseAbs().maxCoeff(), 1e-4f);
}
