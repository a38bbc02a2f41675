// varlearn study restore on the command line: bad input exits 2 with one line and writes
// nothing; a tiny run writes results.json with the agreed keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli_run.hpp"
#include "varlearn/audio/audio_file.hpp"
#include "../support/temp_dir.hpp"
#include "../support/voice.hpp"

namespace {
namespace fs = std::filesystem;
using varlearn::testing::TempDir;
using varlearn::testing::voice;

std::string corpus(const fs::path& dir) {
  for (int i = 0; i < 3; ++i)
    varlearn::audio::write_wav(dir / (std::string("v") + std::to_string(i) + ".wav"),
                               voice(4000, 8000, 110.0 + 37 * i, unsigned(i + 1)), 8000);
  return std::string("--train ") + (dir / "v0.wav").string() + " " + (dir / "v1.wav").string() + " --test " +
         (dir / "v2.wav").string();
}
}  // namespace

TEST(CliRestore, BadInputExitsTwoWithOneLineAndWritesNothing) {
  TempDir d;
  const std::string files = corpus(d.path);
  const fs::path out = d.path / "out";
  for (const std::string bad : {"--task deblur", "--task denoise --sigma -1", "--task denoise --depths 0",
                                "--task denoise --regularizers wavelet", "--task denoise --methods unroled",
                                "--task inpaint --n 16 --burst 40", "--task denoise --depths 2,2",
                                "--task denoise --regularizers tv,,analysis"}) {
    const CliResult r = run_cli("study restore " + files + " " + bad + " --out " + out.string());
    EXPECT_EQ(r.code, 2) << bad << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << bad << "\n" << r.err;
    EXPECT_FALSE(fs::exists(out)) << bad;
    EXPECT_FALSE(fs::exists(d.path / "out.partial")) << bad;
  }
  const CliResult missing = run_cli("study restore --task denoise --train " + (d.path / "none.wav").string() +
                                    " --test " + (d.path / "v2.wav").string() + " --out " + out.string());
  EXPECT_EQ(missing.code, 2) << missing.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliRestore, TinyRunWritesResultsWithTheKeys) {
  TempDir d;
  const fs::path out = d.path / "out";
  const CliResult r = run_cli("study restore " + corpus(d.path) +
                              " --task inpaint --n 16 --burst 4 --regularizers tv --depths 1,2 --steps 20 --out " +
                              out.string() + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[restore"), std::string::npos);  // progress on stderr
  const nlohmann::json j = nlohmann::json::parse(slurp((out / "results.json").string()));
  for (const char* k : {"task", "sigma", "n", "hop", "train_files", "test_files", "noisy_mse", "linear_mse",
                        "linear_snr_db", "zero_fill_mse", "zero_fill_snr_db", "linear_local_mse", "linear_local_snr_db",
                        "configs", "convergence", "bilevel_of_unrolled"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["configs"].size(), 3u);
  EXPECT_DOUBLE_EQ(j["sigma"].get<double>(), 0.01);
  EXPECT_TRUE(fs::exists(out / "results.csv"));
  EXPECT_TRUE(fs::exists(out / "wav" / "degraded.wav"));
  EXPECT_TRUE(fs::exists(out / "wav" / "tv_unrolled_N2.wav"));
  EXPECT_TRUE(fs::exists(out / "filters" / "tv_bilevel.csv"));
  EXPECT_FALSE(fs::exists(d.path / "out.partial"));  // the journal is removed once OUT is complete
  // A second run into the same folder is refused without --force.
  const CliResult again = run_cli("study restore " + corpus(d.path) + " --task inpaint --n 16 --burst 4 --out " + out.string());
  EXPECT_EQ(again.code, 2);
}
