#include "varlearn/reg/foe.hpp"

#include <fftw3.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <mutex>
#include <new>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/threads.hpp"

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

// ---------------------------------------------------------------- direct (the reference)

// u_i = sum_l k_l f_{i+s-l}, terms with i+s-l outside 0..n-1 are zero.
template <class T>
typename Foe<T>::Mat Foe<T>::apply_direct(const Mat& f) const {
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
typename Foe<T>::Mat Foe<T>::adjoint_direct(const Mat& p) const {
  const Index m = outputs(), len = k_.cols(), s = shift();
  Mat out = Mat::Zero(n_, p.cols());
  for (Index j = 0; j < k_.rows(); ++j)
    for (Index l = 0; l < len; ++l) {
      const Index lo = std::max<Index>(0, l - s), hi = std::min<Index>(m, n_ - s + l);
      if (hi > lo) out.middleRows(lo + s - l, hi - lo) += k_(j, l) * p.middleRows(j * m + lo, hi - lo);
    }
  return out;
}

// d/dk_{j,l} <P, K F> = sum_{i,b} P_{jM+i,b} f_{i+s-l,b} over the same index range as apply.
template <class T>
typename Foe<T>::Vec Foe<T>::filter_gradient_direct(const Mat& p, const Mat& f) const {
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

// ---------------------------------------------------------------- method choice

// Measured with bench_reg (docs/regularizers.md): CROSSOVER_NOTE
ConvMethod choose_conv_method(Index n, Index length) {
  (void)n;
  return length <= 1 ? ConvMethod::Direct : ConvMethod::Gemm;
}

Index conv_fft_length(Index n, Index length) {
  Index size = std::max<Index>(1, n + length - 1);
  for (;; ++size) {
    Index r = size;
    for (Index p : {2, 3, 5})
      while (r % p == 0) r /= p;
    if (r == 1) return size;
  }
}

template <class T>
ConvMethod Foe<T>::resolve(ConvMethod method) const {
  return method == ConvMethod::Auto ? choose_conv_method(n_, k_.cols()) : method;
}
template <class T>
ConvMethod Foe<T>::resolved_method() const { return resolve(method_); }

template <class T>
typename Foe<T>::Mat Foe<T>::apply(const Mat& f, ConvMethod method) const {
  this->check_frames(f, "reg::Foe::apply");
  switch (resolve(method)) {
    case ConvMethod::Gemm: return apply_gemm(f);
    case ConvMethod::Fft: return apply_fft(f);
    default: return apply_direct(f);
  }
}

template <class T>
typename Foe<T>::Mat Foe<T>::adjoint(const Mat& p, ConvMethod method) const {
  require(p.rows() == k_.rows() * outputs(), "reg::Foe::adjoint",
          std::string("P has ") + std::to_string(p.rows()) + " rows, expected J M = " +
              std::to_string(k_.rows() * outputs()));
  switch (resolve(method)) {
    case ConvMethod::Gemm: return adjoint_gemm(p);
    case ConvMethod::Fft: return adjoint_fft(p);
    default: return adjoint_direct(p);
  }
}

template <class T>
typename Foe<T>::Vec Foe<T>::filter_gradient(const Mat& p, const Mat& f, ConvMethod method) const {
  this->check_frames(f, "reg::Foe::filter_gradient");
  require(p.rows() == k_.rows() * outputs() && p.cols() == f.cols(), "reg::Foe::filter_gradient",
          std::string("P is ") + std::to_string(p.rows()) + " x " + std::to_string(p.cols()) + ", expected " +
              std::to_string(k_.rows() * outputs()) + " x " + std::to_string(f.cols()));
  switch (resolve(method)) {
    case ConvMethod::Gemm: return filter_gradient_gemm(p, f);
    case ConvMethod::Fft: return filter_gradient_fft(p, f);
    default: return filter_gradient_direct(p, f);
  }
}

namespace {

// Frames 0..count-1 split into one contiguous range per OpenMP thread: body(thread, first, last).
// One thread below kMinParallelFlops of work (then Eigen's GEMM stays serial too: inside a team
// of several threads it never forks). Exceptions come back to the caller.
template <class Body>
void for_frame_ranges(Index count, double flops, Body&& body) {
  const ScopedThreads threads(threads_for_flops(flops));
  ExceptionCapture capture;
#pragma omp parallel
  {
    const Index t = omp_get_thread_num(), team = omp_get_num_threads();
    capture.run(t, [&] { body(t, count * t / team, count * (t + 1) / team); });
  }
  capture.rethrow_if_failed();
}

// The Hankel view H_{i,l} = x_{i+l} (rows x cols, leading dimension 1): a GEMM operand without a copy.
template <class T>
using HankelMap = Eigen::Map<const MatrixT<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

}  // namespace

// ---------------------------------------------------------------- GEMM lowering
// Reversing the taps, u_i = sum_l k_{L-1-l} x_{i+l} with x the frame padded by L-1-s zeros in
// front (s behind; none for valid): per frame U_b (M x J) = H Krev^T, H the M x L Hankel view
// of x. Flops: 2 J L M per frame for each of the three passes.

template <class T>
typename Foe<T>::Mat Foe<T>::apply_gemm(const Mat& f) const {
  const Index m = outputs(), len = k_.cols(), groups = k_.rows(), front = len - 1 - shift();
  const bool padded = m + len - 1 != n_ || front > 0;
  const Mat krev_t = k_.rowwise().reverse().transpose();  // L x J
  Mat u(groups * m, f.cols());
  for_frame_ranges(f.cols(), 2.0 * static_cast<double>(groups * len * m * f.cols()), [&](Index, Index first, Index last) {
    Vec x = Vec::Zero(padded ? m + len - 1 : 0);
    for (Index b = first; b < last; ++b) {
      const T* data = f.col(b).data();
      if (padded) {
        x.segment(front, n_) = f.col(b);
        data = x.data();
      }
      const HankelMap<T> h(data, m, len, Eigen::OuterStride<>(1));
      Eigen::Map<Mat>(u.col(b).data(), m, groups).noalias() = h * krev_t;  // column j = rows j M .. of u
    }
  });
  return u;
}

// Y = P_b K (M x L), then col2im: (K^T p)_{i+s-l} += Y_{i,l} over the outputs that exist.
template <class T>
typename Foe<T>::Mat Foe<T>::adjoint_gemm(const Mat& p) const {
  const Index m = outputs(), len = k_.cols(), groups = k_.rows(), s = shift();
  Mat out = Mat::Zero(n_, p.cols());
  for_frame_ranges(p.cols(), 2.0 * static_cast<double>(groups * len * m * p.cols()), [&](Index, Index first, Index last) {
    Mat y(m, len);
    for (Index b = first; b < last; ++b) {
      y.noalias() = Eigen::Map<const Mat>(p.col(b).data(), m, groups) * k_;
      auto o = out.col(b);
      for (Index l = 0; l < len; ++l) {
        const Index lo = std::max<Index>(0, l - s), hi = std::min<Index>(m, n_ - s + l);
        if (hi > lo) o.segment(lo + s - l, hi - lo) += y.col(l).segment(lo, hi - lo);
      }
    }
  });
  return out;
}

// Sum over frames of P_b^T H (J x L, taps reversed); per-thread sums in double.
template <class T>
typename Foe<T>::Vec Foe<T>::filter_gradient_gemm(const Mat& p, const Mat& f) const {
  const Index m = outputs(), len = k_.cols(), groups = k_.rows(), front = len - 1 - shift();
  const bool padded = m + len - 1 != n_ || front > 0;
  const double flops = 2.0 * static_cast<double>(groups * len * m * f.cols());
  std::vector<Matrix> sums(static_cast<std::size_t>(std::max(1, omp_get_max_threads())), Matrix::Zero(groups, len));
  for_frame_ranges(f.cols(), flops, [&](Index t, Index first, Index last) {
    Vec x = Vec::Zero(padded ? m + len - 1 : 0);
    Mat g(groups, len);
    for (Index b = first; b < last; ++b) {
      const T* data = f.col(b).data();
      if (padded) {
        x.segment(front, n_) = f.col(b);
        data = x.data();
      }
      const HankelMap<T> h(data, m, len, Eigen::OuterStride<>(1));
      g.noalias() = Eigen::Map<const Mat>(p.col(b).data(), m, groups).transpose() * h;
      sums[static_cast<std::size_t>(t)] += g.template cast<double>();
    }
  });
  Matrix total = Matrix::Zero(groups, len);
  for (const Matrix& part : sums) total += part;
  Vec out(k_.size());
  for (Index j = 0; j < groups; ++j)
    for (Index l = 0; l < len; ++l) out(j * len + l) = static_cast<T>(total(j, len - 1 - l));
  return out;
}

// ---------------------------------------------------------------- FFT
// Real transforms of length N >= n + L - 1 (no circular wrap; the spectra carry 1/N):
//   apply:    c_j = IDFT(K_j^ F^), u_{j,i} = c_j[i+s]           (full convolution, then the rows kept)
//   adjoint:  K^T p = IDFT(sum_j conj(K_j^) Q_j^), q_j[i+s] = p_{j,i} (correlation)
//   gradient: dk_j = IDFT(sum_b Q_{j,b}^ conj(F_b^))[0 .. L-1]  (cross-correlation, summed in frequency)
namespace {

std::mutex& fftw_planner_mutex() {  // FFTW's planner is not thread-safe; its execute calls are
  static std::mutex m;
  return m;
}

template <class T> struct Fftw;
template <> struct Fftw<double> {
  using Plan = fftw_plan;
  using Raw = fftw_complex;
  static Plan r2c(int n, double* in, Raw* out) { return fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE); }
  static Plan c2r(int n, Raw* in, double* out) { return fftw_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE); }
  static void forward(Plan p, double* in, Raw* out) { fftw_execute_dft_r2c(p, in, out); }
  static void inverse(Plan p, Raw* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
  static void destroy(Plan p) { fftw_destroy_plan(p); }
  static void* alloc(std::size_t bytes) { return fftw_malloc(bytes); }
  static void free(void* p) { fftw_free(p); }
};
template <> struct Fftw<float> {
  using Plan = fftwf_plan;
  using Raw = fftwf_complex;
  static Plan r2c(int n, float* in, Raw* out) { return fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE); }
  static Plan c2r(int n, Raw* in, float* out) { return fftwf_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE); }
  static void forward(Plan p, float* in, Raw* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void inverse(Plan p, Raw* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
  static void destroy(Plan p) { fftwf_destroy_plan(p); }
  static void* alloc(std::size_t bytes) { return fftwf_malloc(bytes); }
  static void free(void* p) { fftwf_free(p); }
};

// One thread's FFTW-aligned scratch: a real buffer (N) and a half spectrum (N/2 + 1).
template <class T>
struct FftScratch {
  using F = Fftw<T>;
  using C = std::complex<T>;
  Index size;
  T* real;
  C* spectrum;
  explicit FftScratch(Index n)
      : size(n),
        real(static_cast<T*>(F::alloc(sizeof(T) * static_cast<std::size_t>(n)))),
        spectrum(static_cast<C*>(F::alloc(sizeof(C) * static_cast<std::size_t>(n / 2 + 1)))) {
    if (real == nullptr || spectrum == nullptr) {
      release();
      throw std::bad_alloc();
    }
    std::fill(real, real + n, T(0));
  }
  ~FftScratch() { release(); }
  FftScratch(const FftScratch&) = delete;
  FftScratch& operator=(const FftScratch&) = delete;
  void release() {
    if (real) F::free(real);
    if (spectrum) F::free(spectrum);
    real = nullptr;
    spectrum = nullptr;
  }
  typename F::Raw* raw() { return reinterpret_cast<typename F::Raw*>(spectrum); }
  Eigen::Map<VectorT<C>> spectrum_map() { return Eigen::Map<VectorT<C>>(spectrum, size / 2 + 1); }
};

// The two plans of length N, made on aligned scratch (so execution on any FftScratch is valid).
template <class T>
struct FftPlans {
  using F = Fftw<T>;
  typename F::Plan forward = nullptr, inverse = nullptr;
  explicit FftPlans(Index n) {
    FftScratch<T> scratch(n);
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    forward = F::r2c(static_cast<int>(n), scratch.real, scratch.raw());
    inverse = F::c2r(static_cast<int>(n), scratch.raw(), scratch.real);
    if (!forward || !inverse) {
      release_locked();
      throw Error("reg::Foe: FFTW could not plan a length-" + std::to_string(n) + " transform", Error::Kind::Internal);
    }
  }
  ~FftPlans() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    release_locked();
  }
  FftPlans(const FftPlans&) = delete;
  FftPlans& operator=(const FftPlans&) = delete;
  void release_locked() {
    if (forward) F::destroy(forward);
    if (inverse) F::destroy(inverse);
    forward = inverse = nullptr;
  }
  // spectrum = DFT(real); the real buffer is kept
  void dft(FftScratch<T>& s) const { F::forward(forward, s.real, s.raw()); }
  // real = IDFT(spectrum) (unnormalized); the spectrum is overwritten
  void idft(FftScratch<T>& s) const { F::inverse(inverse, s.raw(), s.real); }
};

// Filter spectra K_j^ / N (H x J).
template <class T>
MatrixT<std::complex<T>> filter_spectra(const MatrixT<T>& k, Index size, const FftPlans<T>& plans) {
  FftScratch<T> s(size);
  MatrixT<std::complex<T>> out(size / 2 + 1, k.rows());
  for (Index j = 0; j < k.rows(); ++j) {
    std::fill(s.real, s.real + size, T(0));
    for (Index l = 0; l < k.cols(); ++l) s.real[l] = k(j, l);
    plans.dft(s);
    out.col(j) = s.spectrum_map() / static_cast<T>(size);
  }
  return out;
}

}  // namespace

