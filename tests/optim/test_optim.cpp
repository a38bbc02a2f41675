// The optimization layer against closed forms: Adam and L-BFGS reach known minima, the line
// search returns strong-Wolfe steps, the gradient checker passes a correct gradient and fails
// a planted 0.1 % error, divergence keeps the last good iterate.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <string>

#include "varlearn/core/error.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/optim/optim.hpp"

using namespace varlearn;
using namespace varlearn::optim;

namespace {

// Rosenbrock in 2 + ill-conditioned quadratic in the other coordinates: minimum at (1,1,0,...),
// as an object satisfying the concept (value-only evaluate included).
template <class T>
struct Rosenbrock {
  int calls = 0;
  T evaluate_with_gradient(const VectorT<T>& x, VectorT<T>& g) {
    ++calls;
    g.setZero(x.size());
    const T a = x(1) - x(0) * x(0);
    T f = 100 * a * a + (1 - x(0)) * (1 - x(0));
    g(0) = -400 * a * x(0) - 2 * (1 - x(0));
    g(1) = 200 * a;
    for (Index i = 2; i < x.size(); ++i) {
      const T c = static_cast<T>(std::pow(10.0, i - 2));
      f += T(0.5) * c * x(i) * x(i);
      g(i) = c * x(i);
    }
    return f;
  }
  T evaluate(const VectorT<T>& x) {
    VectorT<T> g;
    return evaluate_with_gradient(x, g);
  }
};
static_assert(DifferentiableFunction<Rosenbrock<double>, double>);
static_assert(EvaluableFunction<Rosenbrock<double>, double>);

template <class T>
class OptimizerTyped : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(OptimizerTyped, Scalars);

}  // namespace

TYPED_TEST(OptimizerTyped, LbfgsSolvesRosenbrock) {
  using T = TypeParam;
  VectorT<T> x(7);
  x << -1.2, 1, 1, -1, 0.5, 0.3, -0.7;
  LbfgsOptions o;
  o.max_iterations = 300;
  const Function<T> f = Rosenbrock<T>{};
  const Result r = Lbfgs(o).minimize<T>(f, x);
  const double tol = std::is_same_v<T, float> ? 2e-2 : 1e-6;
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_NEAR(x(0), 1, tol);
  EXPECT_NEAR(x(1), 1, 2 * tol);
  for (Index i = 2; i < 7; ++i) EXPECT_NEAR(x(i), 0, tol);
  EXPECT_GT(r.iterations, 10);
  EXPECT_EQ(r.history.size(), static_cast<size_t>(r.iterations));
}

TYPED_TEST(OptimizerTyped, AdamMinimizesQuadraticDeterministically) {
  using T = TypeParam;
  const Function<T> f([](const VectorT<T>& x, VectorT<T>& g) {
    g = x - VectorT<T>::Constant(x.size(), T(3));
    return T(0.5) * g.squaredNorm();
  });
  AdamOptions o;
  o.learning_rate = 0.1;
  o.max_iterations = 2000;
  o.decay = 0.5;
  o.decay_every = 500;
  VectorT<T> x = VectorT<T>::Zero(5), y = x;
  const Adam adam(o);
  const Result r = adam.minimize<T>(f, x);
  adam.minimize<T>(f, y);
  EXPECT_LT((x.array() - T(3)).abs().maxCoeff(), 1e-3);
  EXPECT_EQ(x, y);  // deterministic
  EXPECT_EQ(r.status, Status::MaxIterations);
  EXPECT_EQ(r.evaluations, 2000);
}

TEST(Adam, ReachesRosenbrockValley) {
  // Adam on the 2-D Rosenbrock with a decaying rate: the minimum (1, 1) to 1e-2.
  AdamOptions o;
  o.learning_rate = 0.02;
  o.max_iterations = 20000;
  o.decay = 0.5;
  o.decay_every = 5000;
  Vector x(2);
  x << -1.2, 1.0;
  const Result r = Adam(o).minimize<double>(Rosenbrock<double>{}, x);
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_NEAR(x(0), 1, 1e-2);
  EXPECT_NEAR(x(1), 1, 2e-2);
}

