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
#include "varlearn/core/numerics.hpp"
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

// Measured with bench_reg (BM_Crossover, BM_StepCrossover; float32, one thread, J = 24, B = 256;
// direct-equivalent GFLOP/s; the table is in docs/regularizers.md): gemm beats the direct loops
// at every size (L = 1: 11.2 vs 8.0 at n = 320; L = 16: 58 vs 16) and the fft at L = 32 (68 vs
// 21); on the whole step (gemm fused) gemm still leads at L = 128 (72 vs 62 at n = 320, 74 vs 58
// at n = 1024); at L = 192 the fft leads at n = 320 (91 vs 80) and ties at n = 1024 (82 vs 82);
// at L = 256 it leads at both (110 vs 86, 109 vs 86). The direct loops stay for the checks.
ConvMethod choose_conv_method(Index /*n*/, Index length) {
  return length >= 192 ? ConvMethod::Fft : ConvMethod::Gemm;
}

// 5-smooth and, above 8, a multiple of 8: FFTW's ESTIMATE plans for odd-heavy lengths such as
// 1125 = 3^2 5^3 or 1215 = 3^5 5 ran 2-3x slower than for 1152 or 1280.
Index conv_fft_length(Index n, Index length) {
  const Index need = std::max<Index>(1, n + length - 1);
  Index step = 1;
  while (step < 8 && step < need) step *= 2;
  for (Index size = (need + step - 1) / step * step;; size += step) {
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

}  // namespace

// ---------------------------------------------------------------- GEMM lowering
// Reversing the taps, u_i = sum_l k_{L-1-l} x_{i+l} with x the frame padded by L-1-s zeros in
// front (s behind; none for valid): per frame U_b (M x J) = H Krev^T, H the M x L Hankel view
// of x; K^T P_b = col2im of P_b K (M x L); the filter gradient sum_b P_b^T H (J x L, reversed).
// Flops: 2 J L M per frame for each of the three passes.
namespace {

template <class T>
class Lowering {
public:
  using Mat = MatrixT<T>;
  using Vec = VectorT<T>;
  /// One thread's scratch: the padded frame, P_b K, P_b^T H.
  struct Scratch {
    Vec x;
    Mat y, g;
  };
  Lowering(Index n, const Mat& k, Index outputs, Index shift)
      : n_(n), m_(outputs), len_(k.cols()), groups_(k.rows()), s_(shift), front_(len_ - 1 - shift),
        padded_(outputs + len_ - 1 != n || front_ > 0), k_(k), krev_t_(k.rowwise().reverse().transpose()) {}
  Scratch scratch() const { return {Vec::Zero(padded_ ? m_ + len_ - 1 : 0), Mat(m_, len_), Mat(groups_, len_)}; }
  double pass_flops(Index frames) const { return 2.0 * static_cast<double>(groups_ * len_ * m_ * frames); }

  /// u (M x J, column j = k_j * frame) for one frame of n samples.
  void apply(const T* frame, T* u, Scratch& s) const {
    Eigen::Map<Mat>(u, m_, groups_).noalias() = hankel(frame, s) * krev_t_;
  }
  /// out (n) = K^T p for one frame's responses p (M x J).
  void adjoint(const T* p, T* out, Scratch& s) const {
    s.y.noalias() = Eigen::Map<const Mat>(p, m_, groups_) * k_;
    Eigen::Map<Vec> o(out, n_);
    o.setZero();
    for (Index l = 0; l < len_; ++l) {
      const Index lo = std::max<Index>(0, l - s_), hi = std::min<Index>(m_, n_ - s_ + l);
      if (hi > lo) o.segment(lo + s_ - l, hi - lo) += s.y.col(l).segment(lo, hi - lo);
    }
  }
  /// sum (J x L, taps reversed, double) += P_b^T H for one frame.
  void add_filter_gradient(const T* p, const T* frame, Scratch& s, Matrix& sum) const {
    s.g.noalias() = Eigen::Map<const Mat>(p, m_, groups_).transpose() * hankel(frame, s);
    sum += s.g.template cast<double>();
  }
  /// The per-thread sums in θ's layout (filter j's taps at j L + l).
  Vec taps(const std::vector<Matrix>& sums) const {
    Matrix total = Matrix::Zero(groups_, len_);
    for (const Matrix& part : sums) total += part;
    Vec out(groups_ * len_);
    for (Index j = 0; j < groups_; ++j)
      for (Index l = 0; l < len_; ++l) out(j * len_ + l) = static_cast<T>(total(j, len_ - 1 - l));
    return out;
  }

private:
  // The Hankel view H_{i,l} = x_{i+l} (M x L, leading dimension 1): a GEMM operand without a copy.
  Eigen::Map<const Mat, Eigen::Unaligned, Eigen::OuterStride<>> hankel(const T* frame, Scratch& s) const {
    if (padded_) {
      std::copy(frame, frame + n_, s.x.data() + front_);
      frame = s.x.data();
    }
    return {frame, m_, len_, Eigen::OuterStride<>(1)};
  }
  Index n_, m_, len_, groups_, s_, front_;
  bool padded_;
  const Mat& k_;
  Mat krev_t_;  // L x J
};

std::vector<Matrix> per_thread(Index rows, Index cols) {
  return std::vector<Matrix>(static_cast<std::size_t>(std::max(1, omp_get_max_threads())), Matrix::Zero(rows, cols));
}

}  // namespace

template <class T>
typename Foe<T>::Mat Foe<T>::apply_gemm(const Mat& f) const {
  const Lowering<T> low(n_, k_, outputs(), shift());
  Mat u(k_.rows() * outputs(), f.cols());
  for_frame_ranges(f.cols(), low.pass_flops(f.cols()), [&](Index, Index first, Index last) {
    auto s = low.scratch();
    for (Index b = first; b < last; ++b) low.apply(f.col(b).data(), u.col(b).data(), s);
  });
  return u;
}

template <class T>
typename Foe<T>::Mat Foe<T>::adjoint_gemm(const Mat& p) const {
  const Lowering<T> low(n_, k_, outputs(), shift());
  Mat out(n_, p.cols());
  for_frame_ranges(p.cols(), low.pass_flops(p.cols()), [&](Index, Index first, Index last) {
    auto s = low.scratch();
    for (Index b = first; b < last; ++b) low.adjoint(p.col(b).data(), out.col(b).data(), s);
  });
  return out;
}

template <class T>
typename Foe<T>::Vec Foe<T>::filter_gradient_gemm(const Mat& p, const Mat& f) const {
  const Lowering<T> low(n_, k_, outputs(), shift());
  std::vector<Matrix> sums = per_thread(k_.rows(), k_.cols());
  for_frame_ranges(f.cols(), low.pass_flops(f.cols()), [&](Index t, Index first, Index last) {
    auto s = low.scratch();
    Matrix& sum = sums[static_cast<std::size_t>(t)];
    for (Index b = first; b < last; ++b) low.add_filter_gradient(p.col(b).data(), f.col(b).data(), s, sum);
  });
  return low.taps(sums);
}

// ---------------------------------------------------------------- fused kernels (gemm)
// The engine's formulas (analysis.hpp) one frame at a time: U_b = K f_b (M x J, column j weighted
// by a_j), the potential, then K^T or the filter gradient, all on L2-sized blocks, frames over
// the threads. No J M x B temporaries (126 MB each at the benchmark size). Sums in double.

template <class T>
bool Foe<T>::fused() const { return resolve(method_) == ConvMethod::Gemm; }

template <class T>
T Foe<T>::value(const Mat& f) const {
  if (!fused()) return AnalysisBase<T>::value(f);
  this->check_frames(f, "reg::Foe::value");
  const Lowering<T> low(n_, k_, outputs(), shift());
  const Vec a = this->weights();
  const Potential& phi = this->potential();
  std::vector<Matrix> sums = per_thread(1, 1);
  for_frame_ranges(f.cols(), low.pass_flops(f.cols()), [&](Index t, Index first, Index last) {
    auto s = low.scratch();
    Mat u(outputs(), k_.rows());
    double total = 0;
    for (Index b = first; b < last; ++b) {
      low.apply(f.col(b).data(), u.data(), s);
      for (Index j = 0; j < u.cols(); ++j)
        for (Index i = 0; i < u.rows(); ++i) total += static_cast<double>(a(j) * phi.value<T>(u(i, j)));
    }
    sums[static_cast<std::size_t>(t)](0, 0) = total;
  });
  double total = 0;
  for (const Matrix& part : sums) total += part(0, 0);
  return static_cast<T>(total);
}

template <class T>
typename Foe<T>::Mat Foe<T>::gradient(const Mat& f) const {
  if (!fused()) return AnalysisBase<T>::gradient(f);
  this->check_frames(f, "reg::Foe::gradient");
  const Lowering<T> low(n_, k_, outputs(), shift());
  const Vec a = this->weights();
  const Potential& phi = this->potential();
  Mat out(n_, f.cols());
  for_frame_ranges(f.cols(), 2 * low.pass_flops(f.cols()), [&](Index, Index first, Index last) {
    auto s = low.scratch();
    Mat u(outputs(), k_.rows());
    for (Index b = first; b < last; ++b) {
      low.apply(f.col(b).data(), u.data(), s);
      for (Index j = 0; j < u.cols(); ++j)
        for (Index i = 0; i < u.rows(); ++i) u(i, j) = a(j) * phi.first<T>(u(i, j));  // Psi
      low.adjoint(u.data(), out.col(b).data(), s);
    }
  });
  return out;
}

template <class T>
typename Foe<T>::Mat Foe<T>::hessian_product(const Mat& f, const Mat& v) const {
  if (!fused()) return AnalysisBase<T>::hessian_product(f, v);
  this->check_frames(f, "reg::Foe::hessian_product", &v);
  const Lowering<T> low(n_, k_, outputs(), shift());
  const Vec a = this->weights();
  const Potential& phi = this->potential();
  Mat out(n_, f.cols());
  for_frame_ranges(f.cols(), 3 * low.pass_flops(f.cols()), [&](Index, Index first, Index last) {
    auto s = low.scratch();
    Mat u(outputs(), k_.rows()), z(outputs(), k_.rows());
    for (Index b = first; b < last; ++b) {
      low.apply(f.col(b).data(), u.data(), s);
      low.apply(v.col(b).data(), z.data(), s);
      for (Index j = 0; j < u.cols(); ++j)
        for (Index i = 0; i < u.rows(); ++i) z(i, j) *= a(j) * phi.second<T>(u(i, j));
      low.adjoint(z.data(), out.col(b).data(), s);
    }
  });
  return out;
}

// θ = [taps, β, η]: dR/dk = sum_b Psi_b^T H_b, dR/dβ_j = σ(β_j) sum φ(U_j), dR/dη = σ(η) sum a ∂_εφ(U).
template <class T>
typename Foe<T>::Vec Foe<T>::parameter_gradient(const Mat& f) const {
  if (!fused()) return AnalysisBase<T>::parameter_gradient(f);
  this->check_frames(f, "reg::Foe::parameter_gradient");
  const Lowering<T> low(n_, k_, outputs(), shift());
  const Vec a = this->weights();
  const Potential& phi = this->potential();
  const Index groups = k_.rows();
  std::vector<Matrix> dk = per_thread(groups, k_.cols()), rest = per_thread(groups + 1, 1);  // [da; deps]
  for_frame_ranges(f.cols(), 2 * low.pass_flops(f.cols()), [&](Index t, Index first, Index last) {
    auto s = low.scratch();
    Mat u(outputs(), groups);
    Matrix& r = rest[static_cast<std::size_t>(t)];
    for (Index b = first; b < last; ++b) {
      low.apply(f.col(b).data(), u.data(), s);
      for (Index j = 0; j < groups; ++j) {
        double da = 0, deps = 0;
        for (Index i = 0; i < u.rows(); ++i) {
          const T x = u(i, j);
          da += static_cast<double>(phi.value<T>(x));
          if (phi.learned()) deps += static_cast<double>(phi.value_eps<T>(x));
          u(i, j) = a(j) * phi.first<T>(x);  // Psi
        }
        r(j, 0) += da;
        r(groups, 0) += static_cast<double>(a(j)) * deps;
      }
      low.add_filter_gradient(u.data(), f.col(b).data(), s, dk[static_cast<std::size_t>(t)]);
    }
  });
  return assemble(low.taps(dk), rest);
}

// d/dθ <W, K^T Psi(K F)>, Z = K W: dk = sum_b Psi_b^T H(w_b) + (a φ''(U) Z)_b^T H(f_b),
// dβ_j = σ(β_j) sum Z_j φ'(U_j), dη = σ(η) sum a Z ∂_εφ'(U).
template <class T>
typename Foe<T>::Vec Foe<T>::mixed_product(const Mat& f, const Mat& w) const {
  if (!fused()) return AnalysisBase<T>::mixed_product(f, w);
  this->check_frames(f, "reg::Foe::mixed_product", &w);
  const Lowering<T> low(n_, k_, outputs(), shift());
  const Vec a = this->weights();
  const Potential& phi = this->potential();
  const Index groups = k_.rows();
  std::vector<Matrix> dk = per_thread(groups, k_.cols()), rest = per_thread(groups + 1, 1);
  for_frame_ranges(f.cols(), 4 * low.pass_flops(f.cols()), [&](Index t, Index first, Index last) {
    auto s = low.scratch();
    Mat u(outputs(), groups), z(outputs(), groups);
    Matrix& r = rest[static_cast<std::size_t>(t)];
    for (Index b = first; b < last; ++b) {
      low.apply(f.col(b).data(), u.data(), s);
      low.apply(w.col(b).data(), z.data(), s);
      for (Index j = 0; j < groups; ++j) {
        double da = 0, deps = 0;
        for (Index i = 0; i < u.rows(); ++i) {
          const T x = u(i, j), zr = z(i, j), d1 = phi.first<T>(x);
          da += static_cast<double>(zr * d1);
          if (phi.learned()) deps += static_cast<double>(zr * phi.first_eps<T>(x));
          u(i, j) = a(j) * d1;                        // Psi
          z(i, j) = a(j) * phi.second<T>(x) * zr;     // a φ''(U) Z
        }
        r(j, 0) += da;
        r(groups, 0) += static_cast<double>(a(j)) * deps;
      }
      low.add_filter_gradient(u.data(), w.col(b).data(), s, dk[static_cast<std::size_t>(t)]);
      low.add_filter_gradient(z.data(), f.col(b).data(), s, dk[static_cast<std::size_t>(t)]);
    }
  });
  return assemble(low.taps(dk), rest);
}

// [taps, σ(β_j) da_j, σ(η) deps] from the per-thread sums rest = [da (J); deps].
template <class T>
typename Foe<T>::Vec Foe<T>::assemble(const Vec& taps, const std::vector<Matrix>& rest) const {
  const Index groups = k_.rows(), p = taps.size();
  Matrix total = Matrix::Zero(groups + 1, 1);
  for (const Matrix& part : rest) total += part;
  const Vec theta = this->parameters();
  Vec g(this->num_parameters());
  g.head(p) = taps;
  for (Index j = 0; j < groups; ++j)
    g(p + j) = static_cast<T>(total(j, 0)) * static_cast<T>(softplus_derivative(static_cast<double>(theta(p + j))));
  if (this->potential().learned())
    g(g.size() - 1) = static_cast<T>(total(groups, 0)) * static_cast<T>(this->potential().depsilon_deta());
  return g;
}

// ---------------------------------------------------------------- FFT
// Real transforms of length N >= n + L - 1 (no circular wrap; the spectra carry 1/N):
//   apply:    c_j = IDFT(K_j^ F^), u_{j,i} = c_j[i+s]           (full convolution, then the rows kept)
//   adjoint:  K^T p = IDFT(sum_j conj(K_j^) Q_j^), q_j[i+s] = p_{j,i} (correlation)
//   gradient: dk_j = IDFT(sum_b Q_{j,b}^ conj(F_b^))[0 .. L-1]  (cross-correlation, summed in frequency)
namespace {

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
