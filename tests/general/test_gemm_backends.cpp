// The general engine's steps do not depend on the GEMM backend (core/gemm.hpp) beyond rounding:
// the unrolled loss and gradient with a dense analysis (huber) and a quadratic regularizer,
// float32 (1e-5 relative) and float64 (1e-12), and the bilevel hypergradient (float64; its lower
// level stops at a tolerance, so 1e-8), each with the backend forced to eigen and to blas.
#include <gtest/gtest.h>

#include <string>

#include "varlearn/core/gemm.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/general/general.hpp"
#include "problems.hpp"
#include "../support/gemm_backend.hpp"

using namespace varlearn;
using namespace varlearn::general_problems;

namespace {
using varlearn::testing::BackendGuard;

template <class T>
class GeneralBackends : public ::testing::Test {};
using Reals = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GeneralBackends, Reals);

TYPED_TEST(GeneralBackends, UnrolledStepIsTheSameWithEigenAndBlas) {
  using T = TypeParam;
  if (!blas_available()) GTEST_SKIP() << "built without a BLAS";
  BackendGuard guard;
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  for (const std::string reg : {"huber", "quadratic"}) {
    const auto p = make_problem<T>("identity", reg);
    general::UnrolledOptions options;
    options.steps = 6;
    const VectorT<T> alpha = VectorT<T>::Constant(1, static_cast<T>(softplus_inverse(safe_step(p.energy))));
    general::BasicUnrolledResult<T> r[2];
    for (int i = 0; i < 2; ++i) {
      set_gemm_backend(i == 0 ? GemmBackend::Eigen : GemmBackend::Blas);
      r[i] = general::unrolled_loss<T>(p.energy, p.target, alpha, options);
    }
    ASSERT_GT(r[0].theta_gradient.norm(), 0) << reg;
    EXPECT_NEAR(r[1].loss, r[0].loss, tol * std::abs(static_cast<double>(r[0].loss))) << reg;
    EXPECT_LE((r[1].theta_gradient - r[0].theta_gradient).norm(), tol * r[0].theta_gradient.norm()) << reg;
    EXPECT_LE((r[1].alpha_gradient - r[0].alpha_gradient).norm(), tol * r[0].alpha_gradient.norm()) << reg;
  }
}

TEST(GeneralBackendsBilevel, HypergradientIsTheSameWithEigenAndBlas) {
  if (!blas_available()) GTEST_SKIP() << "built without a BLAS";
  BackendGuard guard;
  const auto p = make_problem<double>("identity", "huber");
  general::BilevelResult r[2];
  for (int i = 0; i < 2; ++i) {
    set_gemm_backend(i == 0 ? GemmBackend::Eigen : GemmBackend::Blas);
    r[i] = general::bilevel_loss(p.energy, p.target, {});
  }
  ASSERT_GT(r[0].gradient.norm(), 0);
  EXPECT_NEAR(r[1].loss, r[0].loss, 1e-8 * r[0].loss);
  EXPECT_LE((r[1].gradient - r[0].gradient).norm(), 1e-8 * r[0].gradient.norm());
}

}  // namespace
