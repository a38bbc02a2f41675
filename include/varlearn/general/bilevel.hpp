#pragma once
/// \file bilevel.hpp
/// Bilevel learning by implicit differentiation (docs/general.md): the lower level
/// \f$f^* = \arg\min_F E(F;\theta)\f$ solved to \f$\|\nabla_F E(f^*)\|_F \le\f$ tol
/// (Newton–CG or L-BFGS, each with a backtracking line search), then \f$H w = (f^* - F^\dagger)/B\f$ by
/// conjugate gradients on \f$H = \nabla^2_F E(f^*)\f$ (Energy::hessian_product) and the
/// hypergradient \f$d\ell/d\theta = -\texttt{mixed\_product}(f^*, w)\f$ of
/// \f$\ell = \tfrac12\|f^* - F^\dagger\|_F^2 / B\f$. Every hypergradient comes with the
/// lower-level gradient norm and the CG residual; an indefinite H (CG meets
/// \f$p^THp \le 0\f$, e.g. the student potential) is an Error, never a silent wrong gradient.
/// The cost is counted in Hessian-vector products (the lower level's CG iterations plus the
/// adjoint CG) and gradient evaluations; tolerance_table() measures the hypergradient error
/// against the lower-level tolerance (the inexact-bilevel trade-off).
///
/// The frames are independent problems (\f$E = \sum_b E_b(f_b)\f$, H block diagonal), so from
/// frame_block_columns(n, B) frames on (128 at n = 320; general::frame_blocks) the lower level and
/// the adjoint solve run per column block, each block to its share \f$\text{tol}\sqrt{w/B}\f$ of
/// the lower-level tolerance (so that the batch's \f$\|\nabla_F E\|_F \le\f$ tol holds) and to the
/// relative CG tolerance; the blocks run on the threads and are added in block order (the same
/// result for every thread count). Counts are then sums over the blocks' calls (each product on
/// one block's frames), iterations the most of any block.
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/general/energy.hpp"
#include "varlearn/general/unrolled.hpp"

