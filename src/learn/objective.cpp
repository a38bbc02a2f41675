#include "varlearn/learn/objective.hpp"

#include <xmmintrin.h>
#include <pmmintrin.h>

#include <omp.h>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <cmath>
#include <string>

#include "detail.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/threads.hpp"

namespace varlearn::learn {
namespace detail {

namespace {
thread_local unsigned saved_csr = 0;
void set_ftz() {
  saved_csr = _mm_getcsr();
  _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
  _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
}
void restore_ftz() { _mm_setcsr(saved_csr); }
}  // namespace

DenormalGuard::DenormalGuard(bool active) : active_(active) {
  if (!active_) return;
#pragma omp parallel
  set_ftz();
  set_ftz();  // the calling thread (also OpenMP's master; harmless twice)
}
DenormalGuard::~DenormalGuard() {
  if (!active_) return;
  restore_ftz();
#pragma omp parallel
  restore_ftz();
}

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
  const int N = spec.depth;
  u.omega.resize(static_cast<size_t>(N));
  switch (spec.stepsize_mode) {
    case StepsizeMode::Fixed:
      require(fixed.size() == 1 || fixed.size() == static_cast<size_t>(N), where,
              "fixed stepsize: need 1 or N = " + std::to_string(N) + " values, got " +
                  std::to_string(fixed.size()));
      for (int j = 0; j < N; ++j) {
        const double w = fixed.size() == 1 ? fixed[0] : fixed[static_cast<size_t>(j)];
        require(std::isfinite(w) && w > 0, where, "fixed stepsize must be > 0");
        u.omega[static_cast<size_t>(j)] = static_cast<Real>(w);
      }
      break;
    case StepsizeMode::Learned: {
      const double a = static_cast<double>(theta(kn));
      for (auto& w : u.omega) w = static_cast<Real>(softplus(a));
      u.domega = {softplus_derivative(a)};
      break;
    }
    case StepsizeMode::PerIteration:
      for (int j = 0; j < N; ++j) {
        const double a = static_cast<double>(theta(kn + j));
        u.omega[static_cast<size_t>(j)] = static_cast<Real>(softplus(a));
        u.domega.push_back(softplus_derivative(a));
      }
      break;
  }
  return u;
}

// Elementwise passes of the direct path, split over the OpenMP threads (Eigen runs them on one
// thread while the GEMMs use all: on 2 cores that idled a core for ~10% of the step).
constexpr Index kParallelMin = 1 << 16;

/// out = a x + b y
template <class Real>
void axpby(Real a, const MatrixT<Real>& x, Real b, const MatrixT<Real>& y, MatrixT<Real>& out) {
  const Index n = x.size();
  const Real* xp = x.data();
  const Real* yp = y.data();
  Real* op = out.data();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
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
#pragma omp parallel for schedule(static) reduction(+ : acc) if (n >= kParallelMin)
  for (Index i = 0; i < n; ++i) {
    acc += static_cast<double>(gp[i]) * static_cast<double>(ap[i] - bp[i]);
    gp[i] *= scale;
  }
  return acc;
}

/// e = (z - y) * scale; returns ||z - y||^2.
template <class Real>
double residual(const MatrixT<Real>& z, const MatrixT<Real>& y, Real scale, MatrixT<Real>& e) {
  const Index n = z.size();
  const Real* zp = z.data();
  const Real* yp = y.data();
  Real* ep = e.data();
  double acc = 0;
#pragma omp parallel for schedule(static) reduction(+ : acc) if (n >= kParallelMin)
  for (Index i = 0; i < n; ++i) {
    const Real d = zp[i] - yp[i];
    acc += static_cast<double>(d) * static_cast<double>(d);
    ep[i] = d * scale;
  }
  return acc;
}

/// Buffers of the direct path are recycled per thread: a fresh 5 MB matrix per iteration
/// costs page faults and kernel zeroing that doubled the step time (n = k = 320, B = 4096).
template <class Real>
class Pool {
public:
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
    if (l.size() < 48) l.push_back(std::move(m));
    m.resize(0, 0);
  }

private:
  static std::vector<MatrixT<Real>>& list() {
    thread_local std::vector<MatrixT<Real>> l;
    return l;
  }
};