template <class T>
typename Foe<T>::Mat Foe<T>::apply_fft(const Mat& f) const {
  const Index m = outputs(), len = k_.cols(), groups = k_.rows(), s = shift();
  const Index size = conv_fft_length(n_, len);
  const FftPlans<T> plans(size);
  const MatrixT<std::complex<T>> kspec = filter_spectra<T>(k_, size, plans);
  Mat u(groups * m, f.cols());
  for_frame_ranges(f.cols(), 2.0 * static_cast<double>(groups * len * m * f.cols()), [&](Index, Index first, Index last) {
    FftScratch<T> x(size), c(size);
    VectorT<std::complex<T>> fhat(size / 2 + 1);
    for (Index b = first; b < last; ++b) {
      std::copy(f.col(b).data(), f.col(b).data() + n_, x.real);  // the tail stays zero
      plans.dft(x);
      fhat = x.spectrum_map();
      for (Index j = 0; j < groups; ++j) {
        c.spectrum_map() = fhat.cwiseProduct(kspec.col(j));
        plans.idft(c);
        std::copy(c.real + s, c.real + s + m, u.col(b).data() + j * m);
      }
    }
  });
  return u;
}

template <class T>
typename Foe<T>::Mat Foe<T>::adjoint_fft(const Mat& p) const {
  const Index m = outputs(), len = k_.cols(), groups = k_.rows(), s = shift();
  const Index size = conv_fft_length(n_, len);
  const FftPlans<T> plans(size);
  const MatrixT<std::complex<T>> kspec = filter_spectra<T>(k_, size, plans).conjugate();
  Mat out(n_, p.cols());
  for_frame_ranges(p.cols(), 2.0 * static_cast<double>(groups * len * m * p.cols()), [&](Index, Index first, Index last) {
    FftScratch<T> q(size), acc(size);
    for (Index b = first; b < last; ++b) {
      acc.spectrum_map().setZero();
      for (Index j = 0; j < groups; ++j) {
        std::copy(p.col(b).data() + j * m, p.col(b).data() + (j + 1) * m, q.real + s);  // zero elsewhere
        plans.dft(q);
        acc.spectrum_map() += q.spectrum_map().cwiseProduct(kspec.col(j));
      }
      plans.idft(acc);
      std::copy(acc.real, acc.real + n_, out.col(b).data());
    }
  });
  return out;
}

