#include "varlearn/reg/quadratic.hpp"

#include "varlearn/core/error.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/spectral.hpp"
#include "varlearn/core/threads.hpp"

namespace varlearn::reg {

namespace {
// One thread below kMinParallelFlops (2 GEMMs of k x n by n x B): the bilevel lower level
// works on minibatches of 64 frames, where a two-thread GEMM waits at its barriers and, on a
// loaded machine, ran ~10x slower than one thread.
template <class M>
ScopedThreads threads_for(const M& r, Index frames) {
  return ScopedThreads(threads_for_flops(4.0 * double(r.rows()) * double(r.cols()) * double(frames)));
}
}  // namespace

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
  const ScopedThreads threads = threads_for(r_, f.cols());
  Mat u;
  gemm(T(1), r_, false, f, false, T(0), u);
  return T(0.5) * u.squaredNorm();
}
template <class T>
typename Quadratic<T>::Mat Quadratic<T>::gradient(const Mat& f) const {
  this->check_frames(f, "reg::Quadratic::gradient");
  const ScopedThreads threads = threads_for(r_, f.cols());
  return normal_product(f);
}
template <class T>
typename Quadratic<T>::Mat Quadratic<T>::hessian_product(const Mat& f, const Mat& v) const {
  this->check_frames(f, "reg::Quadratic::hessian_product", &v);
  const ScopedThreads threads = threads_for(r_, f.cols());
  return normal_product(v);
}
template <class T>
typename Quadratic<T>::Vec Quadratic<T>::parameter_gradient(const Mat& f) const {
  this->check_frames(f, "reg::Quadratic::parameter_gradient");
  const ScopedThreads threads = threads_for(r_, f.cols());
  Mat u, g;
  gemm(T(1), r_, false, f, false, T(0), u);
  gemm(T(1), u, false, f, true, T(0), g);
  return Eigen::Map<const Vec>(g.data(), g.size());
}
template <class T>
typename Quadratic<T>::Vec Quadratic<T>::mixed_product(const Mat& f, const Mat& w) const {
  this->check_frames(f, "reg::Quadratic::mixed_product", &w);
  const ScopedThreads threads = threads_for(r_, f.cols());
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
  const double s = spectral_norm(r_.template cast<double>());
  return s * s;
}

template class Quadratic<float>;
template class Quadratic<double>;

}  // namespace varlearn::reg
