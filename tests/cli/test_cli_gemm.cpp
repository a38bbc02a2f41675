// The GEMM backend setting on the command line: `varlearn info` reports it and where it came
// from, --gemm overrides VARLEARN_GEMM, bad values are input errors (exit 2) before any work,
// and a training run gives the same numbers with either backend to rounding.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_run.hpp"
#include "varlearn/core/gemm.hpp"

using nlohmann::json;

TEST(CliGemm, InfoReportsTheBackendAndItsSource) {
  const CliResult def = run_cli("info --json", "env -u VARLEARN_GEMM ");
  ASSERT_EQ(def.code, 0) << def.err;
  const json j = json::parse(def.out);
  EXPECT_EQ(j["gemm"]["backend"], "auto");
  EXPECT_EQ(j["gemm"]["source"], "default");
  EXPECT_EQ(j["blas"].is_null(), !varlearn::blas_available());
  if (varlearn::blas_available()) {
    EXPECT_FALSE(j["blas"]["kernel"].get<std::string>().empty());
  }

  const CliResult env = run_cli("info --json", "VARLEARN_GEMM=eigen ");
  ASSERT_EQ(env.code, 0) << env.err;
  EXPECT_EQ(json::parse(env.out)["gemm"]["source"], "VARLEARN_GEMM");
  EXPECT_EQ(json::parse(env.out)["gemm"]["backend"], "eigen");

  const CliResult flag = run_cli("--gemm eigen info --json", "VARLEARN_GEMM=auto ");
  ASSERT_EQ(flag.code, 0) << flag.err;
  EXPECT_EQ(json::parse(flag.out)["gemm"]["source"], "--gemm");

  const CliResult text = run_cli("--gemm eigen info");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("gemm backend: eigen (from --gemm"), std::string::npos) << text.out;
}

// The CLI keeps freed memory in the process (core/memory.hpp) unless the user set glibc's
// malloc tunables, and `info` says which.
TEST(CliGemm, InfoReportsWhetherFreedMemoryIsKept) {
  const CliResult def = run_cli("info --json", "env -u GLIBC_TUNABLES -u MALLOC_TRIM_THRESHOLD_ -u MALLOC_MMAP_THRESHOLD_ ");
  ASSERT_EQ(def.code, 0) << def.err;
  EXPECT_EQ(json::parse(def.out)["memory"]["keep_freed"], true) << def.out;
  const CliResult user = run_cli("info --json", "GLIBC_TUNABLES=glibc.malloc.trim_threshold=1048576 ");
  ASSERT_EQ(user.code, 0) << user.err;
  const json m = json::parse(user.out)["memory"];
  EXPECT_EQ(m["keep_freed"], false);
  EXPECT_NE(m["reason"].get<std::string>().find("environment"), std::string::npos) << m;
  const CliResult text = run_cli("info", "MALLOC_TRIM_THRESHOLD_=1048576 ");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("freed memory: returned to the system as glibc decides (the environment"), std::string::npos)
      << text.out;
}

TEST(CliGemm, BadValuesAreInputErrors) {
  for (const char* bad : {"--gemm mkl info", "--gemm '' info", "--gemm EIGEN theory cmin --depth 3 --stepsize 0.5"}) {
    const CliResult r = run_cli(bad);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("error: --gemm"), std::string::npos) << r.err;
  }
  const CliResult env = run_cli("theory cmin --depth 3 --stepsize 0.5", "VARLEARN_GEMM=openblas ");
  EXPECT_EQ(env.code, 2);
  EXPECT_EQ(env.err, "error: VARLEARN_GEMM: 'openblas' is no GEMM backend (expected eigen, blas or auto)\n");
  EXPECT_TRUE(env.out.empty());
  // --gemm overrides a bad environment value.
  EXPECT_EQ(run_cli("--gemm eigen theory cmin --depth 3 --stepsize 0.5", "VARLEARN_GEMM=openblas ").code, 0);
  const CliResult blas = run_cli("--gemm blas info");
  EXPECT_EQ(blas.code, varlearn::blas_available() ? 0 : 2) << blas.err;
}

TEST(CliGemm, ProbeRefusesMalformedShapes) {
  for (const char* bad : {"info --probe 10x10", "info --probe 10x10x0", "info --probe axbxc", "info --probe 1x2x3x4"}) {
    const CliResult r = run_cli(bad);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("--probe"), std::string::npos) << r.err;
  }
  if (!varlearn::blas_available()) return;
  const CliResult r = run_cli("info --probe 64x48x32 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json p = json::parse(r.out)["probes"];
  ASSERT_EQ(p.size(), 2u);  // float32 and float64
  EXPECT_EQ(p[0]["m"], 64);
  EXPECT_EQ(p[0]["n"], 48);
  EXPECT_EQ(p[0]["k"], 32);
  EXPECT_GT(p[1]["eigen_gflops"].get<double>(), 0.0);
}

TEST(CliGemm, TrainingGivesTheSameNumbersWithEitherBackend) {
  if (!varlearn::blas_available()) GTEST_SKIP() << "built without a BLAS";
  const std::string args = "train --n 48 --k 30 --depth 5 --samples 600 --iterations 5 --json";
  const CliResult e = run_cli("--gemm eigen " + args);
  const CliResult b = run_cli("--gemm blas " + args);
  ASSERT_EQ(e.code, 0) << e.err;
  ASSERT_EQ(b.code, 0) << b.err;
  const json je = json::parse(e.out), jb = json::parse(b.out);
  ASSERT_TRUE(je.contains("train_loss")) << e.out;
  const double le = je["train_loss"].get<double>(), lb = jb["train_loss"].get<double>();
  EXPECT_NEAR(lb, le, 1e-9 * std::abs(le));
}
