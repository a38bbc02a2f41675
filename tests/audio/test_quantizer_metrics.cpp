#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "varlearn/audio/metrics.hpp"
#include "varlearn/audio/quantizer.hpp"
#include "varlearn/core/error.hpp"

using namespace varlearn;
using namespace varlearn::audio;

namespace {
Matrix uniform_signal(Index n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Matrix s(n, 1);
  for (Index i = 0; i < n; ++i) s(i, 0) = u(rng);
  s(0, 0) = 1.0;
  s(1, 0) = -1.0;
  s(2, 0) = 0.0;
  return s;
}
}  // namespace

TEST(Quantizer, StepAndLevelsMidRise) {
  Quantizer q(3);
  EXPECT_DOUBLE_EQ(q.step(), 0.25);
  EXPECT_EQ(q.levels(), 8);
  Matrix x(6, 1);
  x << -1.0, -0.99, 0.0, 0.1, 0.26, 1.0;
  Matrix s = q.quantize(x);
  EXPECT_DOUBLE_EQ(s(0), -0.875);
  EXPECT_DOUBLE_EQ(s(1), -0.875);
  EXPECT_DOUBLE_EQ(s(2), 0.125);  // no zero level: 0 goes up
  EXPECT_DOUBLE_EQ(s(3), 0.125);
  EXPECT_DOUBLE_EQ(s(4), 0.375);
  EXPECT_DOUBLE_EQ(s(5), 0.875);
}

TEST(Quantizer, StepAndLevelsMidTread) {
  Quantizer q(3, QuantizerKind::MidTread);
  Matrix x(5, 1);
  x << -1.0, 0.05, 0.2, 0.9, 1.0;
  Matrix s = q.quantize(x);
  EXPECT_DOUBLE_EQ(s(0), -1.0);
  EXPECT_DOUBLE_EQ(s(1), 0.0);
  EXPECT_DOUBLE_EQ(s(2), 0.25);
  EXPECT_DOUBLE_EQ(s(3), 0.75);  // top level 1 - Delta (overload)
  EXPECT_DOUBLE_EQ(s(4), 0.75);
}

// Invariant: every input lies in the cell of its level; the error is at most Delta/2 away
// from overload; quantization is idempotent.
class QuantizerInvariants : public ::testing::TestWithParam<std::tuple<int, QuantizerKind>> {};
TEST_P(QuantizerInvariants, CellContainsInputAndIdempotent) {
  const auto [bits, kind] = GetParam();
  Quantizer q(bits, kind);
  Matrix x = uniform_signal(2001, 7 + bits);
  Matrix s = q.quantize(x);
  auto c = q.cell(s);
  for (Index i = 0; i < x.size(); ++i) {
    ASSERT_LE(c.lower(i), x(i)) << "bits " << bits << " i " << i;
    ASSERT_GE(c.upper(i), x(i)) << "bits " << bits << " i " << i;
    if (kind == QuantizerKind::MidRise) { ASSERT_LE(std::abs(s(i) - x(i)), q.step() / 2 + 1e-15); }
  }
  Matrix s2 = q.quantize(s);
  for (Index i = 0; i < s.size(); ++i) {
    ASSERT_EQ(s2(i), s(i)) << "not idempotent at " << i;
  }
  // float path agrees
  MatrixT<float> xf = x.cast<float>();
  EXPECT_EQ(q.quantize(xf).rows(), x.rows());
}
INSTANTIATE_TEST_SUITE_P(All, QuantizerInvariants,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4, 6, 8, 16, 24),
                                            ::testing::Values(QuantizerKind::MidRise, QuantizerKind::MidTread)));

TEST(Quantizer, BadInput) {
  EXPECT_THROW(Quantizer(0), Error);
  EXPECT_THROW(Quantizer(25), Error);
  Quantizer q(4);
  Matrix x(2, 1);
  x << 0.5, 1.5;
  EXPECT_THROW(q.quantize(x), Error);
  x(1) = std::nan("");
  EXPECT_THROW(q.quantize(x), Error);
  x(1) = -1.2;
  Matrix y = x;
  EXPECT_EQ(clip_to_unit(y), 1);
  EXPECT_DOUBLE_EQ(y(1), -1.0);
  EXPECT_NO_THROW(q.quantize(y));
  EXPECT_THROW(parse_quantizer_kind("mid"), Error);
  EXPECT_EQ(parse_quantizer_kind("midtread"), QuantizerKind::MidTread);
}

TEST(Metrics, SnrClosedForm) {
  Eigen::VectorXd c(4), e(4);
  c << 1, -1, 1, -1;
  e = c * 1.1;  // error energy 0.01 * 4, signal 4 -> 20 dB
  EXPECT_NEAR(snr_db(c, e), 20.0, 1e-12);
  EXPECT_TRUE(std::isinf(snr_db(c, c)));
  Eigen::VectorXf cf = c.cast<float>(), ef = e.cast<float>();
  EXPECT_NEAR(snr_db(cf, ef), 20.0, 1e-5);
  EXPECT_THROW(snr_db(c, Eigen::VectorXd(3)), Error);
}

TEST(Metrics, SetSnrPoolsEnergies) {
  // Signal A: energy 1, error 0.1; B: energy 100, error 0.1 -> pooled 10 log10(101 / 0.2).
  Eigen::VectorXd a = Eigen::VectorXd::Constant(1, 1.0), ae = a.array() + std::sqrt(0.1);
  Eigen::VectorXd b = Eigen::VectorXd::Constant(1, 10.0), be = b.array() + std::sqrt(0.1);
  EXPECT_NEAR(snr_db(std::vector<Eigen::VectorXd>{a, b}, std::vector<Eigen::VectorXd>{ae, be}),
              10.0 * std::log10(101.0 / 0.2), 1e-10);
  SnrAccumulator acc(8000);
  acc.add(a, ae);
  acc.add(b, be);
  EXPECT_NEAR(acc.snr_db(), 10.0 * std::log10(101.0 / 0.2), 1e-10);
}

TEST(Metrics, SegmentalSnrClipsAndAverages) {
  // fs = 1000 -> 20-sample segments. Segment 1: 20 dB; segment 2: silent clean, error -> -10;
  // segment 3: perfect -> 35; trailing 5 samples dropped.
  const double fs = 1000;
  Eigen::VectorXd c = Eigen::VectorXd::Zero(65), e;
  c.segment(0, 20).setConstant(1.0);
  c.segment(40, 20).setConstant(0.5);
  c.segment(60, 5).setConstant(0.3);
  e = c;
  e.segment(0, 20).array() += 0.1;
  e.segment(20, 20).array() += 0.01;
  e.segment(60, 5).array() += 1.0;  // ignored (partial segment)
  EXPECT_NEAR(segsnr_db(c, e, fs), (20.0 - 10.0 + 35.0) / 3.0, 1e-10);
  SnrAccumulator acc(fs);
  EXPECT_EQ(acc.segment_length(), 20);
  acc.add(c, e);
  EXPECT_EQ(acc.segments(), 3);
  EXPECT_THROW(SnrAccumulator(0), Error);
  SnrAccumulator empty(8000);
  EXPECT_THROW(empty.segsnr_db(), Error);
  // At 8 kHz, segments are 160 samples.
  EXPECT_EQ(SnrAccumulator(8000).segment_length(), 160);
}
