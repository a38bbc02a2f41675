// Budget before work for the commands that came last: study denoise,
// study dequant, reproduce and theory optimal|risk|expressivity estimate their memory before
// any work and refuse over --max-memory: exit 2, exactly one line
// "error: COMMAND needs about X of memory, over the limit of 1 MB (--max-memory)", nothing on
// stdout and nothing created (every output points into a fresh folder that must stay empty).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "cli_run.hpp"

namespace fs = std::filesystem;

namespace {

struct BudgetCase {
  std::string what;  ///< the command's name in the message
  std::string args;  ///< {D} = the case's folder
};

class CliBudget : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("varlearn_budget_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
    fs::create_directories(dir_ / "out");
    // Inputs: a 2 x 2 denoiser and two short 16-bit mono WAVs (0.5 s of a tone at 8 kHz).
    std::ofstream(dir_ / "in" / "t.txt") << "0.5 0\n0 0.5\n";
    for (const char* name : {"a.wav", "b.wav"}) write_wav(dir_ / "in" / name, 4000);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write_wav(const fs::path& p, int samples) {
    std::ofstream f(p, std::ios::binary);
    auto u32 = [&](std::uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](std::uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
    f << "RIFF";
    u32(36 + 2 * std::uint32_t(samples));
    f << "WAVEfmt ";
    u32(16), u16(1), u16(1), u32(8000), u32(16000), u16(2), u16(16);
    f << "data";
    u32(2 * std::uint32_t(samples));
    for (int i = 0; i < samples; ++i) u16(std::uint16_t(std::int16_t(8000 * ((i / 10) % 2 ? 1 : -1))));
  }

  std::string expand(std::string s) const {
    for (size_t at; (at = s.find("{D}")) != std::string::npos;) s.replace(at, 3, dir_.string());
    return s;
  }

  fs::path dir_;
};

TEST_F(CliBudget, EveryRemainingCommandRefusesOverTheLimitBeforeAnyWork) {
  const std::string wavs = "--train {D}/in/a.wav --test {D}/in/b.wav";
  const std::vector<BudgetCase> cases{
      {"study denoise", "study denoise --quick --out {D}/out/s " + wavs},
      {"study denoise", "study denoise --out {D}/out/s"},  // the default corpus (or 0 samples without it)
      {"study dequant", "study dequant --quick --out {D}/out/s " + wavs},
      {"study dequant", "study dequant --out {D}/out/s"},
      {"study restore", "study restore --task denoise --quick --out {D}/out/s " + wavs},
      {"reproduce", "reproduce --quick --out {D}/out/r"},
      {"reproduce", "reproduce --sections theory --out {D}/out/r"},
      {"theory optimal", "theory optimal --n 5"},
      {"theory optimal", "theory optimal --data ar1 --n 3000 --theta 0.5 --realize {D}/out/r.txt"},
      {"theory risk", "theory risk --matrix {D}/in/t.txt"},
      {"theory expressivity", "theory expressivity --matrix {D}/in/t.txt --realize {D}/out/r.txt"},
  };
  const std::regex message(
      R"(^error: ([a-z ]+) needs about [0-9.]+ (kB|MB|GB|TB) of memory, over the limit of 1 MB \(--max-memory\)\n$)");
  for (const BudgetCase& c : cases) {
    SCOPED_TRACE(c.args);
    const CliResult r = run_cli(expand(c.args) + " --max-memory 1M");
    EXPECT_EQ(r.code, 2);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(r.err, m, message)) << r.err;
    EXPECT_EQ(m[1].str(), c.what);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(fs::is_empty(dir_ / "out")) << "wrote into the output folder";
    EXPECT_FALSE(fs::exists(dir_ / "out" / "s.partial") || fs::exists(dir_ / "out" / "r.partial"));
  }
}

TEST_F(CliBudget, ALimitAboveTheEstimateLetsTheRunThrough) {
  // theory optimal --n 5 needs about 30 MB: 1G passes, and the answer is unchanged.
  const CliResult plain = run_cli("theory optimal --n 5");
  const CliResult budget = run_cli("theory optimal --n 5 --max-memory 1G");
  EXPECT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(budget.code, 0) << budget.err;
  EXPECT_EQ(plain.out, budget.out);
  const CliResult risk = run_cli(expand("theory risk --matrix {D}/in/t.txt --max-memory 1G"));
  EXPECT_EQ(risk.code, 0) << risk.err;
}

}  // namespace
