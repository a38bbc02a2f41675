#include "varlearn/reg/analysis.hpp"

#include <omp.h>

#include <cmath>
#include <memory>
#include <numbers>
#include <type_traits>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/spectral.hpp"

namespace varlearn::reg {

// ---------------------------------------------------------------- batch kernels

namespace {

// Inline forms of Potential's phi', phi'' and d_eps phi' (the formulas of potential.cpp),
// chosen once per batch so that the loops over a column vectorize instead of calling a switch
// per entry. Each takes u and, where `kRoots`, r = sqrt(u^2 + e^2) filled for the whole column
// by `roots` (Eigen's vectorized sqrt: std::sqrt's errno path keeps a loop scalar; charbonnier's
// hypot(u, e) becomes sqrt(u^2 + e^2)).
template <class T>
struct HuberKernels {
  static constexpr bool kRoots = false;
  T e;
  void roots(Index, const T*, T*) const {}
  // Selects between values computed unconditionally (not branches), so that loops vectorize.
  T first(T u, T) const {  // u/e inside, sign(u) outside
    const T v = u / e;
    const T hi = v > T(1) ? T(1) : v;
    return hi < T(-1) ? T(-1) : hi;
  }
  T second(T u, T) const {
    const T inside = T(1) / e;
    return std::abs(u) <= e ? inside : T(0);
  }
  T first_eps(T u, T) const {
    const T inside = -u / (e * e);
    return std::abs(u) <= e ? inside : T(0);
  }
};
template <class T>
struct CharbonnierKernels {
  static constexpr bool kRoots = true;
  T e;
  void roots(Index rows, const T* u, T* r) const {
    const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> ua(u, rows);
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(r, rows) = (ua.square() + e * e).sqrt();
  }
  T first(T u, T r) const { return u / r; }
  T second(T, T r) const { return e * e / (r * r * r); }
  T first_eps(T u, T r) const { return -u * e / (r * r * r); }
};
template <class T>
struct StudentKernels {
  static constexpr bool kRoots = false;
  T e;
  void roots(Index, const T*, T*) const {}
  T first(T u, T) const { return 2 * u / (e * e + u * u); }
  T second(T u, T) const {
    const T s = e * e + u * u;
    return 2 * (e * e - u * u) / (s * s);
  }
  T first_eps(T u, T) const {
    const T s = e * e + u * u;
    return -4 * u * e / (s * s);
  }
};

template <class T, class Body>
void with_kernels(const Potential& p, Body&& body) {
  const T e = static_cast<T>(p.epsilon());
  switch (p.kind()) {
    case PotentialKind::Huber: body(HuberKernels<T>{e}); return;
    case PotentialKind::Charbonnier: body(CharbonnierKernels<T>{e}); return;
    case PotentialKind::Student: body(StudentKernels<T>{e}); return;
  }
}

// One column of the reverse kernels' pass (free functions with restrict pointers, so that
// the loops vectorize): psi = a phi'(u), dot += z psi, da += z phi'(u), eps += a z d_eps phi'(u)
// (when `eps`), z <- a phi''(u) z. `root` is a column of scratch (kernels with kRoots).
template <class T, class K>
void reverse_column(const K k, Index rows, const T* __restrict a, const T* __restrict u, T* __restrict z,
                    T* __restrict psi, T* __restrict dot, T* __restrict da, T* __restrict eps, T* __restrict root) {
  if constexpr (K::kRoots) k.roots(rows, u, root);
  if (eps != nullptr)
    for (Index r = 0; r < rows; ++r) eps[r] += a[r] * z[r] * k.first_eps(u[r], K::kRoots ? root[r] : T(0));
  for (Index r = 0; r < rows; ++r) {
    const T q = K::kRoots ? root[r] : T(0);
    const T d1 = k.first(u[r], q);
    const T zr = z[r];
    const T pr = a[r] * d1;
    psi[r] = pr;
    dot[r] += zr * pr;
    da[r] += zr * d1;
    z[r] = a[r] * k.second(u[r], q) * zr;
  }
}
template <class T, class K>
void gradient_column(const K k, Index rows, const T* __restrict a, const T* __restrict u, T* __restrict psi,
                     T* __restrict root) {
  if constexpr (K::kRoots) k.roots(rows, u, root);
  for (Index r = 0; r < rows; ++r) psi[r] = a[r] * k.first(u[r], K::kRoots ? root[r] : T(0));
}

// u <- a phi''(u) in place (the curvature's D).
template <class T, class K>
void second_column(const K k, Index rows, const T* __restrict a, T* __restrict u, T* __restrict root) {
  if constexpr (K::kRoots) k.roots(rows, u, root);
  for (Index r = 0; r < rows; ++r) u[r] = a[r] * k.second(u[r], K::kRoots ? root[r] : T(0));
}

// Threads for an elementwise pass over `entries` values: one below ~64k (the team costs more).
int pass_threads(Index entries) { return entries >= 65536 ? omp_get_max_threads() : 1; }

// Threads of one m x n by n x B GEMM with K: one below kMinParallelFlops (minibatches of 64
// frames in the bilevel lower level: Eigen's two-thread GEMM waits at its barriers there).
template <class M>
int gemm_threads(const M& k, Index frames) {
  return threads_for_flops(2.0 * double(k.rows()) * double(k.cols()) * double(frames));
}

}  // namespace

// ---------------------------------------------------------------- AnalysisBase

template <class T>
AnalysisBase<T>::AnalysisBase(Potential potential, const Vec& weights, const char* where)
    : potential_(potential), beta_(weights.size()) {
  require(weights.size() > 0, where, "no weights");
  for (Index j = 0; j < weights.size(); ++j) {
    if (!(weights(j) > 0) || !std::isfinite(weights(j)))
      throw Error(std::string(where) + ": weight a[" + std::to_string(j) + "] = " + format_general(weights(j)) +
                  " must be > 0 and finite");
    beta_(j) = static_cast<T>(softplus_inverse(static_cast<double>(weights(j))));
  }
}

template <class T>
typename AnalysisBase<T>::Vec AnalysisBase<T>::weights() const {
  return beta_.unaryExpr([](T b) { return static_cast<T>(softplus(static_cast<double>(b))); });
}

template <class T>
typename AnalysisBase<T>::Vec AnalysisBase<T>::row_weights(Index rows) const {
  const Index per = rows_per_group();
  const Vec a = weights();
  Vec out(rows);
  for (Index r = 0; r < rows; ++r) out(r) = a(r / per);
  return out;
}

template <class T>
T AnalysisBase<T>::value(const Mat& f) const {
  this->check_frames(f, "reg::AnalysisBase::value");
  Mat u;
  apply_to(f, u);
  return value_of(u);
}

template <class T>
T AnalysisBase<T>::value_of(const Mat& u) const {
  const Vec a = row_weights(u.rows());
  double total = 0;  // accumulated in double: a float sum over n B terms loses digits
  for (Index b = 0; b < u.cols(); ++b)
    for (Index r = 0; r < u.rows(); ++r) total += static_cast<double>(a(r) * potential_.value<T>(u(r, b)));
  return static_cast<T>(total);
}

template <class T>
typename AnalysisBase<T>::Mat AnalysisBase<T>::gradient(const Mat& f) const {
  this->check_frames(f, "reg::AnalysisBase::gradient");
  Mat out = Mat::Zero(f.rows(), f.cols());
  add_gradient(f, out);
  return out;
}

template <class T>
void AnalysisBase<T>::add_gradient(const Mat& f, Mat& out, Mat* u) const {
  Mat local;
  Mat& uu = u != nullptr ? *u : local;
  apply_to(f, uu);
  add_gradient_of(uu, out);
}

// Psi = a phi'(U) column by column (threads over columns), then out += K^T Psi.
template <class T>
void AnalysisBase<T>::add_gradient_of(const Mat& uu, Mat& out) const {
  const Vec a = row_weights(uu.rows());
  const Index rows = uu.rows(), cols = uu.cols();
  Mat psi(rows, cols);
  with_kernels<T>(potential_, [&](auto k) {
#pragma omp parallel num_threads(pass_threads(rows * cols))
    {
      Vec root(rows);
#pragma omp for schedule(static)
      for (Index b = 0; b < cols; ++b) gradient_column(k, rows, a.data(), uu.col(b).data(), psi.col(b).data(), root.data());
    }
  });
  add_adjoint(psi, out);
}

// One pass over (U, Z): Psi = a phi'(U), <Z, Psi>, the per-row sums of Z phi'(U) (and of
// a Z d_eps phi'(U)), and Z <- a phi''(U) Z in place; then hv += K^T Z and the pullbacks.
// Per-thread partial sums (in T over a thread's columns) are combined in thread order in
// double, so a run is reproducible for a fixed thread count.
template <class T>
double AnalysisBase<T>::add_reverse_kernels(const Mat& f, const Mat& w, const Mat* u, Mat& hv, Vec& mixed) const {
  Mat local;
  if (u == nullptr) {
    apply_to(f, local);
    u = &local;
  }
  const Mat& uu = *u;
  Mat z;
  apply_to(w, z);
  const Index rows = uu.rows(), cols = uu.cols();
  const Vec a = row_weights(rows);
  Mat psi(rows, cols);
  const bool learned = potential_.learned();
  const int threads = pass_threads(rows * cols);
  // Per thread: <Z, Psi> by row, sum Z phi'(U) by row, sum a Z d_eps phi'(U) by row.
  std::vector<Vec> dot_rows(static_cast<std::size_t>(threads)), da_rows(dot_rows.size()), eps_rows(dot_rows.size());
  with_kernels<T>(potential_, [&](auto k) {
#pragma omp parallel num_threads(threads)
    {
      const auto id = static_cast<std::size_t>(omp_get_thread_num());
      Vec dot_r = Vec::Zero(rows), da_r = Vec::Zero(rows), eps_r = Vec::Zero(learned ? rows : 0), root(rows);
#pragma omp for schedule(static)
      for (Index b = 0; b < cols; ++b)
        reverse_column(k, rows, a.data(), uu.col(b).data(), z.col(b).data(), psi.col(b).data(), dot_r.data(),
                       da_r.data(), learned ? eps_r.data() : nullptr, root.data());
      dot_rows[id] = std::move(dot_r);
      da_rows[id] = std::move(da_r);
      eps_rows[id] = std::move(eps_r);
    }
  });
  double dot = 0, deps = 0;
  const Index per = rows_per_group();
  std::vector<double> da(static_cast<std::size_t>(beta_.size()), 0.0);
  for (std::size_t t = 0; t < dot_rows.size(); ++t) {
    if (dot_rows[t].size() == 0) continue;  // a thread of the team got no columns and no entry
    for (Index r = 0; r < rows; ++r) {
      dot += static_cast<double>(dot_rows[t](r));
      da[static_cast<std::size_t>(r / per)] += static_cast<double>(da_rows[t](r));
      if (learned) deps += static_cast<double>(eps_rows[t](r));
    }
  }
  add_adjoint(z, hv);
  mixed.resize(num_parameters());
  const Index p = num_operator_parameters();
  if (p > 0) {
    mixed.head(p).setZero();
    add_operator_gradient(psi, w, mixed.head(p));
    add_operator_gradient(z, f, mixed.head(p));
  }
  for (Index j = 0; j < beta_.size(); ++j)
    mixed(p + j) = static_cast<T>(da[static_cast<std::size_t>(j)] * softplus_derivative(static_cast<double>(beta_(j))));
  if (learned) mixed(mixed.size() - 1) = static_cast<T>(deps * potential_.depsilon_deta());
  return dot;
}

template <class T>
typename AnalysisBase<T>::Mat AnalysisBase<T>::hessian_product(const Mat& f, const Mat& v) const {
  this->check_frames(f, "reg::AnalysisBase::hessian_product", &v);
  const Mat u = apply(f);
  Mat kv = apply(v);
  const Vec a = row_weights(u.rows());
  for (Index b = 0; b < u.cols(); ++b)
    for (Index r = 0; r < u.rows(); ++r) kv(r, b) *= a(r) * potential_.second<T>(u(r, b));
  return adjoint(kv);
}

template <class T>
std::function<void(const typename AnalysisBase<T>::Mat&, typename AnalysisBase<T>::Mat&)>
AnalysisBase<T>::curvature_at(const Mat& f) const {
  this->check_frames(f, "reg::AnalysisBase::curvature_at");
  Mat u;
  apply_to(f, u);
  return curvature_of(std::move(u));
}

template <class T>
void AnalysisBase<T>::to_curvature_weights(Mat& d) const {
  const Vec a = row_weights(d.rows());  // D = a phi''(U) in place, column by column
  const Index rows = d.rows();
  with_kernels<T>(potential_, [&](auto k) {
    Vec root(rows);
    for (Index b = 0; b < d.cols(); ++b) second_column(k, rows, a.data(), d.col(b).data(), root.data());
  });
}

template <class T>
std::function<void(const typename AnalysisBase<T>::Mat&, typename AnalysisBase<T>::Mat&)>
AnalysisBase<T>::curvature_of(Mat d) const {
  to_curvature_weights(d);
  return [this, d = std::move(d), kv = Mat()](const Mat& v, Mat& out) mutable {
    require(v.rows() == this->dimension() && v.cols() == d.cols(), "reg::AnalysisBase::curvature_at",
            "the direction is " + std::to_string(v.rows()) + " x " + std::to_string(v.cols()) + ", expected " +
                std::to_string(this->dimension()) + " x " + std::to_string(d.cols()));
    apply_to(v, kv);  // K V into the kept scratch
    kv.array() *= d.array();
    adjoint_to(kv, out);
  };
}

template <class T>
Index AnalysisBase<T>::num_parameters() const {
  return num_operator_parameters() + beta_.size() + (potential_.learned() ? 1 : 0);
}

template <class T>
typename AnalysisBase<T>::Vec AnalysisBase<T>::parameters() const {
  Vec theta(num_parameters());
  const Index p = num_operator_parameters();
  if (p > 0) theta.head(p) = operator_parameters();
  theta.segment(p, beta_.size()) = beta_;
  if (potential_.learned()) theta(theta.size() - 1) = static_cast<T>(potential_.eta());
  return theta;
}

template <class T>
void AnalysisBase<T>::set_parameters(const Vec& theta) {
  require(theta.size() == num_parameters(), "reg::AnalysisBase::set_parameters",
          std::string("theta has ") + std::to_string(theta.size()) + " entries, expected " +
              std::to_string(num_parameters()));
  require(theta.allFinite(), "reg::AnalysisBase::set_parameters", "theta has a non-finite entry");
  const Index p = num_operator_parameters();
  if (potential_.learned()) potential_.set_eta(static_cast<double>(theta(theta.size() - 1)));
  if (p > 0) set_operator_parameters(theta.head(p));
  beta_ = theta.segment(p, beta_.size());
}

// theta layout: [operator (p), beta (J), eta]. With U = K F, Psi = a phi'(U):
// dR/dK = pullback of Psi F^T, dR/da_j = sum_group phi(U), dR/deps = sum a d_eps phi(U).
template <class T>
typename AnalysisBase<T>::Vec AnalysisBase<T>::parameter_gradient(const Mat& f) const {
  this->check_frames(f, "reg::AnalysisBase::parameter_gradient");
  const Mat u = apply(f);
  const Vec a = row_weights(u.rows());
  const Index per = rows_per_group();
  Mat psi(u.rows(), u.cols());
  Vec da = Vec::Zero(beta_.size());
  T deps = 0;
  for (Index b = 0; b < u.cols(); ++b)
    for (Index r = 0; r < u.rows(); ++r) {
      psi(r, b) = a(r) * potential_.first<T>(u(r, b));
      da(r / per) += potential_.value<T>(u(r, b));
      if (potential_.learned()) deps += a(r) * potential_.value_eps<T>(u(r, b));
    }
  Vec g(num_parameters());
  const Index p = num_operator_parameters();
  if (p > 0) g.head(p) = operator_gradient(psi, f);
  for (Index j = 0; j < beta_.size(); ++j) g(p + j) = da(j) * static_cast<T>(softplus_derivative(static_cast<double>(beta_(j))));
  if (potential_.learned()) g(g.size() - 1) = deps * static_cast<T>(potential_.depsilon_deta());
  return g;
}

// d/dtheta <W, K^T Psi(K F)> = d/dtheta <Z, Psi(U)>, Z = K W:
// dK: pullback of Psi W^T + (a phi''(U) Z) F^T; da_j: sum Z phi'(U); deps: sum a Z d_eps phi'(U).
template <class T>
typename AnalysisBase<T>::Vec AnalysisBase<T>::mixed_product(const Mat& f, const Mat& w) const {
  this->check_frames(f, "reg::AnalysisBase::mixed_product", &w);
  const Mat u = apply(f);
  Mat z = apply(w);
  const Vec a = row_weights(u.rows());
  const Index per = rows_per_group();
  Mat psi(u.rows(), u.cols());
  Vec da = Vec::Zero(beta_.size());
  T deps = 0;
  for (Index b = 0; b < u.cols(); ++b)
    for (Index r = 0; r < u.rows(); ++r) {
      const T x = u(r, b);
      const T zr = z(r, b);
      psi(r, b) = a(r) * potential_.first<T>(x);
      da(r / per) += zr * potential_.first<T>(x);
      if (potential_.learned()) deps += a(r) * zr * potential_.first_eps<T>(x);
      z(r, b) = a(r) * potential_.second<T>(x) * zr;
    }
  Vec g(num_parameters());
  const Index p = num_operator_parameters();
  if (p > 0) g.head(p) = operator_gradient(psi, w) + operator_gradient(z, f);
  for (Index j = 0; j < beta_.size(); ++j) g(p + j) = da(j) * static_cast<T>(softplus_derivative(static_cast<double>(beta_(j))));
  if (potential_.learned()) g(g.size() - 1) = deps * static_cast<T>(potential_.depsilon_deta());
  return g;
}

template <class T>
std::optional<double> AnalysisBase<T>::hessian_bound() const {
  const double k = operator_norm_bound();
  return k * k * static_cast<double>(weights().maxCoeff()) * potential_.max_abs_second();
}

template <class T>
std::string AnalysisBase<T>::describe_weights() const {
  const Vec a = weights();
  std::string s = potential_.describe();
  s.append(", weights softplus (a in [")
      .append(format_general(static_cast<double>(a.minCoeff())))
      .append(", ")
      .append(format_general(static_cast<double>(a.maxCoeff())))
      .append("])");
  return s;
}

// ---------------------------------------------------------------- AnalysisOptions

void AnalysisOptions::validate() const {
  require(filters >= 0, "reg::AnalysisOptions", std::string("filters = ") + std::to_string(filters) + " must be >= 0");
  require(weight > 0 && std::isfinite(weight), "reg::AnalysisOptions",
          std::string("weight = ") + format_general(weight) + " must be > 0 and finite");
  require(scale > 0 && std::isfinite(scale), "reg::AnalysisOptions",
          std::string("scale = ") + format_general(scale) + " must be > 0 and finite");
}

// ---------------------------------------------------------------- Analysis

template <class T>
Analysis<T>::Analysis(Mat k, const Vec& weights, Potential potential)
    : AnalysisBase<T>(potential, weights, "reg::Analysis"), k_(std::move(k)) {
  require(k_.size() > 0, "reg::Analysis", "K is empty");
  require(k_.allFinite(), "reg::Analysis", "K has a non-finite entry");
  require(weights.size() == k_.rows(), "reg::Analysis",
          std::string("weights has ") + std::to_string(weights.size()) + " entries, expected m = " +
              std::to_string(k_.rows()));
  packed_ = std::make_unique<PackedOperator<T>>(k_);
}
template <class T>
Analysis<T>::Analysis(const Analysis& other)
    : AnalysisBase<T>(other), k_(other.k_), packed_(std::make_unique<PackedOperator<T>>(k_)) {}
template <class T>
Analysis<T>& Analysis<T>::operator=(const Analysis& other) {
  if (this != &other) {
    AnalysisBase<T>::operator=(other);
    k_ = other.k_;
    packed_ = std::make_unique<PackedOperator<T>>(k_);
  }
  return *this;
}
template <class T>
Analysis<T>::~Analysis() = default;

template <class T>
typename Analysis<T>::Mat Analysis<T>::dct_rows(Index m, Index n) {
  require(n >= 1 && m >= 1 && m <= n, "reg::Analysis::dct_rows",
          std::string("need 1 <= m <= n, got m = ") + std::to_string(m) + ", n = " + std::to_string(n));
  Mat k(m, n);
  for (Index j = 0; j < m; ++j) {
    const double c = std::sqrt((j == 0 ? 1.0 : 2.0) / static_cast<double>(n));
    for (Index t = 0; t < n; ++t)
      k(j, t) = static_cast<T>(c * std::cos(std::numbers::pi * (static_cast<double>(t) + 0.5) * static_cast<double>(j) /
                             static_cast<double>(n)));
  }
  return k;
}

template <class T>
typename Analysis<T>::Mat Analysis<T>::difference_rows(Index m, Index n) {
  require(n >= 2 && m >= 1 && m <= n - 1, "reg::Analysis::difference_rows",
          std::string("need 1 <= m <= n - 1, got m = ") + std::to_string(m) + ", n = " + std::to_string(n));
  Mat k = Mat::Zero(m, n);
  for (Index j = 0; j < m; ++j) {
    k(j, j) = -1;
    k(j, j + 1) = 1;
  }
  return k;
}

template <class T>
Analysis<T> Analysis<T>::make(Index n, const AnalysisOptions& options, Potential potential) {
  options.validate();
  require(n >= 1, "reg::Analysis::make", std::string("n = ") + std::to_string(n) + " must be >= 1");
  Mat k;
  switch (options.init) {
    case AnalysisInit::Dct: k = dct_rows(options.filters == 0 ? n : options.filters, n); break;
    case AnalysisInit::FiniteDifferences: k = difference_rows(options.filters == 0 ? n - 1 : options.filters, n); break;
    case AnalysisInit::Random: {
      Rng rng(options.seed);
      k = gaussian_matrix(options.filters == 0 ? n : options.filters, n,
                          options.scale / std::sqrt(static_cast<double>(n)), rng)
              .template cast<T>();
      break;
    }
  }
  const Vec weights = Vec::Constant(k.rows(), static_cast<T>(options.weight));
  return Analysis(std::move(k), weights, potential);
}

template <class T>
typename Analysis<T>::Vec Analysis<T>::operator_parameters() const {
  return Eigen::Map<const Vec>(k_.data(), k_.size());
}
template <class T>
void Analysis<T>::set_operator_parameters(const Eigen::Ref<const Vec>& k) {
  k_ = Eigen::Map<const Mat>(k.data(), k_.rows(), k_.cols());
  packed_ = std::make_unique<PackedOperator<T>>(k_);  // the old panels are of the old K
}
template <class T>
typename Analysis<T>::Vec Analysis<T>::operator_gradient(const Mat& p, const Mat& f) const {
  Mat g;
  const ScopedThreads threads(gemm_threads(k_, f.cols()));
  gemm(T(1), p, false, f, true, T(0), g);
  return Eigen::Map<const Vec>(g.data(), g.size());
}
template <class T>
void Analysis<T>::apply_to(const Mat& f, Mat& u) const {
  const ScopedThreads threads(gemm_threads(k_, f.cols()));
  packed_->forward.multiply(T(1), f, T(0), u);
}
template <class T>
void Analysis<T>::add_adjoint(const Mat& p, Mat& out) const {
  const ScopedThreads threads(gemm_threads(k_, p.cols()));
  packed_->adjoint.multiply(T(1), p, T(1), out);
}
template <class T>
std::function<void(const typename Analysis<T>::Mat&, typename Analysis<T>::Mat&)> Analysis<T>::single_curvature_of(
    const Mat& u) const {
  if constexpr (std::is_same_v<T, float>) {
    (void)u;
    return {};
  } else {
    Mat d = u;
    this->to_curvature_weights(d);
    // K in float32, packed once for the CG iterations at this F (core/gemm.hpp's PackedLhs), and
    // the buffers they reuse.
    struct Single {
      Single(MatrixT<float> k, MatrixT<float> d) : kf(std::move(k)), df(std::move(d)), op(kf) {}
      MatrixT<float> kf, df, vf, kv, hv;
      PackedOperator<float> op;  // K, K^T
    };
    auto st = std::make_shared<Single>(k_.template cast<float>(), d.template cast<float>());
    return [st](const Mat& v, Mat& out) {
      const MatrixT<float>& kf = st->kf;
      require(v.rows() == kf.cols() && v.cols() == st->df.cols(), "reg::Analysis::single_curvature_of",
              "the direction is " + std::to_string(v.rows()) + " x " + std::to_string(v.cols()) + ", expected " +
                  std::to_string(kf.cols()) + " x " + std::to_string(st->df.cols()));
      const ScopedThreads threads(gemm_threads(kf, v.cols()));
      st->vf = v.template cast<float>();
      st->op.forward.multiply(1.0f, st->vf, 0.0f, st->kv);
      st->kv.array() *= st->df.array();
      st->op.adjoint.multiply(1.0f, st->kv, 0.0f, st->hv);
      out = st->hv.template cast<double>();
    };
  }
}

template <class T>
void Analysis<T>::adjoint_to(const Mat& p, Mat& out) const {
  const ScopedThreads threads(gemm_threads(k_, p.cols()));
  packed_->adjoint.multiply(T(1), p, T(0), out);
}
template <class T>
void Analysis<T>::add_operator_gradient(const Mat& p, const Mat& f, Eigen::Ref<Vec> g) const {
  Eigen::Map<Mat> gk(g.data(), k_.rows(), k_.cols());
  const ScopedThreads threads(gemm_threads(k_, f.cols()));
  gemm(T(1), p, false, f, true, T(1), gk);
}
template <class T>
double Analysis<T>::operator_norm_bound() const {
  return spectral_norm(k_.template cast<double>());
}

template <class T>
std::string Analysis<T>::describe() const {
  std::string s = "analysis(m=";
  s.append(std::to_string(k_.rows())).append(", n=").append(std::to_string(k_.cols())).append(", ");
  s.append(this->describe_weights()).append(")");
  return s;
}

template class AnalysisBase<float>;
template class AnalysisBase<double>;
template class Analysis<float>;
template class Analysis<double>;

}  // namespace varlearn::reg
