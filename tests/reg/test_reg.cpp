// Regularizers: every derivative kernel against finite differences (optim::check_gradient,
// central differences of the gradient), closed forms (quadratic, huber's quadratic zone, tv as
// analysis, foe as tv), the fields-of-experts adjoint dot test, planted errors that must fail,
// the Hessian bound, and input errors. float64, odd sizes n = 7, 37 and B = 1, 3.
#include <gtest/gtest.h>

#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/optim/gradient_check.hpp"
#include "varlearn/reg/reg.hpp"

using namespace varlearn;
using reg::Potential;
using reg::PotentialKind;
using Regularizer = reg::Regularizer<double>;
using Quadratic = reg::Quadratic<double>;
using Analysis = reg::Analysis<double>;
using AnalysisBase = reg::AnalysisBase<double>;
using Tv = reg::Tv<double>;
using Foe = reg::Foe<double>;

namespace {

constexpr double kTolerance = 1e-6;  // every derivative check, relative

Matrix frames(Index n, Index b, std::uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  return gaussian_matrix(n, b, scale, rng);
}

Vector flat(const Matrix& m) { return Eigen::Map<const Vector>(m.data(), m.size()); }
Matrix shaped(const Vector& v, Index rows, Index cols) { return Eigen::Map<const Matrix>(v.data(), rows, cols); }

Vector random_weights(Index j, std::uint64_t seed) {
  Rng rng(seed);
  std::uniform_real_distribution<double> u(0.5, 1.5);
  Vector a(j);
  for (Index i = 0; i < j; ++i) a(i) = u(rng);
  return a;
}

/// F -> R(F) with gradient ∇_F R (flattened).
optim::Function<double> in_frames(const Regularizer& r, Index n, Index b) {
  return optim::Function<double>(
      [&r, n, b](const Vector& x, Vector& g) {
        const Matrix f = shaped(x, n, b);
        g = flat(r.gradient(f));
        return r.value(f);
      },
      [&r, n, b](const Vector& x) { return r.value(shaped(x, n, b)); });
}

/// theta -> R(F; theta) with gradient ∂_θ R.
optim::Function<double> in_parameters(std::shared_ptr<Regularizer> r, Matrix f) {
  return optim::Function<double>(
      [r, f](const Vector& theta, Vector& g) {
        r->set_parameters(theta);
        g = r->parameter_gradient(f);
        return r->value(f);
      },
      [r, f](const Vector& theta) {
        r->set_parameters(theta);
        return r->value(f);
      });
}

/// theta -> <W, ∇_F R(F; theta)> with gradient the mixed product (∂_θ ∇_F R)^T W.
optim::Function<double> mixed(std::shared_ptr<Regularizer> r, Matrix f, Matrix w) {
  return optim::Function<double>(
      [r, f, w](const Vector& theta, Vector& g) {
        r->set_parameters(theta);
        g = r->mixed_product(f, w);
        return (w.array() * r->gradient(f).array()).sum();
      },
      [r, f, w](const Vector& theta) {
        r->set_parameters(theta);
        return (w.array() * r->gradient(f).array()).sum();
      });
}

/// max |a - d| / max |d|.
double relative_error(const Matrix& analytic, const Matrix& numeric) {
  return (analytic - numeric).cwiseAbs().maxCoeff() / std::max(numeric.cwiseAbs().maxCoeff(), 1e-300);
}

/// Hessian-vector product against central differences of the gradient.
double hessian_product_error(const Regularizer& r, const Matrix& f, const Matrix& v, double h) {
  const Vector numeric = optim::hessian_vector_product(in_frames(r, f.rows(), f.cols()), flat(f), flat(v), h);
  return relative_error(r.hessian_product(f, v), shaped(numeric, f.rows(), f.cols()));
}

/// Huber: an ε in the middle of the widest gap between the sorted |u| (u the filter
/// responses), so that no finite-difference probe crosses the kink |u| = ε.
double epsilon_off_the_kink(const AnalysisBase& r, const Matrix& f) {
  const Matrix u = r.apply(f).cwiseAbs();
  std::vector<double> s(u.data(), u.data() + u.size());
  std::sort(s.begin(), s.end());
  double best = 0, eps = 0;
  for (std::size_t i = s.size() / 4; i + 1 < 3 * s.size() / 4 + 1 && i + 1 < s.size(); ++i)
    if (s[i + 1] - s[i] > best) {
      best = s[i + 1] - s[i];
      eps = 0.5 * (s[i] + s[i + 1]);
    }
  EXPECT_GT(best, 1e-2) << "no gap to put the kink in";  // probes move u by ~1e-3 at most
  return eps;
}

struct Case {
  std::string name;
  /// Builds the regularizer (n, potential).
  std::function<std::unique_ptr<Regularizer>(Index, const Potential&)> make;
};

std::vector<Case> potential_cases() {
  return {
      {"analysis-random",
       [](Index n, const Potential& p) {
         reg::AnalysisOptions o;
         o.init = reg::AnalysisInit::Random;
         o.filters = n + 2;  // overcomplete
         o.seed = 11;
         auto a = Analysis::make(n, o, p);
         return std::make_unique<Analysis>(a.matrix(), random_weights(n + 2, 5), p);
       }},
      {"analysis-dct",
       [](Index n, const Potential& p) {
         return std::make_unique<Analysis>(Analysis::dct_rows(n, n), random_weights(n, 6), p);
       }},
      {"tv", [](Index n, const Potential& p) { return std::make_unique<Tv>(n, 0.8, p); }},
      {"foe-valid",
       [](Index n, const Potential& p) {
         Rng rng(7);
         const Index len = n > 10 ? 5 : 3;
         return std::make_unique<Foe>(n, gaussian_matrix(3, len, 0.6, rng), random_weights(3, 8), p,
                                           reg::Boundary::Valid);
       }},
      {"foe-same",
       [](Index n, const Potential& p) {
         Rng rng(9);
         const Index len = n > 10 ? 4 : 3;  // an even length: asymmetric padding
         return std::make_unique<Foe>(n, gaussian_matrix(2, len, 0.6, rng), random_weights(2, 10), p,
                                           reg::Boundary::Same);
       }},
  };
}

struct Errors {
  double frames = 0, hessian = 0, params = 0, mixed = 0;
};

/// All four checks for one regularizer at one batch; returns the worst errors.
Errors check_all(const Regularizer& r, const Matrix& f, bool huber) {
  Errors e;
  optim::GradientCheckOptions o;
  o.tolerance = kTolerance;
  // Huber is piecewise quadratic, so the 4th-order stencil is exact on each branch: a step of
  // 1e-4 moves each response u by ~1e-3 at most, well inside the gap around the kink.
  if (huber) o.step = 1e-4;
  const Index n = f.rows(), b = f.cols();
  const auto fg = optim::check_gradient(in_frames(r, n, b), flat(f), o);
  EXPECT_TRUE(fg.passed) << "grad_F: " << fg.summary();
  e.frames = fg.max_rel_error;

  const Matrix v = frames(n, b, 77);
  e.hessian = hessian_product_error(r, f, v, huber ? 1e-4 : 1e-5);
  EXPECT_LT(e.hessian, kTolerance) << "hessian_product";
  // The curvature kept at F (CG's products) is the same product, to rounding, for any V, into
  // a buffer that already holds another product (its scratch and the output are reused).
  auto curvature = r.curvature_at(f);
  Matrix out = Matrix::Constant(n, b, 7.0);
  for (std::uint64_t seed : {77, 79, 77}) {
    const Matrix vs = frames(n, b, seed), hv = r.hessian_product(f, vs);
    curvature(vs, out);
    EXPECT_LE((out - hv).norm(), 1e-13 * std::max(hv.norm(), 1e-300)) << "curvature_at";
  }
  EXPECT_THROW(curvature(Matrix::Zero(n, b + 1), out), Error);

  std::shared_ptr<Regularizer> copy = r.clone();
  const auto pg = optim::check_gradient(in_parameters(copy, f), r.parameters(), o);
  EXPECT_TRUE(pg.passed) << "grad_theta: " << pg.summary();
  e.params = pg.max_rel_error;

  const Matrix w = frames(n, b, 78);
  const auto mg = optim::check_gradient(mixed(copy, f, w), r.parameters(), o);
  EXPECT_TRUE(mg.passed) << "mixed: " << mg.summary();
  e.mixed = mg.max_rel_error;
  return e;
}

}  // namespace

