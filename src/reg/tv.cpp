#include "varlearn/reg/tv.hpp"

#include "varlearn/core/error.hpp"

namespace varlearn::reg {

template <class T>
Tv<T>::Tv(Index n, double weight, Potential potential)
    : AnalysisBase<T>(potential, Vec::Constant(1, static_cast<T>(weight)), "reg::Tv"), n_(n) {
  require(n >= 2, "reg::Tv", std::string("n = ") + std::to_string(n) + " must be >= 2");
}

template <class T>
typename Tv<T>::Mat Tv<T>::apply(const Mat& f) const {
  return f.bottomRows(n_ - 1) - f.topRows(n_ - 1);
}

template <class T>
typename Tv<T>::Mat Tv<T>::adjoint(const Mat& p) const {
  Mat out = Mat::Zero(n_, p.cols());
  out.bottomRows(n_ - 1) += p;
  out.topRows(n_ - 1) -= p;
  return out;
}

template <class T>
std::string Tv<T>::describe() const {
  std::string s = "tv(n=";
  s.append(std::to_string(n_)).append(", ").append(this->describe_weights()).append(")");
  return s;
}

template class Tv<float>;
template class Tv<double>;

}  // namespace varlearn::reg
