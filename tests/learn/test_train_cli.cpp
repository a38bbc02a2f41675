// `varlearn train` / `eval` end to end (skipped when the CLI has not been built).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace {
struct CliRun {
  int rc = -1;
  std::string out;
};
CliRun run(const std::string& args) {
  CliRun r;
  const std::string cmd = std::string(VARLEARN_BINARY) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}
bool have_cli() { return std::filesystem::exists(VARLEARN_BINARY); }
}  // namespace

TEST(TrainCli, ExpectedRiskMatchesTheoryAndBadInputExits2) {
  if (!have_cli()) GTEST_SKIP() << "varlearn not built";
  const CliRun r = run("train --data iid --n 11 --k 3 --mu 1 --theta 0.5 --sigma 0.9 --method unrolled --depth 2 "
                    "--objective expected --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"train_loss", "population_risk", "optimal_risk", "stepsize"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_LE(j["population_risk"].get<double>(), 1.02 * j["optimal_risk"].get<double>());
  EXPECT_NEAR(j["train_loss"].get<double>(), j["population_risk"].get<double>(), 1e-9);

  for (const char* bad : {"train --n 5 --k 7", "train --samples 0", "train --sigma -1",
                          "train --stepsize abc", "eval --model /nonexistent/m.json"}) {
    const CliRun b = run(bad);
    EXPECT_EQ(b.rc, 2) << bad << ": " << b.out;
    EXPECT_EQ(b.out.rfind("error: ", 0), 0u) << bad << ": " << b.out;
  }
}

TEST(TrainCli, SaveResumeEvalAndShapeMismatch) {
  if (!have_cli()) GTEST_SKIP() << "varlearn not built";
  const auto dir = std::filesystem::temp_directory_path() / ("varlearn_train_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string ck = (dir / "m.json").string();
  const CliRun s = run("train --data constant --n 9 --k 2 --theta 0.5 --depth 3 --samples 500 --save " + ck + " --json");
  ASSERT_EQ(s.rc, 0) << s.out;
  const CliRun e = run("eval --model " + ck + " --data constant --theta 0.5 --json");
  ASSERT_EQ(e.rc, 0) << e.out;
  EXPECT_NEAR(nlohmann::json::parse(e.out)["population_risk"].get<double>(),
              nlohmann::json::parse(s.out)["population_risk"].get<double>(), 1e-9);
  const CliRun resume = run("train --data constant --n 9 --k 2 --theta 0.5 --depth 3 --samples 500 --init " + ck + " --json");
  EXPECT_EQ(resume.rc, 0) << resume.out;
  const CliRun mism = run("train --data constant --n 9 --k 3 --depth 3 --init " + ck);
  EXPECT_EQ(mism.rc, 2) << mism.out;
  EXPECT_NE(mism.out.find("was expected"), std::string::npos) << mism.out;
  std::filesystem::remove_all(dir);
}
