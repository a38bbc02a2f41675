#pragma once
/// \file gemm.hpp
/// The matrix products of the hot paths, C = alpha op(A) op(B) + beta C, run by one of two
/// backends: Eigen's own kernels or an optimized BLAS (OpenBLAS, linked when the build found it;
/// CMake option VARLEARN_BLAS). Which one is fastest depends on the CPU and on the BLAS's kernel
/// for it (OpenBLAS 0.3.21 falls back to SSE3 kernels on CPUs newer than it knows unless
/// OPENBLAS_CORETYPE names one), so the default, `auto`, times both on each product shape at its
/// first use and keeps the faster for the rest of the process. `--gemm` (the CLI) or the
/// environment variable VARLEARN_GEMM=eigen|blas|auto force one. docs/performance.md.
///
/// Both backends use OpenMP's thread pool (the BLAS is OpenBLAS's OpenMP build) and follow
/// ScopedThreads; inside a parallel region a product runs on the calling thread. Results are
/// deterministic for a fixed backend and thread count; the two backends agree to rounding.
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn {

/// Which kernels run the products.
enum class GemmBackend {
  Auto,   ///< the faster of the two per product shape, timed at first use (the default)
  Eigen,  ///< Eigen's kernels
  Blas,   ///< the linked BLAS (cblas_sgemm / cblas_dgemm); only where blas_available()
};

/// "auto", "eigen" or "blas".
const char* to_string(GemmBackend backend);

/// Parses "auto", "eigen" or "blas"; otherwise throws Error (BadInput) naming `where`
/// (e.g. "--gemm" or "VARLEARN_GEMM"). "blas" in a build without a BLAS is an error too.
GemmBackend parse_gemm_backend(const std::string& text, const std::string& where);

/// Whether this build links a BLAS.
bool blas_available() noexcept;

/// The process-wide setting: the last set_gemm_backend() if any (the CLI's --gemm), else the
/// environment variable VARLEARN_GEMM read once (throws Error on a bad value), else Auto.
GemmBackend gemm_backend();
/// Forces the setting for the rest of the process (a BLAS choice needs blas_available(), else
/// Error); clears the decisions of earlier `auto` probes.
void set_gemm_backend(GemmBackend backend);
/// Where the setting came from: "--gemm" (set_gemm_backend), "VARLEARN_GEMM" or "default".
std::string gemm_backend_source();

/// What the linked BLAS reports about itself (OpenBLAS: openblas_get_config/_corename).
struct BlasInfo {
  bool available = false;  ///< built with a BLAS
  std::string library;     ///< the file loaded, e.g. "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0"
  std::string config;      ///< openblas_get_config(): version and build options
  std::string kernel;      ///< openblas_get_corename(): the kernel set chosen for this CPU
  std::string threading;   ///< "openmp", "pthread" or "serial"
  int threads = 0;         ///< openblas_get_num_threads()
  /// False when the kernel set does not use this CPU's widest vector unit (OpenBLAS 0.3.21 picks
  /// its SSE3 "Prescott" kernels on CPUs newer than it knows): `auto` then keeps Eigen without
  /// probing, so that the choice does not depend on timing noise where the outcome is known.
  bool kernel_matches_cpu = true;
  /// Non-empty when the kernel set does not use this CPU's widest vector unit (e.g. "Prescott"
  /// on an AVX-512 CPU): what to set before starting the program to use it.
  std::string hint;
};
BlasInfo blas_info();

/// One `auto` decision: the shape, the thread count it ran with, both times (best of a few
/// repetitions) and the backend kept.
struct GemmDecision {
  const char* scalar = "";  ///< "float32" or "float64"
  Index m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int threads = 1;
  double eigen_seconds = 0, blas_seconds = 0;
  GemmBackend chosen = GemmBackend::Eigen;
};
/// The decisions made so far in this process, in the order they were made.
std::vector<GemmDecision> gemm_decisions();

/// The backend a product of this shape runs with now: the forced one, or for Auto the cached
/// decision, probing both backends on the operands (into a scratch C) when it is the shape's
/// first use. Under Auto, products below kGemmProbeMinFlops, and all products when the BLAS's
/// kernels do not match the CPU (BlasInfo::kernel_matches_cpu), run with Eigen.
template <class Real>
GemmBackend gemm_backend_for(const MatrixT<Real>& a, bool trans_a, const MatrixT<Real>& b, bool trans_b);

/// Times both backends on this product into a scratch C (best of a few alternating runs) and
/// returns what `auto` would keep if the BLAS's kernels match the CPU; caches nothing. Needs
/// blas_available() (else Error). `varlearn info --probe` prints it.
template <class Real>
GemmDecision gemm_probe(const MatrixT<Real>& a, bool trans_a, const MatrixT<Real>& b, bool trans_b);

/// Products smaller than this (2 m n k flops) are not probed: Eigen, without call overhead.
inline constexpr double kGemmProbeMinFlops = 1e6;

/// C = alpha op(A) op(B) + beta C, op(X) = X or X^T. C is resized when beta = 0 and its shape
/// differs; otherwise shapes must match (Error). With the Eigen backend this is exactly
/// `c.noalias() += alpha * op(a) * op(b)` (after `c *= beta` when beta is not 0 or 1).
/// C must not share memory with A or B.
template <class Real>
void gemm(Real alpha, const MatrixT<Real>& a, bool trans_a, const MatrixT<Real>& b, bool trans_b, Real beta,
          MatrixT<Real>& c);

/// The same into a block or a mapped array (C keeps its shape, which must match).
template <class Real>
void gemm(Real alpha, const MatrixT<Real>& a, bool trans_a, const MatrixT<Real>& b, bool trans_b, Real beta,
          std::type_identity_t<Eigen::Ref<MatrixT<Real>>> c);

/// The same product with a given backend (Auto: as gemm()). For tests and benchmarks.
template <class Real>
void gemm_with(GemmBackend backend, Real alpha, const MatrixT<Real>& a, bool trans_a, const MatrixT<Real>& b,
               bool trans_b, Real beta, MatrixT<Real>& c);

/// gemm(alpha, a, trans_a, b, false, beta, c) with the columns of B and C split into one strip
/// per OpenMP thread (at least 32 columns per thread; strip edges at multiples of 16), each
/// strip a product on its own thread; fewer columns, or inside a parallel region: gemm(). C
/// keeps its shape, which must match (a matrix, a block or a mapped array). On two
/// cores, Eigen's threading within one product (its threads share packed operands and wait for
/// each other) ran M = R^T R at n = 320 ~10 % slower than two independent halves. With Eigen's
/// kernels every entry is the sum a one-thread gemm() forms (its depth blocking does not depend
/// on the columns), so the result does not depend on the thread count.
template <class Real>
void gemm_by_columns(Real alpha, const MatrixT<Real>& a, bool trans_a, const MatrixT<Real>& b, Real beta,
                     std::type_identity_t<Eigen::Ref<MatrixT<Real>>> c);

/// op(A) B for one fixed A and many B: the unrolled iteration multiplies the same M = R^T R (or
/// R and R^T) by a new column block of frames at every step. Eigen's GEMM packs its left operand
/// into the kernel's panels at every call (for M of 320 x 320 and 128 frames, ~8 % of the
/// product's time); a PackedLhs packs it once, at its first product that runs on Eigen's kernels
/// on one thread, and every later such product, on any thread, reads the same panels. The
/// operations and their order are those of gemm(): the results are the same bits. Where gemm()
/// would run otherwise (the BLAS, Eigen on several threads, a matrix-vector product, another
/// cache blocking of the product), multiply() is gemm().
template <class Real>
class PackedLhs {
public:
  /// op(A) = a or a^T. `a` is read at the first packed product, not before; it must outlive this
  /// object and not change after that product.
  PackedLhs(const MatrixT<Real>& a, bool trans_a);
  ~PackedLhs();
  PackedLhs(const PackedLhs&) = delete;
  PackedLhs& operator=(const PackedLhs&) = delete;

  /// c = alpha op(A) b + beta c: gemm(alpha, a, trans_a, b, false, beta, c). Thread-safe (the
  /// first packed product packs; concurrent ones wait for it).
  void multiply(Real alpha, const MatrixT<Real>& b, Real beta, MatrixT<Real>& c) const;
  /// Whether a product has packed the panels so far.
  bool packed() const;

private:
  struct Panels;
  const MatrixT<Real>& a_;
  bool trans_a_;
  std::unique_ptr<Panels> panels_;
};

/// An operator's two products from panels packed once: A B (`forward`) and A^T B (`adjoint`), for
/// an iteration that applies A and its adjoint to a new block of frames at every step.
template <class Real>
struct PackedOperator {
  explicit PackedOperator(const MatrixT<Real>& a) : forward(a, false), adjoint(a, true) {}
  PackedLhs<Real> forward, adjoint;
};

}  // namespace varlearn
