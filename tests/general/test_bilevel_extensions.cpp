// Bilevel learning, beyond the hypergradient check of test_general.cpp: the L-BFGS lower
// level against Newton-CG, the Hessian-vector-product count against an independent count,
// the hypergradient-error-vs-tolerance table, quadratic + identity against the quadratic
// engine (learn) and the theory optimum, and the rate at which the unrolled output reaches
// the lower-level minimizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "varlearn/core/error.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/general/general.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/learn/objective.hpp"
#include "varlearn/ops/ops.hpp"
#include "varlearn/optim/lbfgs.hpp"
#include "varlearn/reg/reg.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/risk.hpp"
#include "problems.hpp"

namespace varlearn {
namespace {

using general::BilevelOptions;
using general::BilevelResult;
using general::Energy;
using general::LowerSolver;
using reg::Potential;

using namespace general_problems;

double relative(const Vector& a, const Vector& b) { return (a - b).norm() / std::max(b.norm(), 1e-300); }
double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

// ---------------------------------------------------------------------------------------------
// L-BFGS lower level

TEST(LbfgsLowerLevel, ReachesTheToleranceAndAgreesWithNewtonCg) {
  double worst_f = 0, worst_loss = 0, worst_gradient = 0;
  for (const char* op : {"identity", "mask", "conv"}) {
    for (const char* r : {"quadratic", "huber", "charbonnier", "tv", "foe"}) {
      // Huber is linear beyond eps: with a mask or a blur and K of rank 6 < n, E has flat
      // directions and no unique minimizer. Identity keeps it 1-strongly convex.
      if (std::string(r) == "huber" && std::string(op) != "identity") continue;
      const Problem p = make_problem(op, r);
      BilevelOptions newton;
      newton.tolerance = 1e-10;
      BilevelOptions lbfgs = newton;
      lbfgs.lower_solver = LowerSolver::Lbfgs;
      const BilevelResult a = general::bilevel_loss(p.energy, p.target, newton);
      const BilevelResult b = general::bilevel_loss(p.energy, p.target, lbfgs);
      EXPECT_LE(b.lower_gradient_norm, 1e-10) << op << " x " << r;
      EXPECT_LE(a.lower_gradient_norm, 1e-10) << op << " x " << r;
      EXPECT_EQ(b.lower_hessian_products, 0) << "L-BFGS uses no Hessian-vector products";
      EXPECT_GT(b.gradient_evaluations, b.lower_iterations);  // one per iterate, plus the start
      const double df = (a.output - b.output).norm() / a.output.norm();
      const double dl = relative(b.loss, a.loss), dg = relative(b.gradient, a.gradient);
      worst_f = std::max(worst_f, df);
      worst_loss = std::max(worst_loss, dl);
      worst_gradient = std::max(worst_gradient, dg);
      EXPECT_LT(df, 1e-8) << op << " x " << r;
      EXPECT_LT(dl, 1e-8) << op << " x " << r;
      EXPECT_LT(dg, 1e-8) << op << " x " << r;
    }
  }
  std::printf("L-BFGS vs Newton-CG lower level (tolerance 1e-10): worst relative f* %.2g, loss %.2g, "
              "hypergradient %.2g\n",
              worst_f, worst_loss, worst_gradient);
  // A planted error: L-BFGS stopped at 1e-4 instead of 1e-10 fails the 1e-8 comparison.
  const Problem p = make_problem("conv", "charbonnier");
  BilevelOptions loose;
  loose.lower_solver = LowerSolver::Lbfgs;
  loose.tolerance = 1e-4;
  const BilevelResult a = general::bilevel_loss(p.energy, p.target, {});
  const BilevelResult b = general::bilevel_loss(p.energy, p.target, loose);
  EXPECT_GT(relative(b.gradient, a.gradient), 1e-8);
}

TEST(LbfgsLowerLevel, ValidatesAndReportsFailure) {
  const Problem p = make_problem("identity", "tv");
  BilevelOptions o;
  o.lower_solver = LowerSolver::Lbfgs;
  o.lbfgs_memory = 0;
  EXPECT_THROW(general::solve_lower_level(p.energy, o), Error);
  o.lbfgs_memory = 5;
  o.lbfgs_max_iterations = 0;
  EXPECT_THROW(general::solve_lower_level(p.energy, o), Error);
  o.lbfgs_max_iterations = 2;  // far too few for 1e-10
  EXPECT_THROW(general::solve_lower_level(p.energy, o), Error);
  o.max_iterations = 0;
  o.lbfgs_max_iterations = 1000;
  EXPECT_THROW(general::solve_lower_level(p.energy, o), Error);  // max_iterations is validated too
  EXPECT_EQ(general::parse_lower_solver("lbfgs"), LowerSolver::Lbfgs);
  EXPECT_EQ(general::parse_lower_solver(general::to_string(LowerSolver::NewtonCg)), LowerSolver::NewtonCg);
  EXPECT_THROW(general::parse_lower_solver("newton"), Error);
}

// ---------------------------------------------------------------------------------------------
// Hessian-vector products against an independent count

/// Forwards to a regularizer and counts its gradient and Hessian-vector-product calls (the
/// counters are shared by clones: the energy clones its regularizer). Energy::gradient and
/// Energy::hessian_product call the regularizer's once each.
class Counting final : public reg::Regularizer<double> {
public:
  struct Counts {
    long gradients = 0, hessian_products = 0;
  };
  Counting(const reg::Regularizer<double>& inner, std::shared_ptr<Counts> counts)
      : inner_(inner.clone()), counts_(std::move(counts)) {}
  Counting(const Counting& o) : inner_(o.inner_->clone()), counts_(o.counts_) {}
  Index dimension() const override { return inner_->dimension(); }
  double value(const Mat& f) const override { return inner_->value(f); }
  Mat gradient(const Mat& f) const override {
    ++counts_->gradients;
    return inner_->gradient(f);
  }
  Mat hessian_product(const Mat& f, const Mat& v) const override {
    ++counts_->hessian_products;
    return inner_->hessian_product(f, v);
  }
  Vec parameter_gradient(const Mat& f) const override { return inner_->parameter_gradient(f); }
  Vec mixed_product(const Mat& f, const Mat& w) const override { return inner_->mixed_product(f, w); }
  Index num_parameters() const override { return inner_->num_parameters(); }
  Vec parameters() const override { return inner_->parameters(); }
  void set_parameters(const Vec& theta) override { inner_->set_parameters(theta); }
  std::string describe() const override { return "counting " + inner_->describe(); }
  std::optional<double> hessian_bound() const override { return inner_->hessian_bound(); }
  std::unique_ptr<reg::Regularizer<double>> clone() const override { return std::make_unique<Counting>(*this); }

private:
  std::unique_ptr<reg::Regularizer<double>> inner_;
  std::shared_ptr<Counts> counts_;
};

TEST(HessianProducts, EqualAnIndependentCount) {
  for (const char* op : {"identity", "conv"}) {
    for (const char* r : {"charbonnier", "tv", "foe"}) {
      for (const LowerSolver solver : {LowerSolver::NewtonCg, LowerSolver::Lbfgs}) {
        const Problem p = make_problem(op, r);
        auto counts = std::make_shared<Counting::Counts>();
        const Energy e(p.energy.op(), Counting(p.energy.regularizer(), counts), p.energy.observations());
        BilevelOptions o;
        o.lower_solver = solver;
        const BilevelResult res = general::bilevel_loss(e, p.target, o);
        const std::string what = std::string(op) + " x " + r + " " + general::to_string(solver);
        EXPECT_EQ(res.hessian_products, counts->hessian_products) << what;
        EXPECT_EQ(res.gradient_evaluations, counts->gradients) << what;
        // The cost bound: lower-level HVPs + CG iterations + one residual check.
        EXPECT_EQ(res.hessian_products, res.lower_hessian_products + res.cg_iterations + 1) << what;
        if (solver == LowerSolver::NewtonCg) {
          EXPECT_GE(res.lower_hessian_products, res.lower_iterations) << what;
        }
        // Without the gradient there is no adjoint solve.
        const long before = counts->hessian_products;
        const BilevelResult loss_only = general::bilevel_loss(e, p.target, o, false);
        EXPECT_EQ(loss_only.hessian_products, loss_only.lower_hessian_products);
        EXPECT_EQ(counts->hessian_products - before, loss_only.hessian_products) << what;
      }
    }
  }
  // A planted miscount is seen: a regularizer counted twice per product (two wrappers on one
  // counter) no longer matches the reported count.
  const Problem p = make_problem("identity", "charbonnier");
  auto counts = std::make_shared<Counting::Counts>();
  const Energy e(p.energy.op(), Counting(Counting(p.energy.regularizer(), counts), counts), p.energy.observations());
  const BilevelResult res = general::bilevel_loss(e, p.target, {});
  EXPECT_NE(res.hessian_products, counts->hessian_products);
  EXPECT_EQ(2 * res.hessian_products, counts->hessian_products);
}

// ---------------------------------------------------------------------------------------------
// Hypergradient error vs lower-level tolerance

TEST(ToleranceTable, ErrorIsOfTheOrderOfTheTolerance) {
  const Problem p = make_problem("conv", "charbonnier");
  const std::vector<double> tolerances{1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-12};
  for (const LowerSolver solver : {LowerSolver::NewtonCg, LowerSolver::Lbfgs}) {
    BilevelOptions base;
    base.lower_solver = solver;
    const auto rows = general::tolerance_table(p.energy, p.target, tolerances, base);
    ASSERT_EQ(rows.size(), tolerances.size());
    BilevelOptions reference = base;
    reference.tolerance = 1e-12;
    const double fd = general::reference_fd_error(p.energy, p.target, reference);
    std::printf("conv x charbonnier, %s lower level; reference (tol 1e-12) vs central differences of the "
                "solved lower level: %.2g\n",
                general::to_string(solver), fd);
    EXPECT_LT(fd, 1e-6);
    std::printf("  %-8s %5s %6s %6s %10s %10s %10s\n", "tol", "iters", "grads", "HVPs", "|grad E|", "CG resid",
                "rel error");
    double c = 0;  // the measured constant: error <= c * tol
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      std::printf("  %-8.0e %5d %6ld %6ld %10.2e %10.2e %10.2e\n", row.tolerance, row.lower_iterations,
                  row.gradient_evaluations, row.hessian_products, row.lower_gradient_norm, row.cg_residual,
                  row.relative_error);
      EXPECT_EQ(row.tolerance, tolerances[i]);
      EXPECT_LE(row.lower_gradient_norm, row.tolerance);
      if (i + 1 < rows.size()) c = std::max(c, row.relative_error / row.tolerance);
      if (i > 0) {
        // The same iterates, run further: the cost never falls as the tolerance tightens.
        EXPECT_GE(row.lower_iterations, rows[i - 1].lower_iterations);
        EXPECT_GE(row.gradient_evaluations, rows[i - 1].gradient_evaluations);
      }
    }
    EXPECT_EQ(rows.back().relative_error, 0.0);  // the reference row
    std::printf("  measured constant: relative error <= %.3g * tol\n", c);
    // O(tol): the envelope error(tol) <= C tol with C = 10 (charbonnier here: |H^-1| <= 1/min
    // eig(A^T A + ...), and the error also scales with 1/|hypergradient|).
    for (size_t i = 0; i + 1 < rows.size(); ++i) EXPECT_LE(rows[i].relative_error, 10 * rows[i].tolerance) << i;
    // And it decreases: no row is worse than a looser one beyond rounding.
    for (size_t i = 1; i < rows.size(); ++i)
      EXPECT_LE(rows[i].relative_error, rows[i - 1].relative_error + 1e-13) << i;
  }
}

TEST(ToleranceTable, RejectsBadInput) {
  const Problem p = make_problem("identity", "tv");
  EXPECT_THROW(general::tolerance_table(p.energy, p.target, {}, {}), Error);
  EXPECT_THROW(general::tolerance_table(p.energy, p.target, {1e-3, 0.0}, {}), Error);
  EXPECT_THROW(general::tolerance_table(p.energy, Matrix::Zero(kN, kB + 1), {1e-3}, {}), Error);
  EXPECT_THROW(general::reference_fd_error(p.energy, p.target, {}, 0.0), Error);
}

TEST(ToleranceTable, ReferenceCheckSeesAPlantedError) {
  // The FD check compares the hypergradient with differences of the solved lower level: a
  // regularizer whose mixed product is 0.1 % off must fail it.
  class Planted final : public reg::Regularizer<double> {
  public:
    explicit Planted(const reg::Regularizer<double>& inner) : inner_(inner.clone()) {}
    Planted(const Planted& o) : inner_(o.inner_->clone()) {}
    Index dimension() const override { return inner_->dimension(); }
    double value(const Mat& f) const override { return inner_->value(f); }
    Mat gradient(const Mat& f) const override { return inner_->gradient(f); }
    Mat hessian_product(const Mat& f, const Mat& v) const override { return inner_->hessian_product(f, v); }
    Vec parameter_gradient(const Mat& f) const override { return inner_->parameter_gradient(f); }
    Vec mixed_product(const Mat& f, const Mat& w) const override { return 1.001 * inner_->mixed_product(f, w); }
    Index num_parameters() const override { return inner_->num_parameters(); }
    Vec parameters() const override { return inner_->parameters(); }
    void set_parameters(const Vec& theta) override { inner_->set_parameters(theta); }
    std::string describe() const override { return inner_->describe(); }
    std::optional<double> hessian_bound() const override { return inner_->hessian_bound(); }
    std::unique_ptr<reg::Regularizer<double>> clone() const override { return std::make_unique<Planted>(*this); }

  private:
    std::unique_ptr<reg::Regularizer<double>> inner_;
  };
  const Problem p = make_problem("conv", "charbonnier");
  const Energy wrong(p.energy.op(), Planted(p.energy.regularizer()), p.energy.observations());
  BilevelOptions o;
  o.tolerance = 1e-12;
  const double bad = general::reference_fd_error(wrong, p.target, o);
  const double good = general::reference_fd_error(p.energy, p.target, o);
  std::printf("reference FD error: %.2g, with a planted 0.1%% error %.2g\n", good, bad);
  EXPECT_LT(good, 1e-6);
  EXPECT_GT(bad, 1e-4);
}

// ---------------------------------------------------------------------------------------------
// Quadratic + identity reproduces the quadratic engine and the theory optimum

// E(f) = 1/2|f - x|^2 + 1/2|R f|^2 is the quadratic engine's lower level; its parameters are
// vec(R) column-major in both engines, and both losses are 1/(2B)|f - y|_F^2.
struct QuadraticData {
  Matrix r, noisy, clean;
};

QuadraticData quadratic_data(Index k, Index n, Index b, std::uint64_t seed) {
  Rng rng(seed);
  QuadraticData d;
  d.r = gaussian_matrix(k, n, 0.6, rng);
  d.clean = gaussian_matrix(n, b, 1.0, rng);
  d.noisy = d.clean + gaussian_matrix(n, b, 0.3, rng);
  return d;
}

/// Largest relative difference between the general engine and learn::loss_direct (loss and
/// gradient w.r.t. vec R; and w.r.t. alpha for learned stepsizes).
struct Reproduction {
  double loss = 0, gradient = 0, alpha = 0;
};

Reproduction compare_bilevel(const QuadraticData& d) {
  const Index k = d.r.rows(), n = d.r.cols();
  const Energy e(ops::Identity(n), reg::Quadratic<double>(d.r), d.noisy);
  BilevelOptions o;
  o.tolerance = 1e-12;
  const BilevelResult general_result = general::bilevel_loss(e, d.clean, o);
  learn::ModelSpec spec;
  spec.n = n;
  spec.rank = k;
  spec.method = learn::Method::Bilevel;
  const Vector theta = Eigen::Map<const Vector>(d.r.data(), d.r.size());
  Vector grad(theta.size());
  const double loss = learn::loss_direct<double>(spec, theta, {}, d.noisy, d.clean, &grad);
  return {relative(general_result.loss, loss), relative(general_result.gradient, grad), 0};
}

Reproduction compare_unrolled(const QuadraticData& d, learn::StepsizeMode mode, int depth, double omega) {
  const Index k = d.r.rows(), n = d.r.cols();
  const Energy e(ops::Identity(n), reg::Quadratic<double>(d.r), d.noisy);
  general::UnrolledOptions u;
  u.steps = depth;
  u.init = general::UnrolledInit::Zero;  // the quadratic engine's z^0 = 0
  u.sharing = mode == learn::StepsizeMode::PerIteration ? general::StepSharing::PerIteration
                                                        : general::StepSharing::Shared;
  // Per-iteration stepsizes omega (1 + 0.1 (j/(N-1) - 1/2)), all omega otherwise.
  std::vector<double> omegas(static_cast<size_t>(u.num_step_parameters()), omega);
  if (omegas.size() > 1)
    for (size_t j = 0; j < omegas.size(); ++j)
      omegas[j] = omega * (1 + 0.1 * (static_cast<double>(j) / static_cast<double>(omegas.size() - 1) - 0.5));
  Vector alpha(static_cast<Index>(omegas.size()));
  for (Index j = 0; j < alpha.size(); ++j) alpha(j) = softplus_inverse(omegas[static_cast<size_t>(j)]);
  const general::UnrolledResult g = general::unrolled_loss(e, d.clean, alpha, u);

  learn::ModelSpec spec;
  spec.n = n;
  spec.rank = k;
  spec.method = learn::Method::Unrolled;
  spec.depth = depth;
  spec.stepsize_mode = mode;
  Vector theta(spec.num_parameters());
  theta.head(k * n) = Eigen::Map<const Vector>(d.r.data(), d.r.size());
  if (mode != learn::StepsizeMode::Fixed) theta.tail(spec.num_alphas()) = alpha;
  const std::vector<double> fixed = mode == learn::StepsizeMode::Fixed ? omegas : std::vector<double>{};
  Vector grad(theta.size());
  const double loss = learn::loss_direct<double>(spec, theta, fixed, d.noisy, d.clean, &grad);
  Reproduction out{relative(g.loss, loss), relative(g.theta_gradient, Vector(grad.head(k * n))), 0};
  if (mode != learn::StepsizeMode::Fixed) out.alpha = relative(g.alpha_gradient, Vector(grad.tail(spec.num_alphas())));
  return out;
}

TEST(QuadraticIdentity, ReproducesTheQuadraticEngine) {
  Reproduction worst;
  auto take = [&](const Reproduction& r, const std::string& what) {
    EXPECT_LT(r.loss, 1e-8) << what;
    EXPECT_LT(r.gradient, 1e-8) << what;
    EXPECT_LT(r.alpha, 1e-8) << what;
    worst.loss = std::max(worst.loss, r.loss);
    worst.gradient = std::max(worst.gradient, r.gradient);
    worst.alpha = std::max(worst.alpha, r.alpha);
  };
  for (const Index k : {Index{2}, Index{6}, Index{9}}) {
    const QuadraticData d = quadratic_data(k, 6, 11, 100 + static_cast<std::uint64_t>(k));
    take(compare_bilevel(d), "bilevel k = " + std::to_string(k));
    for (const int depth : {1, 4, 9}) {
      for (const auto mode : {learn::StepsizeMode::Fixed, learn::StepsizeMode::Learned,
                              learn::StepsizeMode::PerIteration}) {
        take(compare_unrolled(d, mode, depth, 0.3),
             "unrolled k = " + std::to_string(k) + " N = " + std::to_string(depth) + " " + learn::to_string(mode));
      }
    }
  }
  std::printf("general vs quadratic engine: worst relative loss %.2g, gradient(R) %.2g, gradient(alpha) %.2g\n",
              worst.loss, worst.gradient, worst.alpha);
  // A planted error: the quadratic engine's gradient with R off by 1e-6 relative fails.
  QuadraticData d = quadratic_data(3, 6, 11, 5);
  const Index n = d.r.cols(), k = d.r.rows();
  const Energy e(ops::Identity(n), reg::Quadratic<double>(d.r), d.noisy);
  BilevelOptions o;
  o.tolerance = 1e-12;
  const BilevelResult right = general::bilevel_loss(e, d.clean, o);
  learn::ModelSpec spec;
  spec.n = n;
  spec.rank = k;
  spec.method = learn::Method::Bilevel;
  const Matrix r_planted = d.r * (1 + 1e-6);
  Vector grad(k * n);
  learn::loss_direct<double>(spec, Vector(Eigen::Map<const Vector>(r_planted.data(), r_planted.size())), {}, d.noisy,
                             d.clean, &grad);
  EXPECT_GT(relative(right.gradient, grad), 1e-8);
}

/// Frames whose empirical moments are exactly the Gaussian-noise expectation of the theory:
/// with S = Y Y^T / B, the noise E = sigma sqrt(B) Q^T (Q: B x n orthonormal columns orthogonal
/// to the rows of Y) has E E^T / B = sigma^2 I and Y E^T = 0, so X = Y + E has X X^T / B =
/// S + sigma^2 I and X Y^T / B = S: the empirical loss of any T is the theory risk of T on S.
QuadraticData exact_moment_frames(Index n, Index b, double sigma, std::uint64_t seed) {
  Rng rng(seed);
  QuadraticData d;
  d.clean = gaussian_matrix(n, b, 1.0, rng);
  // An orthonormal basis of R^B whose first n vectors span the rows of Y.
  Matrix basis(b, b);
  basis << d.clean.transpose(), gaussian_matrix(b, b - n, 1.0, rng);
  const Eigen::HouseholderQR<Matrix> qr(basis);
  const Matrix q = qr.householderQ() * Matrix::Identity(b, b);
  const Matrix noise = sigma * std::sqrt(static_cast<double>(b)) * q.middleCols(n, n).transpose();
  d.noisy = d.clean + noise;
  return d;
}

TEST(QuadraticIdentity, BilevelTrainedWithLbfgsAttainsTheTheoryOptimum) {
  const Index n = 5, b = 13;
  const double sigma = 0.5;
  const QuadraticData frames = exact_moment_frames(n, b, sigma, 21);
  const Matrix s = frames.clean * frames.clean.transpose() / static_cast<double>(b);
  const theory::DataModel data = theory::DataModel::dense(s, "empirical second moment");
  for (const Index k : {Index{2}, Index{5}}) {
    const theory::OptimalRisk best = theory::best_bilevel(data, sigma, k);
    ASSERT_TRUE(best.attained);
    Rng rng(3);
    const Energy e(ops::Identity(n), reg::Quadratic<double>(gaussian_matrix(k, n, 0.5, rng)), frames.noisy);
    BilevelOptions o;
    o.tolerance = 1e-12;
    general::BilevelObjective objective(e, frames.clean, o);
    Vector theta = objective.parameters();
    optim::LbfgsOptions lo;
    lo.max_iterations = 2000;
    lo.gradient_tolerance = 1e-12;
    lo.loss_tolerance = 0;
    const optim::Result r = optim::Lbfgs(lo).minimize<double>(objective, theta);
    const double loss = objective.evaluate(theta);
    // The moments are exact: the training loss is the theory risk of the learned T.
    const Matrix rm = Eigen::Map<const Matrix>(theta.data(), k, n);
    const Matrix t = (Matrix::Identity(n, n) + rm.transpose() * rm).inverse();
    const double risk = theory::risk(data, sigma, t).total();
    std::printf("bilevel k = %d: L-BFGS %d iterations (%s), loss %.15g, theory optimum %.15g, relative gap %.2g, "
                "|loss - risk(T)| / risk %.2g\n",
                static_cast<int>(k), r.iterations, r.message.c_str(), loss, best.risk, relative(loss, best.risk),
                relative(loss, risk));
    EXPECT_LT(relative(loss, risk), 1e-10) << k;
    EXPECT_LT(relative(loss, best.risk), 1e-8) << k;
    EXPECT_GE(loss, best.risk * (1 - 1e-12)) << k;  // nobody beats the optimum
    // A planted error: R 1e-3 off the learned one is measurably worse than the optimum.
    const double off = objective.evaluate(theta * (1 + 1e-3));
    EXPECT_GT(relative(off, best.risk), 1e-8) << k;
  }
}

// ---------------------------------------------------------------------------------------------
// Unrolled output -> lower-level minimizer (a measured rate; the limit is asserted)

TEST(UnrolledLimit, ConvexHuberReachesTheMinimizerAtAMeasuredRate) {
  // Identity A and convex huber: E is 1-strongly convex, so gradient descent with
  // omega <= 2/(1 + L) contracts |f^t - f*| at least by 1 - omega per step.
  const Problem p = make_problem("identity", "huber");
  BilevelOptions o;
  o.tolerance = 1e-13;
  const Matrix f_star = general::solve_lower_level(p.energy, o).f;
  const double lipschitz = 1 + p.energy.regularizer().hessian_bound().value();
  const double omega = 1.0 / lipschitz;
  const Vector alpha = Vector::Constant(1, softplus_inverse(omega));
  std::vector<int> depths{5, 10, 20, 40, 80, 160, 320, 640};
  std::vector<double> errors;
  for (const int n : depths) {
    general::UnrolledOptions u;
    u.steps = n;
    errors.push_back((general::unrolled_output(p.energy, alpha, u) - f_star).norm() / f_star.norm());
  }
  std::printf("unrolled huber (omega = 1/L = %.3g) vs the lower-level minimizer:\n", omega);
  for (size_t i = 0; i < depths.size(); ++i) {
    std::printf("  N = %4d: |f^N - f*| / |f*| = %.3g", depths[i], errors[i]);
    if (i > 0 && errors[i] > 1e-14)
      std::printf("  rate per step %.4f", std::pow(errors[i] / errors[i - 1], 1.0 / (depths[i] - depths[i - 1])));
    std::printf("\n");
  }
  std::printf("  bound 1 - omega = %.4f\n", 1 - omega);
  EXPECT_LT(errors.back(), 1e-10);  // the limit
  EXPECT_LT(errors.back(), errors.front());
}

// ---------------------------------------------------------------------------------------------
// Column blocks

// The frames are independent problems: from frame_block_columns(n, B) frames on, the lower level
// and the adjoint solve run per column block, each block to its share tol sqrt(w / B) of the
// tolerance. n = 64: 640-column blocks; B = 1500 frames with a per-frame mask: two full blocks
// and a partial one.
TEST(BilevelBlocks, ManyBlocksEqualTheBlocksOneByOneForEveryThreadCount) {
  const Index n = BlockBatch::kN, b = BlockBatch::kB, bc = frame_block_columns(n, b);
  ASSERT_EQ(bc, 640);
  const BlockBatch p = block_batch();
  const ops::Operator& a = p.a;
  const Matrix &clean = p.clean, &g = p.g, &k = p.k;
  // charbonnier (phi'' > 0): H = A^T A + K^T D K is positive definite although A drops samples.
  const reg::Analysis<double> r(k, Vector::Constant(n, 0.3), Potential::charbonnier(0.3));
  const Energy energy(a, r, g);
  for (const LowerSolver solver : {LowerSolver::NewtonCg, LowerSolver::Lbfgs}) {
    SCOPED_TRACE(general::to_string(solver));
    BilevelOptions o;
    o.lower_solver = solver;
    o.tolerance = 1e-9;
    // Reference: each block on its own (one block each, to its share of the tolerance), the
    // loss and the hypergradient combined with weights w / B.
    double loss = 0;
    Vector grad = Vector::Zero(energy.num_parameters());
    Matrix out(n, b);
    long products = 0, lower_products = 0;
    for (Index c0 = 0; c0 < b; c0 += bc) {
      const Index w = std::min(bc, b - c0);
      const Energy sub(a.columns(c0, w), r, g.middleCols(c0, w));
      BilevelOptions ob = o;
      ob.tolerance = o.tolerance * std::sqrt(double(w) / double(b));
      const BilevelResult part = general::bilevel_loss(sub, clean.middleCols(c0, w), ob);
      const double share = double(w) / double(b);
      loss += share * part.loss;
      grad += share * part.gradient;
      out.middleCols(c0, w) = part.output;
      products += part.hessian_products;
      lower_products += part.lower_hessian_products;
    }
    BilevelResult one, two;
    {
      const ScopedThreads t1(1);
      one = general::bilevel_loss(energy, clean, o);
    }
    {
      const ScopedThreads t2(2);
      two = general::bilevel_loss(energy, clean, o);
    }
    EXPECT_NEAR(one.loss, loss, 1e-13 * loss);
    EXPECT_LT(relative(one.gradient, grad), 1e-12);
    EXPECT_EQ((one.output - out).cwiseAbs().maxCoeff(), 0.0);
    // The counts add up over the blocks: the lower levels' exactly; the adjoint solves' within a
    // few CG iterations (their right-hand side is scaled by 1/B instead of 1/w, which moves the
    // rounding of a relative stopping test).
    EXPECT_EQ(one.lower_hessian_products, lower_products);
    EXPECT_NEAR(double(one.hessian_products), double(products), 0.02 * double(products));
    // The batch's tolerance holds, measured afresh on the whole batch.
    EXPECT_LE(one.lower_gradient_norm, o.tolerance);
    EXPECT_LE(energy.gradient(one.output).norm(), 1.01 * o.tolerance);
    // Block order, not thread order: the same bits on one and two threads.
    EXPECT_EQ(one.loss, two.loss);
    EXPECT_EQ((one.gradient - two.gradient).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ((one.output - two.output).cwiseAbs().maxCoeff(), 0.0);
    // The public pieces split the same way: the lower level bitwise, the adjoint to rounding.
    const general::LowerLevelResult lower = general::solve_lower_level(energy, o);
    EXPECT_EQ((lower.f - one.output).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ(lower.gradient_norm, one.lower_gradient_norm);
    const general::ImplicitGradient ig = general::implicit_hypergradient(energy, lower.f, clean, o);
    EXPECT_LT(relative(ig.gradient, one.gradient), 1e-13);
    EXPECT_EQ(ig.w.cols(), b);
  }
  // The hypergradient of the blocked solve against central differences of the solved loss.
  BilevelOptions o;
  o.tolerance = 1e-11;
  EXPECT_LT(general::reference_fd_error(energy, clean, o, 1e-5, 6), 1e-5);
}

}  // namespace
}  // namespace varlearn