/// Reverse mode through z^{j+1} = z^j - w_j((I + R^T R) z^j - x), z^0 = 0.
/// Factored (R, R^T: 4nkB flops per step) or Gram (M = R^T R: 2n^2 B). Stores z^j at
/// multiples of `every` (and z^N), recomputing the others segment by segment.
template <class Real>
class Unroller {
public:
  Unroller(const MatrixT<Real>& r, const std::vector<Real>& omega, bool gram, int every)
      : r_(r), w_(omega), gram_(gram), every_(std::max(1, every)) {
    if (gram_) m_.noalias() = r_.transpose() * r_;
  }
  ~Unroller() {
    for (auto& z : z_) Pool<Real>::put(z);
    for (auto& u : u_) Pool<Real>::put(u);
  }
  Unroller(const Unroller&) = delete;
  Unroller& operator=(const Unroller&) = delete;

  const MatrixT<Real>& forward(const MatrixT<Real>& x) {
    x_ = &x;
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

  /// g = dL/dz^N on entry. Adds dL/dR into dr (k x n) and dL/domega_j into gw[j].
  void backward(MatrixT<Real>& g, MatrixT<Real>& dr, std::vector<double>& gw) {
    const int N = static_cast<int>(w_.size());
    const MatrixT<Real>& x = *x_;
    MatrixT<Real> dm;
    MatrixT<Real> v = Pool<Real>::get(gram_ ? r_.cols() : r_.rows(), x.cols());
    if (gram_) dm = MatrixT<Real>::Zero(r_.cols(), r_.cols());
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
            u.noalias() = r_ * z0;
          }
          v.noalias() = r_ * g;
          dr.noalias() -= w * u * g.transpose();
          dr.noalias() -= w * v * z0.transpose();
          gw[static_cast<size_t>(j)] += dot_diff_scale(g, z1, z0, Real(1) - w) / static_cast<double>(w);
          g.noalias() -= w * r_.transpose() * v;
          continue;
        }
        gw[static_cast<size_t>(j)] += (dot(g, z1) - dot(g, z0)) / static_cast<double>(w);
        {  // Gram form
          dm.noalias() -= w * g * z0.transpose();
          v.noalias() = m_ * g;
          g = (Real(1) - w) * g - w * v;
        }
      }
      for (int j = s + 1; j <= e; ++j) {
        Pool<Real>::put(z_[static_cast<size_t>(j)]);
        Pool<Real>::put(u_[static_cast<size_t>(j)]);
      }
      if (s == 0) break;
    }
    Pool<Real>::put(v);
    if (gram_) dr.noalias() += r_ * (dm + dm.transpose());
  }

private:
  static double dot(const MatrixT<Real>& a, const MatrixT<Real>& b) {
    return (a.array().template cast<double>() * b.array().template cast<double>()).sum();
  }
  void step(int j) {
    const MatrixT<Real>& x = *x_;
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
      zn.noalias() -= w * m_ * z;
    } else {
      auto& u = u_[static_cast<size_t>(j)];
      if (u.size() == 0) u = Pool<Real>::get(r_.rows(), z.cols());
      u.noalias() = r_ * z;
      zn.noalias() -= w * r_.transpose() * u;
    }
  }

  const MatrixT<Real>& r_;
  std::vector<Real> w_;
  bool gram_;
  int every_;
  MatrixT<Real> m_;
  const MatrixT<Real>* x_ = nullptr;
  std::vector<MatrixT<Real>> z_, u_;
};

template <class Real>
MatrixT<Real> unrolled_forward(const MatrixT<Real>& r, const std::vector<Real>& omega,
                               const MatrixT<Real>& x) {
  Unroller<Real> un(r, omega, 2 * r.rows() > r.cols(), 1 << 30);
  return un.forward(x);
}

