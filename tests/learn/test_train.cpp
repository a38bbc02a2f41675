// Optimizers, trainer, data generators, checkpoints: against closed forms and the theory optima.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/learn/learn.hpp"
#include "varlearn/theory/optimal.hpp"

using namespace varlearn;
using namespace varlearn::learn;

TEST(Options, ValidateRejectsBadFields) {
  TrainOptions t;
  t.adam.learning_rate = -1;
  EXPECT_THROW(t.validate(), Error);
  t = TrainOptions{};
  t.lbfgs.line_search.c1 = 0.95;
  EXPECT_THROW(t.validate(), Error);
  t = TrainOptions{};
  t.validation_fraction = 0.95;
  EXPECT_THROW(t.validate(), Error);
  ModelSpec s{7, 0, Method::Unrolled, 3, StepsizeMode::Learned};
  EXPECT_THROW(s.validate(), Error);
}

// Learning meets theory, small: exact expected risk + L-BFGS reaches the theory optimum.
struct TheoryCase {
  const char* data;
  Method method;
  int depth;
  Index k;
};
class LearnMeetsTheory : public ::testing::TestWithParam<TheoryCase> {};
TEST_P(LearnMeetsTheory, ExpectedRiskTrainingReachesOptimum) {
  const auto c = GetParam();
  const Index n = 13;
  const double sigma = 0.9;
  const SampleModel sm = SampleModel::from_name(c.data, n, 1.0, 0.5, 0.0);
  const theory::DataModel truth = sm.to_theory();
  const ModelSpec spec{n, c.k, c.method, c.depth, StepsizeMode::Learned};
  InitOptions io;
  io.seed = 3;
  TrainOptions o;
  o.lbfgs.max_iterations = 2000;
  const auto r = train_expected(QuadraticModel::random(spec, io), sm.second_moment(), sigma, o);
  const double pop = population_risk(r.model, truth, sigma);
  const double opt = theory_optimum(r.model, truth, sigma).risk;
  EXPECT_NEAR(r.train_loss, pop, 1e-9 * pop);  // expected loss is the population risk
  EXPECT_LE(pop, 1.02 * opt) << spec.describe() << " " << c.data << ": " << r.message;
  EXPECT_GE(pop, opt * (1 - 1e-9));  // never below the optimum (theory is exact)
}
INSTANTIATE_TEST_SUITE_P(Learn, LearnMeetsTheory,
                         ::testing::Values(TheoryCase{"constant", Method::Unrolled, 2, 3},
                                           TheoryCase{"iid", Method::Unrolled, 4, 3},
                                           TheoryCase{"iid", Method::Unrolled, 2, 13},
                                           TheoryCase{"constant", Method::Bilevel, 1, 3},
                                           TheoryCase{"iid", Method::Bilevel, 1, 5}));

TEST(Trainer, EmpiricalFramesFloat32AndFloat64AgreeAndApproachTheory) {
  const Index n = 9;
  const double sigma = 0.5;
  const SampleModel sm = SampleModel::iid(n, 1.0, 0.7);
  Rng rng(7);
  const Matrix y = sm.sample(4001, rng);
  const Matrix x = add_noise(y, sigma, rng);
  const ModelSpec spec{n, 4, Method::Unrolled, 3, StepsizeMode::Learned};
  const auto init = QuadraticModel::random(spec);
  TrainOptions o;
  o.lbfgs.max_iterations = 300;
  const auto r64 = train_frames<double>(init, x, y, o);
  o.precision = Precision::Float32;
  const auto r32 = train_frames<float>(init, x.cast<float>(), y.cast<float>(), o);
  EXPECT_NEAR(r32.train_loss, r64.train_loss, 1e-3 * r64.train_loss);
  // Structured and direct full-batch training give the same model (float64).
  o.precision = Precision::Float64;
  o.path = DataPath::Direct;
  o.lbfgs.max_iterations = 20;
  TrainOptions os = o;
  os.path = DataPath::Structured;
  const auto rd = train_frames<double>(init, x, y, o), rs = train_frames<double>(init, x, y, os);
  EXPECT_LE((rd.model.parameters() - rs.model.parameters()).norm(),
            1e-6 * rs.model.parameters().norm());
  // With 4001 samples the empirical optimum is near the population optimum.
  const double pop = population_risk(r64.model, sm.to_theory(), sigma);
  const double opt = theory_optimum(r64.model, sm.to_theory(), sigma).risk;
  EXPECT_LE(pop, 1.05 * opt);
}

TEST(Trainer, MinibatchAdamWithEarlyStoppingAndSampledNoise) {
  const Index n = 7;
  const double sigma = 0.6;
  const SampleModel sm = SampleModel::constant(n, 1.0, 0.5);
  Rng rng(9);
  const Matrix y = sm.sample(600, rng);
  const Matrix x = add_noise(y, sigma, rng);
  const ModelSpec spec{n, 2, Method::Unrolled, 2, StepsizeMode::Learned};
  const auto init = QuadraticModel::random(spec);
  TrainOptions o;
  o.optimizer = OptimizerKind::Adam;
  o.adam.max_iterations = 3000;
  o.adam.learning_rate = 0.02;
  o.batch_size = 64;
  o.validation_fraction = 0.2;
  o.patience = 5;
  o.validate_every = 20;
  const auto r = train_frames<double>(init, x, y, o);
  EXPECT_GT(r.validation_loss, 0);
  const double opt = theory_optimum(r.model, sm.to_theory(), sigma).risk;
  EXPECT_LE(population_risk(r.model, sm.to_theory(), sigma), 1.15 * opt) << r.message;
  const auto r2 = train_frames<double>(init, x, y, o);
  EXPECT_EQ(r.model.parameters(), r2.model.parameters());  // seeded, deterministic
  // Fresh noise per minibatch.
  TrainOptions s = o;
  s.validation_fraction = 0;
  s.patience = 0;
  s.adam.max_iterations = 1500;
  s.adam.decay = 0.3;
  s.adam.decay_every = 500;
  const auto rs = train_sampled_noise(init, y, sigma, s);
  EXPECT_LE(population_risk(rs.model, sm.to_theory(), sigma), 1.15 * opt) << rs.message;
  s.optimizer = OptimizerKind::Lbfgs;
  EXPECT_THROW(train_sampled_noise(init, y, sigma, s), Error);
}

