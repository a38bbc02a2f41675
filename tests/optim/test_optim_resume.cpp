// Resumable optimizer state: a run stopped after iteration k (a "kill" at a random point, or a
// checkpoint boundary), its state sent through JSON text and resumed, ends with exactly the
// numbers of the uninterrupted run (float32 and float64: bitwise equal iterates, losses and
// counts). Malformed or mismatched states are Errors.
#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>

#include "varlearn/core/error.hpp"
#include "varlearn/optim/optim.hpp"

using namespace varlearn;
using namespace varlearn::optim;
using nlohmann::json;

namespace {

// Extended Rosenbrock, sum_i 100 (x_{2i+1} - x_{2i}^2)^2 + (1 - x_{2i})^2: L-BFGS needs well over
// 60 iterations from (-1.2, 1, ...), so a 60-iteration run exercises a full memory.
template <class T>
struct ExtendedRosenbrock {
  T evaluate_with_gradient(const VectorT<T>& x, VectorT<T>& g) const {
    g.setZero(x.size());
    T f = 0;
    for (Index i = 0; i + 1 < x.size(); i += 2) {
      const T a = x(i + 1) - x(i) * x(i), b = 1 - x(i);
      f += 100 * a * a + b * b;
      g(i) += -400 * a * x(i) - 2 * b;
      g(i + 1) += 200 * a;
    }
    return f;
  }
};

template <class T>
VectorT<T> start_point(Index p) {
  VectorT<T> x(p);
  for (Index i = 0; i < p; ++i) x(i) = (i % 2 == 0) ? T(-1.2) + T(0.01) * static_cast<T>(i) : T(1);
  return x;
}

// What a checkpoint file would hold: the state as JSON text, parsed back.
State through_json(const State& s) { return state_from_json(json::parse(state_to_json(s).dump())); }

struct Killed : std::runtime_error {
  Killed() : std::runtime_error("killed") {}
};

template <class T>
void expect_same_run(const Result& a, const VectorT<T>& xa, const Result& b, const VectorT<T>& xb) {
  ASSERT_EQ(xa.size(), xb.size());
  for (Index i = 0; i < xa.size(); ++i) EXPECT_EQ(xa(i), xb(i)) << "x(" << i << ")";
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.evaluations, b.evaluations);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.grad_norm, b.grad_norm);
  EXPECT_EQ(a.history, b.history);
  EXPECT_EQ(a.message, b.message);
}

// Runs `minimize` straight to N; then again with checkpoints every K, killed (an exception
// out of the observer) after iteration `kill`, and resumed from the last checkpoint written.
template <class T, class Opt>
void check_kill_and_resume(const Opt& opt, int kill, int every) {
  const Index p = 20;
  const Function<T> f = ExtendedRosenbrock<T>{};
  VectorT<T> x_straight = start_point<T>(p);
  const Result straight = opt.template minimize<T>(f, x_straight);

  std::string file;  // the last checkpoint, as text
  Checkpointing cp;
  cp.every = every;
  cp.sink = [&](const State& s) { file = state_to_json(s).dump(); };
  VectorT<T> x = start_point<T>(p);
  const Observer killer = [&](const Progress& pr) {
    if (pr.iteration == kill) throw Killed();
    return true;
  };
  EXPECT_THROW(opt.template minimize<T>(f, x, killer, cp), Killed);
  ASSERT_FALSE(file.empty());
  const State saved = state_from_json(json::parse(file));
  EXPECT_EQ(saved.iteration, (kill - 1) / every * every) << "last checkpoint before the kill";

  Checkpointing resume;
  resume.resume = &saved;
  VectorT<T> x_resumed = VectorT<T>::Zero(p);  // replaced by the state's iterate
  const Result resumed = opt.template minimize<T>(f, x_resumed, {}, resume);
  expect_same_run<T>(straight, x_straight, resumed, x_resumed);
}

