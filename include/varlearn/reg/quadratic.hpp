#pragma once
/// \file quadratic.hpp
/// \f$R(F) = \tfrac12\|RF\|_F^2\f$ with learned \f$R\in\mathbb{R}^{k\times n}\f$: the talk's
/// family (learn::QuadraticModel's regularizer). \f$\theta = \mathrm{vec}(R)\f$ column-major,
/// the layout of learn's flat parameters.
#include "varlearn/reg/regularizer.hpp"

namespace varlearn::reg {

class Quadratic final : public Regularizer {
public:
  /// Throws Error if R is empty or not finite.
  explicit Quadratic(Matrix r);
  const Matrix& matrix() const { return r_; }

  Index dimension() const override { return r_.cols(); }
  double value(const Matrix& f) const override;                        ///< \f$\tfrac12\|RF\|^2\f$
  Matrix gradient(const Matrix& f) const override;                     ///< \f$R^TRF\f$
  Matrix hessian_product(const Matrix& f, const Matrix& v) const override;  ///< \f$R^TRV\f$
  Vector parameter_gradient(const Matrix& f) const override;           ///< vec\f$((RF)F^T)\f$
  /// vec\f$((RW)F^T + (RF)W^T)\f$.
  Vector mixed_product(const Matrix& f, const Matrix& w) const override;
  Index num_parameters() const override { return r_.size(); }
  Vector parameters() const override;
  void set_parameters(const Vector& theta) override;
  std::string describe() const override;
  std::optional<double> hessian_bound() const override;  ///< \f$\|R\|_2^2\f$
  std::unique_ptr<Regularizer> clone() const override { return std::make_unique<Quadratic>(*this); }

private:
  Matrix r_;
};

}  // namespace varlearn::reg
