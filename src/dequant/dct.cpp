#include "varlearn/dequant/dct.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "varlearn/core/error.hpp"

namespace varlearn::dequant {

template <class T> MatrixT<T> dct_matrix(Index n) {
  require(n >= 1, "dequant::dct_matrix", "frame length n = " + std::to_string(n) + " must be >= 1");
  MatrixT<T> c(n, n);
  const long double pi = std::numbers::pi_v<long double>;
  const long double a0 = std::sqrt(1.0L / n), a = std::sqrt(2.0L / n);
  for (Index k = 0; k < n; ++k)
    for (Index j = 0; j < n; ++j) {
      // Reduce the angle's integer part exactly: (2j+1)k mod 4n, so large n stays accurate.
      const long long m = ((2LL * j + 1) * k) % (4LL * n);
      c(k, j) = static_cast<T>((k == 0 ? a0 : a) * std::cos(pi * m / (2.0L * n)));
    }
  return c;
}

template <class T> Dct<T>::Dct(Index n) : c_(dct_matrix<T>(n)) {}

template <class T> MatrixT<T> Dct<T>::forward(const MatrixT<T>& frames) const {
  require(frames.rows() == size(), "dequant::Dct::forward",
          "frames have " + std::to_string(frames.rows()) + " rows, transform size is " + std::to_string(size()));
  return c_ * frames;
}

template <class T> MatrixT<T> Dct<T>::inverse(const MatrixT<T>& coefficients) const {
  require(coefficients.rows() == size(), "dequant::Dct::inverse",
          "coefficients have " + std::to_string(coefficients.rows()) + " rows, transform size is " +
              std::to_string(size()));
  return c_.transpose() * coefficients;
}

double orthogonality_error(const Matrix& q) {
  require(q.rows() == q.cols(), "dequant::orthogonality_error", "matrix is not square");
  return (q.transpose() * q - Matrix::Identity(q.rows(), q.cols())).cwiseAbs().maxCoeff();
}

template MatrixT<float> dct_matrix<float>(Index);
template MatrixT<double> dct_matrix<double>(Index);
template class Dct<float>;
template class Dct<double>;

}  // namespace varlearn::dequant
