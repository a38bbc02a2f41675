#pragma once
/// \file conv.hpp
/// FIR convolution with a kernel h of length L, "same"-size output, zero padding:
/// \f[ (A f)_i = \sum_{k=0}^{L-1} h_k\, f_{i + c - k}, \qquad f_j = 0 \text{ outside } 0 \le j < n, \f]
/// with the alignment c = floor((L-1)/2) (`Centered`, numpy/scipy `convolve(f, h, 'same')`)
/// or c = 0 (`Causal`: the first n samples of the full convolution, a causal filter).
/// The adjoint is the correlation with the same rule, exactly the transpose:
/// \f$(A^T g)_j = \sum_k h_k\, g_{j - c + k}\f$ (g zero outside 0..n-1).
/// Direct loops over the taps, each vectorized over the whole n x B batch: O(n L B).
#include <string>

#include "varlearn/core/types.hpp"

namespace varlearn::ops {

enum class ConvAlignment {
  Centered,  ///< c = floor((L-1)/2): output sample i is centred on input sample i
  Causal,    ///< c = 0: output sample i sees inputs i-L+1 .. i
};
const char* to_string(ConvAlignment alignment);  ///< "centered", "causal"

class Conv {
public:
  /// Throws Error for n < 1, an empty kernel or non-finite taps.
  Conv(Index n, const Vector& kernel, ConvAlignment alignment = ConvAlignment::Centered);

  template <class T>
  MatrixT<T> apply(const MatrixT<T>& f) const;
  template <class T>
  MatrixT<T> adjoint(const MatrixT<T>& g) const;
  Index input_size() const { return n_; }
  Index output_size() const { return n_; }
  Index batch_size() const { return 0; }
  /// \f$\min(\|h\|_1, \; \max_{\text{grid}}|H| + \tfrac{\pi}{G}\sum_k |k-c||h_k|)^2\f$: Young's
  /// inequality, or the largest of \f$|H(\omega)| = |\sum_k h_k e^{-i\omega k}|\f$ on G = max(256,
  /// 32L) equispaced frequencies plus the derivative bound between grid points (\f$\|A\|\le
  /// \sup_\omega|H(\omega)|\f$ for the zero-padded Toeplitz section). Computed once.
  double norm_squared_bound() const { return norm_squared_bound_; }
  std::string describe() const;  ///< "conv (n = 37, L = 5, centered)"

  const Vector& kernel() const { return kernel_; }
  ConvAlignment alignment() const { return alignment_; }
  Index offset() const { return offset_; }  ///< c

private:
  Index n_;
  Vector kernel_;
  ConvAlignment alignment_;
  Index offset_;
  double norm_squared_bound_;
};

}  // namespace varlearn::ops
