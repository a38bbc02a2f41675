// Gradient checks of the learning engine against central differences (float64), the planted
// bug that must fail the checker, and direct vs structured paths.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cstdio>
#include <random>

#include "varlearn/core/error.hpp"
#include "varlearn/core/eigh.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/optim/gradient_check.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/learn/objective.hpp"

using namespace varlearn;
using namespace varlearn::learn;
using varlearn::optim::check_gradient;

namespace {

struct Frames {
  Matrix x, y;
};
Frames make_frames(Index n, Index b, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0, 1);
  Frames f{Matrix(n, b), Matrix(n, b)};
  for (Index j = 0; j < b; ++j) {
    const double lam = 1 + 0.5 * nd(rng);
    for (Index i = 0; i < n; ++i) {
      f.y(i, j) = lam + 0.3 * nd(rng);
      f.x(i, j) = f.y(i, j) + 0.4 * nd(rng);
    }
  }
  return f;
}

ModelSpec spec_of(Method m, int depth, StepsizeMode s, Index n = 7, Index k = 3) {
  return ModelSpec{n, k, m, depth, s};
}

struct Case {
  Method method;
  int depth;
  StepsizeMode mode;
};

class GradientCase : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(GradientCase, DirectAndStructuredMatchFiniteDifferences) {
  const Case c = GetParam();
  const ModelSpec spec = spec_of(c.method, c.depth, c.mode);
  InitOptions init;
  init.seed = 11;
  init.stepsize = 0.3;
  QuadraticModel model = QuadraticModel::random(spec, init);
  Vector theta = model.parameters();
  if (c.mode == StepsizeMode::PerIteration)  // distinct stepsizes per iteration
    for (int j = 0; j < c.depth; ++j) theta(spec.n * spec.rank + j) += 0.1 * j - 0.2;
  const Frames fr = make_frames(spec.n, 37, 5);
  const Moments<double> mo = Moments<double>::from_frames(fr.x, fr.y);
  const std::vector<double> fixed = {0.3};

  for (int use_gram : {-1, 1}) {
    UnrollOptions uo;
    uo.use_gram = use_gram;
    const auto r = check_gradient(DirectLoss<double>(spec, fixed, fr.x, fr.y, uo), theta);
    EXPECT_TRUE(r.passed) << spec.describe() << " direct gram=" << use_gram << ": " << r.summary();
    EXPECT_LT(r.max_rel_error, 1e-6);
    std::printf("  %-40s direct gram=%2d: %s\n", spec.describe().c_str(), use_gram, r.summary().c_str());
  }
  const auto rs = check_gradient(StructuredLoss<double>(spec, fixed, mo), theta);
  EXPECT_TRUE(rs.passed) << spec.describe() << " structured: " << rs.summary();
  std::printf("  %-40s structured:   %s\n", spec.describe().c_str(), rs.summary().c_str());

  // Direct and structured agree to 1e-9 relative (value and gradient).
  Vector gd, gs;
  const double ld = loss_direct<double>(spec, theta, fixed, fr.x, fr.y, &gd);
  const double ls = loss_structured<double>(spec, theta, fixed, mo, &gs);
  EXPECT_NEAR(ld, ls, 1e-9 * std::abs(ld));
  EXPECT_LE((gd - gs).norm(), 1e-9 * gd.norm());
  std::printf("  %-40s direct vs structured: loss rel %.2e, gradient rel %.2e\n", spec.describe().c_str(),
              std::abs(ld - ls) / std::abs(ld), (gd - gs).norm() / gd.norm());

  // Recomputation (checkpoint every 2) gives the same gradient as storing all iterates.
  UnrollOptions ck;
  ck.checkpoint_every = 2;
  Vector gc;
  const double lc = loss_direct<double>(spec, theta, fixed, fr.x, fr.y, &gc, ck);
  EXPECT_NEAR(lc, ld, 1e-12 * std::abs(ld));
  EXPECT_LE((gc - gd).norm(), 1e-12 * gd.norm());
}

INSTANTIATE_TEST_SUITE_P(
    Learn, GradientCase,
    ::testing::Values(Case{Method::Bilevel, 1, StepsizeMode::Fixed},
                      Case{Method::Unrolled, 1, StepsizeMode::Fixed},
                      Case{Method::Unrolled, 4, StepsizeMode::Fixed},
                      Case{Method::Unrolled, 5, StepsizeMode::Fixed},
                      Case{Method::Unrolled, 1, StepsizeMode::Learned},
                      Case{Method::Unrolled, 4, StepsizeMode::Learned},
                      Case{Method::Unrolled, 5, StepsizeMode::Learned},
                      Case{Method::Unrolled, 1, StepsizeMode::PerIteration},
                      Case{Method::Unrolled, 4, StepsizeMode::PerIteration},
                      Case{Method::Unrolled, 5, StepsizeMode::PerIteration}));

