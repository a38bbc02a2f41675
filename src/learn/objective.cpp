#include "varlearn/learn/objective.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "detail.hpp"
#include "unroller.hpp"
#include "varlearn/core/eigh.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/theory/ranges.hpp"
#include "varlearn/theory/risk.hpp"
#include "varlearn/core/threads.hpp"

namespace varlearn::learn {

Index direct_block_columns(Index n, Index frames) { return frame_block_columns(n, frames); }

namespace detail {

template <class Real>
Unpacked<Real> unpack(const ModelSpec& spec, const VectorT<Real>& theta,
                      const std::vector<double>& fixed, const char* where) {
  spec.validate();
  require(theta.size() == spec.num_parameters(), where,
          "parameter vector has " + std::to_string(theta.size()) + " entries, model " +
              spec.describe() + " needs " + std::to_string(spec.num_parameters()));
  Unpacked<Real> u;
  const Index kn = spec.n * spec.rank;
  u.r = Eigen::Map<const MatrixT<Real>>(theta.data(), spec.rank, spec.n);
  if (spec.method == Method::Bilevel) return u;
  const StepsizePolicy policy = spec.stepsize_policy();
  u.omega = policy.to_omega(theta.data() + kn, fixed, where);
  u.domega = policy.d_omega(theta.data() + kn);
  return u;
}

template Unpacked<float> unpack(const ModelSpec&, const VectorT<float>&, const std::vector<double>&, const char*);
template Unpacked<double> unpack(const ModelSpec&, const VectorT<double>&, const std::vector<double>&, const char*);

}  // namespace detail

void UnrollOptions::validate() const {
  require(checkpoint_every >= 0, "UnrollOptions", "checkpoint_every must be >= 0");
  require(std::isfinite(memory_budget_bytes) && memory_budget_bytes > 0, "UnrollOptions",
          "memory_budget_bytes must be > 0");
  require(use_gram >= -1 && use_gram <= 1, "UnrollOptions", "use_gram must be -1, 0 or 1");
}

template <class Real>
Moments<Real> Moments<Real>::from_frames(const MatrixT<Real>& noisy, const MatrixT<Real>& clean) {
  const char* w = "moments";
  require(noisy.cols() >= 1, w, "no frames (B = 0)");
  require(noisy.rows() >= 1, w, "frames have no rows (n = 0)");
  require(noisy.rows() == clean.rows() && noisy.cols() == clean.cols(), w,
          "noisy frames are " + std::to_string(noisy.rows()) + "x" + std::to_string(noisy.cols()) +
              " but clean frames " + std::to_string(clean.rows()) + "x" + std::to_string(clean.cols()));
  require(noisy.allFinite() && clean.allFinite(), w, "frames contain NaN/inf");
  Moments m;
  const Real inv = Real(1) / static_cast<Real>(noisy.cols());
  gemm(inv, noisy, false, noisy, true, Real(0), m.xx);  // the one pass over the corpus: core/gemm.hpp's backend
  gemm(inv, noisy, false, clean, true, Real(0), m.xy);
  m.yy = clean.template cast<double>().squaredNorm() / static_cast<double>(noisy.cols());
  m.frames = noisy.cols();
  // Products of huge samples leave the range of Real (float32: 3.4e38): refuse, not a NaN loss.
  if (!m.xx.allFinite() || !m.xy.allFinite() || !(m.yy <= double(std::numeric_limits<Real>::max())))
    throw_out_of_range(w, "largest |sample|",
                       std::max(static_cast<double>(noisy.cwiseAbs().maxCoeff()), static_cast<double>(clean.cwiseAbs().maxCoeff())),
                       std::string("the frames' second moments must stay below ") +
                           (sizeof(Real) == 4 ? "3.4e38 (float32)" : "1.8e308 (float64)"));
  return m;
}

template <class Real>
Moments<Real> Moments<Real>::expected(const Matrix& s, double noise_std) {
  const char* w = "expected moments";
  require(s.rows() == s.cols() && s.rows() >= 1, w, "second moment must be square and non-empty");
  require(s.allFinite(), w, "second moment has NaN/inf");
  require((s - s.transpose()).cwiseAbs().maxCoeff() <= 1e-8 * (1 + s.cwiseAbs().maxCoeff()), w,
          "second moment is not symmetric");
  require(std::isfinite(noise_std) && noise_std > 0, w, "noise std sigma must be > 0");
  theory::check_noise_std(noise_std, w);  // 1e-150 <= sigma <= 1e150: sigma^2 normal and finite
  {
    const double entry = s.cwiseAbs().maxCoeff();
    if (entry > theory::kMaxEigenvalue) throw_out_of_range(w, "largest |entry| of the second moment", entry, "<= 1e300");
  }
  Moments m;
  Matrix a = s;
  a.diagonal().array() += noise_std * noise_std;
  m.xx = a.cast<Real>();
  m.xy = s.cast<Real>();
  m.yy = s.trace();
  if (!m.xx.allFinite() || !std::isfinite(m.yy))
    throw_out_of_range(w, "largest |entry| of the second moment + sigma^2", a.cwiseAbs().maxCoeff(),
                       std::string("must fit ") + (sizeof(Real) == 4 ? "float32 (3.4e38)" : "float64"));
  m.frames = 0;
  return m;
}

namespace {

template <class Real>
void pack_gradient(const ModelSpec& spec, const detail::Unpacked<Real>& u, const MatrixT<Real>& dr,
                   const std::vector<double>& gw, VectorT<Real>& grad) {
  grad.resize(spec.num_parameters());
  const Index kn = spec.n * spec.rank;
  Eigen::Map<MatrixT<Real>>(grad.data(), spec.rank, spec.n) = dr;
  spec.stepsize_policy().chain(gw, u.domega, grad.data() + kn);
}

bool choose_gram(const UnrollOptions& o, Index n, Index k) {
  return o.use_gram == 1 || (o.use_gram == 0 && 2 * k > n);
}

// The unrolled branch of loss_direct, column block by column block (direct_block_columns):
// every frame runs through the N steps on its own, so a block's iterates stay in cache through
// the forward and the reverse pass, and the blocks run in parallel, each on one thread with
// single-threaded GEMMs (one join per call instead of one per product). The partial sums of
// the blocks (loss, dL/domega, dL/dR or dL/dM) are added in block order, so the result does not
// depend on the thread count. Returns the loss; fills dr and gw when `grad`.
template <class Real>
double unrolled_blocks(const ModelSpec& spec, const detail::Unpacked<Real>& u, const UnrollOptions& options,
                       const MatrixT<Real>& x, const MatrixT<Real>& y, bool grad, Eigen::Ref<MatrixT<Real>> dr,
                       std::vector<double>& gw) {
  const Index n = spec.n, k = spec.rank, B = x.cols();
  const bool gram = choose_gram(options, n, k);
  const Index bc = direct_block_columns(n, B), nb = (B + bc - 1) / bc;
  const int threads = std::max(1, omp_in_parallel() ? 1 : omp_get_max_threads());
  const bool by_blocks = nb >= 2 && threads >= 2;
  const int concurrent = by_blocks ? static_cast<int>(std::min<Index>(threads, nb)) : 1;
  const detail::Operators<Real> ops(u.r, gram);  // M = R^T R, or R and R^T: packed once, shared by the blocks
  int every = options.checkpoint_every;
  if (every == 0) {
    const double bytes = static_cast<double>(spec.depth + 1) * static_cast<double>(n) * static_cast<double>(bc) *
                         sizeof(Real) * (gram ? 1.0 : 1.0 + static_cast<double>(k) / n) * concurrent;
    every = bytes <= options.memory_budget_bytes ? 1 : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(spec.depth))));
  }
  const Real invb = Real(1) / static_cast<Real>(B);
  const Index prow = gram ? n : k;
  // One block: its loss sum; adds its adjoints into dp and gwb.
  auto block = [&](Index i, MatrixT<Real>& dp, std::vector<double>& gwb) {
    const FlushDenormals guard(std::is_same_v<Real, float> && grad);  // per thread (MXCSR)
    const Index c0 = i * bc, w = std::min(bc, B - c0);
    const detail::Frames<Real> xb(x.data() + c0 * n, n, w), yb(y.data() + c0 * n, n, w);
    MatrixT<Real> e = detail::Pool<Real>::get(n, w);
    double l = 0;
    {
      detail::Unroller<Real> un(u.r, u.omega, gram, grad ? every : detail::Unroller<Real>::kNoCheckpoints, &ops);
      const MatrixT<Real>& zn = un.forward(xb);
      l = detail::residual(zn, yb, invb, e);
      if (grad) un.backward(e, dp, gwb);
    }
    detail::Pool<Real>::put(e);
    return l;
  };
  double loss = 0;
  detail::Pooled<Real> sum(grad ? prow : 0, grad ? n : 0);
  MatrixT<Real>& dp = sum.m;  // block 0's sums are swapped in (0 + x = x: no zeroing, no pass)
  struct Slot {  // one block's sums (dp from the pool, overwritten by each block)
    double loss = 0;
    MatrixT<Real> dp;
    std::vector<double> gw;
  };
  std::vector<Slot> slots;
  const MatrixT<Real>* last = nullptr;  // the last block's sums, when there are two blocks or more
  for (int t = 0; t < concurrent; ++t)
    slots.push_back(Slot{0, detail::Pool<Real>::get(dp.rows(), dp.cols()), std::vector<double>(gw.size())});
  // One block, or one thread: the blocks in order on this thread, the GEMMs on all threads.
  ordered_blocks(
      nb, by_blocks ? concurrent : 1, slots,
      [&](Index i, Slot& s) {
        std::fill(s.gw.begin(), s.gw.end(), 0.0);
        s.loss = block(i, s.dp, s.gw);
      },
      [&](Index i, Slot& s) {
        loss += s.loss;
        if (!grad) return;
        if (i == 0) dp.swap(s.dp);
        else if (i == nb - 1) last = &s.dp;  // added below, in the final pass over the threads
        else dp += s.dp;
        for (size_t j = 0; j < gw.size(); ++j) gw[j] += s.gw[j];
      });
  if (grad) {
    // The last block's sums join in the pass that writes dL/dR (the symmetrization of the Gram
    // form, else a copy), on all threads: the same sums, dp + last, entry by entry; added on
    // their own, they were a serial pass while the other threads waited (~1 % of a two-thread
    // step at B = 256).
    if (gram) detail::Unroller<Real>::gram_to_r(u.r, dp, last, dr);
    else detail::sum_into(dp, last, dr);
  }
  for (auto& s : slots) detail::Pool<Real>::put(s.dp);
  return loss / (2.0 * static_cast<double>(B));
}

}  // namespace

