#pragma once
/// \file foe.hpp
/// Fields of experts \f$R(f) = \sum_{j=1}^J a_j\sum_i\varphi((k_j * f)_i)\f$: J learned filters
/// of length L, applied by convolution \f$(k*f)_i = \sum_{l=0}^{L-1} k_l\,f_{i+s-l}\f$, with
///  - `valid`: s = L - 1, i = 0 .. n - L (M = n - L + 1 outputs, every term inside the frame);
///  - `same`: s = floor((L-1)/2), i = 0 .. n - 1 (M = n outputs), f_t = 0 outside 0..n-1.
/// The adjoint (transposed convolution) is the correlation \f$(K^Tp)_t = \sum_l k_l\,p_{t-s+l}\f$
/// over the outputs that exist (0 <= t-s+l < M): the same boundary rule exactly.
/// \f$\theta\f$ = [filters (filter j's L taps at j L .. j L + L - 1), \f$\beta\f$ (J), \f$\eta\f$ (if learned)].
#include <cstdint>

#include "varlearn/core/names.hpp"
#include "varlearn/reg/analysis.hpp"

namespace varlearn::reg {

enum class Boundary { Valid, Same };
inline constexpr NameTable<Boundary, 2> kBoundaryNames{{{Boundary::Valid, "valid"}, {Boundary::Same, "same"}}};

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
  Mat apply(const Mat& f) const override;
  Mat adjoint(const Mat& p) const override;
  std::string describe() const override;
  std::unique_ptr<Regularizer<T>> clone() const override { return std::make_unique<Foe>(*this); }

protected:
  Index rows_per_group() const override { return outputs(); }
  Index num_operator_parameters() const override { return k_.size(); }
  Vec operator_parameters() const override;
  void set_operator_parameters(const Eigen::Ref<const Vec>& k) override;
  Vec operator_gradient(const Mat& p, const Mat& f) const override;
  /// \f$\|K\|_2 \le \sqrt{\sum_j\|k_j\|_1^2}\f$ (Young: each filter's norm is at most \f$\|k_j\|_1\f$).
  double operator_norm_bound() const override;

private:
  Index shift() const;
  Index n_;
  Mat k_;
  Boundary boundary_;
};

extern template class Foe<float>;
extern template class Foe<double>;

}  // namespace varlearn::reg