namespace varlearn::general {

/// The lower-level solver. Both stop at the same certified \f$\|\nabla_F E\|_F \le\f$ tolerance.
enum class LowerSolver {
  NewtonCg,  ///< Newton directions by CG on Hessian-vector products (few iterations, HVPs)
  Lbfgs,     ///< L-BFGS on E over the n x B frames (gradients only, no HVP)
};
const char* to_string(LowerSolver s);                  ///< "newton-cg" | "lbfgs"
LowerSolver parse_lower_solver(const std::string& s);  ///< throws Error on unknown names

struct BilevelOptions {
  double tolerance = 1e-10;        ///< lower level: stop at \f$\|\nabla_F E\|_F \le\f$ tolerance (> 0)
  LowerSolver lower_solver = LowerSolver::NewtonCg;
  int max_iterations = 100;        ///< Newton–CG iterations of the lower level, >= 1
  int lbfgs_max_iterations = 10000;  ///< L-BFGS iterations of the lower level, >= 1
  int lbfgs_memory = 10;           ///< L-BFGS correction pairs kept, >= 1
  double cg_tolerance = 1e-12;     ///< CG stops at \f$\|Hw - b\|_F \le\f$ cg_tolerance \f$\|b\|_F\f$ (> 0)
  int max_cg_iterations = 0;       ///< per CG solve; 0 = 2 n B
  UnrolledInit init = UnrolledInit::Adjoint;  ///< start of the lower-level solver
  /// Throws Error naming the bad field.
  void validate() const;
};

struct LowerLevelResult {
  Matrix f;                  ///< \f$f^*\f$ (n x B)
  double gradient_norm = 0;  ///< \f$\|\nabla_F E(f^*)\|_F\f$
  int iterations = 0;        ///< Newton–CG or L-BFGS iterations (the most of any column block)
  long hessian_products = 0;      ///< Hessian-vector products (Newton–CG's inner CG; 0 for L-BFGS)
  long gradient_evaluations = 0;  ///< gradients of E evaluated
  long value_evaluations = 0;     ///< values of E evaluated (line searches)
};

/// Minimizes E from `start` (or options.init when null) with options.lower_solver.
/// Newton–CG: Newton directions by CG; where CG meets non-positive curvature the direction
/// falls back to the CG iterate so far (steepest descent if none), so nonconvex energies are
/// handled too. L-BFGS: two-loop directions over the last lbfgs_memory pairs (Frobenius inner
/// products), steepest descent when that is no descent direction. Both: Armijo backtracking on
/// E, and where E's decrease is below its rounding a step that halves \f$\|\nabla E\|_F\f$ is
/// accepted. Throws Error when the tolerance is not reached within the iteration limit, when
/// the line search fails, or on a non-finite iterate.
LowerLevelResult solve_lower_level(const Energy& energy, const BilevelOptions& options, const Matrix* start = nullptr);

struct ImplicitGradient {
  Vector gradient;           ///< \f$d\ell/d\theta = -\texttt{mixed\_product}(f^*, w)\f$
  Matrix w;                  ///< \f$H^{-1}(f^* - F^\dagger)/B\f$
  double cg_residual = 0;    ///< \f$\|Hw - (f^* - F^\dagger)/B\|_F\f$ (recomputed)
  int cg_iterations = 0;      ///< the most of any column block
  long hessian_products = 0; ///< CG iterations + 1 (the recomputed residual) per block; 0 when b = 0
};

/// The implicit hypergradient at a given (approximate) minimizer f_star. Throws Error when
/// CG meets \f$p^THp \le 0\f$ (H not positive definite at f_star: no implicit gradient) or
/// does not reach cg_tolerance.
ImplicitGradient implicit_hypergradient(const Energy& energy, const Matrix& f_star, const Matrix& target,
                                        const BilevelOptions& options);

struct BilevelResult {
  double loss = 0;                 ///< \f$\tfrac12\|f^* - F^\dagger\|_F^2 / B\f$
  Matrix output;                   ///< \f$f^*\f$
  Vector gradient;                 ///< \f$d\ell/d\theta\f$ (empty unless requested)
  double lower_gradient_norm = 0;  ///< \f$\|\nabla_F E(f^*)\|_F\f$
  int lower_iterations = 0;       ///< the most of any column block
  double cg_residual = 0;          ///< of the adjoint solve (0 without gradient)
  int cg_iterations = 0;           ///< the most of any column block
  /// The cost measure: all Hessian-vector products, lower level (Newton–CG's inner CG
  /// iterations) + adjoint (CG iterations + 1 residual check).
  long hessian_products = 0;
  long lower_hessian_products = 0;  ///< the lower level's part of hessian_products
  long gradient_evaluations = 0;    ///< Energy::gradient calls of the lower level
};

/// Solves the lower level and, when `with_gradient`, the adjoint system.
BilevelResult bilevel_loss(const Energy& energy, const Matrix& target, const BilevelOptions& options,
                           bool with_gradient = true);

/// The bilevel loss as an optim objective over \f$\theta\f$ (the regularizer's flat vector).
/// Owns a copy of the energy; last() is the report of the latest call.
class BilevelObjective {
public:
  BilevelObjective(Energy energy, Matrix target, BilevelOptions options);
  Index num_parameters() const { return energy_.num_parameters(); }
  Vector parameters() const { return energy_.parameters(); }
  double evaluate_with_gradient(const Vector& theta, Vector& grad);
  double evaluate(const Vector& theta);
  const BilevelResult& last() const { return last_; }

private:
  void set(const Vector& theta, const char* where);
  Energy energy_;
  Matrix target_;
  BilevelOptions options_;
  BilevelResult last_;
};

/// One row of the hypergradient-error-vs-tolerance table.
struct ToleranceRow {
  double tolerance = 0;            ///< the lower level's \f$\|\nabla_F E\|_F\f$ tolerance
  int lower_iterations = 0;
  long hessian_products = 0;       ///< BilevelResult::hessian_products
  double lower_gradient_norm = 0;  ///< \f$\|\nabla_F E(\tilde f)\|_F\f$ reached (<= tolerance)
  double cg_residual = 0;          ///< of the adjoint solve
  /// \f$\|g_{tol} - g_{ref}\|_2 / \|g_{ref}\|_2\f$ against the hypergradient at the
  /// tightest tolerance of the table (whose own row reads 0).
  double relative_error = 0;
  long gradient_evaluations = 0;   ///< BilevelResult::gradient_evaluations
  int cg_iterations = 0;           ///< of the adjoint solve
};

/// For each lower-level tolerance (any order, each > 0), the bilevel hypergradient with the
/// options `base` (solver, CG tolerance, start) but that tolerance, and its relative error
/// against the reference: the hypergradient at the tightest tolerance given (include one
/// near what the energy's rounding allows, e.g. 1e-12; check the reference itself with
/// reference_fd_error). Rows in the order given. The inexact-bilevel trade-off: the error is
/// \f$O(\|\nabla E(\tilde f)\| + \text{CG residual})\f$ with constants in \f$\|H^{-1}\|\f$, the cost
/// grows like log(1/tol) (Newton–CG: slower far out, then quadratic). Throws Error on an
/// empty list, a tolerance <= 0, or when a solve fails.
std::vector<ToleranceRow> tolerance_table(const Energy& energy, const Matrix& target,
                                          const std::vector<double>& tolerances, const BilevelOptions& base);

/// The bilevel hypergradient at `options` against central differences of the *solved* lower
/// level's loss, \f$(\ell(\theta + h e_i) - \ell(\theta - h e_i))/2h\f$ (each side solved to
/// options.tolerance from the same start): \f$\|g_S - d_S\|_2/\|d_S\|_2\f$ over the coordinates S
/// (all when `coordinates` is 0 or >= p, else that many evenly spaced). The check of
/// tolerance_table's reference. Throws Error when h <= 0 or a solve fails.
double reference_fd_error(const Energy& energy, const Matrix& target, const BilevelOptions& options,
                          double step = 1e-4, Index coordinates = 0);

}  // namespace varlearn::general
