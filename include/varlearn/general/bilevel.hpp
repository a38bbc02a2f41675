#pragma once
/// \file bilevel.hpp
/// Bilevel learning by implicit differentiation (docs/general.md): the lower level
/// \f$f^* = \arg\min_F E(F;\theta)\f$ solved to \f$\|\nabla_F E(f^*)\|_F \le\f$ tol
/// (Newton–CG with a backtracking line search), then \f$H w = (f^* - F^\dagger)/B\f$ by
/// conjugate gradients on \f$H = \nabla^2_F E(f^*)\f$ (Energy::hessian_product) and the
/// hypergradient \f$d\ell/d\theta = -\texttt{mixed\_product}(f^*, w)\f$ of
/// \f$\ell = \tfrac12\|f^* - F^\dagger\|_F^2 / B\f$. Every hypergradient comes with the
/// lower-level gradient norm and the CG residual; an indefinite H (CG meets
/// \f$p^THp \le 0\f$, e.g. the student potential) is an Error, never a silent wrong gradient.
#include "varlearn/core/types.hpp"
#include "varlearn/general/energy.hpp"
#include "varlearn/general/unrolled.hpp"

namespace varlearn::general {

struct BilevelOptions {
  double tolerance = 1e-10;        ///< lower level: stop at \f$\|\nabla_F E\|_F \le\f$ tolerance (> 0)
  int max_iterations = 100;        ///< Newton–CG iterations of the lower level, >= 1
  double cg_tolerance = 1e-12;     ///< CG stops at \f$\|Hw - b\|_F \le\f$ cg_tolerance \f$\|b\|_F\f$ (> 0)
  int max_cg_iterations = 0;       ///< per CG solve; 0 = 2 n B
  UnrolledInit init = UnrolledInit::Adjoint;  ///< start of the lower-level solver
  /// Throws Error naming the bad field.
  void validate() const;
};

struct LowerLevelResult {
  Matrix f;                  ///< \f$f^*\f$ (n x B)
  double gradient_norm = 0;  ///< \f$\|\nabla_F E(f^*)\|_F\f$
  int iterations = 0;        ///< Newton–CG iterations
};

/// Minimizes E from `start` (or options.init when null). Newton directions by CG; where CG
/// meets non-positive curvature the direction falls back to the CG iterate so far (steepest
/// descent if none), so nonconvex energies are handled too. Throws Error when the tolerance
/// is not reached in max_iterations, or on a non-finite iterate.
LowerLevelResult solve_lower_level(const Energy& energy, const BilevelOptions& options, const Matrix* start = nullptr);

struct ImplicitGradient {
  Vector gradient;           ///< \f$d\ell/d\theta = -\texttt{mixed\_product}(f^*, w)\f$
  Matrix w;                  ///< \f$H^{-1}(f^* - F^\dagger)/B\f$
  double cg_residual = 0;    ///< \f$\|Hw - (f^* - F^\dagger)/B\|_F\f$ (recomputed)
  int cg_iterations = 0;
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
  int lower_iterations = 0;
  double cg_residual = 0;          ///< of the adjoint solve (0 without gradient)
  int cg_iterations = 0;
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

}  // namespace varlearn::general
