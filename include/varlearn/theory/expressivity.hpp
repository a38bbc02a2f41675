#pragma once
/// \file expressivity.hpp
/// Which matrices a family can express with rank-k regularizers (talk, "Expressivity"):
///  - bilevel:   \f$A_k = \{T = T^T,\ 0 \prec T \preceq I,\ \dim Eig(T,1) \ge n-k\}\f$;
///  - unrolled, N even: \f$\{U = U^T,\ \dim Eig(U,b) \ge n-k,\ U \preceq bI\}\f$;
///  - unrolled, N odd >= 3: \f$\{U = U^T,\ \dim Eig(U,b) \ge n-k,\ U \succeq c_{N,\omega} I\}\f$;
///  - unrolled, N = 1: \f$\{\omega I\}\f$.
#include <string>

#include "varlearn/core/types.hpp"
#include "varlearn/theory/family.hpp"

namespace varlearn::theory {

struct Membership {
  bool member = false;
  std::string reason;        ///< why not (empty when member)
  Index eigen_b_count = 0;   ///< eigenvalues within tol of b
  double min_eigenvalue = 0, max_eigenvalue = 0;
};

/// Decides \f$T \in\f$ the family's set for rank k; eigenvalues are compared with absolute
/// tolerance `tol` (symmetry: ||T - T^T||_max <= tol).
Membership membership(const Family& family, const Matrix& t, Index rank, double tol = 1e-9);

/// A k x n R with \f$f(R^T R) = T\f$ for an admissible T (throws Error naming the violated
/// condition otherwise).
Matrix realize(const Family& family, const Matrix& t, Index rank, double tol = 1e-9);

}  // namespace varlearn::theory
