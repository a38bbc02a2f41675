// Unrolled learning's extensions: Nesterov momentum, a fixed stepsize, checkpointing and
// float32. Gradients against central differences (float64), checkpointed against stored-all
// reverse mode, float32 against float64, momentum against a hand-written Nesterov loop, and
// the fused reverse kernels against the regularizer's separate ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/general/general.hpp"
#include "varlearn/ops/ops.hpp"
#include "varlearn/optim/gradient_check.hpp"
#include "varlearn/reg/reg.hpp"
#include "problems.hpp"

namespace varlearn {
namespace {

using general::BasicEnergy;
using general::Energy;
using general::StepSharing;
using general::UnrolledInit;
using general::UnrolledObjective;
using general::UnrolledOptions;
using reg::Potential;

using namespace general_problems;

/// alpha for options (empty when fixed): softplus(alpha_t) = safe step, slowly decreasing.
Vector make_alpha(const UnrolledOptions& options, double omega) {
  Vector alpha(options.num_step_parameters());
  for (Index t = 0; t < alpha.size(); ++t) alpha(t) = softplus_inverse(omega * (1.0 - 0.04 * static_cast<double>(t)));
  return alpha;
}

double relative(const Vector& a, const Vector& b) { return (a - b).norm() / std::max(b.norm(), 1e-300); }

double worst_momentum_error = 0;

TEST(UnrolledMomentum, GradientMatchesFiniteDifferences) {
  for (const char* op : {"identity", "conv", "mask"}) {
    for (const char* r : {"quadratic", "huber", "charbonnier", "tv"}) {
      for (StepSharing sharing : {StepSharing::Shared, StepSharing::PerIteration, StepSharing::Fixed}) {
        for (int every : {1, 2}) {
          const Problem<double> p = make_problem<double>(op, r);
          UnrolledOptions options;
          options.steps = 5;
          options.momentum = true;
          options.sharing = sharing;
          options.init = std::string(op) == "conv" ? UnrolledInit::Adjoint : UnrolledInit::Zero;
          options.stepsize = 0.8 * safe_step(p.energy);
          options.checkpoint_every = every;
          UnrolledObjective objective(p.energy, p.target, options);
          const Vector x = objective.pack(make_alpha(options, safe_step(p.energy)));
          optim::GradientCheckOptions check;
          if (std::string(r) == "huber") check.step = 1e-5;  // keep the stencil off phi''s jumps
          const auto result = optim::check_gradient(objective, x, check);
          worst_momentum_error = std::max(worst_momentum_error, result.max_rel_error);
          EXPECT_TRUE(result.passed) << op << " x " << r << " sharing " << static_cast<int>(sharing) << " every "
                                     << every << ": " << result.summary();
        }
      }
    }
  }
  std::printf("worst momentum gradient rel error: %.3g\n", worst_momentum_error);
}

TEST(UnrolledMomentum, FoeAndStudentGradients) {
  for (const char* r : {"foe", "student"}) {
    const Problem<double> p = make_problem<double>("conv", r);
    UnrolledOptions options;
    options.steps = 4;
    options.momentum = true;
    options.sharing = StepSharing::PerIteration;
    options.checkpoint_every = 3;
    UnrolledObjective objective(p.energy, p.target, options);
    const Vector x = objective.pack(make_alpha(options, 0.5 * safe_step(p.energy)));
    optim::GradientCheckOptions check;
    check.step = 1e-5;
    const auto result = optim::check_gradient(objective, x, check);
    EXPECT_TRUE(result.passed) << r << ": " << result.summary();
  }
}

TEST(UnrolledMomentum, PlantedErrorFails) {
  const Problem<double> p = make_problem<double>("conv", "charbonnier");
  UnrolledOptions options;
  options.steps = 6;
  options.momentum = true;
  options.checkpoint_every = 4;
  auto objective = std::make_shared<UnrolledObjective>(p.energy, p.target, options);
  const Vector x = objective->pack(make_alpha(options, safe_step(p.energy)));
  for (Index i : {Index(3), x.size() - 1}) {  // a K entry and the stepsize
    const optim::Function<double> wrong(
        [objective, i](const Vector& v, Vector& g) {
          const double loss = objective->evaluate_with_gradient(v, g);
          g(i) *= 1.001;
          return loss;
        },
        [objective](const Vector& v) { return objective->evaluate(v); });
    EXPECT_FALSE(optim::check_gradient(wrong, x).passed) << i;
  }
  EXPECT_TRUE(optim::check_gradient(*objective, x).passed);
}

TEST(UnrolledMomentum, FixedStepQuadraticMatchesAHandWrittenNesterovLoop) {
  // E(f) = 1/2|f - g|^2 + 1/2|Rf|^2, grad E(f) = M f - g, M = I + R^T R.
  Rng rng(5);
  const Matrix r = gaussian_matrix(kN, kN, 0.3, rng);
  const Matrix g = gaussian_matrix(kN, kB, 1.0, rng);
  const Energy e(ops::Identity(kN), reg::Quadratic<double>(r), g);
  const Matrix m = Matrix::Identity(kN, kN) + r.transpose() * r;
  UnrolledOptions options;
  options.steps = 15;
  options.momentum = true;
  options.sharing = StepSharing::Fixed;
  options.stepsize = 0.3;
  for (UnrolledInit init : {UnrolledInit::Zero, UnrolledInit::Adjoint}) {
    options.init = init;
    Matrix f = init == UnrolledInit::Zero ? Matrix(Matrix::Zero(kN, kB)) : g;
    Matrix f_prev = f;
    for (int t = 0; t < options.steps; ++t) {
      const double beta = t / (t + 3.0);
      const Matrix y = f + beta * (f - f_prev);
      f_prev = f;
      f = y - options.stepsize * (m * y - g);
    }
    const Matrix fn = general::unrolled_output(e, Vector(), options);
    const double err = (fn - f).cwiseAbs().maxCoeff();
    std::printf("momentum vs hand-written Nesterov: max abs error %.3g\n", err);
    EXPECT_LT(err, 1e-13);
    // Without momentum it is plain gradient descent, which differs.
    UnrolledOptions plain = options;
    plain.momentum = false;
    EXPECT_GT((general::unrolled_output(e, Vector(), plain) - f).norm(), 1e-6 * f.norm());
  }
}

TEST(UnrolledFixedStep, ObjectiveIsThetaOnly) {
  const Problem<double> p = make_problem<double>("mask", "charbonnier");
  UnrolledOptions options;
  options.steps = 6;
  options.sharing = StepSharing::Fixed;
  options.stepsize = safe_step(p.energy);
  EXPECT_EQ(options.num_step_parameters(), 0);
  UnrolledObjective objective(p.energy, p.target, options);
  EXPECT_EQ(objective.num_parameters(), p.energy.num_parameters());
  const Vector x = objective.pack(Vector());
  EXPECT_EQ((x - p.energy.parameters()).norm(), 0.0);
  Vector grad;
  objective.evaluate_with_gradient(x, grad);
  EXPECT_EQ(grad.size(), p.energy.num_parameters());
  // The same steps as a shared alpha with softplus(alpha) = stepsize; theta's gradient too.
  UnrolledOptions shared = options;
  shared.sharing = StepSharing::Shared;
  const Vector alpha = Vector::Constant(1, softplus_inverse(options.stepsize));
  const auto fixed_result = general::unrolled_loss(p.energy, p.target, Vector(), options);
  const auto shared_result = general::unrolled_loss(p.energy, p.target, alpha, shared);
  EXPECT_LT((fixed_result.output - shared_result.output).norm(), 1e-13 * shared_result.output.norm());
  EXPECT_LT(relative(fixed_result.theta_gradient, shared_result.theta_gradient), 1e-12);
  EXPECT_EQ(fixed_result.alpha_gradient.size(), 0);
  EXPECT_THROW(general::unrolled_loss(p.energy, p.target, alpha, options), Error);  // no alpha when fixed
}

TEST(UnrolledCheckpointing, SqrtSpacing) {
  EXPECT_EQ(general::sqrt_checkpointing(1), 1);
  EXPECT_EQ(general::sqrt_checkpointing(4), 2);
  EXPECT_EQ(general::sqrt_checkpointing(5), 3);
  EXPECT_EQ(general::sqrt_checkpointing(10), 4);
  EXPECT_EQ(general::sqrt_checkpointing(100), 10);
  EXPECT_EQ(general::sqrt_checkpointing(101), 11);
  EXPECT_THROW(general::sqrt_checkpointing(0), Error);
}

TEST(UnrolledCheckpointing, GradientEqualsStoringAll) {
  double worst = 0;
  for (const char* r : {"huber", "tv", "quadratic", "foe"}) {
    for (bool momentum : {false, true}) {
      const Problem<double> p = make_problem<double>("conv", r);
      UnrolledOptions options;
      options.steps = 11;
      options.momentum = momentum;
      options.sharing = StepSharing::PerIteration;
      const Vector alpha = make_alpha(options, 0.7 * safe_step(p.energy));
      const auto all = general::unrolled_loss(p.energy, p.target, alpha, options);
      for (int every : {2, 3, 4, general::sqrt_checkpointing(11), 5, 11, 20}) {  // 4 = ceil(sqrt 11)
        options.checkpoint_every = every;
        const auto some = general::unrolled_loss(p.energy, p.target, alpha, options);
        const double e = std::max(relative(some.theta_gradient, all.theta_gradient),
                                  relative(some.alpha_gradient, all.alpha_gradient));
        worst = std::max(worst, e);
        EXPECT_LT(e, 1e-13) << r << " momentum " << momentum << " every " << every;
        EXPECT_EQ(some.loss, all.loss);
      }
      options.checkpoint_every = 1;
    }
  }
  std::printf("checkpointed vs stored-all gradient: worst rel difference %.3g\n", worst);
}

TEST(UnrolledFloat32, AgreesWithFloat64) {
  double worst_loss = 0, worst_grad = 0;
  for (const char* op : {"identity", "conv"}) {
    for (const char* r : {"charbonnier", "tv", "quadratic"}) {
      for (bool momentum : {false, true}) {
        const Problem<double> pd = make_problem<double>(op, r);
        const Problem<float> pf = make_problem<float>(op, r);
        UnrolledOptions options;
        options.steps = 8;
        options.momentum = momentum;
        options.sharing = StepSharing::PerIteration;
        options.checkpoint_every = 3;
        const Vector alpha = make_alpha(options, safe_step(pd.energy));
        const auto d = general::unrolled_loss(pd.energy, pd.target, alpha, options);
        const auto f = general::unrolled_loss(pf.energy, pf.target, VectorT<float>(alpha.cast<float>()), options);
        const double el = std::abs(static_cast<double>(f.loss) - d.loss) / d.loss;
        Vector gd(d.theta_gradient.size() + d.alpha_gradient.size()), gf(gd.size());
        gd << d.theta_gradient, d.alpha_gradient;
        gf << f.theta_gradient.cast<double>(), f.alpha_gradient.cast<double>();
        const double eg = relative(gf, gd);
        worst_loss = std::max(worst_loss, el);
        worst_grad = std::max(worst_grad, eg);
        EXPECT_LT(el, 1e-4) << op << " x " << r << " momentum " << momentum;
        EXPECT_LT(eg, 1e-4) << op << " x " << r << " momentum " << momentum;
      }
    }
  }
  std::printf("float32 vs float64: loss rel %.3g, gradient rel %.3g\n", worst_loss, worst_grad);
}

TEST(UnrolledFloat32, ObjectiveTakesFloatParameters) {
  const Problem<float> p = make_problem<float>("identity", "charbonnier");
  UnrolledOptions options;
  options.steps = 4;
  general::BasicUnrolledObjective<float> objective(p.energy, p.target, options);
  const VectorT<float> x = objective.pack(VectorT<float>::Constant(1, static_cast<float>(softplus_inverse(0.3))));
  VectorT<float> grad;
  const float loss = objective.evaluate_with_gradient(x, grad);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_EQ(grad.size(), x.size());
  EXPECT_EQ(objective.evaluate(x), loss);
}

// The fused kernels (one K F, one K W per reverse step) against the separate ones.
template <class T>
void check_fused_kernels(double tolerance) {
  for (const char* op : {"identity", "conv"}) {
    for (const char* r : {"huber", "charbonnier", "student", "tv", "foe", "quadratic"}) {
      const Problem<T> p = make_problem<T>(op, r);
      Rng rng(9);
      const MatrixT<T> f = gaussian_matrix(kN, kB, 1.0, rng).cast<T>();
      const MatrixT<T> w = gaussian_matrix(kN, kB, 1.0, rng).cast<T>();
      MatrixT<T> grad, hv;
      VectorT<T> mixed;
      typename BasicEnergy<T>::Linearization kept;
      p.energy.gradient_into(f, grad, &kept);
      EXPECT_LT(static_cast<double>((grad - p.energy.gradient(f)).norm()),
                tolerance * static_cast<double>(grad.norm()))
          << op << " x " << r;
      using Linearization = typename BasicEnergy<T>::Linearization;
      for (const Linearization* cached : {static_cast<const Linearization*>(&kept), static_cast<const Linearization*>(nullptr)}) {
        const double dot = p.energy.reverse_kernels(f, w, cached, hv, mixed);
        const double expected = static_cast<double>(w.cwiseProduct(p.energy.gradient(f)).sum());
        EXPECT_NEAR(dot, expected, tolerance * std::abs(expected) + tolerance) << op << " x " << r;
        const MatrixT<T> hv_ref = p.energy.hessian_product(f, w);
        EXPECT_LT(static_cast<double>((hv - hv_ref).norm()), tolerance * static_cast<double>(hv_ref.norm()))
            << op << " x " << r;
        const VectorT<T> mixed_ref = p.energy.mixed_product(f, w);
        EXPECT_LT(static_cast<double>((mixed - mixed_ref).norm()), tolerance * static_cast<double>(mixed_ref.norm()))
            << op << " x " << r;
      }
    }
  }
}

TEST(UnrolledKernels, FusedEqualSeparateDouble) { check_fused_kernels<double>(1e-13); }
TEST(UnrolledKernels, FusedEqualSeparateFloat) { check_fused_kernels<float>(1e-5); }

TEST(UnrolledKernels, ThreadedPassesEqualSeparateKernels) {
  // 64 x 1100 responses (over the 65536 entries where the elementwise passes use threads):
  // the per-thread partial sums and the threaded axpy against the single-threaded kernels.
  // Eigen's own GEMM threads are off here: on a shared 2-core machine they spin at every
  // k-block of the 64 x 1100 x 64 pullbacks (seconds), and they are not what is tested.
  // Restored to 0, Eigen's default (follow OpenMP's count): restoring the count it read would
  // pin Eigen at it, and a later test in the same process (ScopedThreads(1) against two threads)
  // would then run its GEMMs on two threads with other blocking, other bits.
  struct SerialGemm {
    SerialGemm() { Eigen::setNbThreads(1); }
    ~SerialGemm() { Eigen::setNbThreads(0); }
  } serial_gemm;
  const Index n = 64, b = 1100;
  Rng rng(4);
  const reg::Analysis<double> analysis(gaussian_matrix(n, n, 0.3, rng), Vector::Constant(n, 0.6),
                                       Potential::student(0.4, true));
  const Matrix g = gaussian_matrix(n, b, 1.0, rng), target = gaussian_matrix(n, b, 1.0, rng);
  const Energy e(ops::Identity(n), analysis, g);
  const Matrix f = gaussian_matrix(n, b, 1.0, rng), w = gaussian_matrix(n, b, 1.0, rng);
  Energy::Linearization kept;
  Matrix grad, hv;
  Vector mixed;
  e.gradient_into(f, grad, &kept);
  EXPECT_LT((grad - e.gradient(f)).norm(), 1e-13 * grad.norm());
  const double dot = e.reverse_kernels(f, w, &kept, hv, mixed);
  const double expected = w.cwiseProduct(e.gradient(f)).sum();
  EXPECT_NEAR(dot, expected, 1e-12 * std::abs(expected));
  const Matrix hv_ref = e.hessian_product(f, w);
  EXPECT_LT((hv - hv_ref).norm(), 1e-13 * hv_ref.norm());
  EXPECT_LT(relative(mixed, e.mixed_product(f, w)), 1e-12);
  // Checkpointed = stored-all at this size too.
  UnrolledOptions options;
  options.steps = 4;
  options.momentum = true;
  const Vector alpha = Vector::Constant(1, softplus_inverse(0.3));
  const auto all = general::unrolled_loss(e, target, alpha, options);
  options.checkpoint_every = 3;
  const auto some = general::unrolled_loss(e, target, alpha, options);
  EXPECT_LT(relative(some.theta_gradient, all.theta_gradient), 1e-13);
  EXPECT_LT(relative(some.alpha_gradient, all.alpha_gradient), 1e-13);
}

TEST(UnrolledOptions, ValidateNamesTheField) {
  auto message = [](const UnrolledOptions& o) {
    try {
      o.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  UnrolledOptions o;
  EXPECT_EQ(message(o), "");
  o.steps = 0;
  EXPECT_NE(message(o).find("steps"), std::string::npos);
  o = {};
  o.stepsize = 0;
  EXPECT_NE(message(o).find("stepsize"), std::string::npos);
  o.stepsize = NAN;
  EXPECT_NE(message(o).find("stepsize"), std::string::npos);
  o = {};
  o.checkpoint_every = 0;
  EXPECT_NE(message(o).find("checkpoint_every"), std::string::npos);
  o = {};
  o.sharing = static_cast<StepSharing>(7);
  EXPECT_NE(message(o).find("sharing"), std::string::npos);
  // A diverging momentum run is an Error, not a NaN loss.
  const Problem<double> p = make_problem<double>("identity", "tv");
  o = {};
  o.steps = 500;
  o.momentum = true;
  o.sharing = StepSharing::Fixed;
  o.stepsize = 10.0;
  EXPECT_THROW(general::unrolled_output(p.energy, Vector(), o), Error);
}

}  // namespace
}  // namespace varlearn

namespace varlearn {
namespace {

// Frames run through the unrolled iteration in column blocks (frame_block_columns), in
// parallel on the threads, their sums added in block order. n = 64: 640-column blocks; B = 1500
// frames with a per-frame mask: two full blocks and a partial one.
TEST(UnrolledBlocks, ManyBlocksEqualTheBlocksOneByOneForEveryThreadCount) {
  const Index n = BlockBatch::kN, b = BlockBatch::kB, bc = frame_block_columns(n, b);
  ASSERT_EQ(bc, 640);
  const BlockBatch p = block_batch();
  const ops::Operator& a = p.a;
  const Matrix &clean = p.clean, &g = p.g, &k = p.k;
  const reg::Analysis<double> r(k, Vector::Constant(n, 0.05), reg::Potential::huber(0.02));
  const Energy energy(a, r, g);
  for (bool momentum : {false, true}) {
    UnrolledOptions options;
    options.steps = 6;
    options.momentum = momentum;
    options.sharing = StepSharing::PerIteration;
    const Vector alpha = make_alpha(options, 0.3);
    // Reference: each block on its own (one block each), combined with weights B_i / B.
    double loss = 0;
    Vector tg = Vector::Zero(energy.num_parameters()), ag = Vector::Zero(alpha.size());
    Matrix out(n, b);
    for (Index c0 = 0; c0 < b; c0 += bc) {
      const Index w = std::min(bc, b - c0);
      const Energy sub(a.columns(c0, w), r, g.middleCols(c0, w));
      const auto part = general::unrolled_loss(sub, clean.middleCols(c0, w), alpha, options);
      const double share = double(w) / double(b);
      loss += share * part.loss;
      tg += share * part.theta_gradient;
      ag += share * part.alpha_gradient;
      out.middleCols(c0, w) = part.output;
    }
    general::UnrolledResult one, two;
    {
      const ScopedThreads t1(1);
      one = general::unrolled_loss(energy, clean, alpha, options);
    }
    {
      const ScopedThreads t2(2);
      two = general::unrolled_loss(energy, clean, alpha, options);
    }
    SCOPED_TRACE(momentum ? "momentum" : "plain");
    EXPECT_NEAR(one.loss, loss, 1e-13 * loss);
    EXPECT_LT(relative(one.theta_gradient, tg), 1e-12);
    EXPECT_LT(relative(one.alpha_gradient, ag), 1e-12);
    EXPECT_EQ((one.output - out).cwiseAbs().maxCoeff(), 0.0);
    // Block order, not thread order: the same bits on one and two threads.
    EXPECT_EQ(one.loss, two.loss);
    EXPECT_EQ((one.theta_gradient - two.theta_gradient).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ((one.alpha_gradient - two.alpha_gradient).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ((general::unrolled_output(energy, alpha, options) - out).cwiseAbs().maxCoeff(), 0.0);
  }
}

}  // namespace
}  // namespace varlearn
