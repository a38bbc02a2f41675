#include "varlearn/core/gemm.hpp"

#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>
#include <type_traits>

#include "varlearn/core/error.hpp"

#ifdef VARLEARN_HAVE_BLAS
#include <cblas.h>
extern "C" {
// OpenBLAS's own queries (not in every cblas.h, so declared here; OpenBLAS is the BLAS the
// build links, CMakeLists.txt).
char* openblas_get_config(void);
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
int openblas_get_parallel(void);
}
#endif

namespace varlearn {

namespace {

constexpr int kUnset = -1;
std::atomic<int> g_forced{kUnset};  // set_gemm_backend (the CLI's --gemm)

struct EnvSetting {
  bool present = false;
  std::string text;
};
const EnvSetting& env_setting() {
  static const EnvSetting s = [] {
    EnvSetting e;
    if (const char* v = std::getenv("VARLEARN_GEMM")) {
      e.present = true;
      e.text = v;
    }
    return e;
  }();
  return s;
}

using Key = std::tuple<int, Index, Index, Index, bool, bool, int>;  // bytes, m, n, k, ta, tb, threads
std::mutex g_decisions_mutex;
std::map<Key, GemmBackend>& decision_map() {
  static std::map<Key, GemmBackend> m;
  return m;
}
std::vector<GemmDecision>& decision_list() {
  static std::vector<GemmDecision> l;
  return l;
}
// Bumped whenever the decisions are cleared: invalidates the per-thread caches below.
std::atomic<unsigned> g_generation{0};

// The last decisions of this thread: a hot loop repeats a handful of shapes, and the shared
// map's lock and lookup cost ~2% of a step of 128-column products.
struct CachedDecision {
  Key key;
  GemmBackend backend = GemmBackend::Eigen;
  unsigned generation = ~0u;
};
struct DecisionCache {
  static constexpr int kSize = 8;
  CachedDecision entry[kSize];
  int next = 0;
  const CachedDecision* find(const Key& key, unsigned generation) const {
    for (const auto& e : entry)
      if (e.generation == generation && e.key == key) return &e;
    return nullptr;
  }
  void put(const Key& key, GemmBackend backend, unsigned generation) {
    entry[next] = {key, backend, generation};
    next = (next + 1) % kSize;
  }
};
DecisionCache& thread_cache() {
  thread_local DecisionCache c;
  return c;
}

// The destination: a matrix, a block or a mapped array (non-deduced, so a matrix converts).
template <class Real>
using Out = std::type_identity_t<Eigen::Ref<MatrixT<Real>>>;

template <class Real, class A, class B>
void eigen_product(Real alpha, const A& a, const B& b, Real beta, Out<Real>& c) {
  if (beta == Real(0)) {
    c.noalias() = alpha * a * b;
  } else {
    if (beta != Real(1)) c *= beta;
    c.noalias() += alpha * a * b;
  }
}

template <class Real>
void run_eigen(Real alpha, const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb, Real beta,
               Out<Real> c) {
  if (!ta && !tb) eigen_product(alpha, a, b, beta, c);
  else if (ta && !tb) eigen_product(alpha, a.transpose(), b, beta, c);
  else if (!ta && tb) eigen_product(alpha, a, b.transpose(), beta, c);
  else eigen_product(alpha, a.transpose(), b.transpose(), beta, c);
}

// Whether the BLAS can take the product: linked, non-empty, every extent within its int.
template <class Real>
bool blas_can(const MatrixT<Real>& a, const MatrixT<Real>& b, const Out<Real>& c, Index k) {
#ifdef VARLEARN_HAVE_BLAS
  const auto fits = [](Index v) { return v > 0 && v < INT_MAX; };
  return fits(c.rows()) && fits(c.cols()) && fits(k) && fits(a.rows()) && fits(b.rows()) && fits(c.outerStride());
#else
  (void)a, (void)b, (void)c, (void)k;
  return false;
#endif
}

template <class Real>
void run_blas(Real alpha, const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb, Real beta,
              Out<Real> c, Index k) {
#ifdef VARLEARN_HAVE_BLAS
  const auto m = static_cast<int>(c.rows()), n = static_cast<int>(c.cols()), kk = static_cast<int>(k);
  const auto op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  const auto lda = static_cast<int>(a.rows()), ldb = static_cast<int>(b.rows()), ldc = static_cast<int>(c.outerStride());
  if constexpr (std::is_same_v<Real, float>)
    cblas_sgemm(CblasColMajor, op_a, op_b, m, n, kk, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  else
    cblas_dgemm(CblasColMajor, op_a, op_b, m, n, kk, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
#else
  (void)alpha, (void)a, (void)ta, (void)b, (void)tb, (void)beta, (void)c, (void)k;
  throw Error("gemm: this build links no BLAS", Error::Kind::Internal);
#endif
}

int current_threads() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

// Times both backends on the operands (into a scratch C): alternating, best of `reps` each.
template <class Real>
GemmDecision probe(const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb, Index m, Index n, Index k) {
  GemmDecision d;
  d.scalar = std::is_same_v<Real, float> ? "float32" : "float64";
  d.m = m, d.n = n, d.k = k, d.trans_a = ta, d.trans_b = tb, d.threads = current_threads();
  MatrixT<Real> c = MatrixT<Real>::Zero(m, n);
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  // About 0.1 s of work in all at 100 GFLOP/s, at least 3 timed runs of each.
  const int reps = static_cast<int>(std::clamp(1e10 / std::max(flops, 1.0) / 2.0, 3.0, 20.0));
  double te = 1e300, tb_ = 1e300;
  using clock = std::chrono::steady_clock;
  run_eigen(Real(1), a, ta, b, tb, Real(0), c);  // warm-up: caches, page faults, thread start
  run_blas(Real(1), a, ta, b, tb, Real(0), c, k);
  for (int r = 0; r < reps; ++r) {
    auto t0 = clock::now();
    run_eigen(Real(1), a, ta, b, tb, Real(0), c);
    auto t1 = clock::now();
    run_blas(Real(1), a, ta, b, tb, Real(0), c, k);
    auto t2 = clock::now();
    te = std::min(te, std::chrono::duration<double>(t1 - t0).count());
    tb_ = std::min(tb_, std::chrono::duration<double>(t2 - t1).count());
  }
  d.eigen_seconds = te;
  d.blas_seconds = tb_;
  // A clear margin for the BLAS: a near tie keeps Eigen, so that the choice does not flip
  // between runs with the machine's load.
  d.chosen = tb_ * 1.05 < te ? GemmBackend::Blas : GemmBackend::Eigen;
  return d;
}

template <class Real>
Index inner_extent(const MatrixT<Real>& a, bool ta) {
  return ta ? a.rows() : a.cols();
}

}  // namespace

const char* to_string(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::Auto: return "auto";
    case GemmBackend::Eigen: return "eigen";
    case GemmBackend::Blas: return "blas";
  }
  return "?";
}

GemmBackend parse_gemm_backend(const std::string& text, const std::string& where) {
  GemmBackend b;
  if (text == "auto") b = GemmBackend::Auto;
  else if (text == "eigen") b = GemmBackend::Eigen;
  else if (text == "blas") b = GemmBackend::Blas;
  else throw Error(where + ": '" + text + "' is no GEMM backend (expected eigen, blas or auto)");
  if (b == GemmBackend::Blas && !blas_available())
    throw Error(where + ": blas: this build links no BLAS (configure with -DVARLEARN_BLAS=ON and libopenblas-dev installed)");
  return b;
}

bool blas_available() noexcept {
#ifdef VARLEARN_HAVE_BLAS
  return true;
#else
  return false;
#endif
}

GemmBackend gemm_backend() {
  const int f = g_forced.load(std::memory_order_relaxed);
  if (f != kUnset) return static_cast<GemmBackend>(f);
  const EnvSetting& e = env_setting();
  return e.present ? parse_gemm_backend(e.text, "VARLEARN_GEMM") : GemmBackend::Auto;
}

void set_gemm_backend(GemmBackend backend) {
  if (backend == GemmBackend::Blas && !blas_available())
    throw Error("gemm: blas: this build links no BLAS (configure with -DVARLEARN_BLAS=ON and libopenblas-dev installed)");
  std::lock_guard<std::mutex> lock(g_decisions_mutex);
  g_forced.store(static_cast<int>(backend), std::memory_order_relaxed);
  decision_map().clear();
  decision_list().clear();
  g_generation.fetch_add(1, std::memory_order_release);
}

std::string gemm_backend_source() {
  if (g_forced.load(std::memory_order_relaxed) != kUnset) return "--gemm";
  return env_setting().present ? "VARLEARN_GEMM" : "default";
}

BlasInfo blas_info() {
  BlasInfo i;
#ifdef VARLEARN_HAVE_BLAS
  i.available = true;
#ifdef VARLEARN_BLAS_LIBRARY
  // The file the loader really mapped: a process that loaded another OpenBLAS first under the
  // same soname (Python after NumPy) runs that one, not the one linked.
  Dl_info dl{};
  i.library = dladdr(reinterpret_cast<void*>(&openblas_get_config), &dl) != 0 && dl.dli_fname != nullptr
                  ? std::string(dl.dli_fname)
                  : std::string(VARLEARN_BLAS_LIBRARY);
#endif
  i.config = openblas_get_config();
  i.kernel = openblas_get_corename();
  i.threads = openblas_get_num_threads();
  const int p = openblas_get_parallel();
  i.threading = p == 2 ? "openmp" : p == 1 ? "pthread" : "serial";
  auto lower = i.kernel;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const auto one_of = [&](std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(), [&](const char* s) { return lower == s; });
  };
  const bool k512 = one_of({"skylakex", "cooperlake", "sapphirerapids"});
  const bool k256 = k512 || one_of({"haswell", "zen", "skylake"});
#if defined(__x86_64__) || defined(__i386__)
  const bool dynamic = i.config.find("DYNAMIC_ARCH") != std::string::npos;
  i.kernel_matches_cpu = !(dynamic && __builtin_cpu_supports("avx512f") && !k512) &&
                         !(dynamic && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !k256);
  if (dynamic && __builtin_cpu_supports("avx512f") && !k512)
    i.hint = "OpenBLAS chose its '" + i.kernel +
             "' kernels, which do not use this CPU's AVX-512: OPENBLAS_CORETYPE=SkylakeX in the environment "
             "(set before the program starts) selects its AVX-512 kernels";
  else if (dynamic && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !k256)
    i.hint = "OpenBLAS chose its '" + i.kernel +
             "' kernels, which do not use this CPU's AVX2: OPENBLAS_CORETYPE=Haswell in the environment "
             "(set before the program starts) selects its AVX2 kernels";
#else
  (void)k256;
#endif
  if (i.threading == "pthread" && i.hint.empty())
    i.hint = "this OpenBLAS runs its own thread pool beside OpenMP's: prefer its OpenMP build (libopenblas0-openmp)";
#endif
  return i;
}

std::vector<GemmDecision> gemm_decisions() {
  std::lock_guard<std::mutex> lock(g_decisions_mutex);
  return decision_list();
}

template <class Real>
GemmBackend gemm_backend_for(const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb) {
  const GemmBackend s = gemm_backend();
  if (s != GemmBackend::Auto) return s;
  if (!blas_available()) return GemmBackend::Eigen;
  const Index m = ta ? a.cols() : a.rows(), n = tb ? b.rows() : b.cols(), k = inner_extent(a, ta);
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (flops < kGemmProbeMinFlops) return GemmBackend::Eigen;
  static const bool matches = blas_info().kernel_matches_cpu;
  if (!matches) return GemmBackend::Eigen;
  const Key key{static_cast<int>(sizeof(Real)), m, n, k, ta, tb, current_threads()};
  const unsigned generation = g_generation.load(std::memory_order_acquire);
  DecisionCache& cache = thread_cache();
  if (const CachedDecision* c = cache.find(key, generation)) return c->backend;
  std::lock_guard<std::mutex> lock(g_decisions_mutex);  // the first user of a shape probes it
  auto& map = decision_map();
  GemmBackend chosen;
  if (auto it = map.find(key); it != map.end()) {
    chosen = it->second;
  } else {
    const GemmDecision d = probe<Real>(a, ta, b, tb, m, n, k);
    map.emplace(key, d.chosen);
    decision_list().push_back(d);
    chosen = d.chosen;
  }
  cache.put(key, chosen, g_generation.load(std::memory_order_relaxed));
  return chosen;
}

namespace {
template <class Real>
void product(GemmBackend backend, Real alpha, const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb,
             Real beta, Out<Real> c) {
  const Index k = inner_extent(a, ta);
  if (backend == GemmBackend::Auto) backend = gemm_backend_for(a, ta, b, tb);
  if (backend == GemmBackend::Blas && blas_can(a, b, c, k)) run_blas(alpha, a, ta, b, tb, beta, c, k);
  else if (backend == GemmBackend::Blas && !blas_available()) run_blas(alpha, a, ta, b, tb, beta, c, k);  // throws
  else run_eigen(alpha, a, ta, b, tb, beta, c);  // Eigen, or an empty product
}

// The product's shape m x n; Error unless the inner extents agree.
template <class Real>
std::pair<Index, Index> product_shape(const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb) {
  const Index k = inner_extent(a, ta), kb = tb ? b.cols() : b.rows();
  require(k == kb, "gemm", "inner extents differ (" + std::to_string(k) + " and " + std::to_string(kb) + ")");
  return {ta ? a.cols() : a.rows(), tb ? b.rows() : b.cols()};
}

void require_shape(Index rows, Index cols, Index m, Index n) {
  require(rows == m && cols == n, "gemm",
          "C is " + std::to_string(rows) + " x " + std::to_string(cols) + ", the product " + std::to_string(m) +
              " x " + std::to_string(n));
}
}  // namespace

template <class Real>
GemmDecision gemm_probe(const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb) {
  require(blas_available(), "gemm_probe", "this build links no BLAS");
  const Index m = ta ? a.cols() : a.rows(), n = tb ? b.rows() : b.cols(), k = inner_extent(a, ta);
  require(k == (tb ? b.cols() : b.rows()) && m > 0 && n > 0 && k > 0, "gemm_probe", "empty or mismatched operands");
  return probe<Real>(a, ta, b, tb, m, n, k);
}

template <class Real>
void gemm_with(GemmBackend backend, Real alpha, const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb,
               Real beta, MatrixT<Real>& c) {
  const auto [m, n] = product_shape(a, ta, b, tb);
  if (beta == Real(0) && (c.rows() != m || c.cols() != n)) c.resize(m, n);
  require_shape(c.rows(), c.cols(), m, n);
  product(backend, alpha, a, ta, b, tb, beta, Out<Real>(c));
}

template <class Real>
void gemm(Real alpha, const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb, Real beta, MatrixT<Real>& c) {
  gemm_with(GemmBackend::Auto, alpha, a, ta, b, tb, beta, c);
}

template <class Real>
void gemm(Real alpha, const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb, Real beta,
          std::type_identity_t<Eigen::Ref<MatrixT<Real>>> c) {
  const auto [m, n] = product_shape(a, ta, b, tb);
  require_shape(c.rows(), c.cols(), m, n);
  product(GemmBackend::Auto, alpha, a, ta, b, tb, beta, c);
}

#define VARLEARN_GEMM_INSTANTIATE(Real)                                                                      \
  template GemmBackend gemm_backend_for(const MatrixT<Real>&, bool, const MatrixT<Real>&, bool);           \
  template GemmDecision gemm_probe(const MatrixT<Real>&, bool, const MatrixT<Real>&, bool);               \
  template void gemm_with(GemmBackend, Real, const MatrixT<Real>&, bool, const MatrixT<Real>&, bool, Real, \
                          MatrixT<Real>&);                                                                 \
  template void gemm(Real, const MatrixT<Real>&, bool, const MatrixT<Real>&, bool, Real, MatrixT<Real>&);         \
  template void gemm(Real, const MatrixT<Real>&, bool, const MatrixT<Real>&, bool, Real, std::type_identity_t<Eigen::Ref<MatrixT<Real>>>);
VARLEARN_GEMM_INSTANTIATE(float)
VARLEARN_GEMM_INSTANTIATE(double)
#undef VARLEARN_GEMM_INSTANTIATE

}  // namespace varlearn
