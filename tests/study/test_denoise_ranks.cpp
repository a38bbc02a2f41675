// Rank analysis of the speech denoising study (--k LIST) on generated audio: trained risks
// against the theory optimum at each k, the theory's shape in k (unrolling beats bilevel below
// full rank, they coincide at k = n where bilevel = Wiener), a single --k is today's study,
// bad lists are refused naming --k. Does not need the codec2 files.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/study/denoise_pipeline.hpp"
#include "varlearn/study/denoise_study.hpp"
#include "varlearn/study/journal.hpp"
#include "varlearn/theory/data_model.hpp"
#include "../support/temp_dir.hpp"
#include "../support/voice.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::study;

namespace {

using varlearn::testing::TempDir;
using varlearn::testing::voice;

/// Trained MSE may sit below the theory optimum only by rounding: relative tolerance.
constexpr double kBelowTheory = 1e-9;
/// Bilevel, N = 1 and even N, trained well on the tiny problem: within this of the optimum.
constexpr double kReachesTheory = 1e-3;

DenoiseOptions tiny(const TempDir& d) {
  DenoiseOptions o;
  for (int i = 0; i < 3; ++i) {
    fs::path p = d.path / "v";
    p += std::to_string(i) + ".wav";
    audio::write_wav(p, voice(8000, 8000, 110.0 + 37 * i, unsigned(i + 1)), 8000);
    (i < 2 ? o.train_files : o.test_files).push_back(p);
  }
  o.n = 16;
  o.hop = 8;
  o.depths = {1, 2};
  o.iterations = 400;
  o.odd_strategy = false;
  o.write_audio = false;
  return o;
}

const DenoiseConfig* row(const DenoiseResults& r, Index k, int depth) {  // depth 0: bilevel; default start
  for (const auto& rc : r.ranks)
    if (rc.rank == k && rc.config.init == DenoiseInit::Shrink && (depth == 0 ? rc.config.method == learn::Method::Bilevel
                                    : rc.config.method == learn::Method::Unrolled && rc.config.depth == depth))
      return &rc.config;
  return nullptr;
}

}  // namespace

