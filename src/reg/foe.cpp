#include "varlearn/reg/foe.hpp"

#include <cmath>

#include "varlearn/core/error.hpp"
#include "varlearn/core/random.hpp"

namespace varlearn::reg {

template <class T>
Foe<T>::Foe(Index n, Mat filters, const Vec& weights, Potential potential, Boundary boundary)
    : AnalysisBase<T>(potential, weights, "reg::Foe"), n_(n), k_(std::move(filters)), boundary_(boundary) {
  require(k_.size() > 0, "reg::Foe", "no filters");
  require(k_.allFinite(), "reg::Foe", "a filter has a non-finite tap");
  require(n >= 1, "reg::Foe", std::string("n = ") + std::to_string(n) + " must be >= 1");
  require(boundary != Boundary::Valid || k_.cols() <= n, "reg::Foe",
          std::string("filter length L = ") + std::to_string(k_.cols()) + " exceeds n = " + std::to_string(n) +
              " with the valid boundary rule");
  require(weights.size() == k_.rows(), "reg::Foe",
          std::string("weights has ") + std::to_string(weights.size()) + " entries, expected J = " +
              std::to_string(k_.rows()));
}

template <class T>
Foe<T> Foe<T>::random(Index n, Index filters, Index length, Boundary boundary, Potential potential, double weight,
                double scale, std::uint64_t seed) {
  require(filters >= 1 && length >= 1, "reg::Foe::random",
          std::string("need J >= 1 and L >= 1, got J = ") + std::to_string(filters) + ", L = " + std::to_string(length));
  Rng rng(seed);
  Matrix k = gaussian_matrix(filters, length, scale / std::sqrt(static_cast<double>(length)), rng);
  if (length > 1) k.colwise() -= k.rowwise().mean();  // zero mean: blind to constant signals
  return Foe(n, k.cast<T>(), Vec::Constant(filters, static_cast<T>(weight)), potential, boundary);
}

template <class T>
Index Foe<T>::outputs() const { return boundary_ == Boundary::Valid ? n_ - k_.cols() + 1 : n_; }
template <class T>
Index Foe<T>::shift() const { return boundary_ == Boundary::Valid ? k_.cols() - 1 : (k_.cols() - 1) / 2; }

// u_i = sum_l k_l f_{i+s-l}, terms with i+s-l outside 0..n-1 are zero.
template <class T>
typename Foe<T>::Mat Foe<T>::apply(const Mat& f) const {
  const Index m = outputs(), len = k_.cols(), s = shift();
  Mat u = Mat::Zero(k_.rows() * m, f.cols());
  for (Index j = 0; j < k_.rows(); ++j)
    for (Index l = 0; l < len; ++l) {
      // rows i with 0 <= i + s - l < n and 0 <= i < m
      const Index lo = std::max<Index>(0, l - s), hi = std::min<Index>(m, n_ - s + l);
      if (hi > lo) u.middleRows(j * m + lo, hi - lo) += k_(j, l) * f.middleRows(lo + s - l, hi - lo);
    }
  return u;
}

// (K^T p)_t = sum_l k_l p_{t-s+l}: the exact transpose of apply's index map.
template <class T>
typename Foe<T>::Mat Foe<T>::adjoint(const Mat& p) const {
  const Index m = outputs(), len = k_.cols(), s = shift();
  Mat out = Mat::Zero(n_, p.cols());
  for (Index j = 0; j < k_.rows(); ++j)
    for (Index l = 0; l < len; ++l) {
      const Index lo = std::max<Index>(0, l - s), hi = std::min<Index>(m, n_ - s + l);
      if (hi > lo) out.middleRows(lo + s - l, hi - lo) += k_(j, l) * p.middleRows(j * m + lo, hi - lo);
    }
  return out;
}

template <class T>
typename Foe<T>::Vec Foe<T>::operator_parameters() const {
  Vec k(k_.size());
  for (Index j = 0; j < k_.rows(); ++j) k.segment(j * k_.cols(), k_.cols()) = k_.row(j).transpose();
  return k;
}

template <class T>
void Foe<T>::set_operator_parameters(const Eigen::Ref<const Vec>& k) {
  for (Index j = 0; j < k_.rows(); ++j) k_.row(j) = k.segment(j * k_.cols(), k_.cols()).transpose();
}

// d/dk_{j,l} <P, K F> = sum_{i,b} P_{jM+i,b} f_{i+s-l,b} over the same index range as apply.
template <class T>
typename Foe<T>::Vec Foe<T>::operator_gradient(const Mat& p, const Mat& f) const {
  const Index m = outputs(), len = k_.cols(), s = shift();
  Vec g = Vec::Zero(k_.size());
  for (Index j = 0; j < k_.rows(); ++j)
    for (Index l = 0; l < len; ++l) {
      const Index lo = std::max<Index>(0, l - s), hi = std::min<Index>(m, n_ - s + l);
      if (hi > lo) g(j * len + l) = (p.middleRows(j * m + lo, hi - lo).array() *
                                     f.middleRows(lo + s - l, hi - lo).array()).sum();
    }
  return g;
}

template <class T>
double Foe<T>::operator_norm_bound() const {
  return std::sqrt(k_.template cast<double>().rowwise().template lpNorm<1>().squaredNorm());
}

template <class T>
std::string Foe<T>::describe() const {
  std::string s = "foe(J=";
  s.append(std::to_string(k_.rows()))
      .append(", L=")
      .append(std::to_string(k_.cols()))
      .append(", n=")
      .append(std::to_string(n_))
      .append(", ")
      .append(name_of(kBoundaryNames, boundary_))
      .append(", ")
      .append(this->describe_weights())
      .append(")");
  return s;
}

template class Foe<float>;
template class Foe<double>;

}  // namespace varlearn::reg