// ------------------------------------------------------------------ potentials

TEST(Potential, DerivativesMatchFiniteDifferences) {
  for (PotentialKind kind : {PotentialKind::Huber, PotentialKind::Charbonnier, PotentialKind::Student}) {
    const Potential p(kind, 0.7);
    for (double u : {-2.3, -0.9, -0.3, 0.05, 0.4, 1.1, 3.0}) {  // |u| != 0.7: off huber's kink
      SCOPED_TRACE(std::string(reg::to_string(kind)) + " u=" + std::to_string(u));
      const double h = 1e-6;
      EXPECT_NEAR(p.first(u), (p.value(u + h) - p.value(u - h)) / (2 * h), 1e-8);
      EXPECT_NEAR(p.second(u), (p.first(u + h) - p.first(u - h)) / (2 * h), 1e-8);
      Potential plus = p, minus = p;
      plus.set_epsilon(0.7 + h);
      minus.set_epsilon(0.7 - h);
      EXPECT_NEAR(p.value_eps(u), (plus.value(u) - minus.value(u)) / (2 * h), 1e-8);
      EXPECT_NEAR(p.first_eps(u), (plus.first(u) - minus.first(u)) / (2 * h), 1e-8);
      EXPECT_LE(std::abs(p.second(u)), p.max_abs_second() + 1e-15);
    }
  }
}

