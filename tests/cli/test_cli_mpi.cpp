// varlearn under mpirun (docs/scale-out.md): two ranks on localhost give the numbers of one
// process, only rank 0 prints and writes, a failing rank ends the job with one error line, and
// a bad input is reported once. Skipped when varlearn was built without MPI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../support/temp_dir.hpp"
#include "../support/voice.hpp"
#include "cli_run.hpp"
#include "varlearn/audio/audio_file.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using varlearn::testing::TempDir;

#ifndef VARLEARN_MPIEXEC
TEST(Mpi, BuiltWithoutMpi) { GTEST_SKIP() << "varlearn built without MPI (VARLEARN_MPI=OFF)"; }
#else

namespace {

// One process's arithmetic, the same in every run: one OpenMP thread and Eigen's GEMM (under
// `auto` each process would time the backends itself, and where the BLAS's kernels match the
// CPU two processes could keep different ones).
const std::string kOne = "OMP_NUM_THREADS=1 VARLEARN_GEMM=eigen ";
// CI runs as root (Open MPI refuses root without both variables); shared memory and self
// transports only (no network probing); one OpenMP thread per rank on the 2-core machine.
const std::string kEnv = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader "
                         "OMPI_MCA_rmaps_base_oversubscribe=1 " + kOne;
CliResult run_ranks(int ranks, const std::string& args, const std::string& env = "") {
  return run_cli(args, kEnv + env + VARLEARN_MPIEXEC + " -np " + std::to_string(ranks) +
                           " --oversubscribe --bind-to none ");
}

int error_lines(const std::string& err) {
  std::istringstream in(err);
  int n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("error:", 0) == 0) ++n;
  return n;
}

void expect_close(const json& a, const json& b, const char* key, double rel) {
  ASSERT_TRUE(a.contains(key) && b.contains(key)) << key;
  const double x = a[key].get<double>(), y = b[key].get<double>();
  EXPECT_LE(std::abs(x - y), rel * std::max(std::abs(x), std::abs(y))) << key << ": " << x << " vs " << y;
}

// A small general training: mask drawn per batch (split by frames), dense analysis regularizer.
const std::string kTrain =
    "train --operator mask:0.3 --regularizer analysis --potential charbonnier --data ar1 --mu 0 --theta 1 "
    "--rho 0.9 --n 12 --samples 160 --sigma 0.1 --depth 5 --seed 3 --json";

}  // namespace

namespace {
json without_timing(json j) {
  j.erase("seconds");
  return j;
}
}  // namespace

TEST(Mpi, TwoRanksGiveTheBitsOfOneProcessWithTwoShards) {
  // L-BFGS on the whole set, Adam on minibatches with fresh noise and masks, bilevel: every
  // number of 2 ranks equals one process's with --shards 2 (the sum order is the same).
  const std::string bilevel = "train --operator mask:0.3 --regularizer analysis --potential charbonnier --method bilevel "
                              "--data ar1 --n 8 --samples 60 --sigma 0.1 --seed 3 --iterations 4 --json";
  for (const std::string& run : {kTrain + " --iterations 15", kTrain + " --optimizer adam --batch 40 --iterations 25",
                                bilevel}) {
    const CliResult one = run_cli(run + " --shards 2", kOne);
    const CliResult two = run_ranks(2, run);
    ASSERT_EQ(one.code, 0) << one.err;
    ASSERT_EQ(two.code, 0) << two.err;
    const json a = json::parse(one.out), b = json::parse(two.out);  // rank 0 alone printed: one JSON
    EXPECT_EQ(without_timing(a), without_timing(b)) << run;
    EXPECT_NE(two.err.find("note: 2 ranks"), std::string::npos) << two.err;
  }
}

