#include "varlearn/general/energy.hpp"

#include <string>

#include "varlearn/core/error.hpp"

namespace varlearn::general {

Energy::Energy(ops::Operator a, const reg::Regularizer<double>& r, Matrix g)
    : a_(std::move(a)), regularizer_(r.clone()), g_(std::move(g)) {
  if (!a_) throw Error("general::Energy: no forward operator");
  if (a_.input_size() != r.dimension())
    throw Error(std::string("general::Energy: the operator takes n = ") + std::to_string(a_.input_size()) +
                ", the regularizer n = " + std::to_string(r.dimension()));
  ops::require_shape(g_.rows(), g_.cols(), a_.output_size(), a_.batch_size(), "general::Energy observations",
                     a_.describe());
  if (g_.cols() == 0) throw Error("general::Energy: the observations have no frames");
  if (!g_.allFinite()) throw Error("general::Energy: the observations are not finite");
}

Energy::Energy(const Energy& other) : a_(other.a_), regularizer_(other.regularizer_->clone()), g_(other.g_) {}

Energy& Energy::operator=(const Energy& other) {
  if (this != &other) {
    a_ = other.a_;
    regularizer_ = other.regularizer_->clone();
    g_ = other.g_;
  }
  return *this;
}

void Energy::check(const Matrix& f, const char* where, const Matrix* v) const {
  if (f.rows() != dimension() || f.cols() != batch())
    throw Error(std::string(where) + ": frames are " + std::to_string(f.rows()) + " x " + std::to_string(f.cols()) +
                ", expected " + std::to_string(dimension()) + " x " + std::to_string(batch()));
  if (v != nullptr && (v->rows() != f.rows() || v->cols() != f.cols()))
    throw Error(std::string(where) + ": the direction is " + std::to_string(v->rows()) + " x " +
                std::to_string(v->cols()) + ", expected " + std::to_string(f.rows()) + " x " +
                std::to_string(f.cols()));
}

double Energy::value(const Matrix& f) const {
  check(f, "general::Energy::value");
  return 0.5 * (a_.apply(f) - g_).squaredNorm() + regularizer_->value(f);
}

Matrix Energy::gradient(const Matrix& f) const {
  check(f, "general::Energy::gradient");
  return a_.adjoint(Matrix(a_.apply(f) - g_)) + regularizer_->gradient(f);
}

Matrix Energy::hessian_product(const Matrix& f, const Matrix& v) const {
  check(f, "general::Energy::hessian_product", &v);
  return a_.normal(v) + regularizer_->hessian_product(f, v);
}

Vector Energy::mixed_product(const Matrix& f, const Matrix& w) const {
  check(f, "general::Energy::mixed_product", &w);
  return regularizer_->mixed_product(f, w);
}

Matrix Energy::adjoint_observations() const { return a_.adjoint(g_); }

}  // namespace varlearn::general
