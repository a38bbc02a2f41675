#pragma once
/// \file line_search.hpp
/// Line search along a descent direction d of \f$\phi(a) = L(x + a d)\f$: strong Wolfe
/// (bracketing + cubic-interpolation zoom, Nocedal & Wright Alg. 3.5 / 3.6), with Armijo
/// backtracking as the fallback when no Wolfe point is found within the budget.
/// Strong Wolfe conditions for step a, with \f$0 < c_1 < c_2 < 1\f$:
///   sufficient decrease \f$\phi(a) \le \phi(0) + c_1 a \phi'(0)\f$,
///   curvature \f$|\phi'(a)| \le c_2 |\phi'(0)|\f$.
#include "varlearn/core/types.hpp"
#include "varlearn/optim/function.hpp"

namespace varlearn::optim {

struct LineSearchOptions {
  double c1 = 1e-4;           ///< \f$c_1\f$, Armijo constant, in (0, c2)
  double c2 = 0.9;            ///< \f$c_2\f$, curvature constant, in (c1, 1)
  int max_evaluations = 40;   ///< function evaluations of the Wolfe search (bracket + zoom), >= 1
  double expansion = 2.5;     ///< bracketing: the step grows by this factor, > 1
  int max_backtracking = 60;  ///< Armijo fallback: halvings of the step, >= 0
  void validate() const;      ///< throws Error naming the bad field
};

struct LineSearchResult {
  bool found = false;   ///< an acceptable step (strong Wolfe, or sufficient decrease by the fallback)
  bool wolfe = false;   ///< found by the strong-Wolfe search (false: fallback, or none)
  double step = 0;      ///< a (the last tried one when not found)
  double loss = 0;      ///< \f$\phi(a)\f$
  double slope = 0;     ///< \f$\phi'(a)\f$
  int evaluations = 0;  ///< objective calls, all phases
};

template <class T>
class LineSearch {
public:
  explicit LineSearch(const LineSearchOptions& options = {});
  const LineSearchOptions& options() const { return options_; }
  /// Searches along d from x, where \f$\phi(0)\f$ = loss and \f$\phi'(0)\f$ = slope < 0.
  /// Starts the Wolfe search at initial_step and the fallback at backtracking_step. On return
  /// x_new = x + a d and grad_new = \f$\nabla L(x_new)\f$ for the returned step (when found).
  /// A non-finite gradient counts as an infinite loss.
  LineSearchResult search(const Function<T>& f, const VectorT<T>& x, double loss, double slope,
                          const VectorT<T>& d, double initial_step, double backtracking_step,
                          VectorT<T>& x_new, VectorT<T>& grad_new) const;

private:
  LineSearchOptions options_;
};

}  // namespace varlearn::optim