TEST(Mpi, TwoRanksAgreeWithTheWholeBatchToRounding) {
  // Against one process without shards the sums differ in their last bits only: after a few
  // L-BFGS iterations the numbers agree to 1e-10 (docs/scale-out.md: long nonconvex runs can
  // amplify the difference; --shards makes them bitwise equal).
  const CliResult one = run_cli(kTrain + " --iterations 5", kOne);
  const CliResult two = run_ranks(2, kTrain + " --iterations 5");
  ASSERT_EQ(one.code, 0) << one.err;
  ASSERT_EQ(two.code, 0) << two.err;
  const json a = json::parse(one.out), b = json::parse(two.out);
  EXPECT_EQ(a["iterations"], b["iterations"]);
  for (const char* k : {"train_loss", "validation_loss", "test_mse", "stepsize"}) expect_close(a, b, k, 1e-10);
}

TEST(Mpi, TheQuadraticModelReducesItsMomentsOnce) {
  // Frames (structured path): the moments are sums over frames reduced across the ranks.
  const std::string q = "train --n 10 --k 10 --depth 3 --samples 300 --iterations 20 --json";
  const CliResult one = run_cli(q, kOne);
  const CliResult two = run_ranks(2, q);
  ASSERT_EQ(one.code, 0) << one.err;
  ASSERT_EQ(two.code, 0) << two.err;
  const json a = json::parse(one.out), b = json::parse(two.out);
  for (const char* k : {"train_loss", "population_risk"}) expect_close(a, b, k, 1e-10);
}

TEST(Mpi, OnlyRankZeroWritesTheCheckpointAndAnyRankCountResumesIt) {
  TempDir t;
  const std::string save = (t.path / "run.json").string();
  const CliResult two = run_ranks(2, kTrain + " --iterations 12 --checkpoint-every 4 --save " + save);
  ASSERT_EQ(two.code, 0) << two.err;
  ASSERT_TRUE(fs::exists(save));
  EXPECT_EQ(t.count(), 1u);  // one file, no temporary files of other ranks left behind
  const json saved = json::parse(slurp(save));
  EXPECT_EQ(saved["report"]["train_loss"], json::parse(two.out)["train_loss"]);
  // Resumed by one process with the same shards from the checkpoint of iteration 8: the numbers
  // of the uninterrupted run (any P resumes; --shards keeps the sum order).
  const std::string at8 = (t.path / "at8.json").string();
  const CliResult part = run_ranks(2, kTrain + " --iterations 8 --checkpoint-every 4 --save " + at8);
  ASSERT_EQ(part.code, 0) << part.err;
  const CliResult resumed = run_cli(kTrain + " --iterations 12 --shards 2 --resume " + at8, kOne);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(json::parse(resumed.out)["train_loss"], json::parse(two.out)["train_loss"]);
}

namespace {
json without_times(json j) {  // the study's timings, at any depth
  if (j.is_object()) {
    for (const char* k : {"seconds", "train_seconds", "rank_seconds", "elapsed", "saved", "files"}) j.erase(k);
    for (auto& v : j) v = without_times(v);
  } else if (j.is_array()) {
    for (auto& v : j) v = without_times(v);
  }
  return j;
}
}  // namespace

TEST(Mpi, TheDenoisingStudySpreadOverRanksGivesTheSameResults) {
  if (!fs::exists("/usr/share/codec2/raw")) GTEST_SKIP() << "codec2-examples not installed";
  TempDir t;
  const std::string study = "study denoise --quick --depths 1..3 --no-audio --no-strategy --out ";
  const fs::path one = t.path / "one", two = t.path / "two";
  const CliResult a = run_cli(study + one.string(), kOne);
  const CliResult b = run_ranks(2, study + two.string() + " --resume");
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(without_times(json::parse(slurp((one / "results.json").string()))),
            without_times(json::parse(slurp((two / "results.json").string()))));
  EXPECT_FALSE(fs::exists(t.path / "two.partial"));  // the journal, removed once the results are in place
  EXPECT_EQ(t.count(), 2u);
}

