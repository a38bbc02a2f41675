#pragma once
// Private to the learning engine: the unrolled gradient iteration of the quadratic model,
//   z^0 = 0,  z^{j+1} = z^j - w_j((I + R^T R) z^j - x),
// forward on frame batches and in reverse mode (for the loss's gradient), with the buffers it
// recycles. QuadraticModel::denoiser() runs it forward on the identity; the loss (objective.cpp)
// runs it forward and backward.
#include <omp.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "varlearn/core/gemm.hpp"
#include "varlearn/core/types.hpp"

namespace varlearn::learn::detail {

// Elementwise passes of the direct path, split over the OpenMP threads (Eigen runs them on one
// thread while the GEMMs use all: on 2 cores that idled a core for ~10% of the step).
constexpr Index kParallelMin = 1 << 16;
// The loops below are plain OpenMP loops, not core/parallel.hpp's: their bodies are arithmetic
// on raw pointers and cannot throw, and the per-iteration check of ExceptionCapture would stop
// their vectorization. `simd` lets the double sums vectorize (a fixed reassociation:
// deterministic).

/// Frames read in place: a column block of the caller's n x B matrix (no copy per block).
template <class Real>
using Frames = Eigen::Map<const MatrixT<Real>>;

/// out = a x + b y
template <class Real, class Y>
void axpby(Real a, const MatrixT<Real>& x, Real b, const Y& y, MatrixT<Real>& out) {
  const Index n = x.size();
  const Real* xp = x.data();
  const Real* yp = y.data();
  Real* op = out.data();
#pragma omp parallel for simd schedule(static) if (parallel : n >= kParallelMin)
  for (Index i = 0; i < n; ++i) op[i] = a * xp[i] + b * yp[i];
}

/// Returns <g, z1 - z0> and then scales g by `scale`.
template <class Real>
double dot_diff_scale(MatrixT<Real>& g, const MatrixT<Real>& z1, const MatrixT<Real>& z0, Real scale) {
  const Index n = g.size();
  Real* gp = g.data();
  const Real* ap = z1.data();
  const Real* bp = z0.data();
  double acc = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if (parallel : n >= kParallelMin)
  for (Index i = 0; i < n; ++i) {
    acc += static_cast<double>(gp[i]) * static_cast<double>(ap[i] - bp[i]);
    gp[i] *= scale;
  }
  return acc;
}

/// out = g * scale; returns <g, z1 - z0> (one pass for the Gram form's backward step).
template <class Real>
double scaled_copy_dot_diff(const MatrixT<Real>& g, const MatrixT<Real>& z1, const MatrixT<Real>& z0, Real scale,
                            MatrixT<Real>& out) {
  const Index n = g.size();
  const Real* gp = g.data();
  const Real* ap = z1.data();
  const Real* bp = z0.data();
  Real* op = out.data();
  double acc = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if (parallel : n >= kParallelMin)
  for (Index i = 0; i < n; ++i) {
    acc += static_cast<double>(gp[i]) * static_cast<double>(ap[i] - bp[i]);
    op[i] = gp[i] * scale;
  }
  return acc;
}

/// e = (z - y) * scale; returns ||z - y||^2.
template <class Real, class Y>
double residual(const MatrixT<Real>& z, const Y& y, Real scale, MatrixT<Real>& e) {
  const Index n = z.size();
  const Real* zp = z.data();
  const Real* yp = y.data();
  Real* ep = e.data();
  double acc = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if (parallel : n >= kParallelMin)
  for (Index i = 0; i < n; ++i) {
    const Real d = zp[i] - yp[i];
    acc += static_cast<double>(d) * static_cast<double>(d);
    ep[i] = d * scale;
  }
  return acc;
}

/// out = a (+ b when given), entry by entry.
template <class Real>
void sum_into(const MatrixT<Real>& a, const MatrixT<Real>* b, Eigen::Ref<MatrixT<Real>> out) {
  const Index n = a.size();
  const Real* ap = a.data();
  const Real* bp = b ? b->data() : nullptr;
  Real* op = out.data();  // contiguous: a matrix or the gradient's mapped block
  if (bp) {
#pragma omp parallel for simd schedule(static) if (parallel : n >= kParallelMin)
    for (Index i = 0; i < n; ++i) op[i] = ap[i] + bp[i];
  } else {
#pragma omp parallel for simd schedule(static) if (parallel : n >= kParallelMin)
    for (Index i = 0; i < n; ++i) op[i] = ap[i];
  }
}

/// Buffers of the direct path are recycled per thread: a fresh 5 MB matrix per iteration
/// costs page faults and kernel zeroing that doubled the step time (n = k = 320, B = 4096).
template <class Real>
class Pool {
public:
  /// Buffers kept per thread: a depth-N backward pass holds about N + 2 at once, and 48 covers
  /// N <= 40 without checkpointing while bounding the idle memory of a thread.
  static constexpr size_t kCapacity = 48;
  static MatrixT<Real> get(Index rows, Index cols) {
    auto& l = list();
    for (auto it = l.begin(); it != l.end(); ++it)
      if (it->size() == rows * cols) {
        MatrixT<Real> m = std::move(*it);
        l.erase(it);
        m.resize(rows, cols);
        return m;
      }
    return MatrixT<Real>(rows, cols);
  }
  static void put(MatrixT<Real>& m) {
    if (m.size() == 0) return;
    auto& l = list();
    if (l.size() < kCapacity) l.push_back(std::move(m));
    m.resize(0, 0);
  }

private:
  static std::vector<MatrixT<Real>>& list() {
    thread_local std::vector<MatrixT<Real>> l;
    return l;
  }
};

/// A matrix from the thread's Pool, given back at the end of its scope: the n x n work matrices
/// of a step (M, the adjoint sums, dL/dR). Fresh ones cost page faults and kernel zeroing at
/// every step, ~5 % of it at n = k = 320, B = 256.
template <class Real>
struct Pooled {
  Pooled(Index rows, Index cols) : m(Pool<Real>::get(rows, cols)) {}
  ~Pooled() { Pool<Real>::put(m); }
  Pooled(const Pooled&) = delete;
  Pooled& operator=(const Pooled&) = delete;
  MatrixT<Real> m;
};

/// The fixed left operands of the iteration's products: M = R^T R (Gram form) or R and R^T
/// (factored), each packed once for Eigen's kernels (core/gemm.hpp's PackedLhs) and shared by
/// every column block of a step.
template <class Real>
struct Operators {
  Operators(const MatrixT<Real>& r, bool gram)
      : gram_matrix(gram ? r.cols() : 0, gram ? r.cols() : 0), m(gram_matrix.m, false), r(r) {
    if (gram) gemm_by_columns(Real(1), r, true, r, Real(0), gram_matrix.m);
  }
  Pooled<Real> gram_matrix;  // M = R^T R (Gram form; else empty)
  PackedLhs<Real> m;         // M
  PackedOperator<Real> r;    // R, R^T
};

/// Reverse mode through z^{j+1} = z^j - w_j((I + R^T R) z^j - x), z^0 = 0.
/// Factored (R, R^T: 4nkB flops per step) or Gram (M = R^T R: 2n^2 B). Stores z^j at
/// multiples of `every` (and z^N), recomputing the others segment by segment.
template <class Real>
class Unroller {
public:
  /// `every` for a forward pass that keeps no iterates (no backward pass follows).
  static constexpr int kNoCheckpoints = 1 << 30;
  /// `ops`: the operators of R in the form `gram` when the caller shares them between column
  /// blocks; null: made here.
  Unroller(const MatrixT<Real>& r, const std::vector<Real>& omega, bool gram, int every,
           const Operators<Real>* ops = nullptr)
      : r_(r), w_(omega), gram_(gram), every_(std::max(1, every)), ops_(ops) {
    if (!ops_) {
      own_ops_.emplace(r_, gram_);
      ops_ = &*own_ops_;
    }
  }
  ~Unroller() {
    for (auto& z : z_) Pool<Real>::put(z);
    for (auto& u : u_) Pool<Real>::put(u);
  }
  Unroller(const Unroller&) = delete;
  Unroller& operator=(const Unroller&) = delete;

