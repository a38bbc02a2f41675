// Outputs all-or-nothing through the varlearn binary: nothing is created
// on a failed run; an existing output is refused without --force and replaced as a whole with
// it; SIGTERM leaves nothing and exits 143; a kill -9 at a random point, then --resume, gives
// the results.json of an uninterrupted run; a gnuplot that hangs is stopped and leaves nothing.
// Generated audio (a few seconds of "speech-like" harmonics) keeps each test to seconds.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "../support/temp_dir.hpp"
#include "../support/voice.hpp"
#include "cli_run.hpp"
#include "varlearn/audio/audio_file.hpp"

extern "C" char** environ;

namespace {

namespace fs = std::filesystem;
using varlearn::Index;
using varlearn::Vector;
using varlearn::testing::TempDir;
using varlearn::testing::voice;
using Clock = std::chrono::steady_clock;


// Three one-second files in `dir`: v0, v1 (training) and v2 (test); returns the file flags.
std::string corpus(const fs::path& dir) {
  for (int i = 0; i < 3; ++i)
    varlearn::audio::write_wav(dir / (std::string("v") + std::to_string(i) + ".wav"), voice(8000, 8000, 110.0 + 37 * i, unsigned(i + 1)),
                               8000);
  return std::string("--train ") + (dir / "v0.wav").string() + " " + (dir / "v1.wav").string() + " --test " +
         (dir / "v2.wav").string();
}

// A dequantization study of a few seconds on the generated corpus.
std::string dequant_args(const fs::path& dir) {
  return std::string("study dequant ") + corpus(dir) + " --bits 3,4 --depths 1,2,4 --steps 500 --batch 128";
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Everything in `dir` except the generated inputs v*.wav.
std::vector<std::string> outputs(const fs::path& dir) {
  std::vector<std::string> out;
  for (const std::string& e : entries(dir))
    if (!(e.size() == 6 && e[0] == 'v' && e.ends_with(".wav"))) out.push_back(e);
  return out;
}

// Starts the binary with `args` (split on spaces), output to /dev/null; returns its pid.
pid_t spawn_cli(const std::string& args) {
  std::vector<std::string> words{VARLEARN_BINARY};
  std::istringstream in(args);
  for (std::string w; in >> w;) words.push_back(w);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// results.json without timing fields ("seconds", at any depth).
nlohmann::json without_timing(nlohmann::json j) {
  if (j.is_object()) {
    j.erase("seconds");
    for (auto& [k, v] : j.items()) v = without_timing(v);
  } else if (j.is_array()) {
    for (auto& v : j) v = without_timing(v);
  }
  return j;
}

// Equal structure, numbers equal to 1e-12 relative.
void expect_same_numbers(const nlohmann::json& a, const nlohmann::json& b, const std::string& where = "") {
  ASSERT_EQ(a.type(), b.type()) << where;
  if (a.is_number_float() || (a.is_number() && b.is_number())) {
    const double x = a.get<double>(), y = b.get<double>();
    EXPECT_LE(std::abs(x - y), 1e-12 * std::max(1.0, std::abs(x))) << where << ": " << x << " vs " << y;
  } else if (a.is_object()) {
    ASSERT_EQ(a.size(), b.size()) << where;
    for (const auto& [k, v] : a.items()) {
      ASSERT_TRUE(b.contains(k)) << where << "." << k;
      expect_same_numbers(v, b.at(k), where + "." + k);
    }
  } else if (a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << where;
    for (size_t i = 0; i < a.size(); ++i) expect_same_numbers(a[i], b[i], where + "[" + std::to_string(i) + "]");
  } else {
    EXPECT_EQ(a, b) << where;
  }
}


nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(slurp(p.string())); }

}  // namespace

TEST(CliOutputs, FailedRunsCreateNothing) {
  TempDir d;
  const std::string files = corpus(d.path);
  const fs::path out = d.path / "new" / "out";  // missing parent too: must not be created either
  const std::string missing = (d.path / "missing.wav").string();
  const std::vector<std::string> bad = {
      // bad input after a valid --out, for each writing command
      std::string("study denoise --quick --out ") + out.string() + " --train " + missing + " --test " + missing,
      std::string("study denoise --quick --out ") + out.string() + " --sigma -1",
      std::string("study dequant --quick --out ") + out.string() + " --train " + missing + " --test " + missing,
      std::string("study dequant --quick --out ") + out.string() + " --bits 0",
      std::string("reproduce --quick --out ") + out.string() + " --sections theory,bogus",
      std::string("reproduce --quick --out ") + out.string() + " --sections bogus",
      std::string("theory map --n 20 --x k=1:20:3 --value bogus --out ") + out.string(),
      std::string("theory depth --n 20 --nmax 0 --out ") + out.string(),
      std::string("theory landscape --depths 0 --out ") + out.string(),
      // bad --out itself
      std::string("study dequant ") + files + " --out /dev/null",
      std::string("study denoise ") + files + " --out ''",
      "theory map --n 20 --x k=1:20:3 --value bilevel --out /dev/null",
      "reproduce --quick --out /dev/null",
  };
  for (const std::string& args : bad) {
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(outputs(d.path), std::vector<std::string>{}) << args;
  }
  EXPECT_FALSE(fs::exists("/dev/null.csv"));
}

TEST(CliOutputs, ExistingFolderRefusedUnlessForceThenReplacedWhole) {
  TempDir d;
  const fs::path out = d.path / "out";
  fs::create_directories(out);
  std::ofstream(out / "stale.txt") << "from an earlier run\n";
  const std::string args = std::string("study dequant ") + corpus(d.path) + " --bits 4 --depths 1 --steps 20 --out " + out.string();
  const CliResult refused = run_cli(args);
  EXPECT_EQ(refused.code, 2) << refused.err;
  EXPECT_NE(refused.err.find("already exists (use --force"), std::string::npos) << refused.err;
  EXPECT_TRUE(fs::exists(out / "stale.txt"));  // untouched
  const CliResult forced = run_cli(args + " --force");
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_FALSE(fs::exists(out / "stale.txt"));  // replaced as a whole
  EXPECT_TRUE(fs::exists(out / "results.json"));
  EXPECT_EQ(outputs(d.path), std::vector<std::string>{"out"});  // no temporary left next to it
}

TEST(CliOutputs, PrefixSetRefusedUnlessForceThenNoStaleMembers) {
  TempDir d;
  const std::string prefix = (d.path / "sub" / "m").string();
  const std::string args = std::string("theory map --n 20 --x k=1:20:3 --value bilevel --json --out ") + prefix;
  ASSERT_EQ(run_cli(args).code, 0);
  EXPECT_EQ(entries(d.path / "sub"), (std::vector<std::string>{"m.csv", "m.png", "m.svg"}));
  const CliResult again = run_cli(args + " --no-figures");
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("m.csv' already exists (use --force"), std::string::npos) << again.err;
  ASSERT_EQ(run_cli(args + " --no-figures --force").code, 0);
  EXPECT_EQ(entries(d.path / "sub"), std::vector<std::string>{"m.csv"});  // the old figures are gone
  EXPECT_EQ(run_cli(std::string("theory depth --n 20 --nmax 2 --no-figures --out ") + prefix).code, 2);  // m.csv exists
}