template <class T>
typename Foe<T>::Vec Foe<T>::filter_gradient_fft(const Mat& p, const Mat& f) const {
  using Cd = std::complex<double>;
  const Index m = outputs(), len = k_.cols(), groups = k_.rows(), s = shift();
  const Index size = conv_fft_length(n_, len), half = size / 2 + 1;
  const FftPlans<T> plans(size);
  std::vector<MatrixT<Cd>> sums(static_cast<std::size_t>(std::max(1, omp_get_max_threads())),
                                MatrixT<Cd>::Zero(half, groups));
  for_frame_ranges(f.cols(), 2.0 * static_cast<double>(groups * len * m * f.cols()), [&](Index t, Index first, Index last) {
    FftScratch<T> x(size), q(size);
    VectorT<std::complex<T>> fconj(half);
    MatrixT<Cd>& sum = sums[static_cast<std::size_t>(t)];
    for (Index b = first; b < last; ++b) {
      std::copy(f.col(b).data(), f.col(b).data() + n_, x.real);
      plans.dft(x);
      fconj = x.spectrum_map().conjugate();
      for (Index j = 0; j < groups; ++j) {
        std::copy(p.col(b).data() + j * m, p.col(b).data() + (j + 1) * m, q.real + s);
        plans.dft(q);
        sum.col(j) += q.spectrum_map().cwiseProduct(fconj).template cast<Cd>();
      }
    }
  });
  MatrixT<Cd> total = MatrixT<Cd>::Zero(half, groups);
  for (const MatrixT<Cd>& part : sums) total += part;
  Vec out(k_.size());
  FftScratch<T> g(size);
  for (Index j = 0; j < groups; ++j) {
    g.spectrum_map() = (total.col(j) / static_cast<double>(size)).template cast<std::complex<T>>();
    plans.idft(g);
    for (Index l = 0; l < len; ++l) out(j * len + l) = g.real[l];
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
