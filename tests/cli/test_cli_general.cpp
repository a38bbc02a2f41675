// `varlearn train` with the general model (--operator, --regularizer, ...): the JSON keys of
// both methods and their sanity, a resumed run equal to an uninterrupted one, the quadratic
// engine untouched without the general flags, and bad input as one error line, exit 2,
// nothing written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support/temp_dir.hpp"
#include "cli_run.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using varlearn::testing::TempDir;

namespace {

const std::string kData = " --data ar1 --mu 0 --theta 1 --rho 0.9 --n 16 --samples 120 --sigma 0.3";

json run_json(const std::string& args) {
  const CliResult r = run_cli(args + " --json");
  EXPECT_EQ(r.code, 0) << args << "\n" << r.err;
  return json::parse(r.out.empty() ? "{}" : r.out);
}

bool finite_number(const json& v) { return v.is_number() && std::isfinite(v.get<double>()); }

}  // namespace

TEST(GeneralCli, UnrolledReportsTheKeysWithSaneValues) {
  const json j = run_json("train --operator mask:0.2 --regularizer analysis --filters 8 --potential charbonnier "
                          "--depth 6 --iterations 30" + kData);
  for (const char* key : {"train_loss", "validation_loss", "test_mse", "stepsize", "iterations", "status", "operator",
                          "regularizer", "method", "depth", "parameters", "seconds"})
    EXPECT_TRUE(j.contains(key)) << key << "\n" << j.dump(1);
  EXPECT_EQ(j["model"], "general");
  EXPECT_EQ(j["method"], "unrolled");
  EXPECT_EQ(j["depth"], 6);
  EXPECT_TRUE(finite_number(j["train_loss"]) && finite_number(j["validation_loss"]) && finite_number(j["test_mse"]));
  EXPECT_GT(j["stepsize"].get<double>(), 0);
  EXPECT_LE(j["iterations"].get<int>(), 30);
  EXPECT_TRUE(j["status"] == "converged" || j["status"] == "max_iterations") << j["status"];
  EXPECT_EQ(j["parameters"], 8 * 16 + 8 + 1);  // K, weights, one alpha
  EXPECT_LT(j["test_mse"].get<double>(), j["test_mse_observed"].get<double>());  // better than A^T g
  EXPECT_EQ(j["validation_frames"], 24);  // 20 % of 120 by default
}

TEST(GeneralCli, BilevelReportsResidualsAndPerIterationStepsizesAreAList) {
  const json b = run_json("train --regularizer tv --method bilevel --lower-tolerance 1e-9 --iterations 20" + kData);
  EXPECT_EQ(b["method"], "bilevel");
  EXPECT_TRUE(b["stepsize"].is_null());
  EXPECT_FALSE(b.contains("depth"));
  ASSERT_TRUE(finite_number(b["lower_gradient_norm"]) && finite_number(b["cg_residual"])) << b.dump(1);
  EXPECT_LE(b["lower_gradient_norm"].get<double>(), 1e-9);
  EXPECT_LT(b["test_mse"].get<double>(), b["test_mse_observed"].get<double>());
  const json p = run_json("train --regularizer foe --filters 3 --filter-length 5 --potential student --depth 4 "
                          "--stepsize per-iteration --start adjoint --optimizer adam --batch 20 --iterations 15" + kData);
  ASSERT_TRUE(p["stepsize"].is_array()) << p.dump(1);
  EXPECT_EQ(p["stepsize"].size(), 4u);
  EXPECT_EQ(p["start"], "adjoint");
  EXPECT_EQ(p["optimizer"], "adam");
  const json f = run_json("train --regularizer tv --stepsize 0.4 --depth 3 --iterations 10" + kData);
  EXPECT_DOUBLE_EQ(f["stepsize"].get<double>(), 0.4);
  EXPECT_EQ(f["parameters"], 1);  // the tv weight only: a fixed omega is not trained
}

TEST(GeneralCli, ResumedRunEqualsUninterrupted) {
  TempDir t;
  const std::string run = "train --operator mask:0.3 --regularizer tv --depth 4 --optimizer adam --batch 16 --lr 0.05" +
                          kData;
  const json full = run_json(run + " --iterations 40");
  const std::string ck = (t.path / "ck.json").string();
  run_json(run + " --iterations 20 --checkpoint-every 5 --save " + ck);
  ASSERT_TRUE(fs::exists(ck));
  const json back = json::parse(slurp(ck));
  EXPECT_EQ(back["format"], "varlearn-general-checkpoint");
  const json resumed = run_json(run + " --iterations 40 --resume " + ck);
  for (auto it = full.begin(); it != full.end(); ++it) {
    if (it.key() == "seconds" || it.key() == "saved") continue;
    EXPECT_EQ(*it, resumed[it.key()]) << it.key();
  }
}

