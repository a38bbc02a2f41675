#include "varlearn/reg/tv.hpp"

#include "varlearn/core/error.hpp"

namespace varlearn::reg {

Tv::Tv(Index n, double weight, Potential potential)
    : AnalysisBase(potential, Vector::Constant(1, weight), "reg::Tv"), n_(n) {
  require(n >= 2, "reg::Tv", std::string("n = ") + std::to_string(n) + " must be >= 2");
}

Matrix Tv::apply(const Matrix& f) const {
  return f.bottomRows(n_ - 1) - f.topRows(n_ - 1);
}

Matrix Tv::adjoint(const Matrix& p) const {
  Matrix out = Matrix::Zero(n_, p.cols());
  out.bottomRows(n_ - 1) += p;
  out.topRows(n_ - 1) -= p;
  return out;
}

std::string Tv::describe() const {
  std::string s = "tv(n=";
  s.append(std::to_string(n_)).append(", ").append(describe_weights()).append(")");
  return s;
}

}  // namespace varlearn::reg
