#pragma once
/// \file lbfgs.hpp
/// L-BFGS (Nocedal & Wright Alg. 7.4/7.5): search direction \f$d = -H_k\nabla L\f$ by the
/// two-loop recursion over the last m pairs \f$s = x_{k+1}-x_k\f$, \f$y = \nabla L_{k+1}-\nabla L_k\f$
/// (initial \f$H_0 = (s^Ty/y^Ty) I\f$), step by LineSearch; on a failed search the memory is
/// cleared once (steepest descent restart).
#include <type_traits>

#include "varlearn/core/types.hpp"
#include "varlearn/optim/function.hpp"
#include "varlearn/optim/line_search.hpp"
#include "varlearn/optim/progress.hpp"
#include "varlearn/optim/state.hpp"

namespace varlearn::optim {

struct LbfgsOptions {
  int memory = 10;               ///< m: correction pairs kept, >= 1
  int max_iterations = 500;      ///< >= 1
  /// Converged when \f$\|\nabla L\|_\infty \le \texttt{gradient\_tolerance}\cdot\max(1,|L|)\f$.
  double gradient_tolerance = 1e-10;
  /// Converged when the relative loss decrease over `past` iterations is below this.
  double loss_tolerance = 1e-14;
  int past = 5;                  ///< iterations over which loss_tolerance is measured, >= 1
  LineSearchOptions line_search; ///< strong Wolfe constants and budgets
  bool record_history = true;    ///< Result::history gets the loss of every iteration
  void validate() const;         ///< throws Error naming the bad field
};

class Lbfgs {
public:
  explicit Lbfgs(const LbfgsOptions& options = {});
  const LbfgsOptions& options() const { return options_; }
  /// Minimizes a deterministic f from x (in place). T is float or double; the two-loop
  /// products are accumulated in double. `checkpointing` hands out the state (x, gradient,
  /// correction pairs, loss history of the `past` test) every few iterations and/or resumes
  /// from one (state.hpp); the observer is called before the sink for the same iteration.
  template <class T>
  Result minimize(const std::type_identity_t<Function<T>>& f, VectorT<T>& x, const Observer& observer = {},
                  const Checkpointing& checkpointing = {}) const;

private:
  LbfgsOptions options_;
};

}  // namespace varlearn::optim
