// The theory CLI: JSON keys, agreement with the library, and bad input -> one line, exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_run.hpp"
#include "varlearn/theory/optimal.hpp"

using namespace varlearn::theory;

TEST(CliTheory, OptimalJsonMatchesLibrary) {
  const CliResult r = run_cli(
      "theory optimal --data iid --n 50 --k 7 --mu 1 --theta 0.5 --sigma 0.9 --method unrolled --depth 4 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const OptimalRisk ref = best_unrolled_learned(DataModel::iid(50, 1, 0.5), 0.9, 7, 4);
  EXPECT_DOUBLE_EQ(j.at("risk").get<double>(), ref.risk);
  EXPECT_EQ(j.at("attained").get<bool>(), ref.attained);
  EXPECT_DOUBLE_EQ(j.at("stepsize").get<double>(), ref.stepsize);
}

TEST(CliTheory, InfimumReportsZeroStepsizeAndHugeNIsInstant) {
  const CliResult r = run_cli(
      "theory optimal --data constant --n 1000000 --k 10 --mu 1 --theta 0 --sigma 0.9 --method unrolled --depth 3 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j.at("attained").get<bool>());
  EXPECT_EQ(j.at("stepsize").get<double>(), 0.0);
  EXPECT_NEAR(j.at("risk").get<double>(), j.at("linear_risk").get<double>(), 1e-9);
}

TEST(CliTheory, CminAndRealize) {
  const CliResult c = run_cli("theory cmin --depth 3 --stepsize 0.5 --json");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NEAR(nlohmann::json::parse(c.out).at("cmin").get<double>(), 0.375, 1e-15);
  const std::string file = "/tmp/varlearn_cli_R_" + std::to_string(::getpid()) + ".txt";
  const CliResult o = run_cli("theory optimal --data ar1 --n 7 --k 3 --mu 0.2 --theta 1 --rho 0.6 --sigma 0.5 "
                              "--method bilevel --realize " + file + " --json");
  ASSERT_EQ(o.code, 0) << o.err;
  const auto j = nlohmann::json::parse(o.out);
  EXPECT_NEAR(j.at("realized_risk").get<double>(), j.at("risk").get<double>(), 1e-10 * j.at("risk").get<double>());
  // The written R re-evaluated by `theory risk`.
  const CliResult rr = run_cli("theory risk --data ar1 --mu 0.2 --theta 1 --rho 0.6 --sigma 0.5 --matrix " + file +
                               " --as regularizer --method bilevel --json");
  ASSERT_EQ(rr.code, 0) << rr.err;
  EXPECT_NEAR(nlohmann::json::parse(rr.out).at("risk").get<double>(), j.at("risk").get<double>(), 1e-10);
  std::remove(file.c_str());
}

TEST(CliTheory, BadInputIsOneLineAndExitTwo) {
  const std::string base = "theory optimal --data constant --n 5 --mu 1 --theta 0.5 ";
  const std::vector<std::string> bad{
      base + "--k 6 --sigma 0.9 --method bilevel",
      base + "--k -1 --sigma 0.9 --method bilevel",
      base + "--k 2 --sigma 0 --method bilevel",
      base + "--k 2 --sigma nan --method bilevel",
      base + "--k 2 --sigma 0.9 --method unrolled --depth 0",
      base + "--k 2 --sigma 0.9 --method unrolled --depth 2 --stepsize 0",
      base + "--k 2 --sigma 0.9 --method unrolled --depth 2 --stepsize -1",
      base + "--k 2 --sigma 0.9 --method magic",
      "theory optimal --data constant --n 5 --mu 1 --theta -1 --k 2 --sigma 0.9 --method bilevel",
      "theory optimal --data ar1 --n 5 --mu 1 --theta 1 --rho 1 --k 2 --sigma 0.9 --method bilevel",
      "theory optimal --data file --second-moment /nonexistent/S.txt --k 2 --sigma 0.9 --method bilevel",
      "theory cmin --depth 4 --stepsize 0.5",
      "theory cmin --depth 3 --stepsize 0",
      "theory nothing",
  };
  for (const auto& args : bad) {
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
  }
}

TEST(CliTheory, BadMatrixFiles) {
  const std::string dir = "/tmp/varlearn_cli_files_" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  const std::vector<std::string> files{write("nonsym.txt", "1 0.5\n0 1\n"), write("indef.txt", "1 0\n0 -1\n"),
                                       write("ragged.txt", "1 0\n0\n"), write("text.txt", "a b\nc d\n"),
                                       write("nan.txt", "1 nan\nnan 1\n"), write("empty.txt", "")};
  for (const auto& f : files) {
    const CliResult r = run_cli("theory optimal --data file --second-moment " + f + " --k 1 --sigma 0.9 --method bilevel");
    EXPECT_EQ(r.code, 2) << f << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  }
  std::system(("rm -rf " + dir).c_str());
}
