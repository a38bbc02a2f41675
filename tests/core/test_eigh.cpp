// The symmetric eigendecomposition (core/eigh.hpp): LAPACK's and Eigen's routines against the
// definition (A V = V diag(w), V^T V = I, w ascending) and against each other, in float64 and
// float32, and its input errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "varlearn/core/eigh.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/gemm.hpp"

namespace varlearn {
namespace {

template <class Real>
MatrixT<Real> spd(Index n) {
  srand(7);
  const MatrixT<Real> r = MatrixT<Real>::Random(n + 3, n);
  return r.transpose() * r;
}

/// The routine's residuals on A: max(|A V - V diag(w)| / |A|, |V^T V - I|), and whether w ascends.
template <class Real>
double check(const MatrixT<Real>& a, VectorT<Real>& w, MatrixT<Real>& v) {
  symmetric_eigen(a, w, v, "test");
  for (Index i = 1; i < w.size(); ++i) EXPECT_LE(w(i - 1), w(i));
  const double res = (a * v - v * w.asDiagonal()).norm() / a.norm();
  const double orth = (v.transpose() * v - MatrixT<Real>::Identity(a.rows(), a.rows())).norm();
  return std::max(res, orth);
}

class Eigh : public ::testing::Test {
protected:
  void TearDown() override { set_gemm_backend(GemmBackend::Auto); }
};

TEST_F(Eigh, BothRoutinesSatisfyTheDefinitionAndAgree) {
  for (Index n : {Index(1), Index(7), kLapackEighMinSize + 72}) {  // LAPACK from kLapackEighMinSize rows
    const Matrix a = spd<double>(n);
    Vector we, wl;
    Matrix ve, vl;
    set_gemm_backend(GemmBackend::Eigen);
    EXPECT_EQ(eigh_routine(), EighRoutine::Eigen);
    EXPECT_LT(check(a, we, ve), 1e-13) << "eigen, n " << n;
    if (!blas_available()) continue;
    set_gemm_backend(GemmBackend::Blas);
    EXPECT_EQ(eigh_routine(), EighRoutine::Lapack);
    EXPECT_LT(check(a, wl, vl), 1e-13) << "lapack, n " << n;
    EXPECT_LT((we - wl).cwiseAbs().maxCoeff(), 1e-12 * we.cwiseAbs().maxCoeff()) << n;
    // Distinct eigenvalues here: the same eigenvectors up to sign.
    EXPECT_LT((ve.transpose() * vl).cwiseAbs().diagonal().minCoeff(), 1.0 + 1e-12);
    EXPECT_GT((ve.transpose() * vl).cwiseAbs().diagonal().minCoeff(), 1.0 - 1e-8) << n;
  }
}

TEST_F(Eigh, Float32) {
  const MatrixT<float> a = spd<float>(kLapackEighMinSize + 32);
  VectorT<float> w;
  MatrixT<float> v;
  for (GemmBackend b : {GemmBackend::Eigen, GemmBackend::Auto, GemmBackend::Blas}) {
    if (b == GemmBackend::Blas && !blas_available()) continue;
    set_gemm_backend(b);
    EXPECT_LT(check(a, w, v), 2e-4) << to_string(eigh_routine());  // Frobenius norms: ~n eps
  }
}

TEST_F(Eigh, BadInputIsAnError) {
  for (GemmBackend b : {GemmBackend::Eigen, GemmBackend::Auto, GemmBackend::Blas}) {
    if (b == GemmBackend::Blas && !blas_available()) continue;
    set_gemm_backend(b);
    Vector w;
    Matrix v;
    Matrix a = spd<double>(5);
    a(2, 3) = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(symmetric_eigen(a, w, v, "test"), Error);
    EXPECT_THROW(symmetric_eigen(Matrix(Matrix::Zero(3, 4)), w, v, "test"), Error);
    symmetric_eigen(Matrix(0, 0), w, v, "test");
    EXPECT_EQ(w.size(), 0);
  }
}

TEST_F(Eigh, SpdFactorSolvesAndInvertsWithBothRoutines) {
  const Matrix a = spd<double>(150);
  const Matrix b = Matrix::Random(150, 37);
  for (GemmBackend be : {GemmBackend::Eigen, GemmBackend::Blas}) {
    if (be == GemmBackend::Blas && !blas_available()) continue;
    set_gemm_backend(be);
    const SpdFactor<double> f(a);
    ASSERT_TRUE(f.positive_definite());
    EXPECT_EQ(f.lapack(), be == GemmBackend::Blas);
    Matrix x;
    f.solve(b, x);
    EXPECT_LT((a * x - b).norm() / b.norm(), 1e-10) << to_string(be);
    EXPECT_THROW(f.solve(Matrix::Zero(149, 2), x), Error);  // right-hand sides of the wrong height
    const Matrix inv = f.inverse();
    EXPECT_EQ((inv - inv.transpose()).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_LT((a * inv - Matrix::Identity(150, 150)).norm(), 1e-9) << to_string(be);
    // Not positive definite: an indefinite matrix and a NaN are reported, not factored.
    Matrix bad = a;
    bad(0, 0) = -1;
    EXPECT_FALSE(SpdFactor<double>(bad).positive_definite());
    bad = a;
    bad(3, 1) = std::numeric_limits<double>::quiet_NaN();
    EXPECT_FALSE(SpdFactor<double>(bad).positive_definite());
    EXPECT_THROW(SpdFactor<double>(bad).solve(b, x), Error);
  }
}

}  // namespace
}  // namespace varlearn
