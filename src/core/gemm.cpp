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
#include "varlearn/core/parallel.hpp"

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
// An operand: a matrix or a block of its columns (no copy; non-deduced, so a matrix converts).
template <class Real>
using In = std::type_identity_t<Eigen::Ref<const MatrixT<Real>>>;

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
void run_eigen(Real alpha, const In<Real>& a, bool ta, const In<Real>& b, bool tb, Real beta,
               Out<Real> c) {
  if (!ta && !tb) eigen_product(alpha, a, b, beta, c);
  else if (ta && !tb) eigen_product(alpha, a.transpose(), b, beta, c);
  else if (!ta && tb) eigen_product(alpha, a, b.transpose(), beta, c);
  else eigen_product(alpha, a.transpose(), b.transpose(), beta, c);
}

// Whether the BLAS can take the product: linked, non-empty, every extent within its int.
template <class Real>
bool blas_can(const In<Real>& a, const In<Real>& b, const Out<Real>& c, Index k) {
#ifdef VARLEARN_HAVE_BLAS
  const auto fits = [](Index v) { return v > 0 && v < INT_MAX; };
  return fits(c.rows()) && fits(c.cols()) && fits(k) && fits(a.outerStride()) && fits(b.outerStride()) &&
         fits(c.outerStride());
#else
  (void)a, (void)b, (void)c, (void)k;
  return false;
#endif
}

