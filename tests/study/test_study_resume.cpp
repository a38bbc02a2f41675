// Resumable studies (study::Journal): a run that finds part of its work in the journal
// reloads it and ends with exactly the results of a run that never stopped (the "kill" is
// simulated deterministically by deleting recorded entries); a journal made with other
// options is refused, naming the difference.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <random>

#include "../support/temp_dir.hpp"
#include "../support/voice.hpp"
#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/study/denoise_study.hpp"
#include "varlearn/study/dequant_study.hpp"
#include "varlearn/study/journal.hpp"

using namespace varlearn;
using namespace varlearn::study;
namespace fs = std::filesystem;
using varlearn::testing::TempDir;
using varlearn::testing::voice;

namespace {


template <class Options>
void add_corpus(Options& o, const TempDir& d) {
  for (int i = 0; i < 3; ++i) {
    const fs::path p = d.path / ("v" + std::to_string(i) + ".wav");
    audio::write_wav(p, voice(8000, 8000, 110.0 + 37 * i, unsigned(i + 1)), 8000);
    (i < 2 ? o.train_files : o.test_files).push_back(p);
  }
}

// Deletes the journal entries (and their signals) whose name contains `part`; returns how many.
int forget(const fs::path& dir, const std::string& part) {
  int n = 0;
  std::vector<fs::path> doomed;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(part) != std::string::npos) doomed.push_back(e.path());
  for (const auto& p : doomed) n += fs::remove(p);
  return n;
}

void expect_same(const DenoiseConfig& a, const DenoiseConfig& b) {
  EXPECT_EQ(a.depth, b.depth);
  EXPECT_EQ(a.stepsize_mode, b.stepsize_mode);
  EXPECT_EQ(a.init, b.init);
  for (auto [x, y] : {std::pair{a.stepsize, b.stepsize}, {a.train_mse, b.train_mse}, {a.test_mse, b.test_mse},
                      {a.test_mse_sampled, b.test_mse_sampled}, {a.test_snr_db, b.test_snr_db},
                      {a.theory_mse, b.theory_mse}, {a.shortfall, b.shortfall},
                      {a.regularizer_norm, b.regularizer_norm}})
    EXPECT_EQ(x, y) << "depth " << a.depth;  // exact: reloaded doubles round-trip
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.status, b.status);
}

}  // namespace

TEST(StudyResume, DenoiseReloadsFinishedJobsAndEqualsAnUninterruptedRun) {
  TempDir d;
  DenoiseOptions o;
  add_corpus(o, d);
  o.n = 16, o.hop = 8, o.depths = {1, 2, 3}, o.iterations = 80;
  const DenoiseResults ref = run_denoise_study(o);

  const fs::path jdir = d.path / "out.partial";
  run_denoise_study(o, {}, Journal(jdir, denoise_fingerprint(o)));  // records everything
  ASSERT_TRUE(fs::exists(jdir / "fingerprint.json"));
  ASSERT_TRUE(fs::exists(jdir / "train-bilevel.json"));
  ASSERT_TRUE(fs::exists(jdir / "sharpness.json"));
  // "killed" after some of the work: forget the N = 2 runs, one strategy run and the sharpness
  EXPECT_EQ(forget(jdir, "train-N2-"), 4);  // learned + fixed, each .json + R
  EXPECT_EQ(forget(jdir, "strategy-N3-learned-continuation"), 2);
  EXPECT_EQ(forget(jdir, "sharpness"), 1);

  std::vector<std::string> lines;
  const Journal journal(jdir, denoise_fingerprint(o));
  EXPECT_TRUE(journal.resumed());
  const DenoiseResults res = run_denoise_study(o, [&](const std::string& l) { lines.push_back(l); }, journal);
  bool reloaded = false;
  for (const auto& l : lines) reloaded = reloaded || l.find("configurations reloaded") != std::string::npos;
  EXPECT_TRUE(reloaded);
  ASSERT_EQ(res.configs.size(), ref.configs.size());
  for (size_t i = 0; i < ref.configs.size(); ++i) expect_same(res.configs[i], ref.configs[i]);
  ASSERT_EQ(res.strategy.size(), ref.strategy.size());
  for (size_t i = 0; i < ref.strategy.size(); ++i) expect_same(res.strategy[i], ref.strategy[i]);
  ASSERT_EQ(res.sharpness.size(), ref.sharpness.size());
  for (size_t i = 0; i < ref.sharpness.size(); ++i) {
    EXPECT_EQ(res.sharpness[i].hessian_max, ref.sharpness[i].hessian_max);
    EXPECT_EQ(res.sharpness[i].basin_width, ref.sharpness[i].basin_width);
  }
  ASSERT_EQ(res.demo_denoised.size(), ref.demo_denoised.size());
  for (size_t i = 0; i < ref.demo_denoised.size(); ++i)
    EXPECT_EQ(res.demo_denoised[i].second, ref.demo_denoised[i].second) << res.demo_denoised[i].first;
}

TEST(StudyResume, DequantReloadsEntriesWithTheirExampleSignals) {
  TempDir d;
  DequantOptions o;
  add_corpus(o, d);
  o.bits = {3, 4}, o.depths = {1, 2}, o.train_steps = 60, o.batch_size = 64;
  const DequantResults ref = run_dequant_study(o);
  const fs::path jdir = d.path / "out.partial";
  run_dequant_study(o, {}, Journal(jdir, dequant_fingerprint(o)));
  EXPECT_EQ(forget(jdir, "b4-learned"), 3);  // N1, N2 and the example signal of N2 (b = 4 is the example)
  EXPECT_EQ(forget(jdir, "b3-classic-converged"), 1);  // b3 is not the example depth: no signal
  const DequantResults res = run_dequant_study(o, {}, Journal(jdir, dequant_fingerprint(o)));
  ASSERT_EQ(res.entries.size(), ref.entries.size());
  for (size_t i = 0; i < ref.entries.size(); ++i) {
    EXPECT_EQ(res.entries[i].snr_db, ref.entries[i].snr_db) << i;
    EXPECT_EQ(res.entries[i].segsnr_db, ref.entries[i].segsnr_db) << i;
    EXPECT_EQ(res.entries[i].tau, ref.entries[i].tau) << i;
  }
  ASSERT_EQ(res.examples.size(), ref.examples.size());
  for (size_t i = 0; i < ref.examples.size(); ++i) {
    EXPECT_EQ(res.examples[i].first, ref.examples[i].first);
    EXPECT_EQ(res.examples[i].second, ref.examples[i].second) << res.examples[i].first;
  }
}

TEST(StudyResume, OtherOptionsAreRefusedNamingTheDifference) {
  TempDir d;
  DequantOptions o;
  add_corpus(o, d);
  const fs::path jdir = d.path / "out.partial";
  Journal(jdir, dequant_fingerprint(o)).record("x", {{"v", 1}});
  DequantOptions other = o;
  other.seed = 7;
  try {
    Journal j(jdir, dequant_fingerprint(other));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("seed: 1 (journal) vs 7 (now)"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(Journal(jdir, dequant_fingerprint(o)));
  // no journal folder is created before the first record
  const fs::path fresh = d.path / "fresh.partial";
  const Journal j(fresh, dequant_fingerprint(o));
  EXPECT_FALSE(fs::exists(fresh));
  EXPECT_FALSE(j.find("x"));
  EXPECT_EQ(Journal::partial_path(d.path / "out/"), fs::path((d.path / "out").string() + ".partial"));
}
