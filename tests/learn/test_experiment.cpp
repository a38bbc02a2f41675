// learn::run_train_experiment / run_eval_experiment: the library side of `varlearn train/eval`.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "varlearn/core/error.hpp"
#include "varlearn/learn/experiment.hpp"
#include "varlearn/theory/optimal.hpp"

using namespace varlearn;
using namespace varlearn::learn;

TEST(Experiment, TrainExpectedIsPinnedAndNearTheOptimum) {
  TrainExperiment e;  // defaults = the CLI's: constant data, mu 1, theta 0, sigma 0.9, unrolled, learned omega
  e.data.n = 10;
  e.rank = 3;
  e.depth = 2;
  e.objective = TrainObjective::Expected;
  const TrainReport r = run_train_experiment(e);
  // Value of `varlearn train --n 10 --k 3 --depth 2 --objective expected` before the move.
  EXPECT_NEAR(r.population_risk, 1.809189534141672, 1e-12);
  EXPECT_NEAR(r.train_loss, r.population_risk, 1e-9);  // the expected loss is the population risk
  EXPECT_GE(r.population_risk, r.optimal_risk * (1 - 1e-12));
  EXPECT_EQ(r.k, 3);
  EXPECT_EQ(to_json(r).at("stepsize_mode"), "learned");
  EXPECT_FALSE(to_json(r).contains("rho"));
}

TEST(Experiment, EvalOfTheSavedModelGivesTheSameRisk) {
  const auto dir = std::filesystem::temp_directory_path() / ("varlearn_experiment_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  TrainExperiment t;
  t.data = DataSource::with_n(6);
  t.data.kind = theory::DataKind::Iid;
  t.data.theta = 0.5;
  t.rank = 2;
  t.samples = 300;
  t.save = (dir / "m.json").string();
  const TrainReport tr = run_train_experiment(t);
  ASSERT_TRUE(tr.saved);
  EvalExperiment e;
  e.model_file = t.save;
  e.data.kind = theory::DataKind::Iid;
  e.data.theta = 0.5;
  const EvalReport er = run_eval_experiment(e);
  EXPECT_EQ(er.n, 6);
  EXPECT_NEAR(er.population_risk, tr.population_risk, 1e-12);
  ASSERT_TRUE(er.optimal_risk);
  EXPECT_NEAR(*er.optimal_risk, tr.optimal_risk, 1e-12);
  e.data.n = 5;  // must agree with the checkpoint
  EXPECT_THROW(run_eval_experiment(e), Error);
  std::filesystem::remove_all(dir);
}

TEST(Experiment, BadInputThrowsNamingTheFlag) {
  auto message = [](TrainExperiment e) {
    try {
      run_train_experiment(e);
    } catch (const Error& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  TrainExperiment e;
  e.data.n = 5;
  e.objective = TrainObjective::Expected;
  TrainExperiment bad = e;
  bad.rank = 7;
  EXPECT_EQ(message(bad), "--k must satisfy 1 <= k <= n = 5 (got 7)");
  bad = e;
  bad.noise_std = -1;
  EXPECT_NE(message(bad).find("--sigma"), std::string::npos);
  bad = e;
  bad.depth = 0;
  EXPECT_NE(message(bad).find("--depth"), std::string::npos);
  bad = e;
  bad.stepsize = "abc";
  EXPECT_NE(message(bad).find("--stepsize"), std::string::npos);
  bad = e;
  bad.data.kind = theory::DataKind::File;  // no files
  EXPECT_NE(message(bad).find("--data file needs"), std::string::npos);
  EXPECT_EQ(resolve_rank(0, 4), 4);
  EXPECT_THROW(resolve_rank(5, 4), Error);
}

TEST(Experiment, SampleModelMakeFollowsTheDataKind) {
  for (const auto kind : {theory::DataKind::Constant, theory::DataKind::Iid, theory::DataKind::Ar1}) {
    const SampleModel a = SampleModel::make(kind, 4, 0.8, 0.6, 0.7);
    const SampleModel b = SampleModel::from_name(theory::to_string(kind), 4, 0.8, 0.6, 0.7);
    EXPECT_EQ(a.second_moment(), b.second_moment());
    const theory::DataModel t = theory::make_data_model(kind, 4, 0.8, 0.6, 0.7);
    EXPECT_LT((a.second_moment() - t.second_moment()).cwiseAbs().maxCoeff(), 1e-12);
  }
  EXPECT_THROW(SampleModel::make(theory::DataKind::File, 4, 0, 1, 0), Error);
  EXPECT_THROW(SampleModel::from_name("gauss", 4, 0, 1, 0), Error);
}
