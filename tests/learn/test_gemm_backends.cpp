// The direct loss and its gradient do not depend on the GEMM backend beyond rounding
// (core/gemm.hpp): one training step's numbers with the backend forced to eigen and to blas,
// unrolled (factored and Gram) and bilevel, float32 (1e-5 relative) and float64 (1e-12).
#include <gtest/gtest.h>

#include <random>

#include "varlearn/core/gemm.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/learn/objective.hpp"
#include "../support/gemm_backend.hpp"

using namespace varlearn;
using namespace varlearn::learn;

namespace {
using varlearn::testing::BackendGuard;

template <class Real>
struct Step {
  double loss = 0;
  VectorT<double> grad;
};

template <class Real>
Step<Real> step(GemmBackend backend, const ModelSpec& spec, const Vector& theta, const Matrix& x, const Matrix& y,
                int use_gram) {
  set_gemm_backend(backend);
  UnrollOptions uo;
  uo.use_gram = use_gram;
  VectorT<Real> g;
  Step<Real> s;
  s.loss = loss_direct<Real>(spec, theta.cast<Real>(), {}, x.cast<Real>(), y.cast<Real>(), &g, uo);
  s.grad = g.template cast<double>();
  return s;
}

template <class Real>
class BackendTyped : public ::testing::Test {};
using Reals = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BackendTyped, Reals);

TYPED_TEST(BackendTyped, DirectStepIsTheSameWithEigenAndBlas) {
  using Real = TypeParam;
  if (!blas_available()) GTEST_SKIP() << "built without a BLAS";
  BackendGuard guard;
  const double tol = std::is_same_v<Real, float> ? 1e-5 : 1e-12;
  const Index n = 64, b = 300;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> nd(0, 1);
  Matrix y(n, b), x(n, b);
  for (Index j = 0; j < b; ++j)
    for (Index i = 0; i < n; ++i) {
      y(i, j) = std::sin(0.2 * static_cast<double>(i * (j % 7 + 1))) + 0.3 * nd(rng);
      x(i, j) = y(i, j) + 0.2 * nd(rng);
    }
  struct Case {
    Method method;
    Index k;
    int use_gram;
  };
  for (const Case c : {Case{Method::Unrolled, 48, -1}, Case{Method::Unrolled, 48, 1}, Case{Method::Bilevel, 40, 0}}) {
    const ModelSpec spec{n, c.k, c.method, 6, StepsizeMode::Learned};
    const Vector theta = QuadraticModel::random(spec).parameters();
    const auto e = step<Real>(GemmBackend::Eigen, spec, theta, x, y, c.use_gram);
    const auto bl = step<Real>(GemmBackend::Blas, spec, theta, x, y, c.use_gram);
    const std::string what = std::string(c.method == Method::Bilevel ? "bilevel" : "unrolled") +
                             " gram=" + std::to_string(c.use_gram);
    EXPECT_NEAR(bl.loss, e.loss, tol * std::abs(e.loss)) << what;
    ASSERT_GT(e.grad.norm(), 0.0) << what;
    EXPECT_LE((bl.grad - e.grad).norm(), tol * e.grad.norm()) << what;
    // Each backend is deterministic: the same call twice gives the same bits.
    const auto bl2 = step<Real>(GemmBackend::Blas, spec, theta, x, y, c.use_gram);
    EXPECT_EQ(bl2.grad, bl.grad) << what;
  }
}

}  // namespace