template <class T>
class Resume : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Resume, Scalars);

LbfgsOptions lbfgs_options(int iterations) {
  LbfgsOptions o;
  o.max_iterations = iterations;
  o.memory = 5;
  o.gradient_tolerance = 0;
  o.loss_tolerance = 0;
  return o;
}

AdamOptions adam_options(int iterations) {
  AdamOptions o;
  o.max_iterations = iterations;
  o.learning_rate = 2e-3;
  o.decay = 0.7;       // exercise the schedule position
  o.decay_every = 13;
  return o;
}

}  // namespace

TYPED_TEST(Resume, LbfgsKilledAtRandomPointAndAtBoundaryResumesExactly) {
  using T = TypeParam;
  const Lbfgs opt(lbfgs_options(60));
  std::mt19937 pick(20240611);
  const int random_kill = std::uniform_int_distribution<int>(8, 59)(pick);
  check_kill_and_resume<T>(opt, random_kill, 7);
  check_kill_and_resume<T>(opt, 43, 7);  // killed right after the checkpoint at 42 ...
  check_kill_and_resume<T>(opt, 42, 7);  // ... and right before it (resumes from 35)
}

TYPED_TEST(Resume, AdamKilledAtRandomPointAndAtBoundaryResumesExactly) {
  using T = TypeParam;
  const Adam opt(adam_options(150));
  std::mt19937 pick(777);
  const int random_kill = std::uniform_int_distribution<int>(11, 149)(pick);
  check_kill_and_resume<T>(opt, random_kill, 10);
  check_kill_and_resume<T>(opt, 101, 10);
  check_kill_and_resume<T>(opt, 100, 10);
}

// The optimizer's "--init drops the state" bug: 30 + 30 L-BFGS iterations from the final state
// of the first run equal 60 straight (and Adam likewise).
TYPED_TEST(Resume, FinalStateContinuesWithALargerBudget) {
  using T = TypeParam;
  const Function<T> f = ExtendedRosenbrock<T>{};
  auto check = [&](auto make) {
    VectorT<T> x60 = start_point<T>(20);
    const Result r60 = make(60).template minimize<T>(f, x60);
    State final_state;
    int calls = 0;
    Checkpointing cp;
    cp.sink = [&](const State& s) { final_state = through_json(s); ++calls; };  // every = 0: the end only
    VectorT<T> x30 = start_point<T>(20);
    const Result r30 = make(30).template minimize<T>(f, x30, {}, cp);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(final_state.iteration, 30);
    EXPECT_EQ(r30.status, Status::MaxIterations);
    Checkpointing resume;
    resume.resume = &final_state;
    VectorT<T> x = x30;
    const Result r = make(60).template minimize<T>(f, x, {}, resume);
    expect_same_run<T>(r60, x60, r, x);
    // Without the state (restart from the iterate alone: the old --init) the numbers differ.
    VectorT<T> x_init = x30;
    make(30).template minimize<T>(f, x_init);
    EXPECT_NE(x_init, x60);
  };
  check([](int n) { return Lbfgs(lbfgs_options(n)); });
  check([](int n) { return Adam(adam_options(n)); });
}

// Every state handed out resumes exactly (k = every iteration), and handing states out does
// not change the run.
TYPED_TEST(Resume, EveryIntermediateStateResumesExactly) {
  using T = TypeParam;
  const Function<T> f = ExtendedRosenbrock<T>{};
  const Lbfgs opt(lbfgs_options(25));
  VectorT<T> x_plain = start_point<T>(20);
  const Result plain = opt.minimize<T>(f, x_plain);
  std::map<int, std::string> states;
  Checkpointing cp;
  cp.every = 1;
  cp.sink = [&](const State& s) { states[s.iteration] = state_to_json(s).dump(); };
  VectorT<T> x_cp = start_point<T>(20);
  const Result with_cp = opt.minimize<T>(f, x_cp, {}, cp);
  expect_same_run<T>(plain, x_plain, with_cp, x_cp);
  ASSERT_EQ(states.size(), 25u);
  for (const auto& [k, text] : states) {
    const State s = state_from_json(json::parse(text));
    Checkpointing resume;
    resume.resume = &s;
    VectorT<T> x = start_point<T>(20);
    const Result r = opt.minimize<T>(f, x, {}, resume);
    SCOPED_TRACE("resumed after iteration " + std::to_string(k));
    expect_same_run<T>(plain, x_plain, r, x);
  }
}