TEST(Potential, ClosedForms) {
  const Potential h = Potential::huber(0.5), c = Potential::charbonnier(0.5), s = Potential::student(0.5);
  EXPECT_DOUBLE_EQ(h.value(0.25), 0.0625);    // u²/(2ε)
  EXPECT_DOUBLE_EQ(h.value(-2.0), 1.75);      // |u| − ε/2
  EXPECT_DOUBLE_EQ(h.value(0.5), 0.25);       // both branches meet at the kink (C⁰) ...
  EXPECT_DOUBLE_EQ(h.first(0.5), 1.0);        // ... and so do the slopes (C¹)
  EXPECT_DOUBLE_EQ(c.value(1.2), 1.3);        // √(1.44 + 0.25)
  EXPECT_DOUBLE_EQ(s.value(0.5), std::log(2.0));
  EXPECT_LT(s.second(1.0), 0.0);              // nonconvex beyond ε
  EXPECT_FALSE(s.convex());
  EXPECT_TRUE(h.convex() && c.convex());
}

TEST(Potential, LearnedEpsilonIsSoftplusOfEta) {
  Potential p = Potential::charbonnier(0.3, true);
  EXPECT_NEAR(softplus(p.eta()), 0.3, 1e-15);
  p.set_eta(1.0);
  EXPECT_DOUBLE_EQ(p.epsilon(), softplus(1.0));
  EXPECT_DOUBLE_EQ(p.depsilon_deta(), softplus_derivative(1.0));
}

TEST(Potential, BadInputThrows) {
  EXPECT_THROW(Potential::huber(0.0), Error);
  EXPECT_THROW(Potential::student(-1.0), Error);
  EXPECT_THROW(Potential::charbonnier(std::nan("")), Error);
  EXPECT_THROW(reg::parse_potential("gauss"), Error);
  EXPECT_EQ(reg::parse_potential("student"), PotentialKind::Student);
}

// ------------------------------------------------------------------ every regularizer x potential

