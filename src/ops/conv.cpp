#include "varlearn/ops/conv.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/names.hpp"
#include "varlearn/ops/operator.hpp"

namespace varlearn::ops {
namespace {

constexpr NameTable<ConvAlignment, 2> kAlignmentNames{
    {{ConvAlignment::Centered, "centered"}, {ConvAlignment::Causal, "causal"}}};

/// Upper bound of sup_w |H(w)|, H(w) = sum_k h_k e^{-i w k}: the largest |H| on G equispaced
/// frequencies plus (pi / G) times the Lipschitz constant sum_k |k - (L-1)/2| |h_k| of |H|
/// (every frequency is within pi / G of the grid). Twiddles from one table (index g k mod G).
double symbol_sup_bound(const Vector& h) {
  const Index length = h.size();
  const Index grid = std::max<Index>(256, 32 * length);
  std::vector<double> c(static_cast<size_t>(grid)), s(static_cast<size_t>(grid));
  for (Index g = 0; g < grid; ++g) {
    const double w = 2 * std::numbers::pi * static_cast<double>(g) / static_cast<double>(grid);
    c[static_cast<size_t>(g)] = std::cos(w);
    s[static_cast<size_t>(g)] = std::sin(w);
  }
  double grid_max = 0;
  for (Index g = 0; g < grid; ++g) {
    double re = 0, im = 0;
    Index phase = 0;  // g k mod G
    for (Index k = 0; k < length; ++k) {
      re += h(k) * c[static_cast<size_t>(phase)];
      im -= h(k) * s[static_cast<size_t>(phase)];
      phase = (phase + g) % grid;
    }
    grid_max = std::max(grid_max, std::hypot(re, im));
  }
  double lipschitz = 0;
  const double mid = 0.5 * static_cast<double>(length - 1);
  for (Index k = 0; k < length; ++k) lipschitz += std::abs(static_cast<double>(k) - mid) * std::abs(h(k));
  return grid_max + std::numbers::pi / static_cast<double>(grid) * lipschitz;
}

}  // namespace

const char* to_string(ConvAlignment alignment) { return name_of(kAlignmentNames, alignment); }

Conv::Conv(Index n, const Vector& kernel, ConvAlignment alignment)
    : n_(n), kernel_(kernel), alignment_(alignment), offset_(0), norm_squared_bound_(0) {
  require(n >= 1, "ops::Conv", std::string("n = ") + std::to_string(n) + " must be >= 1");
  require(kernel.size() >= 1, "ops::Conv", "empty kernel (L = 0 taps)");
  require(kernel.allFinite(), "ops::Conv", "kernel has NaN/inf taps");
  offset_ = alignment == ConvAlignment::Centered ? (kernel.size() - 1) / 2 : 0;
  const double bound = std::min(kernel.lpNorm<1>(), symbol_sup_bound(kernel));
  norm_squared_bound_ = bound * bound;
}

// (A f)_i = sum_k h_k f_{i + c - k}: for tap k the output rows [lo, hi) read input rows
// [lo + c - k, hi + c - k), clipped to 0..n-1 (zero padding). Column by column, so that a
// frame stays in L1 across the L taps.
template <class T>
MatrixT<T> Conv::apply(const MatrixT<T>& f) const {
  if (f.rows() != n_) require_shape(f.rows(), f.cols(), n_, 0, "ops::Conv::apply", describe());
  MatrixT<T> out = MatrixT<T>::Zero(n_, f.cols());
  const VectorT<T> h = kernel_.cast<T>();
  for (Index j = 0; j < f.cols(); ++j)
    for (Index k = 0; k < h.size(); ++k) {
      const Index lo = std::max<Index>(0, k - offset_), hi = std::min<Index>(n_, n_ + k - offset_);
      if (hi > lo) out.col(j).segment(lo, hi - lo) += h(k) * f.col(j).segment(lo + offset_ - k, hi - lo);
    }
  return out;
}

// (A^T g)_j = sum_k h_k g_{j - c + k}: the correlation with the same clipping.
template <class T>
MatrixT<T> Conv::adjoint(const MatrixT<T>& g) const {
  if (g.rows() != n_) require_shape(g.rows(), g.cols(), n_, 0, "ops::Conv::adjoint", describe());
  MatrixT<T> out = MatrixT<T>::Zero(n_, g.cols());
  const VectorT<T> h = kernel_.cast<T>();
  for (Index j = 0; j < g.cols(); ++j)
    for (Index k = 0; k < h.size(); ++k) {
      const Index lo = std::max<Index>(0, offset_ - k), hi = std::min<Index>(n_, n_ + offset_ - k);
      if (hi > lo) out.col(j).segment(lo, hi - lo) += h(k) * g.col(j).segment(lo + k - offset_, hi - lo);
    }
  return out;
}

std::string Conv::describe() const {
  std::string s = "conv (n = ";
  s.append(std::to_string(n_)).append(", L = ").append(std::to_string(kernel_.size())).append(", ");
  s.append(to_string(alignment_)).append(")");
  return s;
}

template MatrixT<float> Conv::apply<float>(const MatrixT<float>&) const;
template MatrixT<double> Conv::apply<double>(const MatrixT<double>&) const;
template MatrixT<float> Conv::adjoint<float>(const MatrixT<float>&) const;
template MatrixT<double> Conv::adjoint<double>(const MatrixT<double>&) const;

}  // namespace varlearn::ops
