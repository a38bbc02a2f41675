#include "varlearn/dequant/dct.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numbers>
#include <string>

#include "varlearn/core/error.hpp"
#include "varlearn/core/threads.hpp"

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

// Default path by n. Measured (us per frame of CPU time, float64, one thread, forward, n x B
// batch; the machine shared with other builds) with
//   cmake --build build --target bench_dequant && build/bench_dequant --benchmark_filter=Dct
//              GEMM   per-frame GEMM   FFT (Makhoul, Eigen kissfft)   FFTW REDFT10
//   n =  64    0.13   0.13             0.48                           0.30          -> GEMM
//   n = 320    2.99   6.72             1.78                           1.59          -> FFTW
// FFTW's own DCT beat the Makhoul reordering through kissfft at both sizes (no complex
// half-spectrum pass, no twiddles), so that path is gone; at n = 64 one GEMM over the whole
// batch still wins (O(n^2) work, but at full BLAS speed, against n scalar FFTW calls).
// An earlier timing found GEMM ahead of kissfft up to n = 256, so the switch stays at 320.
const Index kDctFastMinSize = 320;

namespace {
template <class T> struct Fftw;
template <> struct Fftw<double> {
  using Plan = fftw_plan;
  static Plan plan(int n, fftw_r2r_kind kind) {
    double* buf = fftw_alloc_real(size_t(n));
    Plan p = fftw_plan_r2r_1d(n, buf, buf, kind, FFTW_ESTIMATE);
    fftw_free(buf);
    return p;
  }
  static void execute(Plan p, double* inout) { fftw_execute_r2r(p, inout, inout); }
  static void destroy(Plan p) { fftw_destroy_plan(p); }
  static double* alloc(size_t n) { return fftw_alloc_real(n); }
  static void free(double* p) { fftw_free(p); }
};
template <> struct Fftw<float> {
  using Plan = fftwf_plan;
  static Plan plan(int n, fftw_r2r_kind kind) {
    float* buf = fftwf_alloc_real(size_t(n));
    Plan p = fftwf_plan_r2r_1d(n, buf, buf, kind, FFTW_ESTIMATE);
    fftwf_free(buf);
    return p;
  }
  static void execute(Plan p, float* inout) { fftwf_execute_r2r(p, inout, inout); }
  static void destroy(Plan p) { fftwf_destroy_plan(p); }
  static float* alloc(size_t n) { return fftwf_alloc_real(n); }
  static void free(float* p) { fftwf_free(p); }
};
}  // namespace

// In-place plans on an aligned buffer: each call copies a column into its own aligned scratch
// (thread-safe, and the plan's alignment assumptions hold), transforms, scales back out.
template <class T> struct Dct<T>::FftwPlans {
  using F = Fftw<T>;
  typename F::Plan forward = nullptr, inverse = nullptr;
  explicit FftwPlans(Index n) {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    forward = F::plan(int(n), FFTW_REDFT10);
    inverse = F::plan(int(n), FFTW_REDFT01);
    if (!forward || !inverse) throw Error("dequant::Dct: FFTW could not plan a length-" + std::to_string(n) + " DCT",
                                          Error::Kind::Internal);
  }
  ~FftwPlans() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    if (forward) F::destroy(forward);
    if (inverse) F::destroy(inverse);
  }
  FftwPlans(const FftwPlans&) = delete;
  FftwPlans& operator=(const FftwPlans&) = delete;
};

template <class T> Dct<T>::Dct(Index n) : c_(dct_matrix<T>(n)), fftw_(std::make_shared<const FftwPlans>(n)) {}

namespace {
void check_rows(Index rows, Index n, const char* where, const char* what) {
  require(rows == n, where,
          std::string(what) + " have " + std::to_string(rows) + " rows, transform size is " + std::to_string(n));
}
}  // namespace

template <class T> MatrixT<T> Dct<T>::forward(const MatrixT<T>& frames) const {
  return uses_fast() ? forward_fftw(frames) : forward_gemm(frames);
}

template <class T> MatrixT<T> Dct<T>::inverse(const MatrixT<T>& coefficients) const {
  return uses_fast() ? inverse_fftw(coefficients) : inverse_gemm(coefficients);
}

template <class T> MatrixT<T> Dct<T>::forward_gemm(const MatrixT<T>& frames) const {
  check_rows(frames.rows(), size(), "dequant::Dct::forward", "frames");
  return c_ * frames;
}

template <class T> MatrixT<T> Dct<T>::inverse_gemm(const MatrixT<T>& coefficients) const {
  check_rows(coefficients.rows(), size(), "dequant::Dct::inverse", "coefficients");
  return c_.transpose() * coefficients;
}

template <class T> MatrixT<T> Dct<T>::forward_fftw(const MatrixT<T>& frames) const {
  check_rows(frames.rows(), size(), "dequant::Dct::forward", "frames");
  const Index n = size();
  // X_0 = Y_0 / (2 sqrt(n)), X_k = Y_k / sqrt(2n).
  const T a0 = static_cast<T>(0.5L / std::sqrt(static_cast<long double>(n))),
          a = static_cast<T>(1.0L / std::sqrt(2.0L * n));
  using F = Fftw<T>;
  T* buf = F::alloc(size_t(n));
  MatrixT<T> out(n, frames.cols());
  for (Index c = 0; c < frames.cols(); ++c) {
    std::copy_n(frames.col(c).data(), n, buf);
    F::execute(fftw_->forward, buf);
    T* y = out.col(c).data();
    y[0] = a0 * buf[0];
    for (Index k = 1; k < n; ++k) y[k] = a * buf[k];
  }
  F::free(buf);
  return out;
}

template <class T> MatrixT<T> Dct<T>::inverse_fftw(const MatrixT<T>& coefficients) const {
  check_rows(coefficients.rows(), size(), "dequant::Dct::inverse", "coefficients");
  const Index n = size();
  // Z_0 = X_0 / sqrt(n), Z_k = X_k / sqrt(2n); S_j = Z_0 + 2 sum_k Z_k cos(pi k (j + 1/2) / n).
  const T b0 = static_cast<T>(1.0L / std::sqrt(static_cast<long double>(n))),
          b = static_cast<T>(1.0L / std::sqrt(2.0L * n));
  using F = Fftw<T>;
  T* buf = F::alloc(size_t(n));
  MatrixT<T> out(n, coefficients.cols());
  for (Index c = 0; c < coefficients.cols(); ++c) {
    const T* x = coefficients.col(c).data();
    buf[0] = b0 * x[0];
    for (Index k = 1; k < n; ++k) buf[k] = b * x[k];
    F::execute(fftw_->inverse, buf);
    std::copy_n(buf, n, out.col(c).data());
  }
  F::free(buf);
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