TEST(GradientCheck, PlantedWrongGradientFails) {
  const ModelSpec spec = spec_of(Method::Unrolled, 4, StepsizeMode::Learned);
  const QuadraticModel model = QuadraticModel::random(spec);
  const Frames fr = make_frames(spec.n, 37, 6);
  // Planted bug: the stepsize gradient misses the softplus chain factor, and one R entry is 0.1% off.
  const varlearn::optim::Function<double> wrong(
      [&](const Vector& t, Vector& g) {
        const double l = loss_direct<double>(spec, t, {}, fr.x, fr.y, &g);
        g(5) *= 1.001;
        return l;
      },
      [&](const Vector& t) { return loss_direct<double>(spec, t, {}, fr.x, fr.y, nullptr); });
  const auto r = check_gradient(wrong, model.parameters());
  EXPECT_FALSE(r.passed) << r.summary();
  EXPECT_EQ(r.worst_index, 5);
  EXPECT_GT(r.max_rel_error, 5e-4);
}

TEST(GradientCheck, Float32AgreesWithFloat64) {
  const ModelSpec spec = spec_of(Method::Unrolled, 5, StepsizeMode::Learned, 37, 9);
  const QuadraticModel model = QuadraticModel::random(spec);
  const Frames fr = make_frames(spec.n, 101, 7);
  Vector gd;
  VectorT<float> gf;
  const double ld = loss_direct<double>(spec, model.parameters(), {}, fr.x, fr.y, &gd);
  const float lf = loss_direct<float>(spec, model.parameters().cast<float>(), {}, fr.x.cast<float>(),
                                      fr.y.cast<float>(), &gf);
  EXPECT_NEAR(lf, ld, 1e-5 * ld);
  EXPECT_LE((gf.cast<double>() - gd).norm(), 1e-4 * gd.norm());
}

TEST(Objective, BadShapesAreErrors) {
  const ModelSpec spec = spec_of(Method::Bilevel, 1, StepsizeMode::Fixed);
  const QuadraticModel model = QuadraticModel::random(spec);
  Matrix x = Matrix::Ones(6, 4), y = Matrix::Ones(6, 4);
  EXPECT_THROW(loss_direct<double>(spec, model.parameters(), {}, x, y, nullptr), Error);
  Matrix x7 = Matrix::Ones(7, 0);
  EXPECT_THROW(loss_direct<double>(spec, model.parameters(), {}, x7, x7, nullptr), Error);
  Matrix xn = Matrix::Ones(7, 3), yn = Matrix::Ones(7, 3);
  xn(2, 1) = std::nan("");
  EXPECT_THROW(Moments<double>::from_frames(xn, yn), Error);
}


// The direct unrolled path runs the frames in column blocks (direct_block_columns), in parallel
// when there are threads, and adds the blocks' sums in block order.
TEST(DirectBlocks, BlockSizeDependsOnShapeOnly) {
  EXPECT_EQ(direct_block_columns(320, 4096), 128);
  EXPECT_EQ(direct_block_columns(320, 100), 100);  // all frames when fewer
  EXPECT_EQ(direct_block_columns(64, 5000), 640);  // ~40k scalars per iterate
  EXPECT_EQ(direct_block_columns(4096, 5000), 128);
  EXPECT_EQ(direct_block_columns(7, 1), 1);
}

TEST(DirectBlocks, ManyBlocksAgreeWithStructuredPathForEveryFormAndThreadCount) {
  // n = 64: 640-column blocks, B = 3000 frames: four full blocks and a partial one (and
  // enough work, 2 n^2 B > 2e7 flops, for the blocks to run on two threads).
  const ModelSpec spec = spec_of(Method::Unrolled, 5, StepsizeMode::PerIteration, 64, 48);
  ASSERT_EQ((3000 + direct_block_columns(64, 3000) - 1) / direct_block_columns(64, 3000), 5);
  QuadraticModel model = QuadraticModel::random(spec);
  const Frames fr = make_frames(spec.n, 3000, 11);
  const auto mo = Moments<double>::from_frames(fr.x, fr.y);
  Vector gs;
  const double ls = loss_structured<double>(spec, model.parameters(), {}, mo, &gs);
  for (int gram : {-1, 1})
    for (int every : {1, 2}) {
      UnrollOptions o;
      o.use_gram = gram;
      o.checkpoint_every = every;
      Vector g1, g2;
      double l1, l2;
      {
        const ScopedThreads one(1);
        l1 = loss_direct<double>(spec, model.parameters(), {}, fr.x, fr.y, &g1, o);
      }
      {
        const ScopedThreads two(2);
        l2 = loss_direct<double>(spec, model.parameters(), {}, fr.x, fr.y, &g2, o);
      }
      SCOPED_TRACE("use_gram " + std::to_string(gram) + ", checkpoint every " + std::to_string(every));
      EXPECT_NEAR(l1, ls, 1e-10 * std::abs(ls));
      EXPECT_LE((g1 - gs).norm(), 1e-9 * gs.norm());
      // Block order, not thread order: one and two threads give the same bits.
      EXPECT_EQ(l1, l2);
      EXPECT_EQ((g1 - g2).cwiseAbs().maxCoeff(), 0.0);
    }
}

