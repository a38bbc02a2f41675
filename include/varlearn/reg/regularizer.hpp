#pragma once
/// \file regularizer.hpp
/// The regularizer interface: \f$R_\theta(F) = \sum_b R_\theta(f_b)\f$ on a batch of frames
/// F (n x B, frames as columns), with the derivative kernels of bilevel and unrolled learning
/// (docs/regularizers.md): gradient, Hessian-vector product, parameter gradient and the mixed
/// product \f$(\partial_\theta\nabla_F R)^T W\f$. Parameters are one flat vector \f$\theta\f$
/// (what the optimizers see); each regularizer documents its layout.
#include <memory>
#include <optional>
#include <string>

#include "varlearn/core/types.hpp"

namespace varlearn::reg {

class Regularizer {
public:
  virtual ~Regularizer() = default;

  /// n: the frame length the regularizer acts on.
  virtual Index dimension() const = 0;
  /// \f$R(F) = \sum_b R(f_b)\f$.
  virtual double value(const Matrix& f) const = 0;
  /// \f$\nabla_F R\f$ (n x B).
  virtual Matrix gradient(const Matrix& f) const = 0;
  /// \f$\nabla^2_F R(F)\cdot V\f$, frame by frame (n x B).
  virtual Matrix hessian_product(const Matrix& f, const Matrix& v) const = 0;
  /// \f$\partial_\theta R(F)\f$ (num_parameters()).
  virtual Vector parameter_gradient(const Matrix& f) const = 0;
  /// \f$(\partial_\theta \nabla_F R(F))^T W = \partial_\theta \langle W, \nabla_F R(F)\rangle\f$
  /// (num_parameters()) for any W (n x B): the kernel of implicit differentiation and of each
  /// reverse step of an unrolled solver.
  virtual Vector mixed_product(const Matrix& f, const Matrix& w) const = 0;

  virtual Index num_parameters() const = 0;
  /// \f$\theta\f$ (flat; layout documented by each regularizer).
  virtual Vector parameters() const = 0;
  /// Sets \f$\theta\f$; throws Error on a wrong size or a non-finite entry.
  virtual void set_parameters(const Vector& theta) = 0;
  /// One line, e.g. "analysis(m=32, n=32, huber(eps=0.02), weights softplus)".
  virtual std::string describe() const = 0;
  /// An upper bound on \f$\sup_F \|\nabla^2_F R(F)\|_2\f$ (per frame), for stepsizes
  /// \f$\omega < 2/(\|A\|^2 + L_R)\f$; nullopt where none is known.
  virtual std::optional<double> hessian_bound() const = 0;
  virtual std::unique_ptr<Regularizer> clone() const = 0;

protected:
  /// Throws Error unless f has dimension() rows (and w, if given, the shape of f).
  void check_frames(const Matrix& f, const char* where, const Matrix* w = nullptr) const;
};

}  // namespace varlearn::reg