TEST(GeneralCli, WithoutTheGeneralFlagsTrainIsTheQuadraticEngine) {
  const json q = run_json("train --n 3 --samples 20 --iterations 3");
  EXPECT_TRUE(q.contains("population_risk"));
  EXPECT_FALSE(q.contains("model"));
  const CliResult h = run_cli("train --help");
  for (const char* flag : {"--operator", "--regularizer", "--filters", "--filter-length", "--potential", "--epsilon",
                           "--start", "--momentum", "--lower-tolerance", "--test"})
    EXPECT_NE(h.out.find(flag), std::string::npos) << flag;
}

TEST(GeneralCli, BadInputIsOneLineExitTwoAndNothingWritten) {
  TempDir t;
  const std::string save = " --save " + (t.path / "out.json").string() + " --n 8 --samples 20 --iterations 2";
  std::ofstream(t.path / "frames.txt") << "1 2\n3 4\n";
  for (const std::string& args : {
           std::string("train --operator blur"),                              // unknown operator
           std::string("train --operator mask:1"),                            // p outside [0, 1)
           std::string("train --operator mask:-0.1"),
           std::string("train --operator burst:0.2:0"),
           std::string("train --operator conv:") + (t.path / "missing.txt").string(),
           std::string("train --regularizer lasso"),
           std::string("train --regularizer analysis --potential cauchy"),    // unknown potential
           std::string("train --regularizer analysis --filters 0"),           // J < 1
           std::string("train --regularizer foe --filter-length 0"),          // L < 1
           std::string("train --regularizer tv --epsilon 0"),                 // eps <= 0
           std::string("train --regularizer tv --epsilon -1"),
           std::string("train --potential huber"),                            // general-only flag alone
           std::string("train --filters 4"),
           std::string("train --momentum"),
           std::string("train --lower-tolerance 1e-6"),
           std::string("train --start adjoint"),
           std::string("train --regularizer tv --method bilevel --depth 3"),  // does not apply
           std::string("train --regularizer tv --lower-tolerance 1e-6"),      // unrolled
           std::string("train --regularizer tv --method bilevel --momentum"),
           std::string("train --regularizer tv --filters 3"),
           std::string("train --regularizer analysis --filter-length 3"),
           std::string("train --regularizer analysis --k 3"),
           std::string("train --regularizer quadratic --potential huber"),
           std::string("train --regularizer tv --objective expected"),
           std::string("train --regularizer tv --hessian"),
           std::string("train --regularizer tv --init theory"),
           std::string("train --regularizer tv --lr 0.1"),                    // L-BFGS
           std::string("train --regularizer tv --validation 0 --patience 3"),
           std::string("train --regularizer analysis --filters 9"),           // DCT rows > n
           std::string("train --regularizer tv --data file --clean ") + (t.path / "frames.txt").string() +
               " --test " + (t.path / "missing.txt").string(),
           std::string("train --regularizer tv --max-memory 1M"),
       }) {
    const CliResult r = run_cli(args + save);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
    EXPECT_FALSE(fs::exists(t.path / "out.json")) << args;
  }
}

// --tolerance-table: the hypergradient's error falls with the lower-level tolerance (the
// tightest row is the reference, 0), its cost grows, and the reference agrees with central
// differences; float32 and momentum train the unrolled model and say so in the JSON.
TEST(GeneralCli, ToleranceTableAndTheUnrolledVariants) {
  const json t = run_json("train --regularizer analysis --filters 8 --potential charbonnier --method bilevel "
                          "--tolerance-table 1e-2,1e-5,1e-8,1e-11" + kData);
  ASSERT_TRUE(t.contains("table") && t["table"].size() == 4) << t.dump(1);
  const json& rows = t["table"];
  EXPECT_EQ(rows[3]["relative_error"].get<double>(), 0.0);
  for (size_t i = 0; i + 1 < rows.size(); ++i) {
    EXPECT_GE(rows[i]["relative_error"].get<double>(), rows[i + 1]["relative_error"].get<double>()) << i;
    EXPECT_LE(rows[i]["hessian_products"].get<long>(), rows[i + 1]["hessian_products"].get<long>()) << i;
    EXPECT_LE(rows[i]["relative_error"].get<double>(), 10 * rows[i]["tolerance"].get<double>()) << i;
  }
  EXPECT_LT(t["reference_fd_error"].get<double>(), 1e-5);
  const json f = run_json("train --regularizer analysis --filters 8 --potential charbonnier --depth 4 --iterations 10 "
                          "--precision float32 --momentum --stepsize 0.2" + kData);
  EXPECT_EQ(f["precision"], "float32");
  EXPECT_EQ(f["momentum"], true);
  EXPECT_EQ(f["stepsize"].get<double>(), 0.2);
  EXPECT_EQ(f["parameters"], 8 * 16 + 8);  // K and weights: a fixed omega is not a parameter
  EXPECT_TRUE(finite_number(f["test_mse"]));
}