  /// z^N of the frames x (n x B, read in place: they must outlive the backward pass).
  const MatrixT<Real>& forward(Frames<Real> x) {
    x_.emplace(x);
    const int N = static_cast<int>(w_.size());
    z_.assign(static_cast<size_t>(N + 1), MatrixT<Real>());
    u_.assign(static_cast<size_t>(N + 1), MatrixT<Real>());
    for (int j = 0; j < N; ++j) {
      step(j);
      // Drop z^j unless it is a checkpoint (kept: multiples of every_, and all when every_ = 1).
      if (j > 0 && j % every_ != 0) Pool<Real>::put(z_[static_cast<size_t>(j)]);
      if (every_ != 1) Pool<Real>::put(u_[static_cast<size_t>(j)]);
    }
    return z_[static_cast<size_t>(N)];
  }

  /// g = dL/dz^N on entry. Adds dL/domega_j into gw[j] and writes the operator's adjoint into
  /// dp (its old entries are not read): dL/dR (k x n) in the factored form, dL/dM (n x n, not
  /// symmetrized) in the Gram form, which gram_to_r turns into dL/dR once the column blocks are
  /// summed.
  void backward(MatrixT<Real>& g, MatrixT<Real>& dp, std::vector<double>& gw) {
    const int N = static_cast<int>(w_.size());
    const Frames<Real>& x = *x_;
    MatrixT<Real>& dr = dp;
    MatrixT<Real>& dm = dp;
    Real beta(0);  // the first product into dp overwrites it (no zeroing pass), the others add
    MatrixT<Real> v = Pool<Real>::get(gram_ ? r_.cols() : r_.rows(), x.cols());
    const int last_start = ((N - 1) / every_) * every_;
    for (int s = last_start; s >= 0; s -= every_) {
      const int e = std::min(s + every_, N);
      for (int j = s + 1; j < e; ++j)
        if (z_[static_cast<size_t>(j)].size() == 0) step(j - 1);
      for (int j = e - 1; j >= s; --j) {
        const auto& z1 = z_[static_cast<size_t>(j + 1)];
        const Real w = w_[static_cast<size_t>(j)];
        if (j == 0) {  // z^1 = w_0 x: dL/dw_0 = <g, x>
          gw[0] += dot(g, x);
          break;
        }
        const auto& z0 = z_[static_cast<size_t>(j)];
        // x - (I+M) z^j = (z^{j+1} - z^j) / w_j
        if (!gram_) {
          auto& u = u_[static_cast<size_t>(j)];
          if (u.size() == 0) {
            u = Pool<Real>::get(r_.rows(), z0.cols());
            ops_->r.forward.multiply(Real(1), z0, Real(0), u);
          }
          ops_->r.forward.multiply(Real(1), g, Real(0), v);
          gemm(-w, u, false, g, true, beta, dr);
          gemm(-w, v, false, z0, true, Real(1), dr);
          beta = Real(1);
          gw[static_cast<size_t>(j)] += dot_diff_scale(g, z1, z0, Real(1) - w) / static_cast<double>(w);
          ops_->r.adjoint.multiply(-w, v, Real(1), g);
          continue;
        }
        // Gram form: dM -= w g z^j^T; g <- (1 - w) g - w M g (through v, then swapped).
        gemm(-w, g, false, z0, true, beta, dm);
        beta = Real(1);
        gw[static_cast<size_t>(j)] += scaled_copy_dot_diff(g, z1, z0, Real(1) - w, v) / static_cast<double>(w);
        ops_->m.multiply(-w, g, Real(1), v);
        g.swap(v);
      }
      for (int j = s + 1; j <= e; ++j) {
        Pool<Real>::put(z_[static_cast<size_t>(j)]);
        Pool<Real>::put(u_[static_cast<size_t>(j)]);
      }
      if (s == 0) break;
    }
    if (beta == Real(0)) dp.setZero(gram_ ? r_.cols() : r_.rows(), r_.cols());  // N = 1: no product
    Pool<Real>::put(v);
  }

