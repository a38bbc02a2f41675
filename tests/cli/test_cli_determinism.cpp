// Determinism across thread counts (docs/learning.md, "Determinism"): the same seed and inputs
// give bitwise identical numbers for every OMP_NUM_THREADS >= 2 (Eigen's GEMM blocking depends
// only on whether a product runs in parallel), and the studies, whose GEMMs run single-threaded
// inside parallel jobs, are identical for every thread count including 1. All of that with
// Eigen's GEMM (core/gemm.hpp: `auto` picks a backend by timing, so these runs force one); with
// the BLAS backend (OpenBLAS) the numbers are identical for a fixed thread count only.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "../support/temp_dir.hpp"
#include "cli_run.hpp"
#include "varlearn/core/gemm.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using varlearn::testing::TempDir;

namespace {

// Runs the binary with OMP_NUM_THREADS and VARLEARN_GEMM set; returns stdout.
std::string run_with_threads(int threads, const std::string& args, int& code, const char* gemm = "eigen") {
  const CliResult r = run_cli(args, std::string("OMP_NUM_THREADS=") + std::to_string(threads) +
                                        " VARLEARN_GEMM=" + gemm + " ");
  code = r.code;
  return r.out;
}

json without_timing(json j) {
  if (j.is_object()) {
    for (const char* k : {"seconds", "train_seconds", "elapsed", "saved", "files"}) j.erase(k);
    for (auto& v : j) v = without_timing(v);
  } else if (j.is_array()) {
    for (auto& v : j) v = without_timing(v);
  }
  return j;
}

}  // namespace

TEST(Determinism, TrainingIsBitwiseIdenticalForEveryParallelThreadCount) {
  std::vector<const char*> backends{"eigen"};
  if (varlearn::blas_available()) backends.push_back("blas");
  // Large enough that the GEMMs run in parallel (n = 160, B = 3000), float32 and float64.
  for (const char* gemm : backends)
    for (const std::string args : {"train --n 160 --k 160 --depth 6 --samples 3000 --iterations 15 --precision float32 --json",
                                 "train --n 160 --k 40 --method bilevel --samples 3000 --iterations 15 --json"}) {
    int c2 = 0, c3 = 0;
    const json a = without_timing(json::parse(run_with_threads(2, args, c2, gemm)));
    const int other = std::string(gemm) == "eigen" ? 3 : 2;  // the BLAS: the same count again
    const json b = without_timing(json::parse(run_with_threads(other, args, c3, gemm)));
    ASSERT_EQ(c2, 0);
    ASSERT_EQ(c3, 0);
    EXPECT_EQ(a, b) << args << " (" << gemm << ")";
  }
}

TEST(Determinism, StudyIsIdenticalForOneAndTwoThreads) {
  if (!fs::exists("/usr/share/codec2/raw")) GTEST_SKIP() << "codec2-examples not installed";
  TempDir t;
  json r[2];
  for (int threads : {1, 2}) {
    const fs::path out = t.path / (std::string("t") + std::to_string(threads));
    int code = 0;
    run_with_threads(threads, "study denoise --quick --depths 1..3 --no-audio --no-strategy --out " + out.string(), code);
    ASSERT_EQ(code, 0);
    r[threads - 1] = without_timing(json::parse(slurp((out / "results.json").string())));
  }
  EXPECT_EQ(r[0], r[1]);
}
