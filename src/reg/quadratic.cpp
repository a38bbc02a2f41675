#include "varlearn/reg/quadratic.hpp"

#include <Eigen/SVD>

#include "varlearn/core/error.hpp"
#include "varlearn/core/gemm.hpp"

namespace varlearn::reg {

template <class T>
Quadratic<T>::Quadratic(Mat r) : r_(std::move(r)) {
  require(r_.size() > 0, "reg::Quadratic", "R is empty");
  require(r_.allFinite(), "reg::Quadratic", "R has a non-finite entry");
}

// R^T (R v): the gradient and the Hessian-vector product (core/gemm.hpp's backend choice).
template <class T>
typename Quadratic<T>::Mat Quadratic<T>::normal_product(const Mat& v) const {
  Mat u, out;
  gemm(T(1), r_, false, v, false, T(0), u);
  gemm(T(1), r_, true, u, false, T(0), out);
  return out;
}
template <class T>
T Quadratic<T>::value(const Mat& f) const {
  this->check_frames(f, "reg::Quadratic::value");
  Mat u;
  gemm(T(1), r_, false, f, false, T(0), u);
  return T(0.5) * u.squaredNorm();
}
template <class T>
typename Quadratic<T>::Mat Quadratic<T>::gradient(const Mat& f) const {
  this->check_frames(f, "reg::Quadratic::gradient");
  return normal_product(f);
}
template <class T>
typename Quadratic<T>::Mat Quadratic<T>::hessian_product(const Mat& f, const Mat& v) const {
  this->check_frames(f, "reg::Quadratic::hessian_product", &v);
  return normal_product(v);
}
template <class T>
typename Quadratic<T>::Vec Quadratic<T>::parameter_gradient(const Mat& f) const {
  this->check_frames(f, "reg::Quadratic::parameter_gradient");
  Mat u, g;
  gemm(T(1), r_, false, f, false, T(0), u);
  gemm(T(1), u, false, f, true, T(0), g);
  return Eigen::Map<const Vec>(g.data(), g.size());
}
template <class T>
typename Quadratic<T>::Vec Quadratic<T>::mixed_product(const Mat& f, const Mat& w) const {
  this->check_frames(f, "reg::Quadratic::mixed_product", &w);
  Mat u, g;
  gemm(T(1), r_, false, w, false, T(0), u);
  gemm(T(1), u, false, f, true, T(0), g);
  gemm(T(1), r_, false, f, false, T(0), u);
  gemm(T(1), u, false, w, true, T(1), g);
  return Eigen::Map<const Vec>(g.data(), g.size());
}
template <class T>
typename Quadratic<T>::Vec Quadratic<T>::parameters() const {
  return Eigen::Map<const Vec>(r_.data(), r_.size());
}
template <class T>
void Quadratic<T>::set_parameters(const Vec& theta) {
  require(theta.size() == r_.size(), "reg::Quadratic::set_parameters",
          std::string("theta has ") + std::to_string(theta.size()) + " entries, expected " + std::to_string(r_.size()));
  require(theta.allFinite(), "reg::Quadratic::set_parameters", "theta has a non-finite entry");
  r_ = Eigen::Map<const Mat>(theta.data(), r_.rows(), r_.cols());
}
template <class T>
std::string Quadratic<T>::describe() const {
  return std::string("quadratic(k=") + std::to_string(r_.rows()) + ", n=" + std::to_string(r_.cols()) + ")";
}
template <class T>
std::optional<double> Quadratic<T>::hessian_bound() const {
  const double s = Eigen::JacobiSVD<Matrix>(r_.template cast<double>()).singularValues()(0);
  return s * s;
}

template class Quadratic<float>;
template class Quadratic<double>;

}  // namespace varlearn::reg
