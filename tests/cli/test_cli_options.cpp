// The shared option groups: one flag, one default, one error in every subcommand that has it;
// `--data file` means the same thing in theory, train and eval; train/eval JSON keys.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli_run.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/learn/data.hpp"

namespace {

namespace fs = std::filesystem;

/// A scratch folder with clean frames Y (3 x 6) and their second moment S = Y Y^T / B.
struct Files {
  fs::path dir = fs::temp_directory_path() / ("varlearn_cli_options_" + std::to_string(::getpid()));
  std::string frames, second_moment, model;
  Files() {
    fs::create_directories(dir);
    varlearn::Matrix y(3, 6);
    y << 1, 0.5, 0.2, -0.3, 0.1, 0.9, 0.3, 0.7, -0.1, 0.2, 0.5, 0.4, 0.2, 0.1, 0.8, 0.6, -0.2, 0.3;
    frames = (dir / "Y.txt").string();
    second_moment = (dir / "S.txt").string();
    model = (dir / "m.json").string();
    varlearn::io::write_atomic(frames, varlearn::io::format_matrix(y));
    varlearn::io::write_atomic(second_moment,
                               varlearn::io::format_matrix(varlearn::learn::empirical_second_moment(y)));
  }
  ~Files() { fs::remove_all(dir); }
};

nlohmann::json json_of(const std::string& args) {
  const CliResult r = run_cli(args);
  EXPECT_EQ(r.code, 0) << args << "\n" << r.err;
  return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

/// Exit 2, nothing on stdout, exactly one line "error: ..." on stderr; returns that line.
std::string error_line(const std::string& args) {
  const CliResult r = run_cli(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << "\n" << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
  return r.err;
}

std::set<std::string> keys(const nlohmann::json& j) {
  std::set<std::string> s;
  for (auto it = j.begin(); it != j.end(); ++it) s.insert(it.key());
  return s;
}

}  // namespace

TEST(CliOptions, SigmaHasOneErrorEverywhere) {
  Files f;
  ASSERT_EQ(run_cli("train --data iid --n 3 --k 2 --theta 0.5 --objective expected --save " + f.model).code, 0);
  const std::vector<std::string> subcommands{
      "theory optimal --n 5",
      "theory risk --matrix " + f.second_moment,
      "theory map --n 5 --x theta=0:1:2 --value bilevel",
      "theory depth --n 5 --nmax 2",
      "theory landscape",
      "train --n 5 --objective expected",
      "eval --model " + f.model,
      "study denoise --quick --out " + (f.dir / "study").string(),
  };
  const std::string expected = error_line(subcommands[0] + " --sigma -1");
  EXPECT_NE(expected.find("--sigma"), std::string::npos) << expected;
  for (const auto& s : subcommands) {
    EXPECT_EQ(error_line(s + " --sigma -1"), expected) << s;
    EXPECT_EQ(error_line(s + " --sigma nan"), error_line(subcommands[0] + " --sigma nan")) << s;
  }
  EXPECT_FALSE(fs::exists(f.dir / "study"));  // checked before any work
}

TEST(CliOptions, RankHasOneMeaningAndOneError) {
  Files f;
  const std::vector<std::string> subcommands{
      "theory optimal --n 5",
      "theory map --n 5 --x theta=0:1:2 --value bilevel",
      "theory depth --n 5 --nmax 2",
      "train --n 5 --objective expected",
  };
  const std::string expected = "error: --k must satisfy 1 <= k <= n = 5 (got 7)\n";
  for (const auto& s : subcommands) {
    EXPECT_EQ(error_line(s + " --k 7"), expected) << s;
    EXPECT_EQ(error_line(s + " --k -1"), "error: --k must satisfy 1 <= k <= n = 5 (got -1)\n") << s;
  }
  // Expressivity: n is the matrix's (3).
  EXPECT_EQ(error_line("theory expressivity --matrix " + f.second_moment + " --k 4"),
            "error: --k must satisfy 1 <= k <= n = 3 (got 4)\n");
  // Omitted = n everywhere; 0 is an error like any k < 1 (it used to mean n silently).
  for (const auto& s : subcommands)
    EXPECT_EQ(error_line(s + " --k 0"), "error: --k must satisfy 1 <= k <= n = 5 (got 0)\n") << s;
  EXPECT_EQ(json_of("theory optimal --n 5 --json")["k"], 5);
  EXPECT_EQ(json_of("train --n 5 --objective expected --json")["k"], 5);
}

TEST(CliOptions, DataFileMeansTheSameEverywhere) {
  Files f;
  // Sigma from --clean (Y Y^T / B) equals Sigma from --second-moment, in theory, train and eval.
  const auto by_frames = json_of("theory optimal --data file --clean " + f.frames + " --k 2 --json");
  const auto by_moment = json_of("theory optimal --data file --second-moment " + f.second_moment + " --k 2 --json");
  EXPECT_NEAR(by_frames["risk"].get<double>(), by_moment["risk"].get<double>(), 1e-12);
  EXPECT_EQ(by_frames["clean"], f.frames);
  const std::string train = "train --data file --k 2 --depth 2 --objective expected --json ";
  const auto t_frames = json_of(train + "--clean " + f.frames);
  const auto t_moment = json_of(train + "--second-moment " + f.second_moment);
  EXPECT_NEAR(t_frames["population_risk"].get<double>(), t_moment["population_risk"].get<double>(), 1e-10);
  EXPECT_NEAR(t_frames["optimal_risk"].get<double>(), t_moment["optimal_risk"].get<double>(), 1e-12);
  ASSERT_EQ(run_cli(train + "--clean " + f.frames + " --save " + f.model).code, 0);
  const auto e_frames = json_of("eval --model " + f.model + " --data file --clean " + f.frames + " --json");
  const auto e_moment = json_of("eval --model " + f.model + " --data file --second-moment " + f.second_moment + " --json");
  EXPECT_NEAR(e_frames["population_risk"].get<double>(), e_moment["population_risk"].get<double>(), 1e-12);
  EXPECT_TRUE(e_frames.contains("frames_loss"));   // --clean also gives the frame loss
  EXPECT_FALSE(e_moment.contains("frames_loss"));
  // --n must agree with the files; it is not silently ignored.
  EXPECT_NE(error_line("theory optimal --data file --second-moment " + f.second_moment + " --n 4").find("--n"),
            std::string::npos);
  error_line(train + "--clean " + f.frames + " --n 4");
  error_line("eval --model " + f.model + " --n 4");
  // What a command cannot use is refused, never ignored.
  for (const std::string& bad : std::vector<std::string>{
           "theory optimal --data file",
           "train --data file --objective expected",
           "eval --model " + f.model + " --data file",
           "theory optimal --data iid --clean " + f.frames,
           "theory optimal --data constant --second-moment " + f.second_moment,
           "train --data iid --clean " + f.frames,
           "train --data iid --noisy " + f.frames,
           "train --data file --second-moment " + f.second_moment,  // empirical needs frames
           "theory optimal --data file --clean " + f.frames + " --mu 2",
           "train --data file --clean " + f.frames + " --theta 1",
           "theory optimal --data iid --rho 0.3",
           "eval --model " + f.model + " --data iid --rho 0.3",
       })
    error_line(bad);
}

TEST(CliOptions, TrainAndEvalJsonKeysAndPinnedValue) {
  Files f;
  // Pinned from the binary before the option groups (same flags): the experiment moved into
  // the library without changing a number.
  const auto t = json_of("train --n 10 --k 3 --depth 2 --objective expected --json");
  EXPECT_NEAR(t["population_risk"].get<double>(), 1.809189534141672, 1e-12);
  const std::set<std::string> train_keys{
      "data", "depth", "iterations", "k", "linear_risk", "message", "method", "mu", "n", "objective",
      "optimal_attained", "optimal_risk", "optimal_stepsize", "optimizer", "population_risk", "precision",
      "regularizer_norm", "risk_ratio", "samples", "seconds", "seed", "sigma", "status", "stepsize",
      "stepsize_mode", "theta", "train_loss"};
  EXPECT_EQ(keys(t), train_keys);
  auto with_extras = train_keys;
  for (const char* k : {"hessian_max_eig", "hessian_min_eig", "hessian_negative", "saved"}) with_extras.insert(k);
  const auto th = json_of("train --data iid --n 5 --k 2 --theta 0.5 --objective expected --stepsize 0.3 "
                          "--init theory --hessian --json --save " + f.model);
  EXPECT_EQ(keys(th), with_extras);
  const auto e = json_of("eval --model " + f.model + " --data iid --theta 0.5 --json");
  EXPECT_EQ(keys(e), (std::set<std::string>{"data", "k", "linear_risk", "model", "n", "optimal_risk",
                                             "population_risk", "risk_ratio", "sigma", "spec", "stepsize"}));
  EXPECT_NEAR(e["population_risk"].get<double>(), th["population_risk"].get<double>(), 1e-12);
}