TEST(Trainer, BadInputIsAClearError) {
  const ModelSpec spec{7, 3, Method::Bilevel, 1, StepsizeMode::Fixed};
  const auto m = QuadraticModel::random(spec);
  Matrix x = Matrix::Ones(7, 5), y = Matrix::Ones(7, 4);
  EXPECT_THROW(train_frames<double>(m, x, y), Error);
  Matrix e(7, 0);
  EXPECT_THROW(train_frames<double>(m, e, e), Error);
  Matrix z = Matrix::Ones(7, 5);
  z(1, 1) = std::nan("");
  EXPECT_THROW(train_frames<double>(m, z, z), Error);
  Matrix w = Matrix::Ones(6, 5);
  EXPECT_THROW(train_frames<double>(m, w, w), Error);
  EXPECT_THROW(QuadraticModel::from_regularizer(spec, Matrix::Ones(4, 7)), Error);
  EXPECT_THROW(train_expected(m, Matrix::Identity(7, 7), -1.0), Error);
}

TEST(Data, GeneratorsMatchSecondMoments) {
  Rng rng(5);
  for (const char* name : {"constant", "iid", "ar1"}) {
    const SampleModel sm = SampleModel::from_name(name, 5, 0.8, 0.6, 0.7);
    const Matrix s = empirical_second_moment(sm.sample(40000, rng));
    EXPECT_LT((s - sm.second_moment()).cwiseAbs().maxCoeff(), 0.03) << name;
    EXPECT_LT((sm.second_moment() - sm.to_theory().second_moment()).cwiseAbs().maxCoeff(), 1e-12) << name;
  }
  const SampleModel g = SampleModel::gaussian(SampleModel::ar1(4, 0, 1, 0.5).second_moment());
  const Matrix s = empirical_second_moment(g.sample(40000, rng));
  EXPECT_LT((s - g.sigma).cwiseAbs().maxCoeff(), 0.03);
  EXPECT_THROW(SampleModel::ar1(4, 0, 1, 1.0), Error);
  EXPECT_THROW(SampleModel::iid(4, 0, 1).sample(0, rng), Error);
}

TEST(Checkpoint, RoundTripAndShapeMismatch) {
  const auto dir = std::filesystem::temp_directory_path() / ("varlearn_learn_ckpt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const ModelSpec spec{7, 3, Method::Unrolled, 5, StepsizeMode::PerIteration};
  auto m = QuadraticModel::random(spec);
  Vector t = m.parameters();
  t.tail(5) << 0.1, -0.3, 0.2, 0.0, 1.0;
  m.set_parameters(t);
  save_model(dir / "m.json", m, {{"note", "test"}});
  const auto l = load_model(dir / "m.json", spec);
  EXPECT_EQ(l.model.spec(), spec);
  EXPECT_EQ(l.model.regularizer(), m.regularizer());
  EXPECT_EQ(l.model.stepsizes(), m.stepsizes());
  EXPECT_EQ(l.meta.at("note"), "test");
  EXPECT_LT((l.model.denoiser() - m.denoiser()).norm(), 1e-15);
  ModelSpec other = spec;
  other.rank = 4;
  try {
    load_model(dir / "m.json", other);
    ADD_FAILURE() << "shape mismatch not detected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("was expected"), std::string::npos) << e.what();
  }
  io::write_atomic(dir / "bad.json", "{\"format\":\"varlearn-model\",\"version\":1,\"n\":3}");
  EXPECT_THROW(load_model(dir / "bad.json"), Error);
  EXPECT_THROW(load_model(dir / "missing.json"), Error);
  std::filesystem::remove_all(dir);
}

TEST(Model, DenoiserMatchesTheoryFamily) {
  const ModelSpec spec{7, 3, Method::Unrolled, 5, StepsizeMode::Learned};
  InitOptions io;
  io.stepsize = 0.4;
  const auto m = QuadraticModel::random(spec, io);
  const Matrix mm = m.regularizer().transpose() * m.regularizer();
  EXPECT_LT((m.denoiser() - m.family().apply(mm)).norm(), 1e-12);
  const ModelSpec bs{7, 3, Method::Bilevel, 1, StepsizeMode::Fixed};
  const auto b = QuadraticModel::from_regularizer(bs, m.regularizer());
  EXPECT_LT((b.denoiser() - b.family().apply(mm)).norm(), 1e-12);
  const Matrix x = Matrix::Random(7, 11);
  EXPECT_LT((b.apply(x) - b.denoiser() * x).norm(), 1e-12);
  // Initialization at the theory optimum has the optimal risk.
  const auto data = theory::DataModel::iid(7, 1.0, 0.5);
  const ModelSpec us{7, 3, Method::Unrolled, 4, StepsizeMode::Learned};
  const auto at = model_at_theory_optimum(us, data, 0.9);
  EXPECT_NEAR(population_risk(at, data, 0.9), theory::best_unrolled_learned(data, 0.9, 3, 4).risk, 1e-8);
}
