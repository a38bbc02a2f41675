#pragma once
/// \file chambolle_pock.hpp
/// Classic dequantization (Brauer, Lorenz, Gerkmann 2016): per frame
///   \f$\min_x \|x\|_1 \ \text{s.t.}\ \ell \le Kx \le u\f$, \f$K = DCT^{-1} = C^T\f$,
/// (for mid-rise cells \f$[\ell,u] = [s-\Delta/2, s+\Delta/2]\f$, i.e. \f$\|Kx - s\|_\infty\le\Delta/2\f$),
/// solved by Chambolle–Pock on \f$\min_x F(Kx) + G(x)\f$, \f$F = \iota_{[\ell,u]}\f$,
/// \f$G = \|\cdot\|_1\f$, batched over frames (columns). One iteration (θ = 1):
///   \f$y \leftarrow v - \mathrm{clamp}(v, \sigma\ell, \sigma u),\ v = y + \sigma K\bar x\f$  (prox of \f$\sigma F^*\f$)
///   \f$x^+ \leftarrow \mathrm{soft}_\tau(x - \tau K^T y)\f$,  \f$\bar x \leftarrow 2x^+ - x\f$.
/// Certified duality gap per frame (K orthonormal): the primal bound
/// \f$P = \|C\,\Pi_{[\ell,u]}(Kx)\|_1\f$ is the objective of a feasible point, the dual bound
/// \f$D = -\sum_i \max(\ell_i \hat y_i, u_i \hat y_i)\f$ with \f$\hat y = y/\max(1, \|K^Ty\|_\infty)\f$ is
/// the value of a feasible dual point, so \f$D \le \min \le P\f$ always.
#include "varlearn/core/types.hpp"
#include "varlearn/optim/progress.hpp"

namespace varlearn::dequant {

/// Starting point \f$x^0\f$ (\f$\bar x^0 = x^0, y^0 = 0\f$).
enum class CpInit {
  Zero,     ///< \f$x^0 = 0\f$
  Adjoint,  ///< \f$x^0 = K^T s\f$, the DCT of the quantized frame (default): then \f$Kx^0 = s\f$
};

struct CpOptions {
  double tau = 1.0;    ///< \f$\tau\f$, primal step (> 0); convergence needs \f$\tau\sigma\|K\|^2 \le 1\f$, \f$\|K\| = 1\f$
  double sigma = 1.0;  ///< \f$\sigma\f$, dual step (> 0); default \f$\tau = \sigma = 1\f$
  int max_iterations = 20000;  ///< iteration budget; with gap_tolerance = 0 exactly this many (depth N)
  /// Stop when every frame has \f$P - D \le \texttt{gap\_tolerance}\cdot\max(P, 10^{-12})\f$
  /// (relative duality gap); 0 = fixed budget (max_iterations iterations). Default 1e-6.
  double gap_tolerance = 1e-6;
  int check_every = 10;  ///< gap evaluated every this many iterations (>= 1)
  CpInit init = CpInit::Adjoint;
  /// Output \f$\Pi_{[\ell,u]}(Kx)\f$ (exactly inside the cells) instead of \f$Kx\f$. Default on.
  bool project_output = true;
  /// Threads of the GEMMs (Eigen/OpenMP) during the solve; 0 = leave Eigen's setting. Default 1:
  /// the matrices are small, and an OpenMP team spinning on a loaded 2-core machine was
  /// measured 10-50x slower than one thread.
  int threads = 1;
  void validate() const;  ///< throws Error naming the bad field
};

/// Outcome of a batched solve (never printed by the library): the common optim::Result plus
/// the certified bounds.
struct CpResult {
  Matrix coefficients;  ///< x (n x B), the DCT coefficients
  Matrix signal;        ///< output frames: Kx, or its projection onto the cells
  /// Status (Converged: gap tolerance met, never in fixed-budget mode; MaxIterations;
  /// Stopped), iterations, seconds, message. Its loss is \f$\sum_b P_b\f$.
  optim::Result optim;
  Vector primal;           ///< per frame P (certified upper bound on the optimum)
  Vector dual;             ///< per frame D (certified lower bound)
  double max_gap = 0;      ///< \f$\max_b (P_b - D_b)\f$
  double max_rel_gap = 0;  ///< \f$\max_b (P_b - D_b)/\max(P_b, 10^{-12})\f$
  double max_cell_violation = 0;  ///< \f$\max\, \mathrm{dist}(\text{signal}, [\ell,u])\f$ (0 when projected)
  int iterations() const { return optim.iterations; }
  bool converged() const { return optim.status == optim::Status::Converged; }
};

/// Frames whose certified relative gap meets the tolerance are frozen and leave the batch
/// (active set), so the slow tail of a few hard frames costs only those frames.
/// The observer is called at every gap check with Progress::residual = the largest relative
/// gap of the still-active frames (Progress::loss is not computed: 0); return false to stop.

/// Solves the batch. quantized, lower, upper: n x B (lower <= quantized <= upper).
/// Throws Error on shape mismatch, empty batch, lower > upper, non-finite input, bad options.
CpResult solve_l1_dequant(const Matrix& quantized, const Matrix& lower, const Matrix& upper,
                          const CpOptions& options = {}, const optim::Observer& observer = {});

/// Iterates of one batched run, reused across iterations (benchmarks, the unrolled network).
template <class T> struct CpState {
  MatrixT<T> x, xbar, y, work;
};

/// One Chambolle–Pock iteration with operator K (n x n) in place on `state`.
template <class T>
void cp_iteration(const MatrixT<T>& k, const MatrixT<T>& lower, const MatrixT<T>& upper, T tau, T sigma,
                  CpState<T>& state);

/// Soft thresholding \f$\mathrm{soft}_t(z) = \mathrm{sign}(z)\max(|z| - t, 0)\f$.
template <class T> inline T soft_threshold(T z, T t) {
  return z > t ? z - t : (z < -t ? z + t : T(0));
}

}  // namespace varlearn::dequant
