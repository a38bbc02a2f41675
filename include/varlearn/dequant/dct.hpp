#pragma once
/// \file dct.hpp
/// Orthonormal DCT-II and its inverse (DCT-III) for frames of n samples, batched over the
/// columns of an n x B matrix, two ways: one GEMM with a cached matrix (forward_gemm), and an
/// O(n log n) transform through a length-n FFT (forward_fast; Makhoul 1980, Eigen's kissfft).
/// forward/inverse pick the one bench_dequant measured faster: GEMM below kDctFastMinSize = 320
/// (0.12 vs 0.49 us per frame at n = 64), FFT from it on (1.9 vs 2.9 us at n = 320); see dct.cpp.
///   \f$C_{kj} = \alpha_k \cos\big(\pi (j + \tfrac12) k / n\big)\f$,
///   \f$\alpha_0 = \sqrt{1/n},\ \alpha_k = \sqrt{2/n}\f$, so \f$C^T C = I\f$:
///   coefficients \f$X = C S\f$, signal \f$S = C^T X\f$; the dequantization operator is
///   \f$K = DCT^{-1} = C^T\f$.
#include <complex>
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::dequant {

/// The orthonormal DCT-II matrix C (n x n), computed in long double then rounded.
/// Throws Error unless n >= 1.
template <class T> MatrixT<T> dct_matrix(Index n);

/// Frame length from which Dct::forward/inverse use the FFT path instead of the GEMM
/// (measured with bench_dequant; see dct.cpp).
extern const Index kDctFastMinSize;

/// Batched transform with the matrix cached (and the FFT twiddles).
template <class T> class Dct {
public:
  explicit Dct(Index n);
  Index size() const { return c_.rows(); }
  /// \f$X = C S\f$ (S: n x B frames), by the faster path for this n (uses_fast()).
  /// Throws Error on a row-count mismatch (all four variants below too).
  MatrixT<T> forward(const MatrixT<T>& frames) const;
  /// \f$S = C^T X\f$, by the faster path for this n.
  MatrixT<T> inverse(const MatrixT<T>& coefficients) const;
  /// True when forward/inverse use the FFT path (n >= kDctFastMinSize).
  bool uses_fast() const { return size() >= kDctFastMinSize; }
  /// GEMM with the cached matrix.
  MatrixT<T> forward_gemm(const MatrixT<T>& frames) const;
  MatrixT<T> inverse_gemm(const MatrixT<T>& coefficients) const;
  /// O(n log n): reorder v = [x0, x2, x4, ..., x5, x3, x1], V = FFT(v),
  /// \f$X_k = \alpha_k \mathrm{Re}(e^{-i\pi k/(2n)} V_k)\f$; the inverse reverses the steps.
  /// One Eigen::FFT object and its buffers serve all columns of a call (thread-safe: no shared state).
  MatrixT<T> forward_fast(const MatrixT<T>& frames) const;
  MatrixT<T> inverse_fast(const MatrixT<T>& coefficients) const;
  const MatrixT<T>& matrix() const { return c_; }

private:
  MatrixT<T> c_;
  std::vector<std::complex<T>> twiddle_;  ///< e^{-i pi k/(2n)}, k = 0..n/2
};

/// Orthogonality checker: \f$\max_{ij} |(Q^T Q - I)_{ij}|\f$ (Q square; Error otherwise).
double orthogonality_error(const Matrix& q);

extern template class Dct<float>;
extern template class Dct<double>;

}  // namespace varlearn::dequant
