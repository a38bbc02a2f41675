#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "test_data.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/unrolled.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/optim/gradient_check.hpp"

using namespace varlearn;
using namespace varlearn::dequant;

namespace {
// Smallest distance of any kink argument to its kink on this batch (|z| = tau, v = sigma l / sigma u,
// K x^N = l / u when projecting), so the finite differences are taken away from kinks.
// Computed by re-running the forward pass with the public API on perturbed step sizes is not
// possible, so the test simply uses a tiny difference step and frames with generic values.
optim::Function<double> make_loss(const UnrolledSpec& spec, const test_data::Quantized& d) {
  return UnrolledLoss<double>(spec, d.quantized, d.lower, d.upper, d.clean);
}

optim::GradientCheckOptions check_options() {
  optim::GradientCheckOptions o;
  o.step = 1e-6;   // well inside the distance to the nearest kink on these frames
  o.order = 2;
  o.tolerance = 1e-5;
  o.floor = 1e-3;
  return o;
}
}  // namespace

TEST(Unrolled, AtInitEqualsFixedBudgetChambollePock) {
  auto d = test_data::quantize(test_data::frames(32, 12, 21), 4);
  for (bool project : {false, true}) {
    UnrolledSpec spec;
    spec.n = 32;
    spec.depth = 7;
    spec.project_output = project;
    const Vector theta = initial_parameters<double>(spec, 0.05, 20.0);
    const Matrix out = unrolled_forward<double>(spec, theta, d.quantized, d.lower, d.upper);
    CpOptions opt;
    opt.tau = 0.05;
    opt.sigma = 20.0;
    opt.max_iterations = 7;
    opt.gap_tolerance = 0;
    opt.project_output = project;
    const CpResult r = solve_l1_dequant(d.quantized, d.lower, d.upper, opt);
    EXPECT_LT((out - r.signal).cwiseAbs().maxCoeff(), 1e-12) << "project " << project;
  }
}

class UnrolledGradient : public ::testing::TestWithParam<std::tuple<StepsizeSharing, bool>> {};