TEST(Regularizers, EveryDerivativeMatchesFiniteDifferences) {
  int checked = 0;
  Errors worst;
  for (const Case& c : potential_cases())
    for (PotentialKind kind : {PotentialKind::Huber, PotentialKind::Charbonnier, PotentialKind::Student})
      for (bool learned : {false, true})
        for (Index n : {7, 37})
          for (Index b : {1, 3}) {
            SCOPED_TRACE(c.name + " " + reg::to_string(kind) + (learned ? " learned-eps" : " fixed-eps") +
                         " n=" + std::to_string(n) + " B=" + std::to_string(b));
            const Matrix f = frames(n, b, 100 + static_cast<std::uint64_t>(n * b));
            double eps = 0.7;
            if (kind == PotentialKind::Huber) {
              const auto probe = c.make(n, Potential::huber(1.0));
              eps = epsilon_off_the_kink(dynamic_cast<const AnalysisBase&>(*probe), f);
            }
            const auto r = c.make(n, Potential(kind, eps, learned));
            const Errors e = check_all(*r, f, kind == PotentialKind::Huber);
            EXPECT_EQ(r->num_parameters(), r->parameters().size());
            ++checked;
            worst.frames = std::max(worst.frames, e.frames);
            worst.hessian = std::max(worst.hessian, e.hessian);
            worst.params = std::max(worst.params, e.params);
            worst.mixed = std::max(worst.mixed, e.mixed);
          }
  EXPECT_EQ(checked, 5 * 3 * 2 * 2 * 2);
  std::printf("worst relative errors over %d cases: grad_F %.2e, Hv %.2e, grad_theta %.2e, mixed %.2e\n", checked,
              worst.frames, worst.hessian, worst.params, worst.mixed);
}

TEST(Quadratic, DerivativesMatchFiniteDifferences) {
  for (Index n : {7, 37})
    for (Index b : {1, 3}) {
      Rng rng(3);
      const Quadratic q(gaussian_matrix(n - 2, n, 1.0 / std::sqrt(static_cast<double>(n)), rng));
      check_all(q, frames(n, b, 4), false);
    }
}

// ------------------------------------------------------------------ closed forms

TEST(Quadratic, EqualsItsClosedForm) {
  Rng rng(21);
  const Matrix r = gaussian_matrix(5, 7, 0.4, rng);
  const Matrix f = frames(7, 3, 22), v = frames(7, 3, 23), w = frames(7, 3, 24);
  const Quadratic q(r);
  EXPECT_NEAR(q.value(f), 0.5 * (r * f).squaredNorm(), 1e-12);
  EXPECT_LT(relative_error(q.gradient(f), r.transpose() * r * f), 1e-14);
  EXPECT_LT(relative_error(q.hessian_product(f, v), r.transpose() * r * v), 1e-14);
  // learn's flat layout: vec(R) column-major.
  EXPECT_EQ(q.parameters(), flat(r));
  EXPECT_LT(relative_error(shaped(q.parameter_gradient(f), 5, 7), r * f * f.transpose()), 1e-14);
  EXPECT_LT(relative_error(shaped(q.mixed_product(f, w), 5, 7), r * w * f.transpose() + r * f * w.transpose()),
            1e-14);
  const Eigen::JacobiSVD<Matrix> svd(r);
  EXPECT_NEAR(*q.hessian_bound(), svd.singularValues()(0) * svd.singularValues()(0), 1e-12);
}

TEST(Analysis, HuberInsideItsQuadraticZoneIsQuadraticOverEpsilon) {
  // K = R, a = 1, huber with ε above every |u|: R_analysis = ½‖RF‖²/ε exactly.
  Rng rng(31);
  const Index n = 37, b = 3;
  const Matrix r = gaussian_matrix(n, n, 1.0 / std::sqrt(37.0), rng);
  const Matrix f = frames(n, b, 32), v = frames(n, b, 33), w = frames(n, b, 34);
  const double eps = 1.5 * (r * f).cwiseAbs().maxCoeff();
  const Analysis a(r, Vector::Ones(n), Potential::huber(eps));
  const Quadratic q(r);
  EXPECT_NEAR(a.value(f), q.value(f) / eps, 1e-12 * q.value(f));
  EXPECT_LT(relative_error(a.gradient(f), q.gradient(f) / eps), 1e-13);
  EXPECT_LT(relative_error(a.hessian_product(f, v), q.hessian_product(f, v) / eps), 1e-13);
  // The K part of θ is vec(K) in both; a's and the quadratic's derivatives in R agree up to 1/ε.
  EXPECT_LT(relative_error(a.parameter_gradient(f).head(n * n), q.parameter_gradient(f) / eps), 1e-13);
  EXPECT_LT(relative_error(a.mixed_product(f, w).head(n * n), q.mixed_product(f, w) / eps), 1e-13);
}

