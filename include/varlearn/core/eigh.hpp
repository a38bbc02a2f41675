#pragma once
/// \file eigh.hpp
/// The symmetric eigendecomposition \f$A = V\,\mathrm{diag}(w)\,V^T\f$ behind the structured
/// training path: for n >= kLapackEighMinSize LAPACK's divide and conquer (xSYEVD, in the linked
/// OpenBLAS) when the GEMM backend is `blas`, or `auto` and the BLAS's kernels match the CPU
/// (`varlearn info`); else Eigen's SelfAdjointEigenSolver (also with `--gemm eigen` and in a
/// build without a BLAS). Measured at n = 320 (one thread, AVX-512 kernels): 5.4 ms against
/// Eigen's 21.5 ms in float32, 8.0 against 27.3 in float64 on a random Gram matrix; the
/// structured step 10.1 ms against 11.5. At n = 64 Eigen's is as fast. The two agree to rounding
/// (eigenvalues ~1e-14 relative; eigenvectors up to sign and, for repeated eigenvalues, rotation
/// within the eigenspace).
#include <memory>

#include "varlearn/core/types.hpp"

namespace varlearn {

/// Which routine symmetric_eigen uses now for matrices of at least kLapackEighMinSize rows.
enum class EighRoutine { Eigen, Lapack };
EighRoutine eigh_routine();
/// Smaller matrices always use Eigen's routine (as fast there, and the same in every process).
inline constexpr long kLapackEighMinSize = 128;
const char* to_string(EighRoutine routine);

/// Eigenvalues w (ascending) and orthonormal eigenvectors V (columns) of the symmetric a (its
/// lower triangle is read). Throws Error (naming `where`) when a is not square or not finite,
/// or the routine does not converge.
template <class Real>
void symmetric_eigen(const MatrixT<Real>& a, VectorT<Real>& w, MatrixT<Real>& v, const char* where);

/// The Cholesky factor of a symmetric positive definite A (n x n; its lower triangle is read), the
/// solves and the inverse: LAPACK's xPOTRF / xPOTRS / xPOTRI where symmetric_eigen uses LAPACK
/// (from kLapackEighMinSize rows), else Eigen's LLT. (Both ran their triangular solves with many right-hand sides at a fraction
/// of a GEMM's speed, n = 320: with many, multiplying by inverse() is faster.)
template <class Real>
class SpdFactor {
public:
  /// Factorizes; positive_definite() says whether it worked (false for NaN too).
  explicit SpdFactor(const MatrixT<Real>& a);
  ~SpdFactor();
  SpdFactor(const SpdFactor&) = delete;
  SpdFactor& operator=(const SpdFactor&) = delete;
  bool positive_definite() const { return ok_; }
  /// X = A^{-1} rhs (n x m). Requires positive_definite().
  void solve(const MatrixT<Real>& rhs, MatrixT<Real>& x) const;
  /// A^{-1}, symmetric.
  MatrixT<Real> inverse() const;
  /// Whether LAPACK's routines do the work.
  bool lapack() const { return lapack_; }

private:
  Index n_ = 0;
  MatrixT<Real> factor_;  // LAPACK: L in the lower triangle
  struct EigenLlt;
  std::unique_ptr<EigenLlt> llt_;  // Eigen's factor (kept out of this header)
  bool ok_ = false, lapack_ = false;
};

}  // namespace varlearn