namespace {
// Three generated voices (two to train, one to test): the restoration study needs no corpus.
std::string voices(const fs::path& dir) {
  for (int i = 0; i < 3; ++i)
    varlearn::audio::write_wav(dir / (std::string("v") + std::to_string(i) + ".wav"),
                               varlearn::testing::voice(4000, 8000, 110.0 + 37 * i, unsigned(i + 1)), 8000);
  return std::string("--train ") + (dir / "v0.wav").string() + " " + (dir / "v1.wav").string() + " --test " +
         (dir / "v2.wav").string();
}

// Every file under dir/sub (WAVs, filters), by name, byte for byte.
std::map<std::string, std::string> files_in(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const char* sub : {"wav", "filters"})
    for (const auto& e : fs::directory_iterator(dir / sub)) out[std::string(sub) + "/" + e.path().filename().string()] = slurp(e.path().string());
  return out;
}

// A rank that fails at the study's first exchange: one error line, no OUT, what rank 0 finished
// kept in OUT.partial; then the same run resumed on 2 ranks, returned (OUT.partial gone).
CliResult fail_then_resume(const std::string& run, const fs::path& out) {
  const CliResult failed = run_ranks(2, run + out.string() + " --resume", "VARLEARN_FAIL_RANK=1 ");
  EXPECT_NE(failed.code, 0);
  EXPECT_EQ(error_lines(failed.err), 1) << failed.err;
  EXPECT_NE(failed.err.find("error: rank 1/2: fault injection"), std::string::npos) << failed.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(fs::exists(out.string() + ".partial"));
  const CliResult resumed = run_ranks(2, run + out.string() + " --resume");
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));
  return resumed;
}

// Runs `run OUT` in one process into `one` and with 2 ranks into `two`; both must succeed.
// `ranks` gets the 2-rank run (its log).
void one_and_two_ranks(const std::string& run, const fs::path& one, const fs::path& two, CliResult& ranks) {
  const CliResult a = run_cli(run + one.string(), kOne);
  ranks = run_ranks(2, run + two.string());
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(ranks.code, 0) << ranks.err;
}
}  // namespace

TEST(Mpi, TheRestorationStudySpreadOverRanksGivesTheSameResults) {
  // Three configurations (tv bilevel, unrolled N = 1, 2: the bilevel one to rank 0, the two
  // unrolled ones to rank 1) and the bilevel model's convergence: every number of results.json
  // equals one process's exactly (the timings aside), and so do the WAVs and the filters.
  TempDir t;
  const std::string study = "study restore " + voices(t.path) +
                            " --task inpaint --n 16 --burst 4 --regularizers tv --depths 1,2 --steps 20 --out ";
  const fs::path one = t.path / "one", two = t.path / "two";
  CliResult b;
  ASSERT_NO_FATAL_FAILURE(one_and_two_ranks(study, one, two, b));
  const json ja = json::parse(slurp((one / "results.json").string()));
  const json jb = json::parse(slurp((two / "results.json").string()));
  EXPECT_EQ(ja["configs"].size(), 3u);
  EXPECT_EQ(ja["convergence"].size(), 2u);  // the bilevel model against N = 1, 2
  EXPECT_EQ(without_times(ja), without_times(jb));
  EXPECT_EQ(files_in(one), files_in(two));
  EXPECT_NE(b.err.find("3 configurations to train over 2 ranks, 1 on rank 0"), std::string::npos) << b.err;

  // A rank that fails after the training: the journal holds what rank 0 trained, and a resumed
  // run (2 ranks again) reuses it and ends with the same numbers.
  const fs::path three = t.path / "three";
  const CliResult resumed = fail_then_resume(study, three);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("tv_bilevel: from the journal"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("2 configurations to train over 2 ranks"), std::string::npos) << resumed.err;
  EXPECT_EQ(without_times(ja), without_times(json::parse(slurp((three / "results.json").string()))));
  EXPECT_EQ(files_in(one), files_in(three));
}

