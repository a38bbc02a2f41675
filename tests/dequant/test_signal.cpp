#include <gtest/gtest.h>

#include "test_data.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/signal.hpp"

using namespace varlearn;
using namespace varlearn::dequant;

TEST(Signal, IdentityMethodReturnsTheQuantizedSignal) {
  const Vector clean = test_data::speechlike(1000, 3);
  audio::Quantizer q(4);
  const auto qs = quantize_signal(clean, q);
  for (bool half : {false, true}) {
    FramingOptions f{64, half};
    const Vector out = dequantize_signal(qs, f, [](const Matrix& s, const Matrix&, const Matrix&) { return s; });
    EXPECT_LT((out - qs.quantized).cwiseAbs().maxCoeff(), 1e-12) << "half " << half;
  }
}

TEST(Signal, HalfOverlapKeepsConsistentFramesInsideTheCells) {
  const Vector clean = test_data::speechlike(1500, 4);  // not a multiple of the hop: padded tail
  audio::Quantizer q(3);
  const auto qs = quantize_signal(clean, q);
  CpOptions opt;
  opt.gap_tolerance = 0;
  opt.max_iterations = 10;
  opt.tau = 0.05;
  opt.sigma = 20;
  opt.project_output = true;
  for (bool half : {false, true}) {
    FramingOptions f{64, half};
    const Vector out = dequantize_signal(qs, f, [&](const Matrix& s, const Matrix& l, const Matrix& u) {
      return solve_l1_dequant(s, l, u, opt).signal;
    });
    ASSERT_EQ(out.size(), clean.size());
    EXPECT_TRUE((out.array() >= qs.lower.array() - 1e-12).all()) << "half " << half;
    EXPECT_TRUE((out.array() <= qs.upper.array() + 1e-12).all()) << "half " << half;
  }
}

TEST(Signal, FramesAndBadInput) {
  audio::Quantizer q(4);
  const Vector a = test_data::speechlike(640, 5), b = test_data::speechlike(100, 6), tiny = test_data::speechlike(30, 7);
  const auto f = make_frames({a, b, tiny}, q, FramingOptions{64, false});
  EXPECT_EQ(f.size(), 10 + 1);
  EXPECT_TRUE((f.lower.array() <= f.clean.array()).all() && (f.clean.array() <= f.upper.array()).all());
  const auto g = make_frames({a}, q, FramingOptions{64, true});
  EXPECT_EQ(g.size(), 19);
  EXPECT_THROW(make_frames({tiny}, q, FramingOptions{64, false}), Error);
  const auto qs = quantize_signal(tiny, q);
  auto id = [](const Matrix& s, const Matrix&, const Matrix&) { return s; };
  EXPECT_THROW(dequantize_signal(qs, FramingOptions{64, false}, id), Error);  // frame longer than signal
  EXPECT_THROW(dequantize_signal(qs, FramingOptions{0, false}, id), Error);
  Vector loud = a;
  loud(3) = 1.5;
  EXPECT_THROW(quantize_signal(loud, q), Error);  // refused: clip first (audio::clip_to_unit)
}