TEST(CliOutputs, SigtermMidStudyLeavesNothingAndExits143) {
  TempDir d;
  const fs::path out = d.path / "out";
  const pid_t pid = spawn_cli(std::string("study denoise --quick --out ") + out.string());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit(pid), 143);
  EXPECT_EQ(entries(d.path), std::vector<std::string>{});
}

TEST(CliOutputs, KilledDequantResumesToTheUninterruptedResults) {
  TempDir d;
  const std::string args = dequant_args(d.path);
  const fs::path ref = d.path / "ref", out = d.path / "out";
  const auto t0 = Clock::now();
  const CliResult full = run_cli(args + " --out " + ref.string());
  ASSERT_EQ(full.code, 0) << full.err;
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  // kill -9 at a random point of a run with --resume (seed printed for a rerun)
  const unsigned seed = unsigned(std::random_device{}());
  std::mt19937 rng(seed);
  const double at = std::uniform_real_distribution<double>(0.1, 0.7)(rng) * seconds;
  const pid_t pid = spawn_cli(args + " --resume --out " + out.string());
  std::this_thread::sleep_for(std::chrono::duration<double>(at));
  ::kill(pid, SIGKILL);
  wait_exit(pid);
  SCOPED_TRACE(std::string("killed after ") + std::to_string(at) + " s of " + std::to_string(seconds) + " (seed " +
               std::to_string(seed) + ")");
  // A loaded machine may finish before the kill; a kill before the first row was journaled
  // leaves no OUT.partial (nothing to reuse), and a whole one after it.
  const bool finished = fs::exists(out);
  const bool recorded = fs::exists(d.path / "out.partial/fingerprint.json");

  // other options: refused, naming the difference (when the killed run had journaled a row;
  // killed before, there is nothing to refuse, and the run would go ahead into OUT)
  if (recorded) {
    const CliResult other = run_cli(args + " --seed 7 --resume --out " + out.string());
    EXPECT_EQ(other.code, 2);
    EXPECT_NE(other.err.find("seed: 1 (journal) vs 7 (now)"), std::string::npos) << other.err;
  }

  if (!finished) {
    const CliResult resumed = run_cli(args + " --resume --out " + out.string());
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    if (recorded) {
      EXPECT_NE(resumed.err.find("(resumed)"), std::string::npos) << resumed.err;  // work skipped
    }
  }
  expect_same_numbers(without_timing(read_json(ref / "results.json")), without_timing(read_json(out / "results.json")));
  EXPECT_EQ(slurp((ref / "example_learned.wav").string()), slurp((out / "example_learned.wav").string()));
  EXPECT_EQ(entries(ref), entries(out));
  EXPECT_FALSE(fs::exists(d.path / "out.partial"));  // the journal goes once the results are in place
  for (const std::string& e : outputs(d.path)) EXPECT_TRUE(e == "ref" || e == "out") << e;
}

TEST(CliOutputs, HangingGnuplotIsStoppedAndLeavesNothing) {
  TempDir d;
  const fs::path bin = d.path / "bin";
  fs::create_directories(bin);
  std::ofstream(bin / "gnuplot") << "#!/bin/sh\nexec sleep 30\n";
  fs::permissions(bin / "gnuplot", fs::perms::owner_all);
  const std::string env = std::string("PATH=") + bin.string() + ":$PATH VARLEARN_GNUPLOT_TIMEOUT=0.5 ";
  const fs::path work = d.path / "work";
  fs::create_directories(work);
  const auto t0 = Clock::now();
  const CliResult map = run_cli(std::string("theory map --n 20 --x k=1:20:3 --value bilevel --out ") + (work / "m").string(), env);
  EXPECT_EQ(map.code, 1);
  EXPECT_NE(map.err.find("figure 'm': gnuplot did not finish within 0.5 s"), std::string::npos) << map.err;
  const CliResult study = run_cli(std::string("study dequant ") + corpus(d.path) + " --bits 4 --depths 1 --steps 20 --out " +
                                      (work / "out").string(),
                                  env);
  EXPECT_EQ(study.code, 1);
  EXPECT_NE(study.err.find("gnuplot did not finish"), std::string::npos) << study.err;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 20.0);
  EXPECT_EQ(entries(work), std::vector<std::string>{});
}
