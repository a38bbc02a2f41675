// The GEMM backends (core/gemm.hpp): both compute C = alpha op(A) op(B) + beta C to rounding
// (checked against a float64 triple loop), Eigen's is exactly Eigen's own product, the setting
// parses and refuses bad values, and `auto` probes a shape once and keeps the decision.
#include <gtest/gtest.h>

#include <omp.h>

#include <random>

#include "varlearn/core/error.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/threads.hpp"
#include "../support/gemm_backend.hpp"

using namespace varlearn;

namespace {
using varlearn::testing::BackendGuard;

template <class Real>
MatrixT<Real> random_matrix(Index r, Index c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0, 1);
  MatrixT<Real> m(r, c);
  for (Index j = 0; j < c; ++j)
    for (Index i = 0; i < r; ++i) m(i, j) = static_cast<Real>(nd(rng));
  return m;
}

// alpha op(A) op(B) + beta C by a plain triple loop in float64.
template <class Real>
Matrix reference(double alpha, const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb, double beta,
                 const MatrixT<Real>& c) {
  const Matrix ad = a.template cast<double>(), bd = b.template cast<double>();
  const Matrix oa = ta ? Matrix(ad.transpose()) : ad, ob = tb ? Matrix(bd.transpose()) : bd;
  Matrix r = beta * c.template cast<double>();
  for (Index j = 0; j < r.cols(); ++j)
    for (Index i = 0; i < r.rows(); ++i) {
      double s = 0;
      for (Index l = 0; l < oa.cols(); ++l) s += oa(i, l) * ob(l, j);
      r(i, j) += alpha * s;
    }
  return r;
}

template <class Real>
class GemmTyped : public ::testing::Test {};
using Reals = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GemmTyped, Reals);

TYPED_TEST(GemmTyped, EveryBackendMatchesTheTripleLoopForEveryTransposeAndBeta) {
  using Real = TypeParam;
  const double tol = std::is_same_v<Real, float> ? 1e-5 : 1e-13;
  const Index m = 37, n = 23, k = 41;  // odd sizes: the kernels' edge tiles
  std::vector<GemmBackend> backends{GemmBackend::Eigen, GemmBackend::Auto};
  if (blas_available()) backends.push_back(GemmBackend::Blas);
  for (const bool ta : {false, true})
    for (const bool tb : {false, true})
      for (const double beta : {0.0, 1.0, -0.5}) {
        const MatrixT<Real> a = ta ? random_matrix<Real>(k, m, 1) : random_matrix<Real>(m, k, 1);
        const MatrixT<Real> b = tb ? random_matrix<Real>(n, k, 2) : random_matrix<Real>(k, n, 2);
        const MatrixT<Real> c0 = random_matrix<Real>(m, n, 3);
        const Matrix want = reference<Real>(0.75, a, ta, b, tb, beta, c0);
        for (const GemmBackend be : backends) {
          MatrixT<Real> c = beta == 0 ? MatrixT<Real>() : c0;  // beta = 0: C is sized by gemm
          gemm_with(be, Real(0.75), a, ta, b, tb, static_cast<Real>(beta), c);
          ASSERT_EQ(c.rows(), m);
          ASSERT_EQ(c.cols(), n);
          EXPECT_LE((c.template cast<double>() - want).norm(), tol * want.norm())
              << to_string(be) << " ta=" << ta << " tb=" << tb << " beta=" << beta;
        }
      }
}

TYPED_TEST(GemmTyped, EigenBackendIsBitwiseEigensOwnProduct) {
  using Real = TypeParam;
  const MatrixT<Real> r = random_matrix<Real>(30, 50, 4), z = random_matrix<Real>(50, 70, 5);
  MatrixT<Real> want = random_matrix<Real>(30, 70, 6), got = want;
  want.noalias() -= Real(0.3) * r * z;
  gemm_with(GemmBackend::Eigen, Real(-0.3), r, false, z, false, Real(1), got);
  EXPECT_EQ(got, want);
  MatrixT<Real> u, u_want;
  u_want.noalias() = r.transpose() * r;
  gemm_with(GemmBackend::Eigen, Real(1), r, true, r, false, Real(0), u);
  EXPECT_EQ(u, u_want);
}