template <class Real>
void run_blas(Real alpha, const In<Real>& a, bool ta, const In<Real>& b, bool tb, Real beta,
              Out<Real> c, Index k) {
#ifdef VARLEARN_HAVE_BLAS
  const auto m = static_cast<int>(c.rows()), n = static_cast<int>(c.cols()), kk = static_cast<int>(k);
  const auto op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  const auto lda = static_cast<int>(a.outerStride()), ldb = static_cast<int>(b.outerStride()), ldc = static_cast<int>(c.outerStride());
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
GemmDecision probe(const In<Real>& a, bool ta, const In<Real>& b, bool tb, Index m, Index n, Index k) {
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
Index inner_extent(const In<Real>& a, bool ta) {
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

namespace {
template <class Real>
GemmBackend backend_for(const In<Real>& a, bool ta, const In<Real>& b, bool tb) {
  const GemmBackend s = gemm_backend();
  if (s != GemmBackend::Auto) return s;
  if (!blas_available()) return GemmBackend::Eigen;
  const Index m = ta ? a.cols() : a.rows(), n = tb ? b.rows() : b.cols(), k = inner_extent<Real>(a, ta);
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

}  // namespace

template <class Real>
GemmBackend gemm_backend_for(const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb) {
  return backend_for<Real>(a, ta, b, tb);
}

namespace {
template <class Real>
void product(GemmBackend backend, Real alpha, const In<Real>& a, bool ta, const In<Real>& b, bool tb,
             Real beta, Out<Real> c) {
  const Index k = inner_extent<Real>(a, ta);
  if (backend == GemmBackend::Auto) backend = backend_for<Real>(a, ta, b, tb);
  if (backend == GemmBackend::Blas && blas_can<Real>(a, b, c, k)) run_blas(alpha, a, ta, b, tb, beta, c, k);
  else if (backend == GemmBackend::Blas && !blas_available()) run_blas(alpha, a, ta, b, tb, beta, c, k);  // throws
  else run_eigen(alpha, a, ta, b, tb, beta, c);  // Eigen, or an empty product
}

// The product's shape m x n; Error unless the inner extents agree.
template <class Real>
std::pair<Index, Index> product_shape(const In<Real>& a, bool ta, const In<Real>& b, bool tb) {
  const Index k = inner_extent<Real>(a, ta), kb = tb ? b.cols() : b.rows();
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
  const Index m = ta ? a.cols() : a.rows(), n = tb ? b.rows() : b.cols(), k = inner_extent<Real>(a, ta);
  require(k == (tb ? b.cols() : b.rows()) && m > 0 && n > 0 && k > 0, "gemm_probe", "empty or mismatched operands");
  return probe<Real>(a, ta, b, tb, m, n, k);
}

template <class Real>
void gemm_with(GemmBackend backend, Real alpha, const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, bool tb,
               Real beta, MatrixT<Real>& c) {
  const auto [m, n] = product_shape<Real>(a, ta, b, tb);
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
  const auto [m, n] = product_shape<Real>(a, ta, b, tb);
  require_shape(c.rows(), c.cols(), m, n);
  product(GemmBackend::Auto, alpha, a, ta, b, tb, beta, c);
}

template <class Real>
void gemm_by_columns(Real alpha, const MatrixT<Real>& a, bool ta, const MatrixT<Real>& b, Real beta, Out<Real> c) {
  const auto [m, n] = product_shape<Real>(a, ta, b, false);
  require_shape(c.rows(), c.cols(), m, n);
  constexpr Index kEdge = 16, kMinColumns = 32;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const Index strips = std::min<Index>(threads, n / kMinColumns);
  if (strips < 2) {
    product(GemmBackend::Auto, alpha, a, ta, b, false, beta, c);
    return;
  }
  const auto edge = [&](Index s) { return s == strips ? n : (n * s / strips) / kEdge * kEdge; };
  parallel_for(
      strips,
      [&](Index s) {
        const Index j0 = edge(s), w = edge(s + 1) - j0;
        product(GemmBackend::Auto, alpha, a, ta, b.middleCols(j0, w), false, beta, Out<Real>(c.middleCols(j0, w)));
      },
      Schedule::Static, 1);
}

// ---- PackedLhs: Eigen's sequential GEMM (GeneralMatrixMatrix.h, general_matrix_matrix_product
// for a column-major result) with its left operand's panels packed once. Same blocking
// (computeProductBlockingSizes for the product's shape, one thread), same packing routines,
// same kernel calls, so the same bits; the loops run k2, j2, i2 instead of i2, k2, j2, which
// changes no sum (each result block still receives its k2 blocks in order).

template <class Real>
struct PackedLhs<Real>::Panels {
  std::once_flag once;
  Index kc = 0, mc = 0;                                    // the blocking they were packed for
  std::vector<Real, Eigen::aligned_allocator<Real>> data;  // block (i2, k2) at offset[...]
  std::vector<Index> offset;                               // by i2 block, then k2 block
  std::atomic<bool> done{false};
};

namespace {

// Whether Eigen runs a product of this shape on the calling thread alone, as the packed path
// does: inside a parallel region, or with one thread (Parallelizer.h's conditions; where they
// say more threads, PackedLhs calls gemm() instead).
bool eigen_sequential() { return omp_get_num_threads() > 1 || Eigen::nbThreads() == 1; }

template <class Real>
struct Kernels {
  using Traits = Eigen::internal::gebp_traits<Real, Real>;
  template <int Order>
  using LhsMapper = Eigen::internal::const_blas_data_mapper<Real, Index, Order>;
  using RhsMapper = Eigen::internal::const_blas_data_mapper<Real, Index, Eigen::ColMajor>;
  using ResMapper = Eigen::internal::blas_data_mapper<Real, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
  template <int Order>
  using PackLhs = Eigen::internal::gemm_pack_lhs<Real, Index, LhsMapper<Order>, Traits::mr, Traits::LhsProgress,
                                                 typename Traits::LhsPacket4Packing, Order>;
  using PackRhs = Eigen::internal::gemm_pack_rhs<Real, Index, RhsMapper, Traits::nr, Eigen::ColMajor>;
  using Gebp = Eigen::internal::gebp_kernel<Real, Real, Index, ResMapper, Traits::mr, Traits::nr, false, false>;
};

// Packs op(A) (rows x depth; row-major view of A for A^T) block by block.
template <class Real, int Order>
void pack_panels(const Real* a, Index lda, Index rows, Index depth, Index kc, Index mc,
                 std::vector<Real, Eigen::aligned_allocator<Real>>& data, std::vector<Index>& offset) {
  constexpr Index kAlign = EIGEN_MAX_ALIGN_BYTES / static_cast<Index>(sizeof(Real));  // each block starts aligned
  Index total = 0;
  offset.clear();
  for (Index i2 = 0; i2 < rows; i2 += mc)
    for (Index k2 = 0; k2 < depth; k2 += kc) {
      offset.push_back(total);
      const Index size = (std::min(i2 + mc, rows) - i2) * (std::min(k2 + kc, depth) - k2);
      total += (size + kAlign - 1) / kAlign * kAlign;
    }
  data.resize(static_cast<size_t>(total));
  typename Kernels<Real>::template PackLhs<Order> pack;
  const typename Kernels<Real>::template LhsMapper<Order> lhs(a, lda);
  size_t b = 0;
  for (Index i2 = 0; i2 < rows; i2 += mc)
    for (Index k2 = 0; k2 < depth; k2 += kc)
      pack(data.data() + offset[b++], lhs.getSubMapper(i2, k2), std::min(k2 + kc, depth) - k2,
           std::min(i2 + mc, rows) - i2);
}

}  // namespace

template <class Real>
PackedLhs<Real>::PackedLhs(const MatrixT<Real>& a, bool trans_a)
    : a_(a), trans_a_(trans_a), panels_(std::make_unique<Panels>()) {}

template <class Real>
PackedLhs<Real>::~PackedLhs() = default;

template <class Real>
bool PackedLhs<Real>::packed() const {
  return panels_->done.load(std::memory_order_acquire);
}

template <class Real>
void PackedLhs<Real>::multiply(Real alpha, const MatrixT<Real>& b, Real beta, MatrixT<Real>& c) const {
  const auto [m, n] = product_shape<Real>(a_, trans_a_, b, false);
  if (beta == Real(0) && (c.rows() != m || c.cols() != n)) c.resize(m, n);
  require_shape(c.rows(), c.cols(), m, n);
  const Index depth = inner_extent<Real>(a_, trans_a_);
  const GemmBackend backend = gemm_backend_for(a_, trans_a_, b, false);
  // Eigen's product of this shape: a GEMM (not a coefficient loop or a GEMV), on this thread.
  const bool gemm_shape = m > 1 && n > 1 && depth > 0 && b.rows() + m + n >= EIGEN_GEMM_TO_COEFFBASED_THRESHOLD;
  if (backend != GemmBackend::Eigen || !gemm_shape || !eigen_sequential()) {
    product(backend, alpha, a_, trans_a_, b, false, beta, Out<Real>(c));
    return;
  }
  Index kc = depth, mc = m, nc = n;  // as gemm_blocking_space does for one thread
  Eigen::internal::computeProductBlockingSizes<Real, Real, 1>(kc, mc, nc, Index(1));
  mc = std::min(m, mc);
  nc = std::min(n, nc);
  Panels& p = *panels_;
  std::call_once(p.once, [&] {
    if (trans_a_)
      pack_panels<Real, Eigen::RowMajor>(a_.data(), a_.outerStride(), m, depth, kc, mc, p.data, p.offset);
    else
      pack_panels<Real, Eigen::ColMajor>(a_.data(), a_.outerStride(), m, depth, kc, mc, p.data, p.offset);
    p.kc = kc, p.mc = mc;
    p.done.store(true, std::memory_order_release);
  });
  if (p.kc != kc || p.mc != mc) {  // another blocking than the panels': Eigen's own product
    run_eigen(alpha, a_, trans_a_, b, false, beta, Out<Real>(c));
    return;
  }
  if (beta == Real(0)) c.setZero();
  else if (beta != Real(1)) c *= beta;
  using K = Kernels<Real>;
  thread_local std::vector<Real, Eigen::aligned_allocator<Real>> block_b;
  if (block_b.size() < static_cast<size_t>(kc * nc)) block_b.resize(static_cast<size_t>(kc * nc));
  const typename K::RhsMapper rhs(b.data(), b.outerStride());
  const typename K::ResMapper res(c.data(), c.outerStride(), 1);
  typename K::PackRhs pack_rhs;
  typename K::Gebp gebp;
  const Index kblocks = (depth + kc - 1) / kc;
  for (Index k2 = 0, kb = 0; k2 < depth; k2 += kc, ++kb) {
    const Index akc = std::min(k2 + kc, depth) - k2;
    for (Index j2 = 0; j2 < n; j2 += nc) {
      const Index anc = std::min(j2 + nc, n) - j2;
      pack_rhs(block_b.data(), rhs.getSubMapper(k2, j2), akc, anc);
      for (Index i2 = 0, ib = 0; i2 < m; i2 += mc, ++ib)
        gebp(res.getSubMapper(i2, j2), p.data.data() + p.offset[static_cast<size_t>(ib * kblocks + kb)], block_b.data(),
             std::min(i2 + mc, m) - i2, akc, anc, alpha);
    }
  }
}

#define VARLEARN_GEMM_INSTANTIATE(Real)                                                                      \
  template GemmBackend gemm_backend_for(const MatrixT<Real>&, bool, const MatrixT<Real>&, bool);           \
  template GemmDecision gemm_probe(const MatrixT<Real>&, bool, const MatrixT<Real>&, bool);               \
  template void gemm_with(GemmBackend, Real, const MatrixT<Real>&, bool, const MatrixT<Real>&, bool, Real, \
                          MatrixT<Real>&);                                                                 \
  template void gemm(Real, const MatrixT<Real>&, bool, const MatrixT<Real>&, bool, Real, MatrixT<Real>&);         \
  template void gemm_by_columns(Real, const MatrixT<Real>&, bool, const MatrixT<Real>&, Real,                   \
                                std::type_identity_t<Eigen::Ref<MatrixT<Real>>>);                           \
  template void gemm(Real, const MatrixT<Real>&, bool, const MatrixT<Real>&, bool, Real, std::type_identity_t<Eigen::Ref<MatrixT<Real>>>);
VARLEARN_GEMM_INSTANTIATE(float)
VARLEARN_GEMM_INSTANTIATE(double)
#undef VARLEARN_GEMM_INSTANTIATE
template class PackedLhs<float>;
template class PackedLhs<double>;

}  // namespace varlearn
