#pragma once
/// \file progress.hpp
/// What every iterative method of the library reports: one Progress per accepted iteration
/// to an Observer (which may stop the run), one Result at the end. Methods never print.
#include <functional>
#include <string>
#include <vector>

namespace varlearn::optim {

/// What a method reports after each accepted iteration (or each check, for methods that
/// measure their stopping criterion only every few iterations).
struct Progress {
  int iteration = 0;       ///< accepted iterations so far (1-based after the first)
  int max_iterations = 0;  ///< the iteration budget
  double loss = 0;         ///< loss at the current x (minibatch loss for stochastic runs)
  double grad_norm = 0;    ///< \f$\|\nabla L\|_2\f$ at the current x (0 where not computed)
  double step = 0;         ///< learning rate (Adam) or line-search step (L-BFGS)
  int evaluations = 0;     ///< objective calls so far
  double elapsed_s = 0;
  /// The method's own stopping measure where it has one besides the gradient, e.g. the
  /// largest relative duality gap \f$(P-D)/P\f$ of Chambolle–Pock. 0 otherwise.
  double residual = 0;
  /// Rough remaining time assuming every remaining iteration costs the average so far.
  double eta_s() const {
    return iteration > 0 ? elapsed_s / iteration * (max_iterations - iteration) : 0.0;
  }
};

/// Called with each Progress; the iterate is the current one at that moment. Return false
/// to stop (status Stopped).
using Observer = std::function<bool(const Progress&)>;

/// What one validation means for early stopping (the trainers' observers call it).
enum class Validation {
  Improved,  ///< the best validation loss so far: keep these parameters
  Worse,     ///< not better; go on
  Stop,      ///< `patience` validations in a row without improvement: stop
};
/// Early stopping's step on validation loss v: v < best becomes the best (bad = 0);
/// otherwise, with patience > 0, bad grows and reaching patience says Stop (with patience 0
/// nothing is counted). best and bad are the caller's state (what a checkpoint stores).
Validation early_stopping_step(double v, double& best, int& bad, int patience);

/// Why a method stopped.
enum class Status {
  Converged,         ///< stopping tolerance met (gradient, loss change, duality gap)
  MaxIterations,     ///< iteration budget spent
  Stopped,           ///< the observer asked to stop (e.g. early stopping)
  Diverged,          ///< non-finite or exploding loss; x is the last good iterate
  LineSearchFailed,  ///< L-BFGS: no acceptable step even after restart; x is the best found
};
/// "converged" | "max_iterations" | "stopped" | "diverged" | "line_search_failed"
const char* to_string(Status status);
/// Inverse of to_string; throws Error on an unknown name.
Status parse_status(const std::string& name);

/// Outcome of an iterative method.
struct Result {
  Status status = Status::MaxIterations;
  int iterations = 0;
  int evaluations = 0;
  double loss = 0;          ///< loss at the returned x (last evaluated there)
  double grad_norm = 0;
  double seconds = 0;
  std::string message;      ///< one line: why it stopped
  std::vector<double> history;  ///< loss after each iteration (if the options record it)
  /// Converged, MaxIterations or Stopped: the returned x is a regular iterate.
  bool ok() const {
    return status == Status::Converged || status == Status::MaxIterations || status == Status::Stopped;
  }
};

}  // namespace varlearn::optim
