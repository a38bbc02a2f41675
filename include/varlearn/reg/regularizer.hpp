#pragma once
/// \file regularizer.hpp
/// The regularizer interface: \f$R_\theta(F) = \sum_b R_\theta(f_b)\f$ on a batch of frames
/// F (n x B, frames as columns), with the derivative kernels of bilevel and unrolled learning
/// (docs/regularizers.md): gradient, Hessian-vector product, parameter gradient and the mixed
/// product \f$(\partial_\theta\nabla_F R)^T W\f$. Parameters are one flat vector \f$\theta\f$
/// (what the optimizers see); each regularizer documents its layout. Templated on the scalar
/// type T (float or double, both instantiated): float32 for training speed, float64 for checks.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "varlearn/core/error.hpp"
#include "varlearn/core/types.hpp"

namespace varlearn::reg {

template <class T>
class Regularizer {
public:
  using Scalar = T;
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;

  virtual ~Regularizer() = default;

  /// n: the frame length the regularizer acts on.
  virtual Index dimension() const = 0;
  /// \f$R(F) = \sum_b R(f_b)\f$.
  virtual T value(const Mat& f) const = 0;
  /// \f$\nabla_F R\f$ (n x B).
  virtual Mat gradient(const Mat& f) const = 0;
  /// \f$\nabla^2_F R(F)\cdot V\f$, frame by frame (n x B).
  virtual Mat hessian_product(const Mat& f, const Mat& v) const = 0;
  /// \f$(V, \mathrm{out}) \mapsto \mathrm{out} = \nabla^2_F R(F)\cdot V\f$ (out resized) at a
  /// fixed F, for the many products of one CG solve: it keeps what does not depend on V (the
  /// analysis regularizers: \f$a\odot\varphi''(KF)\f$, one product with K less per call) and
  /// its scratch, and writes into the caller's buffer (no allocation per product). The default
  /// calls hessian_product on a copy of F. Valid while the regularizer lives and its parameters
  /// do not change; one caller at a time (a copy has its own scratch).
  virtual std::function<void(const Mat&, Mat&)> curvature_at(const Mat& f) const {
    return [this, f](const Mat& v, Mat& out) { out = hessian_product(f, v); };
  }
  /// \f$\partial_\theta R(F)\f$ (num_parameters()).
  virtual Vec parameter_gradient(const Mat& f) const = 0;
  /// \f$(\partial_\theta \nabla_F R(F))^T W = \partial_\theta \langle W, \nabla_F R(F)\rangle\f$
  /// (num_parameters()) for any W (n x B): the kernel of implicit differentiation and of each
  /// reverse step of an unrolled solver.
  virtual Vec mixed_product(const Mat& f, const Mat& w) const = 0;

  virtual Index num_parameters() const = 0;
  /// \f$\theta\f$ (flat; layout documented by each regularizer).
  virtual Vec parameters() const = 0;
  /// Sets \f$\theta\f$; throws Error on a wrong size or a non-finite entry.
  virtual void set_parameters(const Vec& theta) = 0;
  /// One line, e.g. "analysis(m=32, n=32, huber(eps=0.02), weights softplus)".
  virtual std::string describe() const = 0;
  /// An upper bound on \f$\sup_F \|\nabla^2_F R(F)\|_2\f$ (per frame), for stepsizes
  /// \f$\omega < 2/(\|A\|^2 + L_R)\f$; nullopt where none is known.
  virtual std::optional<double> hessian_bound() const = 0;
  virtual std::unique_ptr<Regularizer<T>> clone() const = 0;

protected:
  /// Throws Error unless f has dimension() rows (and w, if given, the shape of f).
  void check_frames(const Mat& f, const char* where, const Mat* w = nullptr) const {
    if (f.rows() != dimension())
      throw Error(std::string(where) + ": frames have " + std::to_string(f.rows()) + " rows, expected n = " +
                  std::to_string(dimension()));
    if (w != nullptr && (w->rows() != f.rows() || w->cols() != f.cols()))
      throw Error(std::string(where) + ": the direction is " + std::to_string(w->rows()) + " x " +
                  std::to_string(w->cols()) + ", expected " + std::to_string(f.rows()) + " x " +
                  std::to_string(f.cols()));
  }
};

}  // namespace varlearn::reg
