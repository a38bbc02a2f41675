#pragma once
/// \file foe.hpp
/// Fields of experts \f$R(f) = \sum_{j=1}^J a_j\sum_i\varphi((k_j * f)_i)\f$: J learned filters
/// of length L, applied by convolution \f$(k*f)_i = \sum_{l=0}^{L-1} k_l\,f_{i+s-l}\f$, with
///  - `valid`: s = L - 1, i = 0 .. n - L (M = n - L + 1 outputs, every term inside the frame);
///  - `same`: s = floor((L-1)/2), i = 0 .. n - 1 (M = n outputs), f_t = 0 outside 0..n-1.
/// The adjoint (transposed convolution) is the correlation \f$(K^Tp)_t = \sum_l k_l\,p_{t-s+l}\f$
/// over the outputs that exist (0 <= t-s+l < M): the same boundary rule exactly.
/// \f$\theta\f$ = [filters (filter j's L taps at j L .. j L + L - 1), \f$\beta\f$ (J), \f$\eta\f$ (if learned)].
///
/// Three exact implementations of the three convolution-like passes (apply K F, adjoint
/// \f$K^TP\f$, filter gradient \f$\partial_k\langle P, KF\rangle\f$), equal up to rounding:
///  - `direct`: one axpy of a row block per filter tap (the reference);
///  - `gemm`: lowered to matrix products per frame, through the Hankel view
///    \f$H_{i,l} = \tilde f_{i+l}\f$ (M x L, leading dimension 1, no copy) of the (padded) frame:
///    \f$U_b = H\,\tilde K^T\f$ (M x J, \f$\tilde K\f$ = filters reversed), \f$K^TP_b\f$ = col2im of
///    \f$P_b K\f$ (M x L), filter gradient \f$\sum_b P_b^T H\f$ (J x L);
///  - `fft`: FFTW real transforms of length N >= n + L - 1 (2^a 3^b 5^c): products of spectra.
/// `auto` picks by size (ConvMethod, docs/regularizers.md give the measured crossover).
#include <cstdint>
#include <vector>

#include "varlearn/core/names.hpp"
#include "varlearn/reg/analysis.hpp"

namespace varlearn::reg {

enum class Boundary { Valid, Same };
inline constexpr NameTable<Boundary, 2> kBoundaryNames{{{Boundary::Valid, "valid"}, {Boundary::Same, "same"}}};

/// How Foe evaluates its convolutions; every method gives the same numbers up to rounding.
enum class ConvMethod {
  Auto,    ///< choose_conv_method(n, L): gemm, fft from L = 192 (the measured crossover)
  Direct,  ///< per-tap row-block axpys (the reference, kept for the checks)
  Gemm,    ///< per-frame matrix products through the Hankel view of the frame
  Fft,     ///< FFTW real transforms of length N >= n + L - 1
};
inline constexpr NameTable<ConvMethod, 4> kConvMethodNames{{{ConvMethod::Auto, "auto"},
                                                            {ConvMethod::Direct, "direct"},
                                                            {ConvMethod::Gemm, "gemm"},
                                                            {ConvMethod::Fft, "fft"}}};

/// The method `ConvMethod::Auto` runs for frames of n samples and filters of L taps (never Auto).
ConvMethod choose_conv_method(Index n, Index length);
/// The FFT length Foe uses: the smallest 2^a 3^b 5^c >= n + L - 1 (no circular wrap) that is a
/// multiple of 8 (of the next power of two below 8).
Index conv_fft_length(Index n, Index length);

template <class T>
class Foe final : public AnalysisBase<T> {
public:
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;
  /// filters: J x L (row j = k_j). Throws Error if empty, not finite, L > n for `valid`,
  /// or weights has not J positive entries.
  Foe(Index n, Mat filters, const Vec& weights, Potential potential, Boundary boundary);
  /// J random filters scale * N(0,1)/sqrt(L) with zero mean (seeded), all weights `weight`.
  static Foe random(Index n, Index filters, Index length, Boundary boundary, Potential potential,
                    double weight = 1.0, double scale = 1.0, std::uint64_t seed = 1);

  const Mat& filters() const { return k_; }
  Boundary boundary() const { return boundary_; }
  /// M: outputs per filter and frame.
  Index outputs() const;
  Index dimension() const override { return n_; }
  /// U (J M x B): rows j M .. j M + M - 1 are k_j * f.
  Mat apply(const Mat& f) const override { return apply(f, method_); }
  Mat adjoint(const Mat& p) const override { return adjoint(p, method_); }
  /// U = K F by a given method (the checks compare the methods).
  Mat apply(const Mat& f, ConvMethod method) const;
  /// \f$K^T P\f$ (n x B) by a given method.
  Mat adjoint(const Mat& p, ConvMethod method) const;
  /// \f$\partial/\partial k_{j,l}\,\langle P, K F\rangle = \sum_{i,b}P_{jM+i,b}f_{i+s-l,b}\f$ (J L, filter
  /// j's taps at j L ..) by a given method.
  Vec filter_gradient(const Mat& p, const Mat& f, ConvMethod method) const;
  /// The method used by apply, adjoint and every derivative kernel (default Auto).
  ConvMethod method() const { return method_; }
  void set_method(ConvMethod method) { method_ = method; }
  /// What method() resolves to for this n and L (Auto replaced by choose_conv_method).
  ConvMethod resolved_method() const;

  /// The derivative kernels. With the gemm method they are fused per frame (K f_b, the
  /// potential, then K^T or the filter gradient on one frame's M x J block, frames over the
  /// threads: no J M x B temporaries); otherwise the engine's batch kernels (AnalysisBase).
  /// Both give the same numbers up to rounding.
  T value(const Mat& f) const override;
  Mat gradient(const Mat& f) const override;
  Mat hessian_product(const Mat& f, const Mat& v) const override;
  Vec parameter_gradient(const Mat& f) const override;
  Vec mixed_product(const Mat& f, const Mat& w) const override;
  std::string describe() const override;
  std::unique_ptr<Regularizer<T>> clone() const override { return std::make_unique<Foe>(*this); }

protected:
  Index rows_per_group() const override { return outputs(); }
  Index num_operator_parameters() const override { return k_.size(); }
  Vec operator_parameters() const override;
  void set_operator_parameters(const Eigen::Ref<const Vec>& k) override;
  Vec operator_gradient(const Mat& p, const Mat& f) const override { return filter_gradient(p, f, method_); }
  /// \f$\|K\|_2 \le \sqrt{\sum_j\|k_j\|_1^2}\f$ (Young: each filter's norm is at most \f$\|k_j\|_1\f$).
  double operator_norm_bound() const override;

private:
  Index shift() const;
  ConvMethod resolve(ConvMethod method) const;
  bool fused() const;
  Vec assemble(const Vec& taps, const std::vector<Matrix>& rest) const;
  Mat apply_direct(const Mat& f) const;
  Mat adjoint_direct(const Mat& p) const;
  Vec filter_gradient_direct(const Mat& p, const Mat& f) const;
  Mat apply_gemm(const Mat& f) const;
  Mat adjoint_gemm(const Mat& p) const;
  Vec filter_gradient_gemm(const Mat& p, const Mat& f) const;
  Mat apply_fft(const Mat& f) const;
  Mat adjoint_fft(const Mat& p) const;
  Vec filter_gradient_fft(const Mat& p, const Mat& f) const;
  Index n_;
  Mat k_;
  Boundary boundary_;
  ConvMethod method_ = ConvMethod::Auto;
};

extern template class Foe<float>;
extern template class Foe<double>;

}  // namespace varlearn::reg