TEST(Analysis, PackedOperatorFollowsItsParametersAndItsCopies) {
  // reg::Analysis packs K and K^T once for its products (core/gemm.hpp's PackedLhs, on one
  // thread): after set_parameters its products are the new K's, and a copy outlives the
  // original. Huber above every |u| makes the gradient K^T K F / ε, the quadratic's over ε.
  const ScopedThreads one(1);
  Rng rng(41);
  const Index n = 150, b = 70;  // a GEMM, not a matrix-vector product
  const Matrix k1 = gaussian_matrix(n, n, 1.0 / std::sqrt(double(n)), rng);
  const Matrix k2 = gaussian_matrix(n, n, 1.0 / std::sqrt(double(n)), rng);
  const Matrix f = frames(n, b, 42);
  const double eps = 1.5 * std::max((k1 * f).cwiseAbs().maxCoeff(), (k2 * f).cwiseAbs().maxCoeff());
  auto a = std::make_unique<Analysis>(k1, Vector::Ones(n), Potential::huber(eps));
  EXPECT_LT(relative_error(a->gradient(f), Quadratic(k1).gradient(f) / eps), 1e-13);
  Vector theta = a->parameters();
  theta.head(n * n) = Eigen::Map<const Vector>(k2.data(), n * n);
  a->set_parameters(theta);
  const Matrix want = Quadratic(k2).gradient(f) / eps;
  EXPECT_LT(relative_error(a->gradient(f), want), 1e-13);  // K2's, not K1's panels
  const Analysis copy = *a;
  Analysis assigned(k1, Vector::Ones(n), Potential::huber(eps));
  EXPECT_LT(relative_error(assigned.gradient(f), Quadratic(k1).gradient(f) / eps), 1e-13);
  assigned = *a;
  a.reset();
  EXPECT_LT(relative_error(copy.gradient(f), want), 1e-13);
  EXPECT_LT(relative_error(assigned.gradient(f), want), 1e-13);
}

TEST(Tv, EqualsAnalysisWithDifferencesAndOneWeight) {
  const Index n = 37;
  const Matrix f = frames(n, 3, 41), v = frames(n, 3, 42);
  for (PotentialKind kind : {PotentialKind::Huber, PotentialKind::Charbonnier, PotentialKind::Student}) {
    const Potential p(kind, 0.3);
    const Tv tv(n, 0.6, p);
    const Analysis a(Analysis::difference_rows(n - 1, n), Vector::Constant(n - 1, 0.6), p);
    EXPECT_NEAR(tv.value(f), a.value(f), 1e-12 * std::abs(a.value(f)));
    EXPECT_LT(relative_error(tv.gradient(f), a.gradient(f)), 1e-13);
    EXPECT_LT(relative_error(tv.hessian_product(f, v), a.hessian_product(f, v)), 1e-13);
    EXPECT_EQ(tv.num_parameters(), 1);
    // ∂R/∂β of tv = sum over the rows' β-gradients of the analysis form.
    EXPECT_NEAR(tv.parameter_gradient(f)(0), a.parameter_gradient(f).tail(n - 1).sum(), 1e-10);
  }
}

TEST(Tv, ClosedFormValue) {
  // f = (0, 1, 3, 3), huber ε = 1: differences 1, 2, 0 -> 1/2 + 1.5 + 0 = 2, times a = 2.
  Matrix f(4, 1);
  f << 0, 1, 3, 3;
  EXPECT_NEAR(Tv(4, 2.0, Potential::huber(1.0)).value(f), 4.0, 1e-14);
}

TEST(Foe, ValidDifferenceFilterIsTv) {
  // k = (1, -1), valid: (k*f)_i = f_{i+1} - f_i.
  Matrix k(1, 2);
  k << 1, -1;
  const Potential p = Potential::charbonnier(0.2);
  const Foe foe(7, k, Vector::Constant(1, 0.9), p, reg::Boundary::Valid);
  const Tv tv(7, 0.9, p);
  const Matrix f = frames(7, 3, 51);
  EXPECT_LT(relative_error(foe.apply(f), tv.apply(f)), 1e-15);
  EXPECT_NEAR(foe.value(f), tv.value(f), 1e-13);
  EXPECT_LT(relative_error(foe.gradient(f), tv.gradient(f)), 1e-14);
}