TYPED_TEST(GemmTyped, BlasAndEigenAgreeOnALargeProduct) {
  using Real = TypeParam;
  if (!blas_available()) GTEST_SKIP() << "built without a BLAS";
  const double tol = std::is_same_v<Real, float> ? 1e-5 : 1e-12;
  const MatrixT<Real> r = random_matrix<Real>(160, 160, 7), z = random_matrix<Real>(160, 700, 8);
  MatrixT<Real> e, b;
  gemm_with(GemmBackend::Eigen, Real(1), r, true, z, false, Real(0), e);
  gemm_with(GemmBackend::Blas, Real(1), r, true, z, false, Real(0), b);
  EXPECT_LE((e - b).norm(), tol * e.norm());
}

// PackedLhs: products with the panels packed once are the same bits as gemm() on one thread
// (Eigen's kernels), from every thread of a parallel region at once; where gemm() would run
// otherwise (several threads, a vector, the BLAS), multiply() is gemm().
TYPED_TEST(GemmTyped, PackedLhsIsBitwiseTheOneThreadGemmOnEveryThread) {
  using Real = TypeParam;
  BackendGuard guard;
  set_gemm_backend(GemmBackend::Eigen);
  const double tol = std::is_same_v<Real, float> ? 1e-5 : 1e-13;
  // k = 1100: two depth blocks of Eigen's kernels (about 550 each with AVX-512); k = 150 with
  // m = 203: two row blocks.
  for (const Index k : {Index(150), Index(1100)})
    for (const bool ta : {false, true}) {
      const Index m = 203;  // not a multiple of the kernel's rows
      const MatrixT<Real> a = ta ? random_matrix<Real>(k, m, 11) : random_matrix<Real>(m, k, 11);
      const PackedLhs<Real> op(a, ta);
      EXPECT_FALSE(op.packed());
      constexpr int kThreads = 4;
      std::vector<MatrixT<Real>> b(kThreads), c0(kThreads), got(kThreads), want(kThreads);
      for (int t = 0; t < kThreads; ++t) {
        b[t] = random_matrix<Real>(k, 70 + 3 * t, 20 + t);
        c0[t] = random_matrix<Real>(m, b[t].cols(), 30 + t);
      }
      for (const double beta : {0.0, 1.0, -0.5}) {
        {
          const ScopedThreads one(1);
          for (int t = 0; t < kThreads; ++t) {
            want[t] = c0[t];
            gemm(Real(-0.7), a, ta, b[t], false, static_cast<Real>(beta), want[t]);
          }
        }
#pragma omp parallel for num_threads(kThreads) schedule(static, 1)
        for (int t = 0; t < kThreads; ++t) {
          got[t] = beta == 0 ? MatrixT<Real>() : c0[t];  // beta = 0: sized by multiply
          op.multiply(Real(-0.7), b[t], static_cast<Real>(beta), got[t]);
        }
        for (int t = 0; t < kThreads; ++t) {
          EXPECT_EQ(got[t], want[t]) << "k=" << k << " ta=" << ta << " beta=" << beta << " B cols " << b[t].cols();
          const Matrix exact = reference<Real>(-0.7, a, ta, b[t], false, beta, c0[t]);
          EXPECT_LE((got[t].template cast<double>() - exact).norm(), tol * exact.norm());
        }
      }
      EXPECT_TRUE(op.packed());
      // One column: Eigen's matrix-vector product, as gemm().
      const MatrixT<Real> v = random_matrix<Real>(k, 1, 40);
      MatrixT<Real> gv, wv;
      {
        const ScopedThreads one(1);
        op.multiply(Real(1), v, Real(0), gv);
        gemm(Real(1), a, ta, v, false, Real(0), wv);
      }
      EXPECT_EQ(gv, wv);
    }
}