// The direct step takes its work matrices (M, the blocks' sums, the tape) from a per-thread pool
// of recycled buffers, whose old entries are garbage: a step must never read them. Depth 1 makes
// no product with R (z^1 = w_0 x), so its dL/dR is exactly zero whatever the pool held; and a
// step repeated after others of other shapes gives the same bits.
TEST(DirectBlocks, RecycledBuffersNeverLeakIntoTheGradient) {
  const Frames fr = make_frames(64, 3000, 12);  // five 640-column blocks
  for (int gram : {-1, 1})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("use_gram " + std::to_string(gram) + ", threads " + std::to_string(threads));
      const ScopedThreads scoped(threads);
      UnrollOptions o;
      o.use_gram = gram;
      const ModelSpec deep = spec_of(Method::Unrolled, 5, StepsizeMode::PerIteration, 64, 48);
      const ModelSpec one = spec_of(Method::Unrolled, 1, StepsizeMode::PerIteration, 64, 48);
      const QuadraticModel md = QuadraticModel::random(deep), m1 = QuadraticModel::random(one);
      Vector gd, gd_again, g1, gs;
      const double ld = loss_direct<double>(deep, md.parameters(), {}, fr.x, fr.y, &gd, o);
      ASSERT_GT(gd.head(deep.n * deep.rank).cwiseAbs().maxCoeff(), 0.0);  // the pool now holds nonzero entries
      const double l1 = loss_direct<double>(one, m1.parameters(), {}, fr.x, fr.y, &g1, o);
      EXPECT_EQ(g1.head(one.n * one.rank).cwiseAbs().maxCoeff(), 0.0);
      const auto mo = Moments<double>::from_frames(fr.x, fr.y);
      const double ls = loss_structured<double>(one, m1.parameters(), {}, mo, &gs);
      EXPECT_NEAR(l1, ls, 1e-10 * std::abs(ls));
      EXPECT_NEAR(g1.tail(1)(0), gs.tail(1)(0), 1e-9 * std::abs(gs.tail(1)(0)));
      // Other shapes in between (fewer frames, another n), then the deep step again: same bits.
      const Frames small = make_frames(64, 200, 13), other = make_frames(40, 900, 14);
      Vector scratch;
      (void)loss_direct<double>(deep, md.parameters(), {}, small.x, small.y, &scratch, o);
      const ModelSpec other_spec = spec_of(Method::Unrolled, 3, StepsizeMode::PerIteration, 40, 40);
      (void)loss_direct<double>(other_spec, QuadraticModel::random(other_spec).parameters(), {}, other.x, other.y,
                                &scratch, o);
      const double ld_again = loss_direct<double>(deep, md.parameters(), {}, fr.x, fr.y, &gd_again, o);
      EXPECT_EQ(ld, ld_again);
      EXPECT_EQ((gd - gd_again).cwiseAbs().maxCoeff(), 0.0);
    }
}

// The bilevel path multiplies by (I + R^T R)^{-1} (LAPACK's inverse with the BLAS backend;
// Eigen's with more frames than rows) or solves: every way agrees with the structured path.
TEST(DirectBilevel, EveryFactorizationAgreesWithStructuredPath) {
  const ModelSpec spec = spec_of(Method::Bilevel, 1, StepsizeMode::Fixed, kLapackEighMinSize + 2, 30);
  const QuadraticModel model = QuadraticModel::random(spec);
  const auto mo_of = [](const Frames& f) { return Moments<double>::from_frames(f.x, f.y); };
  for (Index b : {Index(25), Index(200)}) {  // fewer and more frames than rows
    const Frames fr = make_frames(spec.n, b, 13);
    Vector gs;
    const double ls = loss_structured<double>(spec, model.parameters(), {}, mo_of(fr), &gs);
    for (GemmBackend be : {GemmBackend::Eigen, GemmBackend::Blas}) {
      if (be == GemmBackend::Blas && !blas_available()) continue;
      set_gemm_backend(be);
      Vector g;
      const double l = loss_direct<double>(spec, model.parameters(), {}, fr.x, fr.y, &g);
      set_gemm_backend(GemmBackend::Auto);
      EXPECT_NEAR(l, ls, 1e-10 * std::abs(ls)) << to_string(be) << " B " << b;
      EXPECT_LE((g - gs).norm(), 1e-9 * gs.norm()) << to_string(be) << " B " << b;
    }
  }
}
