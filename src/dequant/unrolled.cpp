#include "varlearn/dequant/unrolled.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>

#include "validate.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/dct.hpp"

namespace varlearn::dequant {

void UnrolledSpec::validate() const {
  require(n >= 1, "dequant::UnrolledSpec", "frame length n = " + std::to_string(n) + " must be >= 1");
  require(depth >= 1, "dequant::UnrolledSpec", "depth N = " + std::to_string(depth) + " must be >= 1");
}

void UnrolledTrainOptions::validate() const {
  adam.validate();
  require(batch_size >= 0, "dequant::UnrolledTrainOptions", "batch_size must be >= 0");
  require(threads >= 0, "dequant::UnrolledTrainOptions", "threads must be >= 0");
  require(monitor_every >= 0 && monitor_frames >= 0, "dequant::UnrolledTrainOptions",
          "monitor_every and monitor_frames must be >= 0");
}

template <class T> VectorT<T> initial_parameters(const UnrolledSpec& spec, double tau, double sigma) {
  spec.validate();
  const Index n = spec.n, m = spec.num_stepsizes();
  VectorT<T> theta(spec.num_parameters());
  const MatrixT<T> k = dct_matrix<T>(n).transpose();
  std::copy(k.data(), k.data() + n * n, theta.data());
  theta.segment(n * n, m).setConstant(static_cast<T>(softplus_inverse(tau)));
  theta.segment(n * n + m, m).setConstant(static_cast<T>(softplus_inverse(sigma)));
  return theta;
}

template <class T>
VectorT<T> extend_parameters(const UnrolledSpec& shallow, const VectorT<T>& theta, const UnrolledSpec& deep,
                             double tau_added, double sigma_added) {
  const char* w = "dequant::extend_parameters";
  shallow.validate();
  deep.validate();
  require(shallow.sharing == StepsizeSharing::PerIteration && deep.sharing == StepsizeSharing::PerIteration, w,
          "warm start needs one step-size pair per iteration (not shared)");
  require(shallow.n == deep.n && shallow.project_output == deep.project_output, w,
          "the networks differ in n or projection");
  require(deep.depth > shallow.depth, w,
          "depth " + std::to_string(deep.depth) + " is not deeper than " + std::to_string(shallow.depth));
  require(theta.size() == shallow.num_parameters(), w, "theta does not fit the shallower network");
  require(std::isfinite(tau_added) && tau_added > 0 && std::isfinite(sigma_added) && sigma_added > 0, w,
          "the added step sizes must be > 0");
  const Index n = shallow.n, m0 = shallow.depth, m1 = deep.depth;
  VectorT<T> out(deep.num_parameters());
  out.head(n * n) = theta.head(n * n);
  out.segment(n * n, m0) = theta.segment(n * n, m0);
  out.segment(n * n + m0, m1 - m0).setConstant(static_cast<T>(softplus_inverse(tau_added)));
  out.segment(n * n + m1, m0) = theta.segment(n * n + m0, m0);
  out.segment(n * n + m1 + m0, m1 - m0).setConstant(static_cast<T>(softplus_inverse(sigma_added)));
  return out;
}

template <class T> UnrolledParameters unpack(const UnrolledSpec& spec, const VectorT<T>& theta) {
  spec.validate();
  require(theta.size() == spec.num_parameters(), "dequant::unpack",
          "theta has " + std::to_string(theta.size()) + " entries, the network " +
              std::to_string(spec.num_parameters()));
  const Index n = spec.n, m = spec.num_stepsizes();
  UnrolledParameters p;
  p.k = Eigen::Map<const MatrixT<T>>(theta.data(), n, n).template cast<double>();
  for (int i = 0; i < spec.depth; ++i) {
    const Index j = spec.sharing == StepsizeSharing::Shared ? 0 : i;
    p.tau.push_back(softplus(static_cast<double>(theta(n * n + j))));
    p.sigma.push_back(softplus(static_cast<double>(theta(n * n + m + j))));
  }
  return p;
}

namespace {

/// What reverse mode keeps of the forward pass, and its own buffers: kept by UnrolledLoss from
/// call to call (UnrolledLoss::Workspace), so that a training step allocates nothing (fresh
/// n x B matrices each step cost page faults: a third of the step at n = 64, B = 256).
template <class T> struct Tape {
  std::vector<MatrixT<T>> xbar, p, v, y, w, z;  // per iteration k: inputs/intermediates
  MatrixT<T> x_final, pre_output;
  MatrixT<T> gout, gx, gxprev, gxbar, gy, gz, gk;  // adjoints
};

/// The step sizes' gradients are sums over every sample: vectorized partial sums of this many
/// terms in T, added up in double.
constexpr Index kSumChunk = 256;
/// Passes over at least this many samples run on the OpenMP threads (outside a parallel region).
constexpr Index kParallelSamples = 65536;

/// One pass over `size` samples in chunks of kSumChunk, on the OpenMP threads when it is large:
/// body(c0, c1) handles samples [c0, c1) and returns their partial sum (T(0) when there is
/// none); the partials are added in chunk order in double, so the result is the same for every
/// thread count.
template <class T, class Body>
double chunked_pass(Index size, Body&& body) {
  const Index chunks = (size + kSumChunk - 1) / kSumChunk;
  const int threads = size >= kParallelSamples && !omp_in_parallel() ? omp_get_max_threads() : 1;
  double sum = 0;
  if (threads <= 1) {
    for (Index c = 0; c < chunks; ++c) sum += static_cast<double>(body(c * kSumChunk, std::min(size, (c + 1) * kSumChunk)));
    return sum;
  }
  std::vector<T> part(static_cast<size_t>(chunks));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (Index c = 0; c < chunks; ++c) part[size_t(c)] = body(c * kSumChunk, std::min(size, (c + 1) * kSumChunk));
  for (const T v : part) sum += static_cast<double>(v);
  return sum;
}

}  // namespace

namespace {

/// One column block's work: its frames (copied out of the batch), tape and partial sums.
template <class T> struct BlockSlot {
  MatrixT<T> s, l, u, c;
  Tape<T> tape;
  VectorT<T> grad;
  double loss = 0;
};

}  // namespace

Index unrolled_block_columns(const UnrolledSpec& spec, Index frames, std::size_t scalar_bytes) {
  spec.validate();
  require(frames >= 1 && (scalar_bytes == 4 || scalar_bytes == 8), "dequant::unrolled_block_columns",
          "needs B >= 1 frames of float32 or float64 (4 or 8 bytes)");
  const double bytes = 1.5 * 1024 * 1024, per_column = double(spec.n) * double(6 * spec.depth + 8) * double(scalar_bytes);
  const Index most = std::max<Index>(64, static_cast<Index>(bytes / per_column) / 16 * 16);
  const Index blocks = (frames + most - 1) / most;
  return blocks == 1 ? frames : std::min(most, ((frames + blocks - 1) / blocks + 15) / 16 * 16);
}

template <class T> struct UnrolledLoss<T>::Workspace {
  std::mutex busy;  // one call at a time uses the tape and the slots; a concurrent call makes its own
  Tape<T> tape;
  std::vector<BlockSlot<T>> slots;
};

namespace {

template <class T>
void check_shapes(const UnrolledSpec& spec, const VectorT<T>& theta, const MatrixT<T>& s, const MatrixT<T>& l,
                  const MatrixT<T>& u, const char* where) {
  spec.validate();
  require(theta.size() == spec.num_parameters(), where,
          "theta has " + std::to_string(theta.size()) + " entries, expected " + std::to_string(spec.num_parameters()));
  require(s.rows() == spec.n && s.cols() >= 1, where,
          "frames must be n x B with n = " + std::to_string(spec.n) + " (got " + std::to_string(s.rows()) + " x " +
              std::to_string(s.cols()) + ")");
  require(l.rows() == s.rows() && l.cols() == s.cols() && u.rows() == s.rows() && u.cols() == s.cols(), where,
          "quantized, lower and upper must have the same shape");
}

template <class T>
void forward(const UnrolledSpec& spec, const VectorT<T>& theta, const PackedOperator<T>& ops, const MatrixT<T>& s,
             const MatrixT<T>& l, const MatrixT<T>& u, Tape<T>* tape, MatrixT<T>& out) {
  // The products (2 per iteration forward, 4 reverse: the work) run on core/gemm.hpp's backend;
  // the rest is one fused pass per half step, writing the tape in place (no copies).
  const Index n = spec.n, m = spec.num_stepsizes(), cols = s.cols(), size = n * cols;
  MatrixT<T> x_buf;
  MatrixT<T>& x = tape ? tape->x_final : x_buf;  // x^k, in place
  ops.adjoint.multiply(T(1), s, T(0), x);
  // Without a tape: one buffer each (y^0 = 0, xbar^0 = x^0). The tape's are reused when the
  // shapes repeat (resize is then a no-op).
  MatrixT<T> xbar_buf, y_buf, p_buf, w_buf;
  if (tape) {
    for (auto* v : {&tape->xbar, &tape->p, &tape->v, &tape->y, &tape->w, &tape->z}) {
      v->resize(size_t(spec.depth));
      for (MatrixT<T>& e : *v) e.resize(n, cols);
    }
    tape->xbar[0] = x;
  } else {
    xbar_buf = x;
    y_buf.setZero(n, cols);
    p_buf.resize(n, cols);
    w_buf.resize(n, cols);
  }
  const T* lo_bound = l.data();
  const T* hi_bound = u.data();
  for (int it = 0; it < spec.depth; ++it) {
    const Index j = spec.sharing == StepsizeSharing::Shared ? 0 : it;
    const T tau = static_cast<T>(softplus(static_cast<double>(theta(n * n + j))));
    const T sigma = static_cast<T>(softplus(static_cast<double>(theta(n * n + m + j))));
    const MatrixT<T>& xbar = tape ? tape->xbar[it] : xbar_buf;
    MatrixT<T>& p = tape ? tape->p[it] : p_buf;
    MatrixT<T>& w = tape ? tape->w[it] : w_buf;
    MatrixT<T>& y = tape ? tape->y[it] : y_buf;
    // Dual: p = K xbar, v = y + sigma p, y = v - clamp(v, sigma l, sigma u).
    ops.forward.multiply(T(1), xbar, T(0), p);
    {
      const T* yprev = tape ? (it > 0 ? tape->y[it - 1].data() : nullptr) : y.data();
      const T* pp = p.data();
      T* yy = y.data();
      T* vv = tape ? tape->v[it].data() : nullptr;
      auto dual = [&]<bool from_zero, bool keep_v>() {
        chunked_pass<T>(size, [=](Index c0, Index c1) {
#pragma omp simd
          for (Index i = c0; i < c1; ++i) {
            const T v = (from_zero ? T(0) : yprev[i]) + sigma * pp[i];
            if constexpr (keep_v) vv[i] = v;
            yy[i] = v - std::min(std::max(v, sigma * lo_bound[i]), sigma * hi_bound[i]);
          }
          return T(0);
        });
      };
      if (vv) {
        if (yprev) dual.template operator()<false, true>();
        else dual.template operator()<true, true>();
      } else {
        dual.template operator()<false, false>();
      }
    }
    // Primal: w = K^T y, z = x - tau w, x+ = soft_tau(z), xbar+ = 2 x+ - x (not after the last).
    ops.adjoint.multiply(T(1), y, T(0), w);
    {
      const T* ww = w.data();
      T* xx = x.data();
      T* zz = tape ? tape->z[it].data() : nullptr;
      T* next = it + 1 < spec.depth ? (tape ? tape->xbar[it + 1].data() : xbar_buf.data()) : nullptr;
      // One loop per case (z kept or not, xbar+ needed or not): no test inside, vectorized.
      auto primal = [&]<bool keep_z, bool extrapolate>() {
        chunked_pass<T>(size, [=](Index c0, Index c1) {
#pragma omp simd
          for (Index i = c0; i < c1; ++i) {
            const T z = xx[i] - tau * ww[i];
            if constexpr (keep_z) zz[i] = z;
            const T xn = z > tau ? z - tau : (z < -tau ? z + tau : T(0));  // soft_threshold(z, tau)
            if constexpr (extrapolate) next[i] = T(2) * xn - xx[i];
            xx[i] = xn;
          }
          return T(0);
        });
      };
      if (zz && next) primal.template operator()<true, true>();
      else if (zz) primal.template operator()<true, false>();
      else if (next) primal.template operator()<false, true>();
      else primal.template operator()<false, false>();
    }
  }
  ops.forward.multiply(T(1), x, T(0), out);
  if (tape) tape->pre_output = out;
  if (spec.project_output) out = out.cwiseMax(l).cwiseMin(u);
}

}  // namespace

template <class T>
MatrixT<T> unrolled_forward(const UnrolledSpec& spec, const VectorT<T>& theta, const MatrixT<T>& quantized,
                            const MatrixT<T>& lower, const MatrixT<T>& upper) {
  check_shapes(spec, theta, quantized, lower, upper, "dequant::unrolled_forward");
  const MatrixT<T> k = Eigen::Map<const MatrixT<T>>(theta.data(), spec.n, spec.n);
  const PackedOperator<T> ops(k);  // K and K^T, packed once for every block
  MatrixT<T> out;
  forward<T>(spec, theta, ops, quantized, lower, upper, nullptr, out);
  return out;
}

namespace {
// The loss's terms over the frames s (the batch, or one column block of it), scale * |output -
// clean|^2 with scale = 1 / (n B) of the whole batch, and, when grad is non-null, their gradient
// by reverse mode (grad is overwritten).
template <class T>
T loss_part(const UnrolledSpec& spec, const VectorT<T>& theta, const PackedOperator<T>& ops, const MatrixT<T>& s,
            const MatrixT<T>& l, const MatrixT<T>& u, const MatrixT<T>& clean, T scale, VectorT<T>* grad,
            Tape<T>& tape) {
  MatrixT<T>& gout = tape.gout;
  forward<T>(spec, theta, ops, s, l, u, grad ? &tape : nullptr, gout);
  gout -= clean;  // the error, then its adjoint
  const T loss = gout.squaredNorm() * scale;
  if (!grad) return loss;
  gout *= T(2) * scale;

  const Index n = spec.n, m = spec.num_stepsizes();
  grad->setZero(theta.size());
  MatrixT<T>& gk = tape.gk;
  gk.setZero(n, n);
  std::vector<double> gtau(m, 0.0), gsigma(m, 0.0);

  if (spec.project_output) {
    const T* r = tape.pre_output.data();
    const T* ll = l.data();
    const T* uu = u.data();
    T* g = gout.data();
#pragma omp simd
    for (Index i = 0; i < gout.size(); ++i) g[i] = r[i] > ll[i] && r[i] < uu[i] ? g[i] : T(0);
  }
  gemm(T(1), gout, false, tape.x_final, true, T(1), gk);
  MatrixT<T>&gx = tape.gx, &gxprev = tape.gxprev, &gxbar = tape.gxbar, &gy = tape.gy, &gz = tape.gz;
  ops.adjoint.multiply(T(1), gout, T(0), gx);
  // gy holds the adjoint of y^k, then (in place) of v^k; gz that of z^k.
  gxprev.resize(n, s.cols());
  gxbar.setZero(n, s.cols());
  gy.setZero(n, s.cols());
  gz.resize(n, s.cols());
  const Index size = gz.size();
  for (int it = spec.depth - 1; it >= 0; --it) {
    const Index j = spec.sharing == StepsizeSharing::Shared ? 0 : it;
    const T tau = static_cast<T>(softplus(static_cast<double>(theta(n * n + j))));
    const T sigma = static_cast<T>(softplus(static_cast<double>(theta(n * n + m + j))));
    const T* z = tape.z[it].data();
    const T* w = tape.w[it].data();
    const T* v = tape.v[it].data();
    const T* p = tape.p[it].data();
    // x^k = soft(z), xbar^k = 2 x^k - x^{k-1}, z = x^{k-1} - tau w
    double dtau = 0, dsigma = 0;  // in chunk order (chunked_pass)
    {
      const T* gxx = gx.data();
      const T* gxb = gxbar.data();
      T* gzz = gz.data();
      T* gxp = gxprev.data();
      // d/dtau of soft_tau(z) is -sign(z) where |z| > tau; of z, -w. Branch-free (the signs
      // of z are random: branches would mispredict) and vectorized (kSumChunk).
      dtau = chunked_pass<T>(size, [=](Index c0, Index c1) {
        T part = 0;
#pragma omp simd reduction(+ : part)
        for (Index i = c0; i < c1; ++i) {
          const T gxn = gxx[i] + T(2) * gxb[i];
          const T zi = z[i];
          const T sign = zi > tau ? T(1) : (zi < -tau ? T(-1) : T(0));
          const T g = sign != T(0) ? gxn : T(0);
          gzz[i] = g;
          gxp[i] = -gxb[i] + g;
          part -= g * (sign + w[i]);
        }
        return part;
      });
    }
    // w = K^T y^k: gK -= tau y^k gz^T, gy^k -= tau K gz
    gemm(-tau, tape.y[it], false, gz, true, T(1), gk);
    ops.forward.multiply(-tau, gz, T(1), gy);
    // y^k = v - clamp(v, sigma l, sigma u); v = y^{k-1} + sigma p, p = K xbar^{k-1}
    {
      T* gyy = gy.data();
      const T* ll = l.data();
      const T* uu = u.data();
      // Where v is clamped (below sigma l or above sigma u), y = v - sigma bound: its adjoint
      // passes, and d/dsigma gains g (p - bound). Branch-free as above.
      dsigma = chunked_pass<T>(size, [=](Index c0, Index c1) {
        T part = 0;
#pragma omp simd reduction(+ : part)
        for (Index i = c0; i < c1; ++i) {
          const T lo = sigma * ll[i], hi = sigma * uu[i];
          const T bound = v[i] < lo ? ll[i] : (v[i] > hi ? uu[i] : T(0));
          const T g = v[i] < lo || v[i] > hi ? gyy[i] : T(0);
          gyy[i] = g;
          part += g * (p[i] - bound);
        }
        return part;
      });
    }
    gemm(sigma, gy, false, tape.xbar[it], true, T(1), gk);
    ops.adjoint.multiply(sigma, gy, T(0), gxbar);
    gx.swap(gxprev);
    gtau[j] += dtau;
    gsigma[j] += dsigma;
  }
  // x^0 = K^T s, xbar^0 = x^0
  gxprev = gx + gxbar;
  gemm(T(1), s, false, gxprev, true, T(1), gk);
  std::copy(gk.data(), gk.data() + n * n, grad->data());
  for (Index j = 0; j < m; ++j) {
    (*grad)(n * n + j) = static_cast<T>(gtau[j] * softplus_derivative(static_cast<double>(theta(n * n + j))));
    (*grad)(n * n + m + j) = static_cast<T>(gsigma[j] * softplus_derivative(static_cast<double>(theta(n * n + m + j))));
  }
  return loss;
}

// MSE of the network output and, when grad is non-null, its gradient. Frames are independent
// through the network, so a batch of two column blocks or more (unrolled_block_columns) runs
// block by block, the blocks on the threads (one each, single-threaded products): a block's
// tape stays in cache through both passes, where the whole batch's (at B = 4096, 30 matrices of
// 1 MB) went to memory and back, and one join replaces a barrier per product. The blocks' sums
// are added in block order: the result does not depend on the thread count.
template <class T>
T unrolled_loss(const UnrolledSpec& spec, const VectorT<T>& theta, const MatrixT<T>& s, const MatrixT<T>& l,
                const MatrixT<T>& u, const MatrixT<T>& clean, VectorT<T>* grad, Tape<T>& tape,
                std::vector<BlockSlot<T>>& slots) {
  check_shapes(spec, theta, s, l, u, "dequant::unrolled_loss");
  require(clean.rows() == s.rows() && clean.cols() == s.cols(), "dequant::unrolled_loss",
          "clean frames must have the shape of the quantized frames");
  const Index n = spec.n, frames = s.cols();
  const T scale = T(1) / static_cast<T>(s.size());
  const MatrixT<T> k = Eigen::Map<const MatrixT<T>>(theta.data(), n, n);
  const PackedOperator<T> ops(k);  // K and K^T, packed once for every block
  const Index bc = unrolled_block_columns(spec, frames, sizeof(T)), nb = (frames + bc - 1) / bc;
  if (nb < 2) {
    // A small batch on one thread (one product is 2 n^2 B flops: a barrier costs more).
    const ScopedThreads serial(threads_for_flops(2.0 * double(n) * double(n) * double(frames)));
    return loss_part<T>(spec, theta, ops, s, l, u, clean, scale, grad, tape);
  }
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  slots.resize(static_cast<size_t>(std::max<Index>(1, std::min<Index>(threads, nb))));
  double loss = 0;
  // The caller's flush-to-zero mode on the thread that runs a block (MXCSR is per thread): the
  // same results on every thread where float32 passes decay into denormals.
  const bool flush = FlushDenormals::enabled_in_this_thread();
  ordered_blocks(
      nb, static_cast<int>(slots.size()), slots,
      [&](Index i, BlockSlot<T>& b) {
        const FlushDenormals guard(flush);
        const Index c0 = i * bc, w = std::min(bc, frames - c0);
        b.s = s.middleCols(c0, w);
        b.l = l.middleCols(c0, w);
        b.u = u.middleCols(c0, w);
        b.c = clean.middleCols(c0, w);
        b.loss = static_cast<double>(loss_part<T>(spec, theta, ops, b.s, b.l, b.u, b.c, scale, grad ? &b.grad : nullptr,
                                                  b.tape));
      },
      [&](Index i, BlockSlot<T>& b) {
        loss += b.loss;
        if (!grad) return;
        if (i == 0) *grad = b.grad;
        else *grad += b.grad;
      });
  return static_cast<T>(loss);
}

}  // namespace

template <class T>
UnrolledLoss<T>::UnrolledLoss(const UnrolledSpec& spec, const MatrixT<T>& quantized, const MatrixT<T>& lower,
                              const MatrixT<T>& upper, const MatrixT<T>& clean)
    : spec_(spec), s_(&quantized), l_(&lower), u_(&upper), c_(&clean), work_(std::make_shared<Workspace>()) {}

template <class T>
T UnrolledLoss<T>::evaluate_with_gradient(const VectorT<T>& theta, VectorT<T>& grad) const {
  const std::unique_lock<std::mutex> mine(work_->busy, std::try_to_lock);
  if (mine.owns_lock()) return unrolled_loss<T>(spec_, theta, *s_, *l_, *u_, *c_, &grad, work_->tape, work_->slots);
  Tape<T> tape;  // another thread holds the kept ones
  std::vector<BlockSlot<T>> slots;
  return unrolled_loss<T>(spec_, theta, *s_, *l_, *u_, *c_, &grad, tape, slots);
}
template <class T>
T UnrolledLoss<T>::evaluate(const VectorT<T>& theta) const {
  Tape<T> unused;
  std::vector<BlockSlot<T>> slots;
  return unrolled_loss<T>(spec_, theta, *s_, *l_, *u_, *c_, nullptr, unused, slots);
}

namespace {
template <class T>
UnrolledTrainResult train_impl(const UnrolledSpec& spec, const Vector& theta0, const DequantFrames& data,
                               const UnrolledTrainOptions& options, const optim::Observer& observer) {
  const auto start = std::chrono::steady_clock::now();
  const MatrixT<T> s = data.quantized.cast<T>(), l = data.lower.cast<T>(), u = data.upper.cast<T>(),
                   c = data.clean.cast<T>();
  const Index total = data.size();
  const Index batch = (options.batch_size == 0 || options.batch_size >= total) ? total : options.batch_size;
  VectorT<T> theta = theta0.cast<T>();
  UnrolledTrainResult r;
  // Monitor subset (fixed, seeded) and the best parameters so far.
  const Index mon = (options.monitor_frames == 0 || options.monitor_frames >= total) ? total : options.monitor_frames;
  std::vector<Index> mon_idx(total);
  std::iota(mon_idx.begin(), mon_idx.end(), Index{0});
  {
    Rng mrng(derive_seed(options.seed, SeedStream::MonitorSubset));
    std::shuffle(mon_idx.begin(), mon_idx.end(), mrng);
  }
  MatrixT<T> ms(spec.n, mon), ml(spec.n, mon), mu(spec.n, mon), mc(spec.n, mon);
  for (Index j = 0; j < mon; ++j) {
    ms.col(j) = s.col(mon_idx[j]);
    ml.col(j) = l.col(mon_idx[j]);
    mu.col(j) = u.col(mon_idx[j]);
    mc.col(j) = c.col(mon_idx[j]);
  }
  const UnrolledLoss<T> full(spec, s, l, u, c), monitor(spec, ms, ml, mu, mc);
  const int every = options.monitor_every > 0 ? options.monitor_every : std::max(1, options.adam.max_iterations / 20);
  VectorT<T> best_theta = theta;
  double best_loss = static_cast<double>(monitor.evaluate(theta));

  // The objective Adam sees: the loss on the next minibatch (seeded shuffle per epoch).
  Rng rng(options.seed);
  std::vector<Index> order(total);
  std::iota(order.begin(), order.end(), Index{0});
  Index cursor = total;
  MatrixT<T> bs(spec.n, batch), bl(spec.n, batch), bu(spec.n, batch), bc(spec.n, batch);
  const UnrolledLoss<T> on_batch(spec, bs, bl, bu, bc);
  const optim::Function<T> minibatch_loss([&](const VectorT<T>& th, VectorT<T>& g) -> T {
    if (batch == total) return full.evaluate_with_gradient(th, g);
    for (Index b = 0; b < batch; ++b) {
      if (cursor >= total) {
        std::shuffle(order.begin(), order.end(), rng);
        cursor = 0;
      }
      const Index col = order[cursor++];
      bs.col(b) = s.col(col);
      bl.col(b) = l.col(col);
      bu.col(b) = u.col(col);
      bc.col(b) = c.col(col);
    }
    return on_batch.evaluate_with_gradient(th, g);
  });
  // After each step: keep the best monitored iterate, then ask the caller.
  const optim::Observer keep_best = [&](const optim::Progress& p) {
    if (p.iteration % every == 0 || p.iteration == options.adam.max_iterations) {
      const double v = static_cast<double>(monitor.evaluate(theta));
      if (std::isfinite(v) && v < best_loss) {
        best_loss = v;
        best_theta = theta;
        r.best_step = p.iteration;
      }
    }
    return observer ? observer(p) : true;
  };
  r.optim = optim::Adam(options.adam).minimize<T>(minibatch_loss, theta, keep_best);
  theta = best_theta;
  r.final_loss = static_cast<double>(full.evaluate(theta));
  r.theta = theta.template cast<double>();
  r.optim.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}
}  // namespace

UnrolledTrainResult train_unrolled(const UnrolledSpec& spec, const Vector& theta0, const DequantFrames& data,
                                   const UnrolledTrainOptions& options, const optim::Observer& observer) {
  spec.validate();
  options.validate();
  require(theta0.size() == spec.num_parameters(), "dequant::train_unrolled", "theta0 has the wrong size");
  require(data.size() >= 1 && data.clean.rows() == spec.n, "dequant::train_unrolled",
          "training frames must be n x B with B >= 1");
  const ScopedThreads threads(options.threads);
  const FlushDenormals ftz;
  return options.float32 ? train_impl<float>(spec, theta0, data, options, observer)
                         : train_impl<double>(spec, theta0, data, options, observer);
}

#define VARLEARN_INSTANTIATE(T)                                                                                    \
  template VectorT<T> initial_parameters<T>(const UnrolledSpec&, double, double);                                  \
  template UnrolledParameters unpack<T>(const UnrolledSpec&, const VectorT<T>&);                                   \
  template VectorT<T> extend_parameters<T>(const UnrolledSpec&, const VectorT<T>&, const UnrolledSpec&, double,   \
                                           double);                                                                \
  template MatrixT<T> unrolled_forward<T>(const UnrolledSpec&, const VectorT<T>&, const MatrixT<T>&,             \
                                          const MatrixT<T>&, const MatrixT<T>&);                                   \
  template class UnrolledLoss<T>;
VARLEARN_INSTANTIATE(float)
VARLEARN_INSTANTIATE(double)
#undef VARLEARN_INSTANTIATE

}  // namespace varlearn::dequant
