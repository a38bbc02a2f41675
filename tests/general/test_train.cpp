// Training the general model (general/train.hpp, general/model.hpp): training lowers the loss
// on held-out frames; a run resumed from a checkpoint equals the uninterrupted run (1e-12);
// early stopping returns the best-validation parameters; minibatches see fresh masks; the
// quadratic regularizer with A = I reproduces the quadratic engine's loss; a non-finite loss
// stops the run with the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/general/experiment.hpp"
#include "varlearn/general/model.hpp"
#include "varlearn/general/train.hpp"
#include "varlearn/learn/data.hpp"
#include "varlearn/learn/objective.hpp"
#include "varlearn/learn/trainer.hpp"
#include "varlearn/ops/identity.hpp"

using namespace varlearn;
using namespace varlearn::general;

namespace {

Matrix ar1_frames(Index n, Index b, std::uint64_t seed) {
  Rng rng(seed);
  return learn::SampleModel::ar1(n, 0.0, 1.0, 0.9).sample(b, rng);
}

RegularizerSpec spec(const std::string& kind, const std::string& potential = "huber") {
  RegularizerSpec s;
  s.kind = kind;
  s.potential = potential;
  if (kind == "analysis") s.filters = 6;
  if (kind == "foe") s.filters = 3, s.filter_length = 3;
  return s;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

}  // namespace

TEST(RegularizerSpec, ValidatesEveryFieldAndBuildsEachKind) {
  for (const std::string kind : {"quadratic", "tv", "analysis", "foe"}) {
    const auto r = make_regularizer(spec(kind), 9, 3);
    EXPECT_EQ(r->dimension(), 9) << kind;
    EXPECT_GT(r->num_parameters(), 0) << kind;
    const auto rf = make_regularizer_as<float>(spec(kind), 9, 3);
    EXPECT_EQ(rf->num_parameters(), r->num_parameters()) << kind;
  }
  auto bad = [](RegularizerSpec s, const std::string& flag) {
    try {
      s.validate(9);
      ADD_FAILURE() << "accepted " << flag;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  RegularizerSpec s = spec("analysis");
  s.kind = "lasso";
  bad(s, "--regularizer");
  s = spec("analysis"), s.potential = "cauchy";
  bad(s, "potential");
  s = spec("analysis"), s.epsilon = -1;
  bad(s, "--epsilon");
  s = spec("foe"), s.filters = -1;
  bad(s, "--filters");
  s = spec("analysis"), s.filter_length = 3;
  bad(s, "--filter-length");
  s = spec("analysis"), s.filters = 10;  // DCT rows > n
  bad(s, "--filters");
  s = spec("quadratic"), s.epsilon = 0.1;
  bad(s, "--epsilon");
  // Default epsilon: 0.05 x the signal scale.
  EXPECT_DOUBLE_EQ(spec("tv").resolved_epsilon(2.0), 0.1);
}

TEST(GeneralTraining, LowersTheHeldOutLossOnASmallGeneratedProblem) {
  const Index n = 12;
  const Matrix clean = ar1_frames(n, 80, 1), val = ar1_frames(n, 30, 2), test = ar1_frames(n, 60, 3);
  const auto op = ops::parse_operator("mask:0.25", n);
  const auto init = make_regularizer(spec("analysis"), n, 5, 1.0);
  GeneralTrainOptions o;
  o.depth = 6;
  o.noise_std = 0.3;
  o.lbfgs.max_iterations = 40;
  o.validate_every = 1;
  const GeneralTrainResult r = train_general(op, *init, clean, val, o);
  ASSERT_FALSE(r.validations.empty());
  EXPECT_TRUE(r.optim.ok()) << r.message;
  EXPECT_LT(r.validation_loss, 0.9 * r.validations.front().second);
  // The untrained model (the same start) on an independent test draw is worse.
  GeneralModel untrained = r.model;
  untrained.regularizer = std::shared_ptr<const reg::Regularizer<double>>(init->clone());
  const double omega0 = 0.9 / (1.0 + *init->hessian_bound());
  untrained.alpha = Vector::Constant(1, softplus_inverse(omega0));
  const Observation t = observe_fixed(op, test, o.noise_std, 77);
  const double before = model_loss(untrained, t, test), after = model_loss(r.model, t, test);
  std::cout << "test loss before " << before << " after " << after << "\n";
  EXPECT_LT(after, 0.9 * before);
}

TEST(GeneralTraining, ResumedRunEqualsUninterrupted) {
  const Index n = 10;
  const Matrix clean = ar1_frames(n, 60, 4), val = ar1_frames(n, 20, 5);
  struct Case {
    const char* name;
    std::string op, kind;
    LearningMethod method;
    Optimizer optimizer;
  };
  for (const Case& c : {Case{"adam-unrolled-mask-foe", "mask:0.2", "foe", LearningMethod::Unrolled, Optimizer::Adam},
                        Case{"lbfgs-bilevel-tv", "identity", "tv", LearningMethod::Bilevel, Optimizer::Lbfgs},
                        Case{"lbfgs-unrolled-analysis", "burst:0.2:2", "analysis", LearningMethod::Unrolled,
                             Optimizer::Lbfgs}}) {
    SCOPED_TRACE(c.name);
    const auto op = ops::parse_operator(c.op, n);
    const auto init = make_regularizer(spec(c.kind, "charbonnier"), n, 7, 1.0);
    GeneralTrainOptions o;
    o.method = c.method;
    o.depth = 4;
    o.stepsize_kind = StepsizeKind::PerIteration;
    o.noise_std = 0.2;
    o.optimizer = c.optimizer;
    o.batch_size = c.optimizer == Optimizer::Adam ? 16 : 0;
    o.adam.max_iterations = 30;
    o.lbfgs.max_iterations = 16;
    o.validate_every = 3;
    o.patience = 100;
    o.checkpoint_every = c.optimizer == Optimizer::Adam ? 10 : 2;
    std::vector<GeneralCheckpoint> saved;
    GeneralCheckpointing sink;
    sink.sink = [&](const GeneralCheckpoint& k) { saved.push_back(k); };
    const GeneralTrainResult full = train_general(op, *init, clean, val, o, {}, sink);
    ASSERT_GE(saved.size(), 2u);
    // Resume from the first checkpoint, through its JSON.
    const GeneralCheckpoint mid = checkpoint_from_json(checkpoint_to_json(saved.front()));
    ASSERT_LT(mid.iteration(), full.optim.iterations);
    GeneralCheckpointing resume;
    resume.resume = &mid;
    const GeneralTrainResult again = train_general(op, *init, clean, val, o, {}, resume);
    EXPECT_EQ(again.optim.iterations, full.optim.iterations);
    ASSERT_EQ(again.parameters.size(), full.parameters.size());
    EXPECT_LE((again.parameters - full.parameters).cwiseAbs().maxCoeff(), 1e-12 * full.parameters.cwiseAbs().maxCoeff());
    EXPECT_LE(rel(again.train_loss, full.train_loss), 1e-12);
    EXPECT_LE(rel(again.validation_loss, full.validation_loss), 1e-12);
    // Another run's checkpoint is refused with the difference named.
    GeneralTrainOptions other = o;
    other.noise_std = 0.3;
    try {
      train_general(op, *init, clean, val, other, {}, resume);
      ADD_FAILURE() << "resumed a different run";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("noise_std"), std::string::npos) << e.what();
    }
  }
}

TEST(GeneralTraining, EarlyStoppingReturnsTheBestValidationParameters) {
  const Index n = 10;
  const Matrix clean = ar1_frames(n, 40, 6), val = ar1_frames(n, 20, 7);
  const auto op = ops::parse_operator("identity", n);
  const auto init = make_regularizer(spec("analysis"), n, 3, 1.0);
  GeneralTrainOptions o;
  o.depth = 3;
  o.noise_std = 0.3;
  o.optimizer = Optimizer::Adam;
  o.batch_size = 4;            // noisy steps: the validation loss goes up and down
  o.adam.learning_rate = 0.3;  // large: it overshoots
  o.adam.max_iterations = 300;
  o.validate_every = 1;
  o.patience = 3;
  const GeneralTrainResult r = train_general(op, *init, clean, val, o);
  ASSERT_TRUE(r.stopped_early) << r.message;
  EXPECT_LT(r.optim.iterations, 300);
  EXPECT_NE(r.message.find("early stopping"), std::string::npos);
  double best = INFINITY;
  for (const auto& [it, v] : r.validations) best = std::min(best, v);
  EXPECT_EQ(r.validation_loss, best);
  EXPECT_LT(best, r.validations.back().second);  // the last validation was not the best
  // The returned parameters give that validation loss on the run's validation draw.
  const Observation v = observe_fixed(op, val, o.noise_std, draw_seed(o.seed, DrawSet::Validation));
  EXPECT_LE(rel(model_loss(r.model, v, val), best), 1e-12);
}

TEST(GeneralTraining, MinibatchesSeeFreshMasksAndFreshNoise) {
  // With a vanishing learning rate the parameters stay put and every minibatch holds all the
  // frames: the step losses differ only through the fresh draws.
  const Index n = 12;
  const Matrix clean = ar1_frames(n, 30, 8);
  auto spread = [&](const std::string& spec_text, double sigma) {
    const auto op = ops::parse_operator(spec_text, n);
    const auto init = make_regularizer(spec("tv"), n, 1, 1.0);
    GeneralTrainOptions o;
    o.depth = 3;
    o.noise_std = sigma;
    o.optimizer = Optimizer::Adam;
    o.adam.learning_rate = 1e-300;
    o.adam.max_iterations = 12;
    const GeneralTrainResult r = train_general(op, *init, clean, Matrix(), o);
    const auto& h = r.optim.history;
    const auto [lo, hi] = std::minmax_element(h.begin(), h.end());
    return (*hi - *lo) / *hi;
  };
  const double fixed = spread("identity", 1e-12), masks = spread("mask:0.3", 1e-12), noise = spread("identity", 0.3);
  std::cout << "relative spread of step losses: identity " << fixed << ", masks " << masks << ", noise " << noise << "\n";
  EXPECT_LT(fixed, 1e-9);
  EXPECT_GT(masks, 1e-3);
  EXPECT_GT(noise, 1e-3);
}

TEST(GeneralTraining, QuadraticIdentityReproducesTheQuadraticEngine) {
  const Index n = 8, k = 8;
  const Matrix clean = ar1_frames(n, 50, 9);
  const auto op = ops::parse_operator("identity", n);
  RegularizerSpec s = spec("quadratic");
  s.filters = k;
  const auto init = make_regularizer(s, n, 2, 1.0);
  const Vector theta0 = init->parameters();
  for (const LearningMethod m : {LearningMethod::Unrolled, LearningMethod::Bilevel}) {
    SCOPED_TRACE(to_string(m));
    GeneralTrainOptions o;
    o.method = m;
    o.depth = 5;
    o.stepsize_kind = StepsizeKind::Fixed;
    o.stepsize = 0.3;
    o.noise_std = 0.5;
    o.bilevel.tolerance = 1e-12;
    o.lbfgs.max_iterations = 30;
    const GeneralTrainResult r = train_general(op, *init, clean, Matrix(), o);
    ASSERT_TRUE(r.optim.ok()) << r.message;
    // The same frames in the quadratic engine: its loss at the trained R is train_loss.
    const Observation t = observe_fixed(op, clean, o.noise_std, draw_seed(o.seed, DrawSet::Training));
    learn::ModelSpec q{n, k, m == LearningMethod::Unrolled ? learn::Method::Unrolled : learn::Method::Bilevel, 5,
                       learn::StepsizeMode::Fixed};
    const std::vector<double> w = m == LearningMethod::Unrolled ? std::vector<double>{0.3} : std::vector<double>{};
    const Vector theta = r.parameters;  // vec(R), the layout of both engines
    const double tol = m == LearningMethod::Unrolled ? 1e-12 : 1e-9;
    EXPECT_LE(rel(learn::loss_direct<double>(q, theta, w, t.g, clean, nullptr), r.train_loss), tol);
    // And the quadratic engine trained from the same start on the same frames ends at the same loss.
    const learn::QuadraticModel m0 = learn::QuadraticModel::from_regularizer(
        q, Eigen::Map<const Matrix>(theta0.data(), k, n), m == LearningMethod::Unrolled ? w : std::vector<double>{});
    learn::TrainOptions lo;
    lo.lbfgs.max_iterations = 30;
    const learn::TrainResult lr = learn::train_frames<double>(m0, t.g, clean, lo);
    std::cout << "general " << r.train_loss << " quadratic engine " << lr.train_loss << "\n";
    EXPECT_LE(rel(r.train_loss, lr.train_loss), 1e-6);
  }
}

TEST(GeneralTraining, ANonFiniteLossStopsTheRunWithTheReason) {
  // omega = 50 on an energy with curvature >= 1: the unrolled iterates overflow.
  const Index n = 8;
  const Matrix clean = ar1_frames(n, 20, 10);
  const auto op = ops::parse_operator("identity", n);
  const auto init = make_regularizer(spec("tv"), n, 1, 1.0);
  for (const Optimizer opt : {Optimizer::Adam, Optimizer::Lbfgs}) {
    SCOPED_TRACE(to_string(opt));
    GeneralTrainOptions o;
    o.depth = 300;
    o.stepsize_kind = StepsizeKind::Fixed;
    o.stepsize = 50;
    o.optimizer = opt;
    o.adam.max_iterations = o.lbfgs.max_iterations = 5;
    const GeneralTrainResult r = train_general(op, *init, clean, Matrix(), o);
    EXPECT_EQ(r.optim.status, optim::Status::Diverged);
    EXPECT_NE(r.message.find("non-finite"), std::string::npos) << r.message;
    EXPECT_TRUE(r.parameters.allFinite());
  }
}

TEST(GeneralTraining, LossFramesOnlyThinTheFinalTrainLoss) {
  // Adam with loss_frames: the training itself is unchanged (same parameters, bit for bit) and
  // train_loss is the model's loss on the evenly spaced frames under the documented fixed draw.
  const Index n = 10, b = 90, kept = 25;
  const Matrix clean = ar1_frames(n, b, 21);
  const auto op = ops::parse_operator("mask:0.2", n);
  const auto init = make_regularizer(spec("analysis"), n, 3, 1.0);
  auto run = [&](Index loss_frames) {
    GeneralTrainOptions o;
    o.depth = 4;
    o.noise_std = 0.2;
    o.optimizer = Optimizer::Adam;
    o.adam.max_iterations = 15;
    o.batch_size = 30;
    o.loss_frames = loss_frames;
    return std::make_pair(train_general(op, *init, clean, Matrix(), o), o);
  };
  const auto [all, o_all] = run(0);
  const auto [same, o_same] = run(b);  // >= the frames: no thinning
  const auto [thin, o_thin] = run(kept);
  EXPECT_EQ(same.parameters, all.parameters);
  EXPECT_EQ(same.train_loss, all.train_loss);
  EXPECT_EQ(thin.parameters, all.parameters);
  Matrix spaced(n, kept);
  for (Index j = 0; j < kept; ++j) spaced.col(j) = clean.col(j * b / kept);
  const Observation t = observe_fixed(op, spaced, o_thin.noise_std, draw_seed(o_thin.seed, DrawSet::Training));
  EXPECT_LT(rel(thin.train_loss, model_loss(thin.model, t, spaced)), 1e-12);
  EXPECT_NE(thin.train_loss, all.train_loss);
  GeneralTrainOptions bad;
  bad.loss_frames = -1;
  EXPECT_THROW(bad.validate(), Error);
}

TEST(TrainGeneral, ShardsAddTheSameSumsInAnotherOrder) {
  // --shards S: the loss and gradient are sums over S contiguous shards of frames, added in
  // shard order (the layout P MPI ranks use). Against the whole batch only the rounding of the
  // sums differs: a few L-BFGS iterations and an Adam run with minibatches agree to 1e-10, and
  // the same S gives the same bits (docs/scale-out.md).
  const Index n = 10;
  const Matrix clean = ar1_frames(n, 70, 1), val = ar1_frames(n, 20, 2);
  const auto op = ops::parse_operator("mask:0.25", n);
  const auto init = make_regularizer(spec("analysis", "charbonnier"), n, 5, 1.0);
  for (const Optimizer opt : {Optimizer::Lbfgs, Optimizer::Adam}) {
    GeneralTrainOptions o;
    o.depth = 4;
    o.noise_std = 0.3;
    o.optimizer = opt;
    o.lbfgs.max_iterations = 4;
    o.adam.max_iterations = 6;
    if (opt == Optimizer::Adam) o.batch_size = 25;
    const GeneralTrainResult whole = train_general(op, *init, clean, val, o);
    o.shards = 3;
    const GeneralTrainResult three = train_general(op, *init, clean, val, o);
    const GeneralTrainResult again = train_general(op, *init, clean, val, o);
    EXPECT_EQ(three.parameters, again.parameters);
    EXPECT_LT(rel(three.train_loss, whole.train_loss), 1e-10) << to_string(opt);
    EXPECT_LT(rel(three.validation_loss, whole.validation_loss), 1e-10) << to_string(opt);
    EXPECT_LT((three.parameters - whole.parameters).norm(), 1e-10 * whole.parameters.norm()) << to_string(opt);
    o.shards = 200;  // more shards than frames: the empty ones add nothing
    const GeneralTrainResult many = train_general(op, *init, clean, val, o);
    EXPECT_LT(rel(many.train_loss, whole.train_loss), 1e-10) << to_string(opt);
  }
  GeneralTrainOptions bad;
  bad.shards = -1;
  EXPECT_THROW(bad.validate(), Error);
  bad.shards = kMaxShards + 1;
  EXPECT_THROW(bad.validate(), Error);
}