template Unpacked<float> unpack(const ModelSpec&, const VectorT<float>&, const std::vector<double>&, const char*);
template Unpacked<double> unpack(const ModelSpec&, const VectorT<double>&, const std::vector<double>&, const char*);
template MatrixT<float> unrolled_forward(const MatrixT<float>&, const std::vector<float>&, const MatrixT<float>&);
template MatrixT<double> unrolled_forward(const MatrixT<double>&, const std::vector<double>&, const MatrixT<double>&);

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
  m.xx.noalias() = inv * noisy * noisy.transpose();
  m.xy.noalias() = inv * noisy * clean.transpose();
  m.yy = clean.template cast<double>().squaredNorm() / static_cast<double>(noisy.cols());
  m.frames = noisy.cols();
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
  Moments m;
  Matrix a = s;
  a.diagonal().array() += noise_std * noise_std;
  m.xx = a.cast<Real>();
  m.xy = s.cast<Real>();
  m.yy = s.trace();
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
  if (spec.method == Method::Bilevel) return;
  if (spec.stepsize_mode == StepsizeMode::Learned) {
    double s = 0;
    for (double g : gw) s += g;
    grad(kn) = static_cast<Real>(s * u.domega[0]);
  } else if (spec.stepsize_mode == StepsizeMode::PerIteration) {
    for (int j = 0; j < spec.depth; ++j)
      grad(kn + j) = static_cast<Real>(gw[static_cast<size_t>(j)] * u.domega[static_cast<size_t>(j)]);
  }
}

bool choose_gram(const UnrollOptions& o, Index n, Index k) {
  return o.use_gram == 1 || (o.use_gram == 0 && 2 * k > n);
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
  // Small problems on one thread (16x faster at n = 50 on a loaded 2-core machine).
  const ScopedThreads serial(2.0 * spec.n * std::max(spec.n, spec.rank) * static_cast<double>(B) < 2e7 ? 1 : 0);
  const Real invb = Real(1) / static_cast<Real>(B);
  MatrixT<Real> dr = MatrixT<Real>::Zero(spec.rank, spec.n);
  std::vector<double> gw(static_cast<size_t>(spec.method == Method::Unrolled ? spec.depth : 0), 0.0);
  double loss = 0;
  if (spec.method == Method::Bilevel) {
    MatrixT<Real> a = MatrixT<Real>::Identity(spec.n, spec.n);
    a.noalias() += u.r.transpose() * u.r;
    Eigen::LLT<MatrixT<Real>> llt(a);
    require(llt.info() == Eigen::Success, where, "I + R^T R is not positive definite (NaN in R?)");
    MatrixT<Real> z = llt.solve(x);
    MatrixT<Real> e = z - y;
    loss = e.template cast<double>().squaredNorm() / (2.0 * static_cast<double>(B));
    if (grad) {
      e *= invb;
      MatrixT<Real> p = llt.solve(e);
      MatrixT<Real> wz;
      wz.noalias() = z * p.transpose();
      dr.noalias() = -(u.r * (wz + wz.transpose()));
    }
  } else {
    detail::DenormalGuard guard(std::is_same_v<Real, float> && grad != nullptr);
    const bool gram = choose_gram(options, spec.n, spec.rank);
    int every = options.checkpoint_every;
    if (every == 0) {
      const double bytes = static_cast<double>(spec.depth + 1) * static_cast<double>(spec.n) *
                           static_cast<double>(B) * sizeof(Real) *
                           (gram ? 1.0 : 1.0 + static_cast<double>(spec.rank) / spec.n);
      every = bytes <= options.memory_budget_bytes
                  ? 1
                  : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(spec.depth))));
    }
    detail::Unroller<Real> un(u.r, u.omega, gram, grad ? every : (1 << 30));
    const MatrixT<Real>& zn = un.forward(x);
    MatrixT<Real> e = detail::Pool<Real>::get(x.rows(), B);
    loss = detail::residual(zn, y, invb, e) / (2.0 * static_cast<double>(B));
    if (grad) un.backward(e, dr, gw);
    detail::Pool<Real>::put(e);
  }
  if (grad) pack_gradient(spec, u, dr, gw, *grad);
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
  const ScopedThreads serial(2.0 * n * n * static_cast<double>(n) < 2e7 ? 1 : 0);
  MatrixT<Real> m;
  m.noalias() = u.r.transpose() * u.r;
  Eigen::SelfAdjointEigenSolver<MatrixT<Real>> es(m);
  require(es.info() == Eigen::Success, where, "eigendecomposition of R^T R failed (NaN in R?)");
  const MatrixT<Real>& v = es.eigenvectors();
  const Eigen::VectorXd sv = es.eigenvalues().template cast<double>();
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
  tmp.noalias() = mo.xx * v;
  at.noalias() = v.transpose() * tmp;
  tmp.noalias() = mo.xy * v;
  ct.noalias() = v.transpose() * tmp;
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
    rv.noalias() = u.r * v;
    rvs.noalias() = rv * sm;
    dr.noalias() = rvs * v.transpose();
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