TEST(ResumeErrors, MalformedAndMismatchedStatesAreErrors) {
  const Function<double> f = ExtendedRosenbrock<double>{};
  State good;
  Checkpointing cp;
  cp.every = 5;
  cp.sink = [&](const State& s) { good = s; };
  VectorT<double> x = start_point<double>(20);
  Lbfgs(lbfgs_options(10)).minimize<double>(f, x, {}, cp);
  const json j = state_to_json(good);
  EXPECT_NO_THROW(state_from_json(j));

  auto broken = [&](auto edit) {
    json b = j;
    edit(b);
    return b;
  };
  const std::vector<json> bad = {
      broken([](json& b) { b["x"].erase(0); }),                    // size mismatch
      broken([](json& b) { b["x"][3] = nullptr; }),                // NaN/inf are written as null
      broken([](json& b) { b["lbfgs"]["s"][0][1] = "1.0"; }),      // not a number
      broken([](json& b) { b["lbfgs"]["rho"][0] = -1.0; }),        // rho must be > 0
      broken([](json& b) { b["lbfgs"]["y"].erase(0); }),           // pairs of different counts
      broken([](json& b) { b["iteration"] = 2.5; }),               // not an integer
      broken([](json& b) { b["iteration"] = -1; }),
      broken([](json& b) { b.erase("lbfgs"); }),                   // missing part
      broken([](json& b) { b["kind"] = "sgd"; }),
      broken([](json& b) { b["scalar"] = "float16"; }),
      broken([](json& b) { b["x"][0] = std::numeric_limits<double>::infinity(); }),
      json::array(),
  };
  for (const json& b : bad) EXPECT_THROW(state_from_json(b), Error) << b.dump().substr(0, 200);
  EXPECT_THROW(state_from_json(json::parse(R"({"kind":"adam"})")), Error);

  // Well-formed but does not fit the run: an Error naming the difference.
  auto resume_error = [&](auto run) -> std::string {
    try {
      run();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  Checkpointing r;
  r.resume = &good;
  VectorT<double> x21 = start_point<double>(22);
  EXPECT_NE(resume_error([&] { Lbfgs(lbfgs_options(20)).minimize<double>(f, x21, {}, r); }).find("parameters"),
            std::string::npos);
  VectorT<double> x20 = start_point<double>(20);
  EXPECT_NE(resume_error([&] { Adam(adam_options(20)).minimize<double>(f, x20, {}, r); }).find("lbfgs state"),
            std::string::npos);
  VectorT<float> xf = start_point<float>(20);
  EXPECT_NE(resume_error([&] { Lbfgs(lbfgs_options(20)).minimize<float>(ExtendedRosenbrock<float>{}, xf, {}, r); })
                .find("float64"),
            std::string::npos);
  LbfgsOptions small = lbfgs_options(20);
  small.memory = 2;
  EXPECT_NE(resume_error([&] { Lbfgs(small).minimize<double>(f, x20, {}, r); }).find("memory"), std::string::npos);

  // A float32 state must hold float32 numbers.
  State f32 = good;
  f32.float32 = true;
  f32.x[0] = 0.1;  // not a float
  EXPECT_THROW(f32.validate(), Error);
  Checkpointing negative;
  negative.every = -1;
  EXPECT_THROW(Lbfgs().minimize<double>(f, x20, {}, negative), Error);
}