TEST_P(UnrolledGradient, MatchesCentralDifferences) {
  const auto [sharing, project] = GetParam();
  UnrolledSpec spec;
  spec.n = 8;
  spec.depth = 4;
  spec.sharing = sharing;
  spec.project_output = project;
  auto d = test_data::quantize(test_data::frames(8, 5, 31), 3);
  // Move off the DCT and off equal step sizes so every parameter matters differently.
  Vector theta = initial_parameters<double>(spec, 0.3, 1.5);
  Rng rng(5);
  std::normal_distribution<double> g(0.0, 0.05);
  for (Index i = 0; i < theta.size(); ++i) theta(i) += g(rng);
  const auto res = optim::check_gradient(make_loss(spec, d), theta, check_options());
  std::printf("[ info ] %s\n", res.summary().c_str());
  EXPECT_TRUE(res.passed) << res.summary();
  // The step-size coordinates are checked like the others: make sure they are not ~0.
  Vector grad;
  make_loss(spec, d).evaluate_with_gradient(theta, grad);
  const Index m = spec.num_stepsizes();
  EXPECT_GT(grad.tail(2 * m).cwiseAbs().maxCoeff(), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(All, UnrolledGradient,
                         ::testing::Combine(::testing::Values(StepsizeSharing::Shared, StepsizeSharing::PerIteration),
                                            ::testing::Bool()));

TEST(Unrolled, PlantedWrongGradientFailsTheCheck) {
  UnrolledSpec spec;
  spec.n = 8;
  spec.depth = 3;
  auto d = test_data::quantize(test_data::frames(8, 5, 41), 3);
  Vector theta = initial_parameters<double>(spec, 0.3, 1.5);
  auto good = make_loss(spec, d);
  // Bug 1: the sigma derivative misses its clamp term (scaled by 0.9); bug 2: one K entry off.
  const Index m = spec.num_stepsizes(), n2 = spec.n * spec.n;
  auto value = [&](const Vector& t) { return good.evaluate(t); };
  const optim::Function<double> bad_sigma(
      [&](const Vector& t, Vector& g) {
        const double v = good.evaluate_with_gradient(t, g);
        g.segment(n2 + m, m) *= 0.9;
        return v;
      },
      value);
  const optim::Function<double> bad_k(
      [&](const Vector& t, Vector& g) {
        const double v = good.evaluate_with_gradient(t, g);
        g(3) += 1e-3 * g.cwiseAbs().maxCoeff();
        return v;
      },
      value);
  EXPECT_TRUE(optim::check_gradient(good, theta, check_options()).passed);
  EXPECT_FALSE(optim::check_gradient(bad_sigma, theta, check_options()).passed);
  EXPECT_FALSE(optim::check_gradient(bad_k, theta, check_options()).passed);
}

TEST(Unrolled, FloatMatchesDouble) {
  UnrolledSpec spec;
  spec.n = 16;
  spec.depth = 5;
  auto d = test_data::quantize(test_data::frames(16, 20, 51), 4);
  const Vector theta = initial_parameters<double>(spec, 0.1, 10.0);
  Vector gd;
  VectorT<float> gf;
  const double ld = UnrolledLoss<double>(spec, d.quantized, d.lower, d.upper, d.clean).evaluate_with_gradient(theta, gd);
  const MatrixT<float> qf = d.quantized.cast<float>(), lf32 = d.lower.cast<float>(), uf = d.upper.cast<float>(),
                       cf = d.clean.cast<float>();
  const float lf = UnrolledLoss<float>(spec, qf, lf32, uf, cf).evaluate_with_gradient(theta.cast<float>(), gf);
  EXPECT_NEAR(lf, ld, 1e-5 * ld);
  EXPECT_LT((gf.cast<double>() - gd).norm(), 1e-3 * gd.norm());
}

TEST(Unrolled, TrainingBeatsTheClassicNetworkItStartsFrom) {
  UnrolledSpec spec;
  spec.n = 16;
  spec.depth = 3;
  auto train = test_data::quantize(test_data::frames(16, 400, 61), 4);
  auto test = test_data::quantize(test_data::frames(16, 200, 62), 4);
  DequantFrames frames{train.clean, train.quantized, train.lower, train.upper};
  const Vector theta0 = initial_parameters<double>(spec, 0.02, 1.0 / 0.02);
  UnrolledTrainOptions opt;
  opt.adam.learning_rate = 2e-3;
  opt.adam.max_iterations = 300;
  opt.batch_size = 128;
  int calls = 0;
  const auto r = train_unrolled(spec, theta0, frames, opt, [&](const optim::Progress&) { return ++calls > 0; });
  EXPECT_EQ(calls, 300);
  EXPECT_EQ(r.optim.iterations, 300);
  EXPECT_EQ(r.optim.history.size(), 300u);
  const UnrolledLoss<double> on_test(spec, test.quantized, test.lower, test.upper, test.clean);
  const double before = on_test.evaluate(theta0);
  const double after = on_test.evaluate(r.theta);
  std::printf("[ info ] test MSE before %.3e after %.3e (%.2f dB better), %.2f s\n", before, after,
              10 * std::log10(before / after), r.optim.seconds);
  EXPECT_LT(after, 0.9 * before);
  const auto p = unpack(spec, r.theta);
  for (double t : p.tau) EXPECT_GT(t, 0.0);
  for (double s : p.sigma) EXPECT_GT(s, 0.0);
}

TEST(Unrolled, RejectsBadInput) {
  UnrolledSpec spec;
  spec.n = 8;
  spec.depth = 0;
  EXPECT_THROW(spec.validate(), Error);
  EXPECT_THROW(initial_parameters<double>(spec), Error);
  spec.depth = 2;
  EXPECT_THROW(initial_parameters<double>(spec, -1.0, 1.0), Error);
  auto d = test_data::quantize(test_data::frames(8, 3, 71), 3);
  const Vector theta = initial_parameters<double>(spec);
  EXPECT_THROW(unrolled_forward<double>(spec, Vector(theta.head(5)), d.quantized, d.lower, d.upper), Error);
  Matrix wrong = Matrix::Zero(7, 3);
  EXPECT_THROW(unrolled_forward<double>(spec, theta, wrong, wrong, wrong), Error);
}

TEST(Unrolled, TheKeptTapeGivesTheBitsOfAFreshOneInEveryCallAndThread) {
  // The loss keeps its reverse-mode tape from call to call (and a concurrent call uses its
  // own): every call must equal a fresh objective's, whatever the calls before it (other
  // parameters, another depth of work in the buffers) and from two threads at once; for a batch
  // of one block and one of two column blocks (whose slots are kept too).
  for (const Index frames : {Index(40), Index(700)}) {
    auto d = test_data::quantize(test_data::frames(16, frames, 5), 4);
    UnrolledSpec spec;
    spec.n = 16;
    spec.depth = 4;
    const Index bc = unrolled_block_columns(spec, frames, 8);
    EXPECT_EQ((frames + bc - 1) / bc, frames == 40 ? 1 : 2);
    const UnrolledLoss<double> kept(spec, d.quantized, d.lower, d.upper, d.clean);
    const Vector t0 = initial_parameters<double>(spec, 0.05, 20.0);
    Vector t1 = t0;
    t1.head(16 * 16) += 0.01 * Matrix::Random(16, 16).reshaped();
    auto fresh = [&](const Vector& t, Vector& g) {
      return UnrolledLoss<double>(spec, d.quantized, d.lower, d.upper, d.clean).evaluate_with_gradient(t, g);
    };
    Vector g0, g1, h0, h1;
    const double l0 = fresh(t0, g0), l1 = fresh(t1, g1);
    for (int round = 0; round < 2; ++round) {
      EXPECT_EQ(kept.evaluate_with_gradient(t1, h1), l1);
      EXPECT_EQ(kept.evaluate_with_gradient(t0, h0), l0);
      EXPECT_EQ(h0, g0);
      EXPECT_EQ(h1, g1);
      EXPECT_EQ(kept.evaluate(t1), l1);  // forward only: the same loss
    }
    std::vector<Vector> grads(8);
    std::vector<double> losses(8);
#pragma omp parallel for num_threads(2)
    for (int i = 0; i < 8; ++i) losses[size_t(i)] = kept.evaluate_with_gradient(i % 2 ? t1 : t0, grads[size_t(i)]);
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(losses[size_t(i)], i % 2 ? l1 : l0) << i;
      EXPECT_EQ(grads[size_t(i)], i % 2 ? g1 : g0) << i;
    }
  }
}

TEST(Unrolled, LargeBatchesRunInColumnBlocksOnTheThreadsWithTheResultOfOne) {
  // 64 x 1100 samples: 14 column blocks (unrolled_block_columns), on the threads, their sums
  // added in block order: 1 and 2 threads give the same loss and gradient, bit for bit
  // (float32 and float64).
  auto d = test_data::quantize(test_data::frames(64, 1100, 9), 4);
  UnrolledSpec spec;
  spec.n = 64;
  spec.depth = 3;
  EXPECT_GE(1100 / unrolled_block_columns(spec, 1100, 8), 2);  // 14 blocks of 80
  const Vector theta = initial_parameters<double>(spec, 0.05, 20.0);
  const Index nk = 64 * 64;
  auto run = [&](int threads, auto scalar) {
    using T = decltype(scalar);
    const ScopedThreads scope(threads);
    const MatrixT<T> q = d.quantized.cast<T>(), lo = d.lower.cast<T>(), hi = d.upper.cast<T>(), c = d.clean.cast<T>();
    VectorT<T> g;
    const T l = UnrolledLoss<T>(spec, q, lo, hi, c).evaluate_with_gradient(theta.cast<T>(), g);
    return std::make_pair(l, g);
  };
  const auto [l1, g1] = run(1, 0.0);
  const auto [l2, g2] = run(2, 0.0);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(g1, g2);
  EXPECT_GT(g1.tail(g1.size() - nk).norm(), 0.0);  // the step sizes do get a gradient
  const auto [f1, h1] = run(1, 0.0f);
  const auto [f2, h2] = run(2, 0.0f);
  EXPECT_EQ(f1, f2);
  EXPECT_EQ(h1, h2);
}

TEST(Unrolled, BlocksOnOtherThreadsFlushDenormalsAsTheCallerDoes) {
  // Quantized frames and cells of 1e-38 (mostly float32 denormals) and sigma = 1e38: sigma K
  // xbar and the cell's bounds sigma l, sigma u are of order 1 when the denormals count, 0 when
  // they are flushed (DAZ), and the output differs at a normal scale. The caller alone flushes (its
  // own control word, not the workers'): the blocks that run on another thread must flush too,
  // so 2 threads give 1 thread's bits.
#if !(defined(__x86_64__) || defined(__i386__))
  GTEST_SKIP() << "no FTZ/DAZ control on this target";
#else
  if (!FlushDenormals::supported()) GTEST_SKIP() << "no FTZ/DAZ control on this target";
  auto d = test_data::quantize(test_data::frames(64, 700, 17), 4);
  UnrolledSpec spec;
  spec.n = 64;
  spec.depth = 2;
  const Index bc = unrolled_block_columns(spec, 700, 4);
  ASSERT_GE((700 + bc - 1) / bc, 2);
  const float tiny = 1e-38f;
  const MatrixT<float> q = d.quantized.cast<float>() * tiny, lo = d.lower.cast<float>() * tiny,
                       hi = d.upper.cast<float>() * tiny, c = d.clean.cast<float>();
  const VectorT<float> theta = initial_parameters<float>(spec, 0.1, 1e38);
  auto run = [&](int threads) {
    const ScopedThreads scope(threads);
    VectorT<float> g;
    const float l = UnrolledLoss<float>(spec, q, lo, hi, c).evaluate_with_gradient(theta, g);
    return std::make_pair(l, g);
  };
  run(2);  // the worker threads exist first (a thread started later inherits its creator's modes)
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u);  // FTZ and DAZ on this thread only
  const auto [l1, g1] = run(1);
  const auto [l2, g2] = run(2);
  _mm_setcsr(saved);
  const auto [l0, g0] = run(1);  // not flushing: another result (the test has denormals to flush)
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(g1, g2);
  EXPECT_GT(std::abs(l0 - l1), 1e-3f * l1);
#endif
}

