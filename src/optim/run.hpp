#pragma once
// Private: what Adam and L-BFGS share around their loops — the run's clock (a resumed run
// counts its earlier part), the State fields every optimizer writes, and the early return of
// a resumed run that had already finished.
#include <type_traits>

#include "convert.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/optim/progress.hpp"
#include "varlearn/optim/state.hpp"

namespace varlearn::optim::detail {

/// Wall time of a run: this part (a Stopwatch) plus the earlier part of a resumed one.
struct RunClock {
  Stopwatch watch;
  double before = 0;
  double seconds() const { return before + watch.seconds(); }
};

/// A State with the fields shared by every optimizer: kind, scalar type, counts, time, x,
/// loss, gradient norm, history (the caller adds its own part and the final status).
template <class T>
State common_state(StateKind kind, const Result& res, const VectorT<T>& x, double loss, double seconds) {
  State s;
  s.kind = kind;
  s.float32 = std::is_same_v<T, float>;
  s.iteration = res.iterations;
  s.evaluations = res.evaluations;
  s.elapsed_s = seconds;
  s.x = to_doubles<T>(x);
  s.loss = loss;
  s.grad_norm = res.grad_norm;
  s.history = res.history;
  return s;
}

/// Marks a final state with the run's outcome.
inline void set_final(State& s, const Result& res) {
  s.status = to_string(res.status);
  s.message = res.message;
}

/// True when cp resumes a run that had already ended otherwise than by its budget
/// (converged, stopped): then res holds that outcome and nothing is left to iterate.
inline bool finished_before(const Checkpointing& cp, Result& res) {
  if (!cp.resume || cp.resume->status.empty() || cp.resume->status == "max_iterations") return false;
  res.status = parse_status(cp.resume->status);
  res.message = cp.resume->message;
  res.loss = cp.resume->loss;
  res.grad_norm = cp.resume->grad_norm;
  return true;
}

}  // namespace varlearn::optim::detail
