#pragma once
/// \file energy.hpp
/// The lower-level energy of general learning (docs/general.md):
/// \f$E(F;\theta) = \tfrac12\|AF - G\|_F^2 + R_\theta(F)\f$ for a forward operator A
/// (ops::Operator), a regularizer \f$R_\theta\f$ (reg::Regularizer<double>) and observations
/// G (m x B), with the derivative kernels that unrolled and bilevel learning need. float64.
#include <memory>

#include "varlearn/core/types.hpp"
#include "varlearn/ops/operator.hpp"
#include "varlearn/reg/regularizer.hpp"

namespace varlearn::general {

class Energy {
public:
  /// Clones r (the energy owns its regularizer; set_parameters() changes only this copy).
  /// Throws Error unless A is set, A's input size is R's dimension and G is m x B with
  /// m = A's output size (and B accepted by A).
  Energy(ops::Operator a, const reg::Regularizer<double>& r, Matrix g);
  Energy(const Energy& other);
  Energy& operator=(const Energy& other);
  Energy(Energy&&) noexcept = default;
  Energy& operator=(Energy&&) noexcept = default;
  ~Energy() = default;

  /// \f$E(F)\f$.
  double value(const Matrix& f) const;
  /// \f$\nabla_F E = A^T(AF - G) + \nabla R(F)\f$ (n x B).
  Matrix gradient(const Matrix& f) const;
  /// \f$\nabla^2_F E\cdot V = A^TAV + \nabla^2R(F)V\f$ (n x B).
  Matrix hessian_product(const Matrix& f, const Matrix& v) const;
  /// \f$(\partial_\theta\nabla_F E(F))^T W = (\partial_\theta\nabla_F R(F))^T W\f$ (the data
  /// term does not depend on \f$\theta\f$).
  Vector mixed_product(const Matrix& f, const Matrix& w) const;
  /// \f$A^TG\f$ (n x B): the adjoint start of the unrolled solver.
  Matrix adjoint_observations() const;

  Index dimension() const { return regularizer_->dimension(); }  ///< n
  Index batch() const { return g_.cols(); }                       ///< B
  const ops::Operator& op() const { return a_; }
  const Matrix& observations() const { return g_; }
  const reg::Regularizer<double>& regularizer() const { return *regularizer_; }
  /// \f$\theta\f$ of the owned regularizer.
  Vector parameters() const { return regularizer_->parameters(); }
  void set_parameters(const Vector& theta) { regularizer_->set_parameters(theta); }
  Index num_parameters() const { return regularizer_->num_parameters(); }

private:
  void check(const Matrix& f, const char* where, const Matrix* v = nullptr) const;
  ops::Operator a_;
  std::unique_ptr<reg::Regularizer<double>> regularizer_;
  Matrix g_;
};

}  // namespace varlearn::general
