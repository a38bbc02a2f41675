#pragma once
/// \file optimizer.hpp
/// Generic optimizers on a flat parameter vector (float or double): Adam and L-BFGS.
/// They never print: progress goes to an Observer, the outcome to an OptimResult.
/// Both stop on divergence (non-finite or exploding loss) and then leave x at the last
/// good iterate.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::learn {

/// Objective for the optimizers: returns \f$L(x)\f$ and writes \f$\nabla L(x)\f$ into grad
/// (already sized like x). A stochastic objective (minibatches) is a stateful closure that
/// moves to its next minibatch on each call.
template <class T>
using Objective = std::function<T(const VectorT<T>& x, VectorT<T>& grad)>;

/// What the optimizer reports after each accepted iteration.
struct Progress {
  int iteration = 0;       ///< accepted iterations so far (1-based after the first)
  int max_iterations = 0;
  double loss = 0;         ///< loss at the current x (minibatch loss for stochastic runs)
  double grad_norm = 0;    ///< \f$\|\nabla L\|_2\f$ at the current x
  double step = 0;         ///< learning rate (Adam) or line-search step (L-BFGS)
  int evaluations = 0;     ///< objective calls so far
  double elapsed_s = 0;
  /// Rough remaining time assuming every remaining iteration costs the average so far.
  double eta_s() const {
    return iteration > 0 ? elapsed_s / iteration * (max_iterations - iteration) : 0.0;
  }
};

/// Called after each accepted iteration; x (the vector passed to the optimizer) holds the
/// current iterate at that moment. Return false to stop (status Stopped).
using Observer = std::function<bool(const Progress&)>;

enum class OptimStatus {
  Converged,         ///< gradient or relative loss change below tolerance
  MaxIterations,     ///< iteration budget spent
  Stopped,           ///< the observer asked to stop (e.g. early stopping)
  Diverged,          ///< non-finite or exploding loss; x is the last good iterate
  LineSearchFailed,  ///< L-BFGS: no acceptable step even after restart; x is the best found
};
const char* to_string(OptimStatus status);

struct OptimResult {
  OptimStatus status = OptimStatus::MaxIterations;
  int iterations = 0;
  int evaluations = 0;
  double loss = 0;          ///< loss at the returned x (last evaluated there)
  double grad_norm = 0;
  double seconds = 0;
  std::string message;      ///< one line: why it stopped
  std::vector<double> history;  ///< loss after each iteration (if record_history)
  bool ok() const {
    return status == OptimStatus::Converged || status == OptimStatus::MaxIterations ||
           status == OptimStatus::Stopped;
  }
};

/// Adam (Kingma & Ba) with optional learning-rate decay
/// \f$\eta_t = \eta\cdot\texttt{decay}^{\lfloor t/\texttt{decay\_every}\rfloor}\f$.
struct AdamOptions {
  double learning_rate = 1e-2;  ///< \f$\eta\f$, > 0
  double beta1 = 0.9;           ///< first-moment decay, in [0,1)
  double beta2 = 0.999;         ///< second-moment decay, in [0,1)
  double epsilon = 1e-8;        ///< denominator guard, > 0
  double decay = 1.0;           ///< multiplicative lr decay factor, in (0,1]
  int decay_every = 1000;       ///< iterations between decays, >= 1
  int max_iterations = 1000;    ///< >= 1
  double gradient_tolerance = 0;  ///< stop (Converged) when \f$\|\nabla L\|\le\f$ this; 0 = never
  /// Diverged when loss > divergence_factor * (first loss + 1e-300) or non-finite.
  double divergence_factor = 1e8;
  bool record_history = true;
  void validate() const;  ///< throws Error naming the bad field
};

/// Adam's state, for callers that drive their own loop (one step per gradient).
template <class T>
class Adam {
public:
  Adam(const AdamOptions& options, Index size);
  /// One update \f$x \leftarrow x - \eta_t \hat m/(\sqrt{\hat v}+\epsilon)\f$ for gradient g.
  void step(VectorT<T>& x, const VectorT<T>& g);
  int steps() const { return t_; }
  double current_learning_rate() const;
  void reset();

private:
  AdamOptions opt_;
  VectorT<T> m_, v_;
  int t_ = 0;
};

/// Minimizes with Adam for options.max_iterations objective calls.
template <class T>
OptimResult minimize_adam(const Objective<T>& f, VectorT<T>& x, const AdamOptions& options = {},
                          const Observer& observer = {});

/// L-BFGS with a strong-Wolfe line search (bracketing + cubic-interpolation zoom, Nocedal &
/// Wright Alg. 3.5/3.6), falling back to Armijo backtracking, and a restart (memory cleared,
/// steepest descent) when the search fails.
struct LbfgsOptions {
  int memory = 10;               ///< m: correction pairs kept, >= 1
  int max_iterations = 500;      ///< >= 1
  double gradient_tolerance = 1e-10;  ///< Converged when \f$\|\nabla L\|_\infty \le\f$ tol*max(1,|L|)
  double loss_tolerance = 1e-14; ///< Converged when relative loss decrease < tol for `past` its
  int past = 5;                  ///< iterations over which loss_tolerance is measured, >= 1
  double c1 = 1e-4;              ///< Armijo constant, in (0, c2)
  double c2 = 0.9;               ///< curvature constant, in (c1, 1)
  int max_line_search = 40;      ///< function evaluations per line search, >= 1
  double divergence_factor = 1e8;
  bool record_history = true;
  void validate() const;
};

template <class T>
OptimResult minimize_lbfgs(const Objective<T>& f, VectorT<T>& x, const LbfgsOptions& options = {},
                           const Observer& observer = {});

}  // namespace varlearn::learn