TEST(Foe, ApplyIsTheStatedConvolutionAndAdjointMatches) {
  for (reg::Boundary boundary : {reg::Boundary::Valid, reg::Boundary::Same})
    for (Index n : {7, 37})
      for (Index len : {1, 2, 3, 4, 7}) {
        SCOPED_TRACE(std::string(name_of(reg::kBoundaryNames, boundary)) + " n=" + std::to_string(n) +
                     " L=" + std::to_string(len));
        Rng rng(61);
        const Matrix k = gaussian_matrix(3, len, 1.0, rng);
        const Foe foe(n, k, Vector::Ones(3), Potential::huber(0.1), boundary);
        const Matrix x = frames(n, 3, 62);
        const Index m = foe.outputs();
        const Index s = boundary == reg::Boundary::Valid ? len - 1 : (len - 1) / 2;
        EXPECT_EQ(m, boundary == reg::Boundary::Valid ? n - len + 1 : n);
        // brute force u_i = Σ_l k_l f_{i+s-l}, zero outside the frame
        Matrix u = Matrix::Zero(3 * m, 3);
        for (Index j = 0; j < 3; ++j)
          for (Index i = 0; i < m; ++i)
            for (Index l = 0; l < len; ++l) {
              const Index t = i + s - l;
              if (t >= 0 && t < n) u.row(j * m + i) += k(j, l) * x.row(t);
            }
        EXPECT_LT(relative_error(foe.apply(x), u), 1e-14);
        // adjoint dot test ⟨K x, y⟩ = ⟨x, Kᵀ y⟩
        const Matrix y = frames(3 * m, 3, 63);
        const double lhs = (foe.apply(x).array() * y.array()).sum();
        const double rhs = (x.array() * foe.adjoint(y).array()).sum();
        EXPECT_NEAR(lhs, rhs, 1e-12 * std::max(1.0, std::abs(lhs)));
      }
}

// ------------------------------------------------------------------ the checks can fail

TEST(Checks, PlantedErrorsFail) {
  const Index n = 7, b = 3;
  const Potential p = Potential::student(0.7, true);
  const Analysis a(Analysis::dct_rows(n, n), random_weights(n, 71), p);
  const Matrix f = frames(n, b, 72), w = frames(n, b, 73), v = frames(n, b, 74);

  // ∇_F R with coordinate 5 off by 0.1 %.
  const auto wrong_frames = optim::Function<double>(
      [&](const Vector& x, Vector& g) {
        g = flat(a.gradient(shaped(x, n, b)));
        g(5) *= 1.001;
        return a.value(shaped(x, n, b));
      },
      [&](const Vector& x) { return a.value(shaped(x, n, b)); });
  const auto r1 = optim::check_gradient(wrong_frames, flat(f));
  EXPECT_FALSE(r1.passed);
  EXPECT_EQ(r1.worst_index, 5);

  // The mixed product with its ε coordinate (the last) off by 0.1 %.
  auto copy = std::shared_ptr<Regularizer>(a.clone());
  const auto wrong_mixed = optim::Function<double>(
      [&](const Vector& theta, Vector& g) {
        copy->set_parameters(theta);
        g = copy->mixed_product(f, w);
        g(g.size() - 1) *= 1.001;
        return (w.array() * copy->gradient(f).array()).sum();
      },
      [&](const Vector& theta) {
        copy->set_parameters(theta);
        return (w.array() * copy->gradient(f).array()).sum();
      });
  const auto r2 = optim::check_gradient(wrong_mixed, a.parameters());
  EXPECT_FALSE(r2.passed);
  EXPECT_EQ(r2.worst_index, a.num_parameters() - 1);
  EXPECT_TRUE(optim::check_gradient(mixed(copy, f, w), a.parameters()).passed);  // and unplanted passes

  // The Hessian-vector product with its largest entry off by 0.1 %.
  Matrix hv = a.hessian_product(f, v);
  Index row = 0, col = 0;
  hv.cwiseAbs().maxCoeff(&row, &col);
  hv(row, col) *= 1.001;
  const Vector numeric = optim::hessian_vector_product(in_frames(a, n, b), flat(f), flat(v), 1e-5);
  EXPECT_GT(relative_error(hv, shaped(numeric, n, b)), kTolerance);
  EXPECT_LT(hessian_product_error(a, f, v, 1e-5), kTolerance);
}

// ------------------------------------------------------------------ bounds, layout, errors

