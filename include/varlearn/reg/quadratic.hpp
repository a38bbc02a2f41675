#pragma once
/// \file quadratic.hpp
/// \f$R(F) = \tfrac12\|RF\|_F^2\f$ with learned \f$R\in\mathbb{R}^{k\times n}\f$: the talk's
/// family (learn::QuadraticModel's regularizer). \f$\theta = \mathrm{vec}(R)\f$ column-major,
/// the layout of learn's flat parameters.
#include "varlearn/reg/regularizer.hpp"

namespace varlearn::reg {

template <class T>
class Quadratic final : public Regularizer<T> {
public:
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;
  /// Throws Error if R is empty or not finite.
  explicit Quadratic(Mat r);
  const Mat& matrix() const { return r_; }

  Index dimension() const override { return r_.cols(); }
  T value(const Mat& f) const override;                              ///< \f$\tfrac12\|RF\|^2\f$
  Mat gradient(const Mat& f) const override;                         ///< \f$R^TRF\f$
  Mat hessian_product(const Mat& f, const Mat& v) const override;    ///< \f$R^TRV\f$
  Vec parameter_gradient(const Mat& f) const override;               ///< vec\f$((RF)F^T)\f$
  /// vec\f$((RW)F^T + (RF)W^T)\f$.
  Vec mixed_product(const Mat& f, const Mat& w) const override;
  Index num_parameters() const override { return r_.size(); }
  Vec parameters() const override;
  void set_parameters(const Vec& theta) override;
  std::string describe() const override;
  std::optional<double> hessian_bound() const override;  ///< \f$\|R\|_2^2\f$
  std::unique_ptr<Regularizer<T>> clone() const override { return std::make_unique<Quadratic>(*this); }

private:
  Mat normal_product(const Mat& v) const;  ///< R^T (R v)
  Mat r_;
};

extern template class Quadratic<float>;
extern template class Quadratic<double>;

}  // namespace varlearn::reg
