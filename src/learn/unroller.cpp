#include "unroller.hpp"

namespace varlearn::learn::detail {

template <class Real>
MatrixT<Real> unrolled_forward(const MatrixT<Real>& r, const std::vector<Real>& omega,
                               const MatrixT<Real>& x) {
  Unroller<Real> un(r, omega, 2 * r.rows() > r.cols(), Unroller<Real>::kNoCheckpoints);
  return un.forward(Frames<Real>(x.data(), x.rows(), x.cols()));
}

template MatrixT<float> unrolled_forward(const MatrixT<float>&, const std::vector<float>&, const MatrixT<float>&);
template MatrixT<double> unrolled_forward(const MatrixT<double>&, const std::vector<double>&, const MatrixT<double>&);

}  // namespace varlearn::learn::detail
