#include "varlearn/core/eigh.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <string>
#include <type_traits>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/gemm.hpp"

#ifdef VARLEARN_HAVE_BLAS
// LAPACK in OpenBLAS (Debian's builds bundle it; no LAPACKE header, so the Fortran symbols).
extern "C" {
void ssyevd_(const char* jobz, const char* uplo, const int* n, float* a, const int* lda, float* w, float* work,
             const int* lwork, int* iwork, const int* liwork, int* info);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
             const int* lwork, int* iwork, const int* liwork, int* info);
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void spotrs_(const char* uplo, const int* n, const int* nrhs, const float* a, const int* lda, float* b,
             const int* ldb, int* info);
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda, double* b,
             const int* ldb, int* info);
}
#endif

namespace varlearn {

EighRoutine eigh_routine() {
  if (!blas_available()) return EighRoutine::Eigen;
  switch (gemm_backend()) {
    case GemmBackend::Blas: return EighRoutine::Lapack;
    case GemmBackend::Eigen: return EighRoutine::Eigen;
    case GemmBackend::Auto: break;
  }
  // LAPACK's reductions run on the BLAS's kernels: with the SSE3 fallback kernels of an
  // OpenBLAS that does not know the CPU, Eigen's routine was faster (structured step at n = 320:
  // 11.4 ms against 14.5 ms; with AVX-512 kernels 11.5 against 10.1 ms).
  static const bool matches = blas_info().kernel_matches_cpu;
  return matches ? EighRoutine::Lapack : EighRoutine::Eigen;
}

const char* to_string(EighRoutine routine) { return routine == EighRoutine::Lapack ? "lapack" : "eigen"; }

namespace {

#ifdef VARLEARN_HAVE_BLAS
template <class Real>
int syevd(int n, Real* a, Real* w, Real* work, int lwork, int* iwork, int liwork) {
  int info = 0;
  if constexpr (std::is_same_v<Real, float>) ssyevd_("V", "L", &n, a, &n, w, work, &lwork, iwork, &liwork, &info);
  else dsyevd_("V", "L", &n, a, &n, w, work, &lwork, iwork, &liwork, &info);
  return info;
}

template <class Real>
void lapack_eigen(const MatrixT<Real>& a, VectorT<Real>& w, MatrixT<Real>& v, const char* where) {
  const int n = static_cast<int>(a.rows());
  v = a;
  w.resize(n);
  Real query = 0;
  int iquery = 0;
  int info = syevd<Real>(n, v.data(), w.data(), &query, -1, &iquery, -1);  // workspace sizes
  require(info == 0, where, "LAPACK's workspace query failed (info " + std::to_string(info) + ")");
  std::vector<Real> work(static_cast<std::size_t>(query) + 1);
  std::vector<int> iwork(static_cast<std::size_t>(iquery) + 1);
  info = syevd<Real>(n, v.data(), w.data(), work.data(), static_cast<int>(work.size()), iwork.data(),
                     static_cast<int>(iwork.size()));
  require(info == 0, where, "the symmetric eigendecomposition did not converge (LAPACK info " + std::to_string(info) + ")");
}
#endif

}  // namespace

template <class Real>
void symmetric_eigen(const MatrixT<Real>& a, VectorT<Real>& w, MatrixT<Real>& v, const char* where) {
  require(a.rows() == a.cols(), where, "eigendecomposition of a non-square matrix");
  require(a.allFinite(), where, "eigendecomposition of a matrix that is not finite (NaN or inf)");
  if (a.rows() == 0) {
    w.resize(0);
    v.resize(0, 0);
    return;
  }
#ifdef VARLEARN_HAVE_BLAS
  if (a.rows() >= kLapackEighMinSize && eigh_routine() == EighRoutine::Lapack) {
    lapack_eigen(a, w, v, where);
    return;
  }
#endif
  const Eigen::SelfAdjointEigenSolver<MatrixT<Real>> es(a);
  require(es.info() == Eigen::Success, where, "the symmetric eigendecomposition did not converge");
  w = es.eigenvalues();
  v = es.eigenvectors();
}

template <class Real>
struct SpdFactor<Real>::EigenLlt {
  Eigen::LLT<MatrixT<Real>> llt;
};

template <class Real>
SpdFactor<Real>::SpdFactor(const MatrixT<Real>& a) : n_(a.rows()) {
  require(a.rows() == a.cols(), "SpdFactor", "a non-square matrix");
  if (!a.allFinite()) return;  // not positive definite
#ifdef VARLEARN_HAVE_BLAS
  if (a.rows() >= kLapackEighMinSize && eigh_routine() == EighRoutine::Lapack) {
    lapack_ = true;
    factor_ = a;
    const int n = static_cast<int>(a.rows());
    int info = 0;
    if constexpr (std::is_same_v<Real, float>) spotrf_("L", &n, factor_.data(), &n, &info);
    else dpotrf_("L", &n, factor_.data(), &n, &info);
    ok_ = info == 0;
    return;
  }
#endif
  llt_ = std::make_unique<EigenLlt>(EigenLlt{Eigen::LLT<MatrixT<Real>>(a)});
  ok_ = llt_->llt.info() == Eigen::Success;
}

template <class Real>
SpdFactor<Real>::~SpdFactor() = default;

template <class Real>
void SpdFactor<Real>::solve(const MatrixT<Real>& rhs, MatrixT<Real>& x) const {
  require(ok_, "SpdFactor::solve", "the matrix is not positive definite");
  require(rhs.rows() == n_, "SpdFactor::solve", "right-hand sides of the wrong height");
#ifdef VARLEARN_HAVE_BLAS
  if (lapack_) {
    x = rhs;
    const int n = static_cast<int>(n_), m = static_cast<int>(rhs.cols());
    if (m == 0) return;
    int info = 0;
    if constexpr (std::is_same_v<Real, float>) spotrs_("L", &n, &m, factor_.data(), &n, x.data(), &n, &info);
    else dpotrs_("L", &n, &m, factor_.data(), &n, x.data(), &n, &info);
    require(info == 0, "SpdFactor::solve", "LAPACK info " + std::to_string(info));
    return;
  }
#endif
  x = llt_->llt.solve(rhs);
}

template <class Real>
MatrixT<Real> SpdFactor<Real>::inverse() const {
  require(ok_, "SpdFactor::inverse", "the matrix is not positive definite");
#ifdef VARLEARN_HAVE_BLAS
  if (lapack_) {  // xPOTRI: L^{-T} L^{-1} into the lower triangle, ~2n^3/3 flops
    MatrixT<Real> inv = factor_;
    const int n = static_cast<int>(inv.rows());
    int info = 0;
    if constexpr (std::is_same_v<Real, float>) spotri_("L", &n, inv.data(), &n, &info);
    else dpotri_("L", &n, inv.data(), &n, &info);
    require(info == 0, "SpdFactor::inverse", "LAPACK info " + std::to_string(info));
    inv.template triangularView<Eigen::StrictlyUpper>() = inv.transpose();
    return inv;
  }
#endif
  MatrixT<Real> inv;
  solve(MatrixT<Real>::Identity(n_, n_), inv);
  return (Real(0.5) * (inv + inv.transpose())).eval();
}

template class SpdFactor<float>;
template class SpdFactor<double>;

template void symmetric_eigen(const MatrixT<float>&, VectorT<float>&, MatrixT<float>&, const char*);
template void symmetric_eigen(const MatrixT<double>&, VectorT<double>&, MatrixT<double>&, const char*);

}  // namespace varlearn