TYPED_TEST(GemmTyped, PackedLhsElsewhereIsGemm) {
  using Real = TypeParam;
  BackendGuard guard;
  const MatrixT<Real> a = random_matrix<Real>(160, 160, 12), b = random_matrix<Real>(160, 300, 13);
  std::vector<GemmBackend> backends{GemmBackend::Eigen};
  if (blas_available()) backends.push_back(GemmBackend::Blas);
  for (const GemmBackend be : backends) {
    set_gemm_backend(be);
    const ScopedThreads two(2);  // outside a parallel region: Eigen's own threads, or the BLAS
    const PackedLhs<Real> op(a, true);
    MatrixT<Real> got, want;
    op.multiply(Real(0.5), b, Real(0), got);
    gemm(Real(0.5), a, true, b, false, Real(0), want);
    EXPECT_EQ(got, want) << to_string(be);
    EXPECT_FALSE(op.packed()) << to_string(be);
  }
  const PackedLhs<Real> op(a, false);
  MatrixT<Real> c(3, 3);
  EXPECT_THROW(op.multiply(Real(1), b, Real(1), c), Error);  // C's shape is checked
  EXPECT_THROW(op.multiply(Real(1), MatrixT<Real>(7, 2), Real(0), c), Error);  // inner extents
}

// gemm_by_columns: with Eigen's kernels each column strip's entries are the sums of a one-thread
// gemm(), so the result is the same bits for every thread count; with any backend it is the
// product to rounding.
TYPED_TEST(GemmTyped, GemmByColumnsIsTheOneThreadProductForEveryThreadCount) {
  using Real = TypeParam;
  BackendGuard guard;
  const double tol = std::is_same_v<Real, float> ? 1e-5 : 1e-13;
  for (const Index n : {Index(320), Index(45)})  // strips; too few columns for two (gemm())
    for (const bool ta : {false, true})
      for (const double beta : {0.0, 1.0}) {
        const MatrixT<Real> a = random_matrix<Real>(150, 150, 14), b = random_matrix<Real>(150, n, 15);
        const MatrixT<Real> c0 = random_matrix<Real>(150, n, 16);
        const Matrix exact = reference<Real>(1.25, a, ta, b, false, beta, c0);
        set_gemm_backend(GemmBackend::Eigen);
        MatrixT<Real> want = c0;
        {
          const ScopedThreads one(1);
          gemm(Real(1.25), a, ta, b, false, static_cast<Real>(beta), want);
        }
        for (const int threads : {1, 2, 3}) {
          const ScopedThreads st(threads);
          MatrixT<Real> got = c0;
          gemm_by_columns(Real(1.25), a, ta, b, static_cast<Real>(beta), got);
          EXPECT_EQ(got, want) << "n=" << n << " ta=" << ta << " beta=" << beta << " threads=" << threads;
        }
        set_gemm_backend(GemmBackend::Auto);
        MatrixT<Real> got = c0;
        gemm_by_columns(Real(1.25), a, ta, b, static_cast<Real>(beta), got);
        EXPECT_LE((got.template cast<double>() - exact).norm(), tol * exact.norm());
      }
  MatrixT<Real> wrong(5, 5);
  EXPECT_THROW(gemm_by_columns(Real(1), MatrixT<Real>(5, 5), false, MatrixT<Real>(5, 6), Real(0), wrong), Error);
}

TEST(Gemm, ShapesAreChecked) {
  const Matrix a = Matrix::Ones(3, 4), b = Matrix::Ones(5, 2);
  Matrix c;
  EXPECT_THROW(gemm(1.0, a, false, b, false, 0.0, c), Error);   // 4 != 5
  Matrix c2 = Matrix::Zero(2, 2);
  const Matrix b2 = Matrix::Ones(4, 2);
  EXPECT_THROW(gemm(1.0, a, false, b2, false, 1.0, c2), Error);  // C 2 x 2, product 3 x 2
  gemm(1.0, a, false, b2, false, 0.0, c2);                        // beta = 0 resizes
  EXPECT_EQ(c2, Matrix::Constant(3, 2, 4.0));
}

TEST(Gemm, ParsesTheSettingAndRefusesBadValues) {
  EXPECT_EQ(parse_gemm_backend("auto", "x"), GemmBackend::Auto);
  EXPECT_EQ(parse_gemm_backend("eigen", "x"), GemmBackend::Eigen);
  for (const char* bad : {"", "Eigen", "openblas", "blas ", "mkl"}) {
    try {
      parse_gemm_backend(bad, "VARLEARN_GEMM");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::BadInput);
      EXPECT_NE(std::string(e.what()).find("VARLEARN_GEMM"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("eigen, blas or auto"), std::string::npos) << e.what();
    }
  }
  if (blas_available()) {
    EXPECT_EQ(parse_gemm_backend("blas", "x"), GemmBackend::Blas);
  } else {
    EXPECT_THROW(parse_gemm_backend("blas", "x"), Error);
    EXPECT_THROW(set_gemm_backend(GemmBackend::Blas), Error);
  }
  EXPECT_STREQ(to_string(GemmBackend::Auto), "auto");
  EXPECT_STREQ(to_string(GemmBackend::Eigen), "eigen");
  EXPECT_STREQ(to_string(GemmBackend::Blas), "blas");
}