TEST(Regularizers, HessianBoundHolds) {
  for (const Case& c : potential_cases())
    for (PotentialKind kind : {PotentialKind::Huber, PotentialKind::Charbonnier, PotentialKind::Student}) {
      SCOPED_TRACE(c.name + " " + reg::to_string(kind));
      const auto r = c.make(37, Potential(kind, 0.5));
      ASSERT_TRUE(r->hessian_bound().has_value());
      const double bound = *r->hessian_bound();
      for (double scale : {0.01, 0.3, 3.0}) {  // inside and outside the potentials' flat parts
        const Matrix f = frames(37, 1, 81, scale);
        // power iteration on the per-frame Hessian
        Matrix v = frames(37, 1, 82);
        double lambda = 0;
        for (int it = 0; it < 200; ++it) {
          v /= v.norm();
          const Matrix hv = r->hessian_product(f, v);
          lambda = std::abs((v.array() * hv.array()).sum());
          v = hv;
          if (v.norm() == 0) break;
        }
        EXPECT_LE(lambda, bound * (1 + 1e-12));
      }
    }
}

TEST(Regularizers, ParametersRoundTripAndLayout) {
  const Index n = 7;
  const Foe foe = Foe::random(n, 2, 3, reg::Boundary::Same, Potential::huber(0.1, true), 0.5);
  EXPECT_EQ(foe.num_parameters(), 2 * 3 + 2 + 1);
  Vector theta = foe.parameters();
  EXPECT_DOUBLE_EQ(theta(1), foe.filters()(0, 1));  // filter 0's taps first
  EXPECT_DOUBLE_EQ(theta(3), foe.filters()(1, 0));
  EXPECT_NEAR(softplus(theta(6)), 0.5, 1e-15);      // then β: a = softplus(β)
  EXPECT_NEAR(softplus(theta(8)), 0.1, 1e-15);      // then η: ε = softplus(η)
  auto copy = foe.clone();
  theta(8) = 0.0;
  copy->set_parameters(theta);
  EXPECT_EQ(copy->parameters(), theta);
  EXPECT_NEAR(dynamic_cast<Foe&>(*copy).potential().epsilon(), std::log(2.0), 1e-15);
  EXPECT_THROW(copy->set_parameters(Vector::Zero(3)), Error);

  const Analysis a = Analysis::make(n, {}, Potential::charbonnier(0.1));
  EXPECT_EQ(a.num_parameters(), n * n + n);
  EXPECT_LT(relative_error(a.matrix() * a.matrix().transpose(), Matrix::Identity(n, n)), 1e-14);  // DCT rows
  EXPECT_FALSE(a.describe().empty());
  EXPECT_NE(foe.describe().find("same"), std::string::npos);
}

TEST(Regularizers, BadInputThrows) {
  const Tv tv(7, 1.0, Potential::huber(0.1));
  EXPECT_THROW(tv.value(Matrix::Zero(6, 2)), Error);
  EXPECT_THROW(tv.hessian_product(Matrix::Zero(7, 2), Matrix::Zero(7, 3)), Error);
  EXPECT_THROW(Tv(1, 1.0, Potential::huber(0.1)), Error);
  EXPECT_THROW(Tv(7, 0.0, Potential::huber(0.1)), Error);
  EXPECT_THROW(Foe(3, Matrix::Ones(1, 4), Vector::Ones(1), Potential::huber(0.1), reg::Boundary::Valid), Error);
  EXPECT_THROW(Analysis(Matrix::Ones(3, 4), Vector::Ones(2), Potential::huber(0.1)), Error);
  reg::AnalysisOptions o;
  o.weight = -1;
  EXPECT_THROW(Analysis::make(7, o, Potential::huber(0.1)), Error);
  o = {};
  o.filters = 9;
  EXPECT_THROW(Analysis::make(7, o, Potential::huber(0.1)), Error);  // 9 DCT rows of 7
  EXPECT_THROW(Quadratic{Matrix()}, Error);
}

// ------------------------------------------------------------------ docs/regularizers.md's worked example