// AdamState::step runs by chunks over the threads: on a vector of many chunks (with a ragged
// tail) its iterates are the same bits on one and two threads, and each entry follows the
// update's formula, computed here entry by entry in long double.
TEST(Adam, ChunkedStepIsThreadInvariantAndFollowsTheFormula) {
  const Index size = 16 * 2048 * 3 + 37;
  AdamOptions o;
  o.learning_rate = 1e-2;
  Vector x0(size), g(size);
  for (Index i = 0; i < size; ++i) {
    x0[i] = std::sin(0.37 * static_cast<double>(i));
    g[i] = std::cos(1.3 * static_cast<double>(i)) * (1 + static_cast<double>(i % 7));
  }
  Vector x[2];
  for (int t = 0; t < 2; ++t) {
    const ScopedThreads threads(t + 1);
    AdamState<double> adam(o, size);
    x[t] = x0;
    for (int k = 0; k < 3; ++k) adam.step(x[t], g);
  }
  EXPECT_EQ((x[0] - x[1]).cwiseAbs().maxCoeff(), 0.0);
  // Three steps with the same g: m_k = (1 - b1^k) g, v_k = (1 - b2^k) g^2, so m^ = g, v^ = g^2
  // and each step moves x by lr g / (|g| + eps): 3 lr sign(g) up to eps.
  for (Index i = 0; i < size; i += 997) {
    long double xi = x0[i];
    for (int k = 0; k < 3; ++k)
      xi -= static_cast<long double>(o.learning_rate) * g[i] / (std::fabs(static_cast<long double>(g[i])) + o.epsilon);
    EXPECT_NEAR(x[0][i], static_cast<double>(xi), 1e-12) << i;
  }
}

TEST(Adam, ObserverSeesEveryStepAndCanStop) {
  int seen = 0;
  const Function<double> f([](const Vector& x, Vector& g) {
    g = x;
    return 0.5 * x.squaredNorm();
  });
  Vector x = Vector::Ones(3);
  AdamOptions o;
  o.max_iterations = 50;
  const Result r = Adam(o).minimize<double>(f, x, [&](const Progress& p) {
    ++seen;
    EXPECT_EQ(p.iteration, seen);
    EXPECT_EQ(p.max_iterations, 50);
    return p.iteration < 7;
  });
  EXPECT_EQ(seen, 7);
  EXPECT_EQ(r.status, Status::Stopped);
  EXPECT_EQ(r.iterations, 7);
}

TEST(Adam, DivergenceKeepsLastGoodIterate) {
  // Loss exp(x) with the gradient sign flipped: Adam walks uphill until the loss explodes.
  const Function<double> f([](const Vector& x, Vector& g) {
    g = -x.array().exp().matrix();
    return x.array().exp().sum();
  });
  AdamOptions o;
  o.learning_rate = 1.0;
  o.max_iterations = 10000;
  o.divergence_factor = 1e6;
  Vector x = Vector::Zero(2);
  const Result r = Adam(o).minimize<double>(f, x);
  EXPECT_EQ(r.status, Status::Diverged);
  EXPECT_NE(r.message.find("diverged"), std::string::npos);
  EXPECT_TRUE(x.allFinite());
  EXPECT_LE(x.array().exp().sum(), 2e6 * 2);  // last good: not the exploded iterate
}

TEST(Optimizers, NanLossDiverges) {
  const Function<double> f([](const Vector& x, Vector& g) {
    g = Vector::Ones(x.size());
    return x(0) < -0.5 ? std::nan("") : x.sum();
  });
  AdamOptions o;
  o.learning_rate = 0.1;
  Vector x = Vector::Zero(1);
  const Result r = Adam(o).minimize<double>(f, x);
  EXPECT_EQ(r.status, Status::Diverged);
  EXPECT_GE(x(0), -0.5);
  Vector y = Vector::Constant(1, -1.0);
  EXPECT_EQ(Lbfgs().minimize<double>(f, y).status, Status::Diverged);
}

TEST(Lbfgs, QuadraticExactMinimum) {
  // L = 1/2 x^T A x - b^T x, A SPD (n = 7): minimum A^{-1} b.
  Matrix m = Matrix::Random(7, 7);
  const Matrix a = m * m.transpose() + Matrix::Identity(7, 7);
  const Vector b = Vector::LinSpaced(7, -1, 2);
  const Function<double> f([&](const Vector& x, Vector& g) {
    g = a * x - b;
    return 0.5 * x.dot(a * x) - b.dot(x);
  });
  Vector x = Vector::Zero(7);
  const Result r = Lbfgs().minimize<double>(f, x);
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_LT((x - a.ldlt().solve(b)).norm(), 1e-8);
}

