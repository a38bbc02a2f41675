// --corpus codec2|asterisk with --train / --test (CorpusOptions) in study dequant and study
// denoise: a missing package is one error line (exit 2, nothing written), --corpus with both
// lists is refused, and the asterisk split by language reaches the study (a generated prompt
// folder; codec2 need not be installed for these studies).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_run.hpp"
#include "varlearn/audio/audio_file.hpp"
#include "../support/temp_dir.hpp"
#include "../support/voice.hpp"

namespace fs = std::filesystem;
using varlearn::testing::TempDir;

namespace {

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

/// Three short generated prompts per language, as the Debian folders hold them.
void fake_prompts(const fs::path& root) {
  unsigned seed = 1;
  for (const char* lang : {"en", "fr", "es", "it", "ru"}) {
    fs::create_directories(root / lang / "digits");
    for (const char* name : {"a.wav", "b.wav", "digits/1.wav"})
      varlearn::audio::write_wav(root / lang / name, varlearn::testing::voice(2000, 8000, 120.0 + 10 * seed, seed), 8000),
          ++seed;
  }
}

}  // namespace

TEST(CliCorpus, MissingPackageIsOneErrorLine) {
  TempDir d;
  const std::string env = "VARLEARN_ASTERISK_DIR=" + (d.path / "none").string() + " ";
  for (const char* study : {"dequant", "denoise"}) {
    const CliResult r =
        run_cli(std::string("study ") + study + " --corpus asterisk --quick --out " + (d.path / "out").string(), env);
    EXPECT_EQ(r.code, 2) << study << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("asterisk-core-sounds-en-wav"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
    EXPECT_FALSE(fs::exists(d.path / "out"));
  }
}

TEST(CliCorpus, CorpusWithBothListsAndUnknownCorpusRefused) {
  TempDir d;
  const fs::path a = d.path / "a.wav", b = d.path / "b.wav";
  varlearn::audio::write_wav(a, varlearn::testing::voice(2000, 8000, 120, 1), 8000);
  varlearn::audio::write_wav(b, varlearn::testing::voice(2000, 8000, 180, 2), 8000);
  const std::string files = " --train " + a.string() + " --test " + b.string();
  for (const char* corpus : {"asterisk", "codec2"}) {
    const CliResult r = run_cli(std::string("study dequant --quick --corpus ") + corpus + files + " --out " +
                                (d.path / "out").string());
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("does not apply with both --train and --test"), std::string::npos) << r.err;
  }
  const CliResult r = run_cli("study denoise --corpus timit --out " + (d.path / "out").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--corpus"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d.path / "out"));
}

TEST(CliCorpus, AsteriskSplitByLanguageReachesTheStudy) {
  TempDir d;
  fake_prompts(d.path / "sounds");
  const std::string env = "VARLEARN_ASTERISK_DIR=" + (d.path / "sounds").string() +
                          " VARLEARN_CODEC2_DIR=" + (d.path / "no-codec2").string() + " ";
  const std::string base = "study dequant --corpus asterisk --bits 4 --methods quantized --depths 1 --out ";
  const CliResult r = run_cli(base + (d.path / "out").string(), env);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp((d.path / "out" / "results.json").string()));
  ASSERT_EQ(j["train_files"].size(), 12u);
  ASSERT_EQ(j["test_files"].size(), 3u);
  for (const auto& f : j["train_files"]) EXPECT_EQ(f.get<std::string>().find("/ru/"), std::string::npos) << f;
  for (const auto& f : j["test_files"]) EXPECT_NE(f.get<std::string>().find("/ru/"), std::string::npos) << f;

  // an explicit --test replaces that side only
  const fs::path mine = d.path / "mine.wav";
  varlearn::audio::write_wav(mine, varlearn::testing::voice(3000, 8000, 140, 9), 8000);
  const CliResult r2 = run_cli(base + (d.path / "out2").string() + " --test " + mine.string(), env);
  ASSERT_EQ(r2.code, 0) << r2.err;
  const auto j2 = nlohmann::json::parse(slurp((d.path / "out2" / "results.json").string()));
  EXPECT_EQ(j2["train_files"].size(), 12u);
  ASSERT_EQ(j2["test_files"].size(), 1u);
  EXPECT_NE(j2["test_files"][0].get<std::string>().find("mine.wav"), std::string::npos);
}
