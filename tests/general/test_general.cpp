// General learning engine: the energy's kernels, unrolled learning's reverse mode
// against finite differences for every operator x regularizer, the quadratic closed form,
// and convergence to the lower-level minimizer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/general/general.hpp"
#include "varlearn/ops/ops.hpp"
#include "varlearn/optim/adam.hpp"
#include "varlearn/optim/gradient_check.hpp"
#include "varlearn/optim/lbfgs.hpp"
#include "varlearn/reg/reg.hpp"
#include "problems.hpp"

namespace varlearn {
namespace {

using general::Energy;
using general::StepSharing;
using general::UnrolledInit;
using general::UnrolledObjective;
using general::UnrolledOptions;
using reg::Potential;

using namespace general_problems;

TEST(Energy, KernelsMatchFiniteDifferences) {
  for (const char* op : {"identity", "mask", "conv"}) {
    const Problem p = make_problem(op, "charbonnier");
    Rng rng(3);
    const Matrix f = gaussian_matrix(kN, kB, 1.0, rng), v = gaussian_matrix(kN, kB, 1.0, rng);
    const double h = 1e-5;
    // <grad E, V> vs the directional derivative of E.
    const double dd = (p.energy.value(f + h * v) - p.energy.value(f - h * v)) / (2 * h);
    EXPECT_NEAR(p.energy.gradient(f).cwiseProduct(v).sum(), dd, 1e-7 * std::max(1.0, std::abs(dd))) << op;
    // H V vs the directional derivative of the gradient.
    const Matrix hv = (p.energy.gradient(f + h * v) - p.energy.gradient(f - h * v)) / (2 * h);
    EXPECT_LT((p.energy.hessian_product(f, v) - hv).norm(), 1e-7 * hv.norm()) << op;
  }
}

// The line-search kernels: E and its gradient at F + tD from the images of F and D (the images
// of F + tD are theirs plus t times D's) equal the plain kernels at F + tD to rounding, for
// every operator and regularizer kind (analysis-type ones keep KF; the others use F itself);
// the curvature with F's images is the plain curvature, its single-precision form within 1e-6.
TEST(Energy, LineKernelsFromImagesEqualThePlainKernels) {
  for (const char* op : {"identity", "mask", "conv"}) {
    for (const char* r : {"quadratic", "huber", "charbonnier", "tv", "foe"}) {
      const Problem p = make_problem(op, r);
      const Energy& e = p.energy;
      Rng rng(5);
      const Matrix f = gaussian_matrix(kN, kB, 1.0, rng), d = gaussian_matrix(kN, kB, 1.0, rng);
      Energy::Linearization at, dir;
      e.linearize(f, at);
      e.linearize_direction(d, dir);
      const std::string what = std::string(op) + " x " + r;
      EXPECT_EQ(at.responses.size() > 0, std::string(r) != "quadratic") << what;
      for (double t : {0.0, 1.0, -0.37}) {
        Energy::Linearization moved;
        moved.residual = at.residual + t * dir.residual;
        if (at.responses.size() > 0) moved.responses = at.responses + t * dir.responses;
        const Matrix ft = f + t * d;
        const double v = e.value(ft);
        EXPECT_NEAR(e.value_at(ft, moved), v, 1e-13 * std::max(1.0, std::abs(v))) << what << " t = " << t;
        Matrix g;
        e.gradient_at(ft, moved, g);
        const Matrix g_plain = e.gradient(ft);
        EXPECT_LT((g - g_plain).norm(), 1e-13 * std::max(1.0, g_plain.norm())) << what << " t = " << t;
      }
      auto h = e.curvature_at(f, at);
      Matrix hv;
      h(d, hv);
      const Matrix hv_plain = e.hessian_product(f, d);
      EXPECT_LT((hv - hv_plain).norm(), 1e-13 * std::max(1.0, hv_plain.norm())) << what;
      // The single-precision curvature (Newton-CG's coarse inner solves): the dense analysis
      // regularizers have it (accurate to ~1e-7, not to the last bit), the others give the
      // exact product.
      auto hs = e.curvature_at(f, at, true);
      hs(d, hv);
      const double err = (hv - hv_plain).norm() / hv_plain.norm();
      const bool dense = std::string(r) == "huber" || std::string(r) == "charbonnier";
      EXPECT_LT(err, dense ? 1e-6 : 1e-13) << what;
      if (dense) {
        EXPECT_GT(err, 1e-12) << what << ": not in single precision";
      }
    }
  }
  // A planted error is seen: images of another point give another value.
  const Problem p = make_problem("identity", "huber");
  Rng rng(5);
  const Matrix f = gaussian_matrix(kN, kB, 1.0, rng);
  Energy::Linearization at;
  p.energy.linearize(f + 0.1 * Matrix::Ones(kN, kB), at);
  EXPECT_GT(std::abs(p.energy.value_at(f, at) - p.energy.value(f)), 1e-6);
}

TEST(Energy, RejectsBadShapes) {
  const Problem p = make_problem("identity", "tv");
  EXPECT_THROW(Energy(ops::Identity(kN + 1), p.energy.regularizer(), p.energy.observations()), Error);
  EXPECT_THROW(Energy(ops::Identity(kN), p.energy.regularizer(), Matrix::Zero(kN + 1, kB)), Error);
  EXPECT_THROW(p.energy.gradient(Matrix::Zero(kN, kB + 1)), Error);
  EXPECT_THROW(p.energy.hessian_product(Matrix::Zero(kN, kB), Matrix::Zero(kN, 1)), Error);
}

struct Config {
  StepSharing sharing;
  UnrolledInit init;
};

double worst_unrolled_error = 0;

TEST(Unrolled, GradientMatchesFiniteDifferences) {
  const std::vector<Config> configs{{StepSharing::Shared, UnrolledInit::Zero},
                                    {StepSharing::Shared, UnrolledInit::Adjoint},
                                    {StepSharing::PerIteration, UnrolledInit::Zero},
                                    {StepSharing::PerIteration, UnrolledInit::Adjoint}};
  for (const char* op : {"identity", "mask", "conv"}) {
    for (const char* r : {"quadratic", "huber", "charbonnier", "tv", "foe"}) {
      for (const Config& c : configs) {
        const Problem p = make_problem(op, r);
        UnrolledOptions options;
        options.steps = 5;
        options.sharing = c.sharing;
        options.init = c.init;
        Vector alpha(options.num_step_parameters());
        for (Index t = 0; t < alpha.size(); ++t)
          alpha(t) = softplus_inverse(safe_step(p.energy) * (1.0 - 0.05 * static_cast<double>(t)));
        UnrolledObjective objective(p.energy, p.target, options);
        const Vector x = objective.pack(alpha);
        // Huber's psi'' jumps at |x| = eps, so grad E is only Lipschitz and the unrolled loss is
        // piecewise smooth in (theta, alpha): a stencil of width 4e-3 that straddles a kink
        // differences across it. A narrow stencil (h = 1e-5) sees no kink here.
        optim::GradientCheckOptions check;
        if (std::string(r) == "huber" || std::string(r) == "foe") {
          check.step = 1e-5;
        }
        const auto result = optim::check_gradient(objective, x, check);
        worst_unrolled_error = std::max(worst_unrolled_error, result.max_rel_error);
        if (std::getenv("VARLEARN_VERBOSE")) std::printf("%s x %s %d %d: %s\n", op, r, static_cast<int>(c.sharing), static_cast<int>(c.init), result.summary().c_str());
        EXPECT_TRUE(result.passed) << op << " x " << r << " sharing " << static_cast<int>(c.sharing) << " init "
                                   << static_cast<int>(c.init) << ": " << result.summary();
      }
    }
  }
  std::printf("worst unrolled gradient rel error: %.3g\n", worst_unrolled_error);
}

TEST(Unrolled, PlantedErrorFails) {
  const Problem p = make_problem("conv", "huber");
  UnrolledOptions options;
  options.steps = 4;
  auto objective = std::make_shared<UnrolledObjective>(p.energy, p.target, options);
  const Vector x = objective->pack(Vector::Constant(1, softplus_inverse(safe_step(p.energy))));
  const optim::Function<double> wrong(
      [objective](const Vector& v, Vector& g) {
        const double loss = objective->evaluate_with_gradient(v, g);
        g(2) *= 1.001;
        return loss;
      },
      [objective](const Vector& v) { return objective->evaluate(v); });
  EXPECT_FALSE(optim::check_gradient(wrong, x).passed);
  const optim::Function<double> right(
      [objective](const Vector& v, Vector& g) { return objective->evaluate_with_gradient(v, g); },
      [objective](const Vector& v) { return objective->evaluate(v); });
  EXPECT_TRUE(optim::check_gradient(right, x).passed);
}

TEST(Unrolled, QuadraticIdentityIsTheLinearUnrolledMap) {
  // E(f) = 1/2|f - g|^2 + 1/2|Rf|^2, f^0 = 0: f^N = T g, T = sum_{j<N} w (I - w(I + R^T R))^j.
  Rng rng(5);
  const Matrix r = gaussian_matrix(kN, kN, 0.3, rng);
  const Matrix g = gaussian_matrix(kN, kB, 1.0, rng);
  const Energy e(ops::Identity(kN), reg::Quadratic<double>(r), g);
  const double omega = 0.4;
  UnrolledOptions options;
  options.steps = 12;
  const Matrix fn = general::unrolled_output(e, Vector::Constant(1, softplus_inverse(omega)), options);
  const Matrix m = Matrix::Identity(kN, kN) + r.transpose() * r;
  const Matrix step = Matrix::Identity(kN, kN) - omega * m;
  Matrix power = Matrix::Identity(kN, kN), t_map = Matrix::Zero(kN, kN);
  for (int j = 0; j < options.steps; ++j) {
    t_map += omega * power;
    power = step * power;
  }
  const double err = (fn - t_map * g).cwiseAbs().maxCoeff();
  std::printf("quadratic closed form max abs error: %.3g\n", err);
  EXPECT_LT(err, 1e-12);
}

TEST(Unrolled, ConvexCharbonnierApproachesTheMinimizer) {
  // Identity A: E is 1-strongly convex, so |f^N - f*| <= |grad E(f^N)|.
  const Problem p = make_problem("identity", "charbonnier");
  const Vector alpha = Vector::Constant(1, softplus_inverse(safe_step(p.energy)));
  double previous = INFINITY;
  for (int n : {10, 100, 2000}) {
    UnrolledOptions options;
    options.steps = n;
    const Matrix fn = general::unrolled_output(p.energy, alpha, options);
    const double bound = p.energy.gradient(fn).norm();
    EXPECT_LE(bound, previous) << n;
    previous = bound;
  }
  std::printf("charbonnier N = 2000: |f^N - f*| <= %.3g\n", previous);
  EXPECT_LT(previous, 1e-6);
}

TEST(Unrolled, OptimizersTakeTheObjective) {
  const Problem p = make_problem("conv", "charbonnier");
  UnrolledOptions options;
  options.steps = 5;
  options.sharing = StepSharing::PerIteration;
  UnrolledObjective objective(p.energy, p.target, options);
  Vector x = objective.pack(Vector::Constant(5, softplus_inverse(0.5 * safe_step(p.energy))));
  const double before = objective.evaluate(x);
  optim::LbfgsOptions lbfgs;
  lbfgs.max_iterations = 20;
  const optim::Result r = optim::Lbfgs(lbfgs).minimize<double>(objective, x);
  EXPECT_LT(r.loss, 0.9 * before);
  optim::AdamOptions adam;
  adam.max_iterations = 20;
  const optim::Result a = optim::Adam(adam).minimize<double>(objective, x);
  EXPECT_TRUE(std::isfinite(a.loss));
}

TEST(Unrolled, RejectsBadInput) {
  const Problem p = make_problem("identity", "tv");
  UnrolledOptions options;
  options.steps = 0;
  EXPECT_THROW(general::unrolled_output(p.energy, Vector::Zero(1), options), Error);
  options.steps = 3;
  options.sharing = StepSharing::PerIteration;
  EXPECT_THROW(general::unrolled_output(p.energy, Vector::Zero(1), options), Error);
  EXPECT_THROW(general::unrolled_loss(p.energy, Matrix::Zero(kN, kB + 1), Vector::Zero(3), options), Error);
  UnrolledObjective objective(p.energy, p.target, options);
  Vector g;
  EXPECT_THROW(objective.evaluate_with_gradient(Vector::Zero(2), g), Error);
  // A diverging step is an Error, not a NaN loss.
  options.sharing = StepSharing::Shared;
  options.steps = 2000;
  EXPECT_THROW(general::unrolled_output(p.energy, Vector::Constant(1, 10.0), options), Error);
}

double worst_bilevel_error = 0;

TEST(Bilevel, HypergradientMatchesFiniteDifferencesOfTheSolvedLowerLevel) {
  general::BilevelOptions options;
  options.tolerance = 1e-10;
  for (const char* op : {"identity", "mask", "conv"}) {
    for (const char* r : {"quadratic", "charbonnier", "tv"}) {
      const Problem p = make_problem(op, r);
      general::BilevelObjective objective(p.energy, p.target, options);
      const Vector theta = objective.parameters();
      Vector grad(theta.size());
      objective.evaluate_with_gradient(theta, grad);
      const general::BilevelResult& report = objective.last();
      EXPECT_LE(report.lower_gradient_norm, 1e-10) << op << " x " << r;
      EXPECT_GT(report.cg_iterations, 0);
      EXPECT_LT(report.cg_residual, 1e-10);
      optim::GradientCheckOptions check;
      check.step = 1e-4;
      check.tolerance = 1e-5;
      const auto result = optim::check_gradient(objective, theta, check);
      worst_bilevel_error = std::max(worst_bilevel_error, result.max_rel_error);
      EXPECT_TRUE(result.passed) << op << " x " << r << ": " << result.summary();
      if (std::getenv("VARLEARN_VERBOSE"))
        std::printf("bilevel %s x %s: %s (|grad E| %.2g, CG residual %.2g, %d CG its)\n", op, r,
                    result.summary().c_str(), report.lower_gradient_norm, report.cg_residual, report.cg_iterations);
    }
  }
  std::printf("worst bilevel hypergradient rel error: %.3g\n", worst_bilevel_error);
}

// The remaining regularizer kinds: fields of experts (learned filters and eps) on every operator,
// and the nonconvex student potential (learned eps) where H stays positive definite.
TEST(Bilevel, HypergradientMatchesFiniteDifferencesForFoeAndStudent) {
  general::BilevelOptions options;
  options.tolerance = 1e-10;
  const std::vector<std::pair<const char*, const char*>> cases{
      {"identity", "foe-charbonnier"}, {"mask", "foe-charbonnier"}, {"conv", "foe-charbonnier"}, {"identity", "student-weak"}};
  for (const auto& [op, r] : cases) {
    const Problem p = make_problem(op, r);
    general::BilevelObjective objective(p.energy, p.target, options);
    const Vector theta = objective.parameters();
    optim::GradientCheckOptions check;
    check.step = 1e-4;
    check.tolerance = 1e-5;
    const auto result = optim::check_gradient(objective, theta, check);
    EXPECT_TRUE(result.passed) << op << " x " << r << ": " << result.summary();
    EXPECT_LE(objective.last().lower_gradient_norm, 1e-10) << op << " x " << r;
  }
}

TEST(Bilevel, AgreesWithLongUnrolling) {
  // Convex energy: the unrolled output for large N is the lower-level minimizer.
  const Problem p = make_problem("conv", "charbonnier");
  const general::BilevelResult b = general::bilevel_loss(p.energy, p.target, {});
  UnrolledOptions options;
  options.steps = 3000;
  const Matrix fn =
      general::unrolled_output(p.energy, Vector::Constant(1, softplus_inverse(safe_step(p.energy))), options);
  EXPECT_LT((fn - b.output).norm(), 1e-8);
}

TEST(Bilevel, IndefiniteHessianIsAnError) {
  // Student potential on finite differences with u = sqrt(3) eps, where phi'' is most negative:
  // H = I + D^T diag(a phi''(u)) D is indefinite, so there is no implicit gradient.
  const double eps = 0.1;
  const reg::Tv<double> tv(kN, 1.0, Potential::student(eps));
  Rng rng(2);
  const Matrix g = gaussian_matrix(kN, kB, 1.0, rng);
  const Energy e(ops::Identity(kN), tv, g);
  Matrix f(kN, kB);
  for (Index i = 0; i < kN; ++i) f.row(i).setConstant(std::sqrt(3.0) * eps * static_cast<double>(i));
  const Matrix target = gaussian_matrix(kN, kB, 1.0, rng);
  try {
    general::implicit_hypergradient(e, f, target, {});
    ADD_FAILURE() << "no Error for an indefinite Hessian";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("not positive definite"), std::string::npos) << error.what();
  }
}

TEST(Bilevel, RejectsBadInput) {
  const Problem p = make_problem("identity", "tv");
  general::BilevelOptions options;
  options.tolerance = 0;
  EXPECT_THROW(general::bilevel_loss(p.energy, p.target, options), Error);
  EXPECT_THROW(general::bilevel_loss(p.energy, Matrix::Zero(kN, kB + 1), {}), Error);
  options.tolerance = 1e-10;
  options.max_iterations = 1;
  EXPECT_THROW(general::solve_lower_level(p.energy, options), Error);
}

}  // namespace
}  // namespace varlearn
