// train --checkpoint-every / --resume through the binary: a run killed with SIGKILL at a
// random moment and resumed from its last checkpoint ends with the same numbers as a run
// never interrupted; 30 + 30 L-BFGS iterations equal 60; bad combinations are refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "../support/temp_dir.hpp"
#include "cli_run.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using varlearn::testing::TempDir;

namespace {

// A minibatch Adam run long enough (~1 s) to be killed in the middle.
const std::string kRun =
    "train --n 40 --k 40 --depth 8 --samples 4000 --optimizer adam --batch 200 --iterations 3000 --seed 7";

json run_json(const std::string& args) {
  const CliResult r = run_cli(args + " --json");
  EXPECT_EQ(r.code, 0) << args << "\n" << r.err;
  return json::parse(r.out.empty() ? "{}" : r.out);
}

// Every key of the uninterrupted run's JSON, timing and file names aside, equals the resumed one.
void expect_same_result(const json& a, const json& b) {
  ASSERT_FALSE(a.empty());
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "seconds" || it.key() == "saved") continue;
    ASSERT_TRUE(b.contains(it.key())) << it.key();
    EXPECT_EQ(*it, b[it.key()]) << it.key();
  }
}

}  // namespace

TEST(TrainResumeCli, KilledAtARandomMomentAndResumedEqualsUninterrupted) {
  TempDir t;
  const json full = run_json(kRun + " --save " + (t.path / "full.json").string());
  std::mt19937 rng(20261129);
  const std::string ck = (t.path / "ck.json").string();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = std::string(VARLEARN_BINARY) + " " + kRun + " --checkpoint-every 20 --save " + ck +
                            " --json >/dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Kill once a checkpoint exists, at a random further delay.
  for (int i = 0; i < 500 && !fs::exists(ck); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 300)(rng)));
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  if (!WIFSIGNALED(status)) GTEST_SKIP() << "the run finished before the kill (machine too fast for this test)";
  ASSERT_TRUE(fs::exists(ck)) << "no checkpoint written before the kill";
  const json partial = json::parse(slurp(ck));  // complete JSON: written atomically
  ASSERT_TRUE(partial.contains("training_state"));
  const json resumed = run_json(kRun + " --resume " + ck);
  expect_same_result(full, resumed);
  // A kill between naming a checkpoint's temporary and renaming it may leave ck.json.tmp.<pid>;
  // the resumed run's own write of ck.json removes it.
  for (const auto& e : fs::directory_iterator(t.path))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "leftover " << e.path();
}

TEST(TrainResumeCli, ThirtyPlusThirtyLbfgsIterationsEqualSixty) {
  TempDir t;
  const std::string run = "train --n 20 --k 5 --depth 3 --optimizer lbfgs";
  const json straight = run_json(run + " --iterations 60");
  const std::string ck = (t.path / "ck.json").string();
  run_json(run + " --iterations 30 --save " + ck);
  const json resumed = run_json(run + " --iterations 60 --resume " + ck);
  expect_same_result(straight, resumed);
  // The model file is still a model for eval and --init.
  const CliResult e = run_cli("eval --model " + ck + " --json");
  EXPECT_EQ(e.code, 0) << e.err;
}

TEST(TrainResumeCli, BadCombinationsAreOneLineErrors) {
  TempDir t;
  const std::string ck = (t.path / "ck.json").string();
  run_json("train --n 10 --k 3 --iterations 5 --save " + ck);
  for (const std::string& args : {
           std::string("train --n 10 --k 3 --checkpoint-every 5"),                 // nowhere to write
           std::string("train --n 10 --k 3 --checkpoint-every -1 --save ") + ck,  // negative
           std::string("train --n 10 --k 3 --init theory --resume ") + ck,        // excludes --init
           std::string("train --n 10 --k 4 --resume ") + ck,                       // another run
           std::string("train --n 10 --k 3 --seed 2 --resume ") + ck,              // another seed
           std::string("train --n 10 --k 3 --resume ") + (t.path / "missing.json").string(),
       }) {
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
  }
}