template <class Real>
Real loss_direct(const ModelSpec& spec, const VectorT<Real>& theta, const std::vector<double>& fixed,
                 const MatrixT<Real>& x, const MatrixT<Real>& y, VectorT<Real>* grad,
                 const UnrollOptions& options) {
  const char* where = "loss_direct";
  options.validate();
  auto u = detail::unpack(spec, theta, fixed, where);
  require(x.cols() >= 1, where, "no frames (B = 0)");
  require(x.rows() == spec.n, where,
          "frames have " + std::to_string(x.rows()) + " rows, model n = " + std::to_string(spec.n));
  require(y.rows() == x.rows() && y.cols() == x.cols(), where, "noisy and clean frames differ in shape");
  const Index B = x.cols();
  // Small problems on one thread (one GEMM is 2 n max(n, k) B flops).
  const ScopedThreads serial(threads_for_flops(2.0 * spec.n * std::max(spec.n, spec.rank) * static_cast<double>(B)));
  const Real invb = Real(1) / static_cast<Real>(B);
  // dL/dR is written straight into the gradient's first k n entries (k x n, column-major, as
  // unpack reads R): no copy, no zeroing.
  if (grad) grad->resize(spec.num_parameters());
  Eigen::Map<MatrixT<Real>> dr(grad ? grad->data() : nullptr, grad ? spec.rank : 0, grad ? spec.n : 0);
  std::vector<double> gw(static_cast<size_t>(spec.method == Method::Unrolled ? spec.depth : 0), 0.0);
  double loss = 0;
  if (spec.method == Method::Bilevel) {
    MatrixT<Real> a = MatrixT<Real>::Identity(spec.n, spec.n);
    gemm(Real(1), u.r, true, u.r, false, Real(1), a);
    const SpdFactor<Real> factor(a);
    require(factor.positive_definite(), where, "I + R^T R is not positive definite (NaN in R?)");
    // A^{-1} explicitly, then GEMMs: A >= I, so |A^{-1}| <= 1 and its products are as accurate
    // as the two triangular solves they replace, which ran at a fraction of a GEMM's speed (n =
    // 320, B = 4096, one thread: Eigen's 45 ms against 3 ms for the inverse and 8 ms for the
    // product; OpenBLAS's xPOTRS no faster). LAPACK forms the inverse in ~2n^3/3 flops (xPOTRI);
    // Eigen's costs more than its solves when there are fewer frames than rows.
    const bool inverse = factor.lapack() || B > spec.n;
    const MatrixT<Real> ainv = inverse ? factor.inverse() : MatrixT<Real>();
    auto solve = [&](const MatrixT<Real>& rhs, MatrixT<Real>& out) {
      if (inverse) gemm(Real(1), ainv, false, rhs, false, Real(0), out);
      else factor.solve(rhs, out);
    };
    MatrixT<Real> z, e;
    solve(x, z);
    e = z - y;
    loss = e.template cast<double>().squaredNorm() / (2.0 * static_cast<double>(B));
    if (grad) {
      e *= invb;
      MatrixT<Real> p;
      solve(e, p);
      MatrixT<Real> wz;
      gemm(Real(1), z, false, p, true, Real(0), wz);
      const MatrixT<Real> sym = wz + wz.transpose();
      gemm(Real(-1), u.r, false, sym, false, Real(0), dr);
    }
  } else {
    loss = unrolled_blocks<Real>(spec, u, options, x, y, grad != nullptr, dr, gw);
  }
  if (grad) spec.stepsize_policy().chain(gw, u.domega, grad->data() + spec.n * spec.rank);
  return static_cast<Real>(loss);
}

