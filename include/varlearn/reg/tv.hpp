#pragma once
/// \file tv.hpp
/// (Smoothed) total variation \f$R(f) = a\sum_{i=0}^{n-2}\varphi(f_{i+1}-f_i)\f$ with one learned
/// weight \f$a = \mathrm{softplus}(\beta)\f$ (huber by default): the classic parameter-learning
/// problem. The analysis engine with the fixed first-difference K ((n-1) x n, \f$\|K\|_2\le 2\f$).
/// \f$\theta\f$ = [\f$\beta\f$, \f$\eta\f$ (if ε is learned)].
#include "varlearn/reg/analysis.hpp"

namespace varlearn::reg {

template <class T>
class Tv final : public AnalysisBase<T> {
public:
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;
  /// Throws Error unless n >= 2 and weight > 0.
  Tv(Index n, double weight, Potential potential);
  Index dimension() const override { return n_; }
  /// \f$(KF)_i = f_{i+1} - f_i\f$, (n-1) x B.
  Mat apply(const Mat& f) const override;
  /// \f$(K^TP)_t = P_{t-1} - P_t\f$ (terms outside 0..n-2 are 0).
  Mat adjoint(const Mat& p) const override;
  std::string describe() const override;
  std::unique_ptr<Regularizer<T>> clone() const override { return std::make_unique<Tv>(*this); }

protected:
  Index rows_per_group() const override { return n_ - 1; }
  Index num_operator_parameters() const override { return 0; }
  Vec operator_parameters() const override { return {}; }
  void set_operator_parameters(const Eigen::Ref<const Vec>&) override {}
  Vec operator_gradient(const Mat&, const Mat&) const override { return {}; }
  double operator_norm_bound() const override { return 2.0; }

private:
  Index n_;
};

extern template class Tv<float>;
extern template class Tv<double>;

}  // namespace varlearn::reg