TEST(DocsExample, OneUnrolledStepOfTvDenoising) {
  // A noisy step signal, one gradient step f¹ = g − ω ∇R(g) on E(f) = ½‖f − g‖² + R(f) from f⁰ = g,
  // and dℓ/dθ of ℓ = ½‖f¹ − f†‖² by the mixed product, against central differences.
  const Index n = 37;
  Matrix clean = Matrix::Zero(n, 1);
  clean.bottomRows(n / 2).setOnes();
  Rng rng(1);
  Matrix g = clean;
  add_gaussian_noise_inplace(g, 0.1, rng);

  Tv tv(n, 0.5, Potential::huber(0.05, /*learned=*/true));  // θ = (β, η): a = softplus(β), ε = softplus(η)
  const double omega = 1.0 / (1.0 + *tv.hessian_bound());        // ω < 2 / (1 + L_R)
  auto loss = [&](const Tv& r) {
    const Matrix f1 = g - omega * r.gradient(g);
    return 0.5 * (f1 - clean).squaredNorm();
  };
  const Matrix f1 = g - omega * tv.gradient(g);
  const Vector dtheta = -omega * tv.mixed_product(g, f1 - clean);  // dℓ/dθ = −ω (∂θ∇R(g))ᵀ (f¹ − f†)

  for (Index i = 0; i < tv.num_parameters(); ++i) {
    const double h = 1e-5;
    Tv plus = tv, minus = tv;
    Vector t = tv.parameters();
    t(i) += h;
    plus.set_parameters(t);
    t(i) -= 2 * h;
    minus.set_parameters(t);
    EXPECT_NEAR(dtheta(i), (loss(plus) - loss(minus)) / (2 * h), 1e-6 * dtheta.cwiseAbs().maxCoeff());
  }
  EXPECT_LT(loss(tv), 0.5 * (g - clean).squaredNorm());  // the step denoises
}

// ------------------------------------------------------------------ float32

namespace {
template <class R32, class R64>
void expect_float_matches_double(const R32& r32, const R64& r64, const Matrix& f, const Matrix& w) {
  const MatrixT<float> f32 = f.cast<float>(), w32 = w.cast<float>();
  constexpr double tol = 2e-4;  // float32 kernels vs float64 on the same θ (max-norm relative)
  EXPECT_NEAR(r32.value(f32), r64.value(f), tol * std::abs(r64.value(f)));
  EXPECT_LT(relative_error(r32.gradient(f32).template cast<double>(), r64.gradient(f)), tol);
  EXPECT_LT(relative_error(r32.hessian_product(f32, w32).template cast<double>(), r64.hessian_product(f, w)), tol);
  EXPECT_LT(relative_error(r32.parameter_gradient(f32).template cast<double>(), r64.parameter_gradient(f)), tol);
  EXPECT_LT(relative_error(r32.mixed_product(f32, w32).template cast<double>(), r64.mixed_product(f, w)), tol);
  EXPECT_LT(relative_error(r32.parameters().template cast<double>(), r64.parameters()), 1e-6);
}
}  // namespace

TEST(Float32, KernelsMatchFloat64) {
  const Index n = 37, b = 3;
  const Matrix f = frames(n, b, 91), w = frames(n, b, 92);
  Rng rng(93);
  const Matrix r = gaussian_matrix(n - 3, n, 0.2, rng);
  expect_float_matches_double(reg::Quadratic<float>(r.cast<float>()), Quadratic(r), f, w);
  for (PotentialKind kind : {PotentialKind::Huber, PotentialKind::Charbonnier, PotentialKind::Student}) {
    SCOPED_TRACE(reg::to_string(kind));
    const Potential p(kind, 0.7, true);
    const Matrix k = Analysis::dct_rows(n, n);
    const Vector a = random_weights(n, 94);
    expect_float_matches_double(reg::Analysis<float>(k.cast<float>(), a.cast<float>(), p), Analysis(k, a, p), f, w);
    expect_float_matches_double(reg::Tv<float>(n, 0.8, p), Tv(n, 0.8, p), f, w);
    const Matrix filters = gaussian_matrix(3, 5, 0.5, rng);
    const Vector fw = random_weights(3, 95);
    expect_float_matches_double(reg::Foe<float>(n, filters.cast<float>(), fw.cast<float>(), p, reg::Boundary::Same),
                                Foe(n, filters, fw, p, reg::Boundary::Same), f, w);
  }
}
