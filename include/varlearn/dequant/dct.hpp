#pragma once
/// \file dct.hpp
/// Orthonormal DCT-II and its inverse (DCT-III) for frames of n samples, batched over the
/// columns of an n x B matrix, two ways: one GEMM with a cached matrix (forward_gemm), and
/// FFTW's O(n log n) DCT-II/III (forward_fftw; REDFT10/REDFT01 with orthonormal scaling).
/// forward/inverse pick the one bench_dequant measured faster: GEMM below kDctFastMinSize = 320
/// (0.13 vs 0.30 us per frame at n = 64), FFTW from it on (1.6 vs 3.0 us at n = 320); see dct.cpp.
///   \f$C_{kj} = \alpha_k \cos\big(\pi (j + \tfrac12) k / n\big)\f$,
///   \f$\alpha_0 = \sqrt{1/n},\ \alpha_k = \sqrt{2/n}\f$, so \f$C^T C = I\f$:
///   coefficients \f$X = C S\f$, signal \f$S = C^T X\f$; the dequantization operator is
///   \f$K = DCT^{-1} = C^T\f$.
#include <memory>

#include "varlearn/core/types.hpp"

namespace varlearn::dequant {

/// The orthonormal DCT-II matrix C (n x n), computed in long double then rounded.
/// Throws Error unless n >= 1.
template <class T> MatrixT<T> dct_matrix(Index n);

/// Frame length from which Dct::forward/inverse use FFTW instead of the GEMM
/// (measured with bench_dequant; see dct.cpp).
extern const Index kDctFastMinSize;

/// Batched transform with the matrix cached (and the FFTW plans).
template <class T> class Dct {
public:
  explicit Dct(Index n);
  Index size() const { return c_.rows(); }
  /// \f$X = C S\f$ (S: n x B frames), by the faster path for this n (uses_fast()).
  /// Throws Error on a row-count mismatch (all four variants below too).
  MatrixT<T> forward(const MatrixT<T>& frames) const;
  /// \f$S = C^T X\f$, by the faster path for this n.
  MatrixT<T> inverse(const MatrixT<T>& coefficients) const;
  /// True when forward/inverse use FFTW (n >= kDctFastMinSize).
  bool uses_fast() const { return size() >= kDctFastMinSize; }
  /// GEMM with the cached matrix.
  MatrixT<T> forward_gemm(const MatrixT<T>& frames) const;
  MatrixT<T> inverse_gemm(const MatrixT<T>& coefficients) const;
  /// O(n log n) by FFTW's own DCT-II (REDFT10, \f$Y_k = 2\sum_j x_j \cos(\pi(j+\frac12)k/n)\f$)
  /// scaled to \f$X_k = \alpha_k Y_k / 2\f$, and DCT-III (REDFT01) on
  /// \f$(\alpha_0 X_0, \alpha X_k / 2)\f$. Plans are made once, at construction (FFTW_ESTIMATE: the same
  /// algorithm, so the same rounding, on every run); executing them is thread-safe.
  MatrixT<T> forward_fftw(const MatrixT<T>& frames) const;
  MatrixT<T> inverse_fftw(const MatrixT<T>& coefficients) const;
  const MatrixT<T>& matrix() const { return c_; }

private:
  struct FftwPlans;  ///< fftw3.h stays out of this header
  MatrixT<T> c_;
  std::shared_ptr<const FftwPlans> fftw_;  ///< shared by copies; destroyed with the last
};

/// Orthogonality checker: \f$\max_{ij} |(Q^T Q - I)_{ij}|\f$ (Q square; Error otherwise).
double orthogonality_error(const Matrix& q);

extern template class Dct<float>;
extern template class Dct<double>;

}  // namespace varlearn::dequant