TEST(Unrolled, ColumnBlocksAddUpToTheBlocksEvaluatedApart) {
  // The loss is the mean over all samples: over column blocks w_b of B frames, L = sum_b (w_b / B)
  // L_b with L_b a block's own mean, and the same for the gradient. The blocks apart are batches of
  // one block each (no blocking inside): an independent evaluation of the assembly.
  auto d = test_data::quantize(test_data::frames(64, 300, 13), 4);
  UnrolledSpec spec;
  spec.n = 64;
  spec.depth = 4;
  spec.project_output = true;
  const Index frames = 300, bc = unrolled_block_columns(spec, frames, 8);
  ASSERT_LT(bc, frames);
  Vector theta = initial_parameters<double>(spec, 0.05, 20.0);
  Rng rng(3);
  theta.head(64 * 64) += 0.01 * gaussian_matrix(64 * 64, 1, 1.0, rng);
  Vector g;
  const double l = UnrolledLoss<double>(spec, d.quantized, d.lower, d.upper, d.clean).evaluate_with_gradient(theta, g);
  double l_apart = 0;
  Vector g_apart = Vector::Zero(g.size());
  for (Index c0 = 0; c0 < frames; c0 += bc) {
    const Index w = std::min(bc, frames - c0);
    ASSERT_EQ(unrolled_block_columns(spec, w, 8), w);  // one block
    const Matrix q = d.quantized.middleCols(c0, w), lo = d.lower.middleCols(c0, w), hi = d.upper.middleCols(c0, w),
                 c = d.clean.middleCols(c0, w);
    Vector gb;
    const double lb = UnrolledLoss<double>(spec, q, lo, hi, c).evaluate_with_gradient(theta, gb);
    l_apart += lb * double(w) / double(frames);
    g_apart += gb * (double(w) / double(frames));
  }
  EXPECT_NEAR(l, l_apart, 1e-13 * l);
  EXPECT_LE((g - g_apart).norm(), 1e-12 * g.norm());
}

TEST(Unrolled, BlockColumnsFitTheCacheAndSplitEvenly) {
  UnrolledSpec spec;  // n = 64, N = 5: a column of the tape is 64 x 38 samples
  EXPECT_EQ(unrolled_block_columns(spec, 4096, 4), 160);  // 1.5 MB / (64 * 38 * 4 B) = 161 -> 160
  EXPECT_EQ(unrolled_block_columns(spec, 256, 4), 128);   // two even blocks
  EXPECT_EQ(unrolled_block_columns(spec, 256, 8), 64);    // float64: 80 at most -> four of 64
  EXPECT_EQ(unrolled_block_columns(spec, 100, 4), 100);   // one block: the batch
  spec.n = 4000;                                           // a huge column: the floor of 64
  EXPECT_EQ(unrolled_block_columns(spec, 1000, 8), 64);
  EXPECT_THROW(unrolled_block_columns(spec, 0, 8), Error);
  EXPECT_THROW(unrolled_block_columns(spec, 10, 2), Error);
}
