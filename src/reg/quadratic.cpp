#include "varlearn/reg/quadratic.hpp"

#include <Eigen/SVD>

#include "varlearn/core/error.hpp"

namespace varlearn::reg {

Quadratic::Quadratic(Matrix r) : r_(std::move(r)) {
  require(r_.size() > 0, "reg::Quadratic", "R is empty");
  require(r_.allFinite(), "reg::Quadratic", "R has a non-finite entry");
}

double Quadratic::value(const Matrix& f) const {
  check_frames(f, "reg::Quadratic::value");
  return 0.5 * (r_ * f).squaredNorm();
}
Matrix Quadratic::gradient(const Matrix& f) const {
  check_frames(f, "reg::Quadratic::gradient");
  return r_.transpose() * (r_ * f);
}
Matrix Quadratic::hessian_product(const Matrix& f, const Matrix& v) const {
  check_frames(f, "reg::Quadratic::hessian_product", &v);
  return r_.transpose() * (r_ * v);
}
Vector Quadratic::parameter_gradient(const Matrix& f) const {
  check_frames(f, "reg::Quadratic::parameter_gradient");
  const Matrix g = (r_ * f) * f.transpose();
  return Eigen::Map<const Vector>(g.data(), g.size());
}
Vector Quadratic::mixed_product(const Matrix& f, const Matrix& w) const {
  check_frames(f, "reg::Quadratic::mixed_product", &w);
  const Matrix g = (r_ * w) * f.transpose() + (r_ * f) * w.transpose();
  return Eigen::Map<const Vector>(g.data(), g.size());
}
Vector Quadratic::parameters() const { return Eigen::Map<const Vector>(r_.data(), r_.size()); }
void Quadratic::set_parameters(const Vector& theta) {
  require(theta.size() == r_.size(), "reg::Quadratic::set_parameters",
          std::string("theta has ") + std::to_string(theta.size()) + " entries, expected " + std::to_string(r_.size()));
  require(theta.allFinite(), "reg::Quadratic::set_parameters", "theta has a non-finite entry");
  r_ = Eigen::Map<const Matrix>(theta.data(), r_.rows(), r_.cols());
}
std::string Quadratic::describe() const {
  return std::string("quadratic(k=") + std::to_string(r_.rows()) + ", n=" + std::to_string(r_.cols()) + ")";
}
std::optional<double> Quadratic::hessian_bound() const {
  const double s = Eigen::JacobiSVD<Matrix>(r_).singularValues()(0);
  return s * s;
}

}  // namespace varlearn::reg
