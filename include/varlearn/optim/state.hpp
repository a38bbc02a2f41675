#pragma once
/// \file state.hpp
/// Resumable optimizer state: everything Adam or L-BFGS carries from one iteration to the
/// next, so that a run stopped after iteration t and restarted from its State continues with
/// the same numbers (bitwise) as an uninterrupted run. Plain data, stored in double (float32
/// runs' values are exact in double), with JSON conversion that validates shapes and
/// finiteness (a malformed state is an Error, never a crash).
///
///   optim::Checkpointing cp;
///   cp.every = 10;                                       // after every 10th iteration ...
///   cp.sink = [&](const optim::State& s) { save(s); };    // ... and at the end of the run
///   optim::Lbfgs(o).minimize<double>(f, x, observer, cp);
///   ...
///   optim::State s = load();                             // later, perhaps in a new process
///   cp.resume = &s;                                      // x is replaced by s.x
///   optim::Lbfgs(o).minimize<double>(f, x, observer, cp);  // same numbers as one long run
///
/// A stochastic objective (minibatches, fresh noise) keeps its own state (a random generator,
/// a cursor); the caller saves that beside the optimizer State, at the same moment: inside
/// the sink (learn::TrainingCheckpoint does).
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "varlearn/core/types.hpp"

namespace varlearn::optim {

enum class StateKind { Adam, Lbfgs };
const char* to_string(StateKind k);  ///< "adam" | "lbfgs"

/// The state of Adam or L-BFGS after `iteration` accepted iterations: the point the next
/// iteration starts from. Vectors have the problem size p (the length of x).
struct State {
  StateKind kind = StateKind::Adam;
  bool float32 = false;       ///< the run's scalar type (values are then float32 numbers)
  int iteration = 0;          ///< accepted iterations so far = index of the next one
  int evaluations = 0;        ///< objective calls so far
  double elapsed_s = 0;       ///< wall time so far (reported only, never used in numbers)
  std::vector<double> x;      ///< the iterate
  double loss = 0;            ///< Result::loss so far (L-BFGS: the loss at x)
  double grad_norm = 0;       ///< Result::grad_norm so far
  std::vector<double> history;  ///< Result::history so far
  /// Empty while the run goes on; in the final state handed out at the end, the run's
  /// Result::status ("max_iterations", "converged", "stopped") and message. Resuming a state
  /// that ended otherwise than by its budget returns that result at once (resuming a finished
  /// run redoes nothing); a budget-limited one continues up to the new max_iterations.
  std::string status, message;

  /// Adam: moments \f$m, v\f$ (size p), step count t (= iteration; it sets the bias
  /// corrections and the position in the learning-rate schedule), and the first loss (the
  /// divergence test compares against it).
  struct AdamPart {
    std::vector<double> m, v;
    int steps = 0;
    double first_loss = 0;
  } adam;

  /// L-BFGS: gradient at x, the correction pairs \f$(s_i, y_i, \rho_i = 1/s_i^Ty_i)\f$ oldest
  /// first (at most `memory`), the losses of the last `past` iterations (+ the current one)
  /// for the loss_tolerance test, and whether the memory was just cleared by a restart.
  struct LbfgsPart {
    std::vector<double> gradient;
    std::vector<std::vector<double>> s, y;
    std::vector<double> rho;
    std::vector<double> past_losses;
    bool restarted = false;
  } lbfgs;

  /// Throws Error (naming the field) unless the state is consistent: sizes equal p, entries
  /// finite, counts non-negative, float32 states hold float32 numbers.
  void validate() const;
  /// validate(), plus: the kind is `kind`, the scalar type is float32 iff `float32`, x has
  /// `size` entries. `where` prefixes the message.
  void check_compatible(StateKind kind, bool float32, Index size, const std::string& where) const;
};

/// JSON object {"kind","scalar":"float32"|"float64","iteration","evaluations","elapsed_s","x",
/// "loss","grad_norm","history", "adam":{"m","v","steps","first_loss"} |
/// "lbfgs":{"gradient","s":[[...]],"y":[[...]],"rho","past_losses","restarted"}}. Numbers are
/// written with 17 significant digits, so they parse back bitwise.
void to_json(nlohmann::json& j, const State& s);
/// Parses and validates; throws varlearn::Error naming the field on anything malformed.
void from_json(const nlohmann::json& j, State& s);
nlohmann::json state_to_json(const State& s);
State state_from_json(const nlohmann::json& j);

/// Receives the optimizer's State (see Checkpointing).
using StateSink = std::function<void(const State&)>;

/// Checkpoint / resume hooks of Adam::minimize and Lbfgs::minimize. Default: none (the
/// optimizers then behave exactly as without it).
struct Checkpointing {
  /// Start from this state instead of from scratch: x is replaced by resume->x and the run
  /// continues with iteration resume->iteration + 1 (Result counts, history and time include
  /// the earlier part). Throws Error if it does not fit (kind, scalar type, size, memory).
  const State* resume = nullptr;
  /// K >= 0: call sink after every accepted iteration t with t % K == 0 (0 = only at the end).
  int every = 0;
  /// Called with the state after iteration t (the point iteration t + 1 starts from), and
  /// once more at the end of the run with the final state (State::status set) when the run
  /// ended with the budget spent, converged at an iterate, or was stopped by the observer
  /// (not after a divergence or a failed line search). Resuming from the final state of a run
  /// that spent its budget, with a larger max_iterations, gives the numbers of one run with
  /// that larger budget.
  StateSink sink;
  void validate() const;  ///< every >= 0
};

}  // namespace varlearn::optim
