#include "varlearn/ops/identity.hpp"

#include "varlearn/core/error.hpp"
#include "varlearn/ops/operator.hpp"

namespace varlearn::ops {

Identity::Identity(Index n) : n_(n) {
  require(n >= 1, "ops::Identity", std::string("n = ") + std::to_string(n) + " must be >= 1");
}

template <class T>
MatrixT<T> Identity::apply(const MatrixT<T>& f) const {
  if (f.rows() != n_) require_shape(f.rows(), f.cols(), n_, 0, "ops::Identity::apply", describe());
  return f;
}

template <class T>
MatrixT<T> Identity::adjoint(const MatrixT<T>& g) const {
  if (g.rows() != n_) require_shape(g.rows(), g.cols(), n_, 0, "ops::Identity::adjoint", describe());
  return g;
}

std::string Identity::describe() const { return std::string("identity (n = ") + std::to_string(n_) + ")"; }

template MatrixT<float> Identity::apply<float>(const MatrixT<float>&) const;
template MatrixT<double> Identity::apply<double>(const MatrixT<double>&) const;
template MatrixT<float> Identity::adjoint<float>(const MatrixT<float>&) const;
template MatrixT<double> Identity::adjoint<double>(const MatrixT<double>&) const;

}  // namespace varlearn::ops