TEST(DenoiseRanks, TrainedAboveTheoryAndCloseOnATinyProblem) {
  TempDir d;
  DenoiseOptions o = tiny(d);
  o.ranks = {16, 1, 4};  // sorted by resolved()
  o.rank_depths = {1, 2, 3, 4};
  o.odd_strategy = true;  // odd N = 3 also from the theory engine's R (no main strategy: depths 1, 2)
  const DenoiseResults r = run_denoise_study(o);
  EXPECT_EQ(r.options.rank, 16);  // main study at the largest k
  ASSERT_EQ(r.ranks.size(), 3u * 6u);
  EXPECT_EQ(r.ranks.front().rank, 1);
  EXPECT_EQ(r.ranks.back().rank, 16);
  const auto data = theory::DataModel::dense(denoise::make_frames(denoise::load_corpus(r.options), r.options).train_moment);
  int theory_rows = 0;
  double worst = 0, lowest = 0;  // printed: the margins of the tolerances
  for (const auto& rc : r.ranks) {
    const DenoiseConfig& c = rc.config;
    std::string what = "k=";
    what += std::to_string(rc.rank);
    what += std::string(" ") + learn::to_string(c.method);
    what += " N=";
    what += std::to_string(c.depth);
    // theory_mse is the theory engine's optimum at this k (not at the main study's k)
    const auto p = denoise::predict(data, 0.1, rc.rank, c.method, c.stepsize_mode, c.depth, 0.5);
    EXPECT_NEAR(c.theory_mse / p.mse, 1.0, 1e-12) << what;
    EXPECT_GE(c.train_mse, c.theory_mse * (1 - kBelowTheory)) << what;
    if (c.method == learn::Method::Bilevel || c.depth % 2 == 0 || c.depth == 1 || c.init == DenoiseInit::Theory) {
      EXPECT_LE(c.shortfall, kReachesTheory) << what;
    }
    if (c.init == DenoiseInit::Theory) ++theory_rows;
    if (c.method == learn::Method::Bilevel || c.depth % 2 == 0 || c.depth == 1 || c.init == DenoiseInit::Theory)
      worst = std::max(worst, c.shortfall);
    lowest = std::min(lowest, c.shortfall);
    EXPECT_GT(c.test_mse, 0) << what;
    EXPECT_TRUE(std::isfinite(c.test_snr_db)) << what;
  }
  EXPECT_EQ(theory_rows, 3);  // N = 3 at each k
  std::printf("rank analysis, tiny problem: largest train/theory - 1 (should reach) %.3g, lowest %.3g\n", worst,
              lowest);
  // Theory: unrolling (best N) beats bilevel below full rank, by a clear margin at k = 1;
  // at k = n bilevel is the Wiener filter and even N reaches it.
  for (Index k : {1, 4}) {
    double best = 1e300;
    for (int n : {1, 2, 3, 4}) best = std::min(best, row(r, k, n)->theory_mse);
    EXPECT_LT(best, row(r, k, 0)->theory_mse * (1 - 1e-3)) << "k=" << k;
  }
  EXPECT_LT(row(r, 1, 2)->theory_mse, 0.9 * row(r, 1, 0)->theory_mse);
  EXPECT_NEAR(row(r, 16, 0)->theory_mse / r.wiener_train_mse, 1.0, 1e-9);
  EXPECT_NEAR(row(r, 16, 2)->theory_mse / r.wiener_train_mse, 1.0, 1e-9);
  EXPECT_NEAR(row(r, 16, 4)->theory_mse / r.wiener_train_mse, 1.0, 1e-9);
  // Trained, too: unrolled N = 2 below bilevel at k = 1 on training
  EXPECT_LT(row(r, 1, 2)->train_mse, 0.9 * row(r, 1, 0)->train_mse);
  // The k = n rows are the main study's configurations (reused, identical numbers).
  for (const auto& c : r.configs)
    if (c.method == learn::Method::Bilevel || c.stepsize_mode == learn::StepsizeMode::Learned) {
      const DenoiseConfig* x = row(r, 16, c.method == learn::Method::Bilevel ? 0 : c.depth);
      ASSERT_NE(x, nullptr);
      EXPECT_EQ(x->train_mse, c.train_mse);
      EXPECT_EQ(x->test_mse, c.test_mse);
    }
  // Theory lines: the grid holds 1, every analysed k and n; each value is the rows' theory
  // at the analysed k; the optimum can only improve with k.
  ASSERT_FALSE(r.rank_theory.empty());
  EXPECT_EQ(r.rank_theory.front().rank, 1);
  EXPECT_EQ(r.rank_theory.back().rank, 16);
  for (size_t i = 0; i < r.rank_theory.size(); ++i) {
    const auto& t = r.rank_theory[i];
    if (auto* b = row(r, t.rank, 0)) {
      EXPECT_NEAR(t.bilevel / b->theory_mse, 1.0, 1e-12);
    }
    if (i == 0) continue;
    const auto& prev = r.rank_theory[i - 1];
    EXPECT_LE(t.bilevel, prev.bilevel * (1 + 1e-12));
    for (size_t j = 0; j < t.unrolled.size(); ++j)
      EXPECT_LE(t.unrolled[j].second, prev.unrolled[j].second * (1 + 1e-9)) << "N=" << t.unrolled[j].first;
  }
  // The finding is generated from these numbers.
  const std::string f = denoise_rank_findings(r);
  EXPECT_NE(f.find("In theory unrolling beats bilevel at k = 1, 4"), std::string::npos) << f;
  EXPECT_NE(f.find("coincide"), std::string::npos) << f;
  EXPECT_NE(f.find("at k = n the bilevel optimum is the Wiener filter"), std::string::npos) << f;
  EXPECT_NE(f.find("unrolling is lower than bilevel up to k = "), std::string::npos) << f;

  // Files: results.json's ranks / rank_theory, ranks.csv, the rank rows in results.csv, the figure.
  const fs::path out = d.path / "out";
  write_denoise_outputs(r, out);
  const auto j = nlohmann::json::parse(io::read_text(out / "results.json"));
  ASSERT_TRUE(j.contains("ranks"));
  EXPECT_EQ(j["ranks"].size(), r.ranks.size());
  EXPECT_EQ(j["ranks"][0]["k"], 1);
  EXPECT_TRUE(j["ranks"][0]["depth"].is_null());
  for (const char* key : {"train_mse", "theory_mse", "test_mse", "test_snr_db", "method", "stepsize"})
    EXPECT_TRUE(j["ranks"][1].contains(key)) << key;
  EXPECT_EQ(j["rank_theory"].size(), r.rank_theory.size());
  EXPECT_EQ(j["settings"]["ranks"], nlohmann::json({1, 4, 16}));
  const std::string csv = io::read_text(out / "ranks.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + long(r.ranks.size()));
  EXPECT_NE(io::read_text(out / "results.csv").find("rank_k4,unrolled,3,learned"), std::string::npos);
  EXPECT_TRUE(fs::exists(out / "mse_vs_rank.png"));
  EXPECT_TRUE(fs::exists(out / "mse_vs_rank.svg"));
}

TEST(DenoiseRanks, SingleRankIsTodaysStudy) {
  TempDir d;
  DenoiseOptions o = tiny(d);
  o.iterations = 60;
  o.rank = 4;
  const DenoiseResults single = run_denoise_study(o);
  EXPECT_TRUE(single.ranks.empty());
  EXPECT_TRUE(single.rank_theory.empty());
  EXPECT_EQ(denoise_rank_findings(single), "");
  EXPECT_EQ(denoise_findings(single).find("Rank analysis"), std::string::npos);
  // No new key in the fingerprint (journals of earlier runs stay valid) or the files.
  const nlohmann::json fp = denoise_fingerprint(o);
  EXPECT_FALSE(fp.contains("ranks"));
  EXPECT_FALSE(fp.contains("rank_depths"));
  const fs::path out = d.path / "single";
  write_denoise_outputs(single, out);
  const auto j = nlohmann::json::parse(io::read_text(out / "results.json"));
  EXPECT_FALSE(j.contains("ranks"));
  EXPECT_FALSE(j.contains("rank_theory"));
  EXPECT_FALSE(j["settings"].contains("ranks"));
  EXPECT_FALSE(fs::exists(out / "ranks.csv"));
  EXPECT_FALSE(fs::exists(out / "mse_vs_rank.png"));
  EXPECT_EQ(io::read_text(out / "results.csv").find("rank_k"), std::string::npos);
  // The same main study inside a rank analysis whose largest k is 4: identical numbers.
  DenoiseOptions listed = o;
  listed.rank = 0;
  listed.ranks = {2, 4};
  listed.rank_depths = {2};
  const DenoiseResults multi = run_denoise_study(listed);
  ASSERT_EQ(multi.configs.size(), single.configs.size());
  for (size_t i = 0; i < single.configs.size(); ++i) {
    EXPECT_EQ(multi.configs[i].train_mse, single.configs[i].train_mse) << i;
    EXPECT_EQ(multi.configs[i].test_mse, single.configs[i].test_mse) << i;
    EXPECT_EQ(multi.configs[i].theory_mse, single.configs[i].theory_mse) << i;
  }
  EXPECT_EQ(multi.ranks.size(), 4u);  // (bilevel, N = 2) x (k = 2, 4)
}

TEST(DenoiseRanks, BadListsNameK) {
  TempDir d;
  auto refused = [&](std::vector<Index> ranks, const std::string& says) {
    DenoiseOptions o = tiny(d);
    o.ranks = std::move(ranks);
    try {
      o.validate();
      ADD_FAILURE() << "accepted: " << says;
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("--k"), std::string::npos) << m;
      EXPECT_NE(m.find(says), std::string::npos) << m;
    }
  };
  refused({0, 4}, "--k must satisfy 1 <= k <= n = 16 (got 0 in the list)");
  refused({4, 17}, "--k must satisfy 1 <= k <= n = 16 (got 17 in the list)");
  refused({4, 2, 4}, "rank 4 is given twice");
  refused({-3}, "(got -3 in the list)");
  DenoiseOptions o = tiny(d);
  o.ranks = {1, 16};
  o.rank_depths = {2, 2};
  EXPECT_THROW(o.validate(), Error);
  o.rank_depths = {0};
  EXPECT_THROW(o.validate(), Error);
}

