#include "varlearn/dequant/dct.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include <unsupported/Eigen/FFT>

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

// Default path by n. Measured (us per frame, float64, one core, forward) with
//   cmake -S . -B build-dct -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build-dct bench_dequant &&
//   ./build-dct/bench_dequant --benchmark_filter=Dct
//              GEMM   per-frame   FFT (forward_fast)
//   n =  64    0.12   0.11        0.49    -> GEMM
//   n = 320    2.93   8.27        1.89    -> FFT
// A one-off timing of the same two calls at n = 96, 128, 160, 192, 256 still had GEMM ahead
// (kissfft's cost is not monotone in n: 256 was slower than 320), so the FFT path is the
// default only from the measured n = 320 on; GEMM's O(n^2) per frame only grows beyond it.
const Index kDctFastMinSize = 320;

template <class T> Dct<T>::Dct(Index n) : c_(dct_matrix<T>(n)) {
  const long double pi = std::numbers::pi_v<long double>;
  twiddle_.resize(static_cast<std::size_t>(n / 2 + 1));
  for (Index k = 0; k <= n / 2; ++k) {
    const long double t = -pi * k / (2.0L * n);
    twiddle_[static_cast<std::size_t>(k)] =
        std::complex<T>(static_cast<T>(std::cos(t)), static_cast<T>(std::sin(t)));
  }
}

namespace {
void check_rows(Index rows, Index n, const char* where, const char* what) {
  require(rows == n, where,
          std::string(what) + " have " + std::to_string(rows) + " rows, transform size is " + std::to_string(n));
}
}  // namespace

template <class T> MatrixT<T> Dct<T>::forward(const MatrixT<T>& frames) const {
  return uses_fast() ? forward_fast(frames) : forward_gemm(frames);
}

template <class T> MatrixT<T> Dct<T>::inverse(const MatrixT<T>& coefficients) const {
  return uses_fast() ? inverse_fast(coefficients) : inverse_gemm(coefficients);
}

template <class T> MatrixT<T> Dct<T>::forward_gemm(const MatrixT<T>& frames) const {
  check_rows(frames.rows(), size(), "dequant::Dct::forward", "frames");
  return c_ * frames;
}

template <class T> MatrixT<T> Dct<T>::inverse_gemm(const MatrixT<T>& coefficients) const {
  check_rows(coefficients.rows(), size(), "dequant::Dct::inverse", "coefficients");
  return c_.transpose() * coefficients;
}

// Unnormalized Y_k = sum_j x_j cos(pi (2j+1) k / (2n)) = Re(W_k), W_k = e^{-i pi k/(2n)} V_k.
// V is Hermitian (v real), so W_{n-k} = -i conj(W_k): Y_{n-k} = -Im(W_k). Hence half the
// spectrum (k = 0..n/2) gives every Y, and inversely V_k = e^{i pi k/(2n)} (Y_k - i Y_{n-k}).
template <class T> MatrixT<T> Dct<T>::forward_fast(const MatrixT<T>& frames) const {
  check_rows(frames.rows(), size(), "dequant::Dct::forward", "frames");
  if (size() == 1) return frames;  // C = [1]; kissfft cannot plan a length-1 FFT
  const Index n = size(), half = n / 2;
  const T a0 = static_cast<T>(std::sqrt(1.0L / n)), a = static_cast<T>(std::sqrt(2.0L / n));
  Eigen::FFT<T> fft;
  fft.SetFlag(Eigen::FFT<T>::HalfSpectrum);
  std::vector<T> v(static_cast<std::size_t>(n));
  std::vector<std::complex<T>> spec(static_cast<std::size_t>(half + 1));
  MatrixT<T> out(n, frames.cols());
  for (Index c = 0; c < frames.cols(); ++c) {
    const T* x = frames.col(c).data();
    for (Index m = 0; 2 * m < n; ++m) v[m] = x[2 * m];
    for (Index m = 0; 2 * m + 1 < n; ++m) v[n - 1 - m] = x[2 * m + 1];
    fft.fwd(spec.data(), v.data(), n);
    T* y = out.col(c).data();
    y[0] = a0 * spec[0].real();
    for (Index k = 1; k <= half; ++k) {
      const std::complex<T> w = twiddle_[k] * spec[k];
      y[k] = a * w.real();
      y[n - k] = -a * w.imag();  // k = n/2 (n even): the same value again
    }
  }
  return out;
}

template <class T> MatrixT<T> Dct<T>::inverse_fast(const MatrixT<T>& coefficients) const {
  check_rows(coefficients.rows(), size(), "dequant::Dct::inverse", "coefficients");
  if (size() == 1) return coefficients;
  const Index n = size(), half = n / 2;
  // Undo alpha_k; the FFT's inverse scales by 1/n.
  const T b0 = static_cast<T>(std::sqrt(static_cast<long double>(n))),
          b = static_cast<T>(std::sqrt(n / 2.0L));
  Eigen::FFT<T> fft;
  fft.SetFlag(Eigen::FFT<T>::HalfSpectrum);
  std::vector<T> v(static_cast<std::size_t>(n));
  std::vector<std::complex<T>> spec(static_cast<std::size_t>(half + 1));
  MatrixT<T> out(n, coefficients.cols());
  for (Index c = 0; c < coefficients.cols(); ++c) {
    const T* y = coefficients.col(c).data();
    spec[0] = std::complex<T>(b0 * y[0], T(0));
    for (Index k = 1; k <= half; ++k)
      spec[k] = std::conj(twiddle_[k]) * std::complex<T>(b * y[k], -b * y[n - k]);
    fft.inv(v.data(), spec.data(), n);
    T* x = out.col(c).data();
    for (Index m = 0; 2 * m < n; ++m) x[2 * m] = v[m];
    for (Index m = 0; 2 * m + 1 < n; ++m) x[2 * m + 1] = v[n - 1 - m];
  }
  return out;
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