TEST(Mpi, TheDequantizationStudySpreadOverRanksGivesTheSameResults) {
  // Two bit depths, N = 1, 2 and the warm chains: the 12 rows of the first phase go to both
  // ranks, then one warm chain to each; results.json and the WAVs equal one process's.
  TempDir t;
  const std::string study = "study dequant " + voices(t.path) +
                            " --n 16 --bits 3,4 --depths 1,2 --steps 30 --batch 32 --max-iter 2000 --warm-start --out ";
  const fs::path one = t.path / "one", two = t.path / "two";
  CliResult b;
  ASSERT_NO_FATAL_FAILURE(one_and_two_ranks(study, one, two, b));
  const json ja = json::parse(slurp((one / "results.json").string()));
  EXPECT_EQ(ja["entries"].size(), 14u);  // per b: quantized, classic 1, 2, converged, learned 1, 2, warm 2
  EXPECT_EQ(without_times(ja), without_times(json::parse(slurp((two / "results.json").string()))));
  for (const char* wav : {"example_clean.wav", "example_quantized.wav", "example_classic.wav", "example_learned.wav"})
    EXPECT_EQ(slurp((one / wav).string()), slurp((two / wav).string())) << wav;
  EXPECT_NE(b.err.find("12 rows over 2 ranks"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("2 warm chains over 2 ranks, 1 on rank 0"), std::string::npos) << b.err;

  // A rank that fails at the first exchange: the journal holds rank 0's rows, and a resumed run
  // (2 ranks again) reuses them and ends with the same numbers.
  const fs::path three = t.path / "three";
  const CliResult resumed = fail_then_resume(study, three);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("(resumed)"), std::string::npos) << resumed.err;
  EXPECT_EQ(resumed.err.find("12 rows over 2 ranks"), std::string::npos) << resumed.err;  // fewer: rank 0's were kept
  EXPECT_EQ(without_times(ja), without_times(json::parse(slurp((three / "results.json").string()))));
  EXPECT_EQ(slurp((one / "example_learned.wav").string()), slurp((three / "example_learned.wav").string()));
}

TEST(Mpi, ReproduceRunsItsSectionsOnceAndWritesTheReportOfOneProcess) {
  // The theory section runs on rank 0 alone (dist::Alone) while rank 1 waits for the restore
  // section, which is not asked for: the report of one process, and no second staged folder.
  TempDir t;
  const std::string run = "reproduce --quick --sections theory --out ";
  const CliResult a = run_cli(run + (t.path / "one").string(), kOne);
  const CliResult b = run_ranks(2, run + (t.path / "two").string());
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(slurp((t.path / "one" / "report.md").string()), slurp((t.path / "two" / "report.md").string()));
  EXPECT_EQ(t.count(), 2u);
  EXPECT_EQ(std::count(b.out.begin(), b.out.end(), '\n'), 1) << b.out;  // "wrote …", once
}

TEST(Mpi, ReproduceSpreadsTheDenoiseSectionAndWritesTheResultsOfOneProcess) {
  if (!fs::exists("/usr/share/codec2/raw")) GTEST_SKIP() << "codec2-examples not installed";
  TempDir t;
  const std::string run = "reproduce --quick --sections denoise --out ";
  const CliResult a = run_cli(run + (t.path / "one").string(), kOne);
  const CliResult b = run_ranks(2, run + (t.path / "two").string());
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  // The section's configurations go to both ranks (rank 1 must take part in the study's
  // exchanges, or rank 0 would wait for it forever); its numbers are those of one process.
  EXPECT_EQ(without_times(json::parse(slurp((t.path / "one" / "denoise" / "results.json").string()))),
            without_times(json::parse(slurp((t.path / "two" / "denoise" / "results.json").string()))));
  // The report too, but for the study's total time in its setting line.
  auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l.substr(0, l.find("; total ")));
    return out;
  };
  EXPECT_EQ(lines(slurp((t.path / "one" / "report.md").string())), lines(slurp((t.path / "two" / "report.md").string())));
  EXPECT_EQ(t.count(), 2u);
}

TEST(Mpi, AFailingRankEndsTheJobWithOneErrorLine) {
  const CliResult r = run_ranks(2, kTrain + " --iterations 5", "VARLEARN_FAIL_RANK=1 ");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(error_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("error: rank 1/2: fault injection"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");  // rank 0 was ended before it printed a result
}

TEST(Mpi, ABadInputIsReportedOnce) {
  const CliResult r = run_ranks(2, kTrain + " --depth 0");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(error_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--depth"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

#endif