TEST(DenoiseRanks, ResumeReloadsRankRunsAndEqualsAnUninterruptedRun) {
  TempDir d;
  DenoiseOptions o = tiny(d);
  o.iterations = 80;
  o.odd_strategy = true;
  o.ranks = {2, 16};
  o.rank_depths = {2, 3};
  const DenoiseResults ref = run_denoise_study(o);
  const fs::path jdir = d.path / "out.partial";
  run_denoise_study(o, {}, Journal(jdir, denoise_fingerprint(o)));  // records everything
  ASSERT_TRUE(fs::exists(jdir / "rank-k2-bilevel.json"));
  // "killed" before the N = 3 runs at k = 2 were recorded (default and theory start, .json + R)
  int forgotten = 0;
  std::vector<fs::path> doomed;
  for (const auto& e : fs::directory_iterator(jdir))
    if (e.path().filename().string().find("rank-k2-N3-") != std::string::npos) doomed.push_back(e.path());
  for (const auto& p : doomed) forgotten += fs::remove(p);
  EXPECT_EQ(forgotten, 4);
  std::vector<std::string> lines;
  const DenoiseResults res = run_denoise_study(o, [&](const std::string& l) { lines.push_back(l); },
                                               Journal(jdir, denoise_fingerprint(o)));
  int reloaded = 0;
  for (const auto& l : lines) reloaded += l.find("configurations reloaded") != std::string::npos;
  EXPECT_GE(reloaded, 2);  // main study and the k = 2 analysis
  ASSERT_EQ(res.ranks.size(), ref.ranks.size());
  for (size_t i = 0; i < ref.ranks.size(); ++i) {
    EXPECT_EQ(res.ranks[i].rank, ref.ranks[i].rank);
    EXPECT_EQ(res.ranks[i].config.init, ref.ranks[i].config.init);
    EXPECT_EQ(res.ranks[i].config.train_mse, ref.ranks[i].config.train_mse) << i;  // exact
    EXPECT_EQ(res.ranks[i].config.test_mse, ref.ranks[i].config.test_mse) << i;
  }
  // A different rank list is a different study: the journal refuses it.
  DenoiseOptions other = o;
  other.ranks = {4, 16};
  EXPECT_NE(denoise_fingerprint(other), denoise_fingerprint(o));
}