TEST(LineSearch, StepSatisfiesStrongWolfe) {
  // phi(a) = L(x + a d) on Rosenbrock from several points along steepest descent.
  const LineSearchOptions o;
  const LineSearch<double> ls(o);
  const Function<double> f = Rosenbrock<double>{};
  for (double x0 : {-1.2, 0.0, 0.5, 2.0}) {
    Vector x(2), g(2), xt(2), gt(2);
    x << x0, 1.0;
    const double fx = f.evaluate_with_gradient(x, g);
    const Vector d = -g;
    const double slope = g.dot(d);
    const LineSearchResult r = ls.search(f, x, fx, slope, d, 1.0 / g.norm(), 1.0 / g.norm(), xt, gt);
    ASSERT_TRUE(r.found) << "x0 = " << x0;
    EXPECT_TRUE(r.wolfe) << "x0 = " << x0;
    EXPECT_GT(r.step, 0);
    EXPECT_LE(r.loss, fx + o.c1 * r.step * slope) << "sufficient decrease, x0 = " << x0;
    EXPECT_LE(std::abs(gt.dot(d)), o.c2 * std::abs(slope)) << "curvature, x0 = " << x0;
    EXPECT_LT((xt - (x + r.step * d)).norm(), 1e-15);
    EXPECT_DOUBLE_EQ(r.loss, f.evaluate(xt));
  }
}

TEST(LineSearch, OptionsValidate) {
  LineSearchOptions o;
  o.c1 = 0.95;
  EXPECT_THROW(o.validate(), Error);
  o = LineSearchOptions{};
  o.expansion = 1.0;
  EXPECT_THROW(o.validate(), Error);
  LbfgsOptions l;
  l.line_search.c2 = 1.5;
  EXPECT_THROW(Lbfgs{l}, Error);
  AdamOptions a;
  a.learning_rate = -1;
  EXPECT_THROW(Adam{a}, Error);
}

TEST(GradientCheck, QuadraticClosedForm) {
  // L = 1/2 x^T A x, gradient A x: the checker itself against a closed form.
  Matrix a(3, 3);
  a << 4, 1, 0, 1, 3, 1, 0, 1, 2;
  const Function<double> f([&](const Vector& x, Vector& g) {
    g = a * x;
    return 0.5 * x.dot(a * x);
  });
  Vector x(3);
  x << 0.3, -1.2, 2.0;
  const auto r = check_gradient(f, x);
  EXPECT_TRUE(r.passed);
  EXPECT_LT(r.max_rel_error, 1e-8);
  EXPECT_EQ(r.coordinates.size(), 3u);
}

TEST(GradientCheck, PlantedTenthPercentErrorFails) {
  // Rosenbrock (n = 7) with coordinate 4 of the gradient 0.1 % off: must fail, there.
  Vector x(7);
  x << -1.2, 1, 1, -1, 0.5, 0.3, -0.7;
  const Function<double> good = Rosenbrock<double>{};
  const auto ok = check_gradient(good, x);
  EXPECT_TRUE(ok.passed) << ok.summary();
  const Function<double> bad(
      [&](const Vector& t, Vector& g) {
        const double v = good.evaluate_with_gradient(t, g);
        g(4) *= 1.001;
        return v;
      },
      [&](const Vector& t) { return good.evaluate(t); });
  const auto r = check_gradient(bad, x);
  EXPECT_FALSE(r.passed) << r.summary();
  EXPECT_EQ(r.worst_index, 4);
  EXPECT_GT(r.max_rel_error, 5e-4);
}

TEST(GradientCheck, HessianOfQuadraticIsExact) {
  Matrix a(3, 3);
  a << 4, 1, 0, 1, 3, 1, 0, 1, 2;
  const Function<double> f([&](const Vector& x, Vector& g) {
    g = a * x + Vector::Constant(3, 1.0);
    return 0.5 * x.dot(a * x) + x.sum();
  });
  const Vector x = Vector::LinSpaced(3, -1, 2);
  EXPECT_LT((finite_difference_hessian(f, x) - a).norm(), 1e-8);
  const auto c = curvature(f, x);
  Eigen::SelfAdjointEigenSolver<Matrix> es(a);
  EXPECT_NEAR(c.max_eigenvalue, es.eigenvalues().maxCoeff(), 1e-8);
  EXPECT_NEAR(c.min_eigenvalue, es.eigenvalues().minCoeff(), 1e-8);
  EXPECT_EQ(c.negative, 0);
}

TEST(Function, ValueOnlyCallFallsBackToGradientCall) {
  int with_gradient = 0;
  const Function<double> f([&](const Vector& x, Vector& g) {
    ++with_gradient;
    g = 2 * x;
    return x.squaredNorm();
  });
  EXPECT_DOUBLE_EQ(f.evaluate(Vector::Constant(2, 3.0)), 18.0);
  EXPECT_EQ(with_gradient, 1);
  EXPECT_STREQ(to_string(Status::LineSearchFailed), "line_search_failed");
}