TEST(Gemm, SetBackendForcesEveryShapeAndAutoProbesOnce) {
  BackendGuard guard;
  const MatrixT<float> a = random_matrix<float>(120, 100, 9), b = random_matrix<float>(100, 90, 10);
  set_gemm_backend(GemmBackend::Eigen);
  EXPECT_EQ(gemm_backend(), GemmBackend::Eigen);
  EXPECT_EQ(gemm_backend_source(), "--gemm");
  EXPECT_EQ(gemm_backend_for<float>(a, false, b, false), GemmBackend::Eigen);
  EXPECT_TRUE(gemm_decisions().empty());
  set_gemm_backend(GemmBackend::Auto);  // clears the decisions
  const GemmBackend first = gemm_backend_for<float>(a, false, b, false);
  if (!blas_available() || !blas_info().kernel_matches_cpu) {  // nothing to probe: Eigen
    EXPECT_EQ(first, GemmBackend::Eigen);
    EXPECT_TRUE(gemm_decisions().empty());
    return;
  }
  ASSERT_EQ(gemm_decisions().size(), 1u);  // 2 * 120 * 90 * 100 flops: probed
  const GemmDecision d = gemm_decisions()[0];
  EXPECT_EQ(d.m, 120);
  EXPECT_EQ(d.n, 90);
  EXPECT_EQ(d.k, 100);
  EXPECT_GT(d.eigen_seconds, 0.0);
  EXPECT_GT(d.blas_seconds, 0.0);
  EXPECT_EQ(d.chosen, first);
  EXPECT_EQ(gemm_backend_for<float>(a, false, b, false), first);  // cached: no second probe
  EXPECT_EQ(gemm_decisions().size(), 1u);
  const MatrixT<float> tiny = random_matrix<float>(8, 8, 11);
  EXPECT_EQ(gemm_backend_for<float>(tiny, false, tiny, false), GemmBackend::Eigen);  // below the probe size
  EXPECT_EQ(gemm_decisions().size(), 1u);
}

TEST(Gemm, ProbeTimesBothBackendsAndCachesNothing) {
  const MatrixT<double> a = random_matrix<double>(90, 80, 12), b = random_matrix<double>(90, 70, 13);
  if (!blas_available()) {
    EXPECT_THROW(gemm_probe<double>(a, true, b, false), Error);
    return;
  }
  const auto before = gemm_decisions().size();
  const GemmDecision d = gemm_probe<double>(a, true, b, false);  // A^T B: 80 x 70, k = 90
  EXPECT_EQ(d.m, 80);
  EXPECT_EQ(d.n, 70);
  EXPECT_EQ(d.k, 90);
  EXPECT_TRUE(d.trans_a);
  EXPECT_STREQ(d.scalar, "float64");
  EXPECT_GT(d.eigen_seconds, 0.0);
  EXPECT_GT(d.blas_seconds, 0.0);
  EXPECT_EQ(d.chosen, d.blas_seconds * 1.05 < d.eigen_seconds ? GemmBackend::Blas : GemmBackend::Eigen);
  EXPECT_EQ(gemm_decisions().size(), before);
  EXPECT_THROW(gemm_probe<double>(a, false, b, false), Error);  // 90 x 80 times 90 x 70
}

TEST(Gemm, BlasInfoDescribesTheLinkedLibrary) {
  const BlasInfo i = blas_info();
  EXPECT_EQ(i.available, blas_available());
  if (!i.available) return;
  EXPECT_FALSE(i.kernel.empty());
  EXPECT_NE(i.config.find("OpenBLAS"), std::string::npos) << i.config;
  EXPECT_GE(i.threads, 1);
}

}  // namespace