#ifdef VARLEARN_BINARY
TEST(DenoiseRanks, CliRefusesBadListsNamingK) {
  if (!fs::exists(VARLEARN_BINARY)) GTEST_SKIP() << "varlearn binary not built";
  TempDir d;
  const DenoiseOptions o = tiny(d);
  const fs::path out = d.path / "out", err = d.path / "err.txt";
  auto run = [&](const std::string& args) {
    fs::remove_all(out);
    const std::string cmd = std::string(VARLEARN_BINARY) + " study denoise --n 16 --depths 1,2 --iterations 5 " +
                            "--no-audio --no-strategy --train " + o.train_files[0].string() + " " +
                            o.train_files[1].string() + " --test " + o.test_files[0].string() + " --out " +
                            out.string() + " " + args + " >/dev/null 2>" + err.string();
    return WEXITSTATUS(std::system(cmd.c_str()));
  };
  for (const std::string bad : {"--k 0,4", "--k 4,17", "--k 1,,4", "--k 4,", "--k ,4", "--k 4,4", "--k 1,x",
                                "--k 1,2 --rank-depths 0", "--k 1,2 --rank-depths 2,2"}) {
    EXPECT_EQ(run(bad), 2) << bad;
    const std::string m = io::read_text(err);
    EXPECT_NE(m.find(bad.find("rank-depths") != std::string::npos ? "--rank-depths" : "--k"), std::string::npos)
        << bad << ": " << m;
    EXPECT_FALSE(fs::exists(out)) << bad;
  }
  for (const std::string bad : {"--k ''", "--k 0", "--k 17", "--k -1", "--k 1.5"}) {  // single values too
    EXPECT_EQ(run(bad), 2) << bad;
    EXPECT_NE(io::read_text(err).find("--k"), std::string::npos) << bad << ": " << io::read_text(err);
    EXPECT_FALSE(fs::exists(out)) << bad;
  }
  EXPECT_EQ(run("--k 4 --rank-depths 2"), 2);  // no list: the option does not apply
  EXPECT_NE(io::read_text(err).find("--rank-depths"), std::string::npos);
  EXPECT_EQ(run("--k 2,4 --rank-depths 2"), 0);
  const auto j = nlohmann::json::parse(io::read_text(out / "results.json"));
  EXPECT_EQ(j["ranks"].size(), 4u);
  EXPECT_EQ(j["settings"]["k"], 4);
}
#endif
