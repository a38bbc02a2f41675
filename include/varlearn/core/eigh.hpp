#pragma once
/// \file eigh.hpp
/// The symmetric eigendecomposition \f$A = V\,\mathrm{diag}(w)\,V^T\f$ behind the structured
/// training path: for n >= kLapackEighMinSize LAPACK's divide and conquer (xSYEVD, in the linked
/// OpenBLAS) unless the GEMM backend is forced to Eigen (`--gemm eigen`, VARLEARN_GEMM=eigen) or
/// the build links no BLAS; else Eigen's SelfAdjointEigenSolver. Measured at n = 320: 21 ms
/// against Eigen's 61 ms (blocked Householder reductions); at n = 64 Eigen's is as fast. The two
/// agree to rounding (eigenvalues ~1e-14 relative; eigenvectors up to sign and, for repeated
/// eigenvalues, rotation within the eigenspace).
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

}  // namespace varlearn