// Structured path, spectrally: M = R^T R = V diag(s) V^T, T = V diag(t) V^T with t_i = f(s_i)
// (f from the N-step recurrence t^{j+1} = t^j + w_j (1 - (1+s) t^j), or 1/(1+s)). With
// A~ = V^T A V, C~ = V^T C V:  L = 1/2 [sum_i t_i^2 A~_ii - 2 sum_i t_i C~_ii + c].
// Gradient in M by Daleckii-Krein: dL/dM = V (Gamma o G~) V^T, G~ = V^T (T A - C^T) V =
// diag(t) A~ - C~^T, Gamma_ab the divided difference of f at (s_a, s_b), computed by its own
// recurrence D^{j+1} = (1 - w_j (1+s_a)) D^j - w_j t^j(s_b) (exact, no cancellation; a = b gives
// f'). Cost: one symmetric eigendecomposition + ~7 n^3 GEMM flops, independent of N and B.
template <class Real>
Real loss_structured(const ModelSpec& spec, const VectorT<Real>& theta, const std::vector<double>& fixed,
                     const Moments<Real>& mo, VectorT<Real>* grad) {
  const char* where = "loss_structured";
  auto u = detail::unpack(spec, theta, fixed, where);
  require(mo.xx.rows() == spec.n && mo.xx.cols() == spec.n && mo.xy.rows() == spec.n &&
              mo.xy.cols() == spec.n,
          where, "moments are not " + std::to_string(spec.n) + "x" + std::to_string(spec.n));
  const Index n = spec.n;
  const ScopedThreads serial(threads_for_flops(2.0 * n * n * static_cast<double>(n)));
  require(u.r.allFinite(), where, "R is not finite (NaN or inf)");
  MatrixT<Real> m, v;
  gemm(Real(1), u.r, true, u.r, false, Real(0), m);
  VectorT<Real> eigenvalues;
  symmetric_eigen(m, eigenvalues, v, where);
  const Eigen::VectorXd sv = eigenvalues.template cast<double>();
  const bool bilevel = spec.method == Method::Bilevel;
  const int N = bilevel ? 0 : spec.depth;
  // t^j(s_i) for j = 0..N (column j), in double.
  Eigen::MatrixXd tj(n, N + 1);
  Eigen::VectorXd t(n);
  if (bilevel) {
    t = (1.0 + sv.array()).inverse();
  } else {
    tj.col(0).setZero();
    for (int j = 0; j < N; ++j) {
      const double w = static_cast<double>(u.omega[static_cast<size_t>(j)]);
      tj.col(j + 1) = tj.col(j).array() + w * (1.0 - (1.0 + sv.array()) * tj.col(j).array());
    }
    t = tj.col(N);
  }
  MatrixT<Real> at, ct, tmp;
  gemm(Real(1), mo.xx, false, v, false, Real(0), tmp);
  gemm(Real(1), v, true, tmp, false, Real(0), at);
  gemm(Real(1), mo.xy, false, v, false, Real(0), tmp);
  gemm(Real(1), v, true, tmp, false, Real(0), ct);
  const Eigen::VectorXd ad = at.diagonal().template cast<double>(), cd = ct.diagonal().template cast<double>();
  const double loss = 0.5 * ((t.array().square() * ad.array()).sum() - 2.0 * (t.array() * cd.array()).sum() + mo.yy);
  if (grad) {
    MatrixT<Real> dr = MatrixT<Real>::Zero(spec.rank, n);
    std::vector<double> gw(static_cast<size_t>(N), 0.0);
    // Gamma (divided differences of f), symmetric.
    Eigen::MatrixXd gamma(n, n);
    if (bilevel) {
      const Eigen::ArrayXd inv = (1.0 + sv.array()).inverse();
      gamma = -(inv.matrix() * inv.matrix().transpose());
    } else {
      for (Index b = 0; b < n; ++b) {
        for (Index a = b; a < n; ++a) {
          double d = 0;
          for (int j = 0; j < N; ++j) {
            const double w = static_cast<double>(u.omega[static_cast<size_t>(j)]);
            d = (1.0 - w * (1.0 + sv(a))) * d - w * tj(b, j);
          }
          gamma(a, b) = gamma(b, a) = d;
        }
      }
      // dL/dw_j = sum_i h_i dt_i/dw_j (reverse mode per eigenvalue), h_i = t_i A~_ii - C~_ii.
      Eigen::ArrayXd adj = t.array() * ad.array() - cd.array();
      for (int j = N - 1; j >= 0; --j) {
        const double w = static_cast<double>(u.omega[static_cast<size_t>(j)]);
        gw[static_cast<size_t>(j)] = (adj * (1.0 - (1.0 + sv.array()) * tj.col(j).array())).sum();
        adj *= 1.0 - w * (1.0 + sv.array());
      }
    }
    // S = Gamma o (G~ + G~^T), G~ = diag(t) A~ - C~^T; dL/dR = R (dL/dM + dL/dM^T) = R V S V^T.
    MatrixT<Real> sm(n, n);
    for (Index b = 0; b < n; ++b)
      for (Index a = 0; a < n; ++a) {
        const double g = t(a) * static_cast<double>(at(a, b)) - static_cast<double>(ct(b, a)) +
                         t(b) * static_cast<double>(at(b, a)) - static_cast<double>(ct(a, b));
        sm(a, b) = static_cast<Real>(gamma(a, b) * g);
      }
    MatrixT<Real> rv, rvs;
    gemm(Real(1), u.r, false, v, false, Real(0), rv);
    gemm(Real(1), rv, false, sm, false, Real(0), rvs);
    gemm(Real(1), rvs, false, v, true, Real(0), dr);
    pack_gradient(spec, u, dr, gw, *grad);
  }
  return static_cast<Real>(loss);
}

double loss(const QuadraticModel& model, const Matrix& noisy, const Matrix& clean) {
  return loss_direct<double>(model.spec(), model.parameters(), model.stepsizes(), noisy, clean, nullptr);
}
double loss(const QuadraticModel& model, const Moments<double>& moments) {
  return loss_structured<double>(model.spec(), model.parameters(), model.stepsizes(), moments, nullptr);
}

template struct Moments<float>;
template struct Moments<double>;
template float loss_direct(const ModelSpec&, const VectorT<float>&, const std::vector<double>&,
                           const MatrixT<float>&, const MatrixT<float>&, VectorT<float>*, const UnrollOptions&);
template double loss_direct(const ModelSpec&, const VectorT<double>&, const std::vector<double>&,
                            const MatrixT<double>&, const MatrixT<double>&, VectorT<double>*, const UnrollOptions&);
template float loss_structured(const ModelSpec&, const VectorT<float>&, const std::vector<double>&,
                               const Moments<float>&, VectorT<float>*);
template double loss_structured(const ModelSpec&, const VectorT<double>&, const std::vector<double>&,
                                const Moments<double>&, VectorT<double>*);

}  // namespace varlearn::learn
