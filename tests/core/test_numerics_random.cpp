// core numerics and randomness: the flush-to-zero guard, softplus, the seeded generator.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "varlearn/core/error.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"

using namespace varlearn;

namespace {
// A product of two normal floats that is denormal (~1e-40); volatile so it is computed at run time.
float denormal_product() {
  volatile float a = 1e-20f, b = 1e-20f;
  return a * b;
}
}  // namespace

TEST(FlushDenormals, FlushesWhileActiveAndRestores) {
  if (!FlushDenormals::supported()) GTEST_SKIP() << "no FTZ/DAZ control on this target";
  ASSERT_FALSE(FlushDenormals::enabled_in_this_thread());
  EXPECT_GT(denormal_product(), 0.0f);  // gradual underflow by default
  {
    const FlushDenormals guard;
    EXPECT_TRUE(FlushDenormals::enabled_in_this_thread());
    EXPECT_EQ(denormal_product(), 0.0f);
    {
      const FlushDenormals inner;  // nested: restores "flushing", not the default
      EXPECT_TRUE(FlushDenormals::enabled_in_this_thread());
    }
    EXPECT_TRUE(FlushDenormals::enabled_in_this_thread());
    EXPECT_EQ(denormal_product(), 0.0f);
  }
  EXPECT_FALSE(FlushDenormals::enabled_in_this_thread());
  EXPECT_GT(denormal_product(), 0.0f);
  {
    const FlushDenormals inactive(false);
    EXPECT_FALSE(FlushDenormals::enabled_in_this_thread());
  }
}

TEST(Softplus, InverseRoundTripAndDerivative) {
  for (double a : {-40.0, -5.0, -0.3, 0.0, 0.5413, 2.0, 29.0, 31.0, 60.0}) {
    const double w = softplus(a);
    EXPECT_GT(w, 0.0);
    EXPECT_NEAR(softplus_inverse(w), a, 1e-9 * std::max(1.0, std::abs(a))) << "a = " << a;
    // Derivative against central differences.
    const double h = 1e-5;
    const double fd = (softplus(a + h) - softplus(a - h)) / (2 * h);
    EXPECT_NEAR(softplus_derivative(a), fd, 1e-8) << "a = " << a;
  }
  EXPECT_DOUBLE_EQ(softplus(0.0), std::log(2.0));
  EXPECT_DOUBLE_EQ(softplus(800.0), 800.0);  // no overflow
  EXPECT_THROW(softplus_inverse(0.0), Error);
  EXPECT_THROW(softplus_inverse(-1.0), Error);
  EXPECT_THROW(softplus_inverse(std::numeric_limits<double>::infinity()), Error);
}

TEST(Random, SameSeedSameStreamDerivedSeedsDiffer) {
  Rng a(42), b(42);
  Matrix x = Matrix::Zero(7, 5), y = Matrix::Zero(7, 5);
  add_gaussian_noise_inplace(x, 0.5, a);
  add_gaussian_noise_inplace(y, 0.5, b);
  EXPECT_EQ(x, y);
  EXPECT_GT(x.norm(), 0.0);
  const Matrix g1 = gaussian_matrix(3, 4, 2.0, a), g2 = gaussian_matrix(3, 4, 2.0, b);
  EXPECT_EQ(g1, g2);

  const std::uint64_t s = 1234;
  const std::uint64_t v = derive_seed(s, SeedStream::ValidationSplit), n = derive_seed(s, SeedStream::TrainingNoise),
                      m = derive_seed(s, SeedStream::MonitorSubset);
  EXPECT_NE(v, s);
  EXPECT_NE(n, s);
  EXPECT_NE(m, s);
  EXPECT_NE(v, n);
  EXPECT_NE(n, m);
  EXPECT_NE(v, m);
  // The exact streams the library has always used (so reported numbers do not move).
  EXPECT_EQ(v, s ^ 0x5eedULL);
  EXPECT_EQ(n, s + 0x9e3779b97f4a7c15ULL);
  EXPECT_EQ(m, s ^ 0x9e3779b97f4a7c15ULL);
  Rng r1(v), r2(n);
  EXPECT_NE(r1(), r2());
}

TEST(Random, NoiseHasTheRequestedStd) {
  Rng rng(7);
  Matrix x = Matrix::Zero(200, 200);
  add_gaussian_noise_inplace(x, 0.3, rng);
  const double mean = x.mean();
  const double std = std::sqrt((x.array() - mean).square().mean());
  EXPECT_NEAR(mean, 0.0, 0.01);  // 4 standard errors: 4 * 0.3 / 200
  EXPECT_NEAR(std, 0.3, 0.005);
  MatrixT<float> f = MatrixT<float>::Zero(3, 3);
  add_gaussian_noise_inplace(f, 1.0f, rng);
  EXPECT_TRUE(f.allFinite());
}