  /// dL/dR = R (dM + dM^T): the chain rule through M = R^T R, with dM = dm (+ dm2 when given,
  /// added entry by entry first).
  static void gram_to_r(const MatrixT<Real>& r, const MatrixT<Real>& dm, const MatrixT<Real>* dm2,
                        Eigen::Ref<MatrixT<Real>> dr) {
    const Index n = dm.rows();
    Pooled<Real> sym(n, n);
    // By 32 x 32 tiles: a plain loop's transposed read strides through the whole matrix (it
    // took 1.5 % of the step at n = 320, float32). Entrywise the same sums; column strips of
    // tiles over the threads (serial, it idled the other core for ~1 % of a two-thread step).
    constexpr Index kTile = 32;
    const Index strips = (n + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (parallel : n >= 128 && !omp_in_parallel())
    for (Index js = 0; js < strips; ++js)
      for (Index i0 = 0, j0 = js * kTile; i0 < n; i0 += kTile) {
        const Index jn = std::min(n, j0 + kTile), in = std::min(n, i0 + kTile);
        for (Index j = j0; j < jn; ++j)
          if (dm2)
            for (Index i = i0; i < in; ++i) sym.m(i, j) = (dm(i, j) + (*dm2)(i, j)) + (dm(j, i) + (*dm2)(j, i));
          else
            for (Index i = i0; i < in; ++i) sym.m(i, j) = dm(i, j) + dm(j, i);
      }
    gemm_by_columns(Real(1), r, false, sym.m, Real(0), dr);
  }

private:
  // <a, b> in float64, as the passes above (Eigen's cast<double>() sum ran scalar).
  static double dot(const MatrixT<Real>& a, const Frames<Real>& b) {
    const Index n = a.size();
    const Real* ap = a.data();
    const Real* bp = b.data();
    double acc = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if (parallel : n >= kParallelMin)
    for (Index i = 0; i < n; ++i) acc += static_cast<double>(ap[i]) * static_cast<double>(bp[i]);
    return acc;
  }
  void step(int j) {
    const Frames<Real>& x = *x_;
    const Real w = w_[static_cast<size_t>(j)];
    auto& zn = z_[static_cast<size_t>(j + 1)];
    if (zn.size() == 0) zn = Pool<Real>::get(x.rows(), x.cols());
    if (j == 0) {
      zn = w * x;
      return;
    }
    const auto& z = z_[static_cast<size_t>(j)];
    axpby(Real(1) - w, z, w, x, zn);
    if (gram_) {
      ops_->m.multiply(-w, z, Real(1), zn);
    } else {
      auto& u = u_[static_cast<size_t>(j)];
      if (u.size() == 0) u = Pool<Real>::get(r_.rows(), z.cols());
      ops_->r.forward.multiply(Real(1), z, Real(0), u);
      ops_->r.adjoint.multiply(-w, u, Real(1), zn);
    }
  }

  const MatrixT<Real>& r_;
  std::vector<Real> w_;
  bool gram_;
  int every_;
  const Operators<Real>* ops_;
  std::optional<Operators<Real>> own_ops_;
  std::optional<Frames<Real>> x_;
  std::vector<MatrixT<Real>> z_, u_;
};

/// z^N of the unrolled iteration on the columns of x (no gradient).
template <class Real>
MatrixT<Real> unrolled_forward(const MatrixT<Real>& r, const std::vector<Real>& omega,
                               const MatrixT<Real>& x);

}  // namespace varlearn::learn::detail
