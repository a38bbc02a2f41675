// The restore section of the report, from fixture `study restore` folders written here (both
// tasks, a few configurations, missing optional keys, failed and budget-stopped runs): the
// generated findings hold numbers recomputed in the test (best model, dB gains, the fitted
// convergence rate, verdicts), the figures and their data files are written.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>

#include <nlohmann/json.hpp>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/study/report.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::study;
using nlohmann::json;

namespace {

constexpr double kPower = 0.04;  // test signal power: SNR = 10 log10(P / MSE)
double snr(double mse) { return 10 * std::log10(kPower / mse); }
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

json config(const std::string& reg, const std::string& method, int depth, double train_loss, double mse,
            const std::string& status = "converged", const std::string& mode = "learned") {
  json c{{"regularizer", reg}, {"method", method}, {"test_mse", mse}, {"test_snr_db", snr(mse)}, {"seconds", 1.5}, {"status", status}};
  c["depth"] = method == "bilevel" ? json(nullptr) : json(depth);
  c["stepsize_mode"] = method == "bilevel" ? json(nullptr) : json(mode);
  if (std::isfinite(train_loss)) c["train_loss"] = train_loss;  // NaN: key left out
  if (!std::isfinite(mse)) c["test_mse"] = nullptr, c["test_snr_db"] = nullptr;
  return c;
}

/// Convergence distances d_N = 0.5 * 0.85^N * (1 + 0.05 (-1)^N): nearly geometric, not exactly.
double distance(int n) { return 0.5 * std::pow(0.85, n) * (1 + 0.05 * (n % 2 ? -1 : 1)); }
const std::vector<int> kConvergenceDepths{1, 2, 3, 5, 10, 20};

Vector tone(Index len, double f_hz, double amp) {
  Vector x(len);
  for (Index t = 0; t < len; ++t) x[t] = amp * std::sin(2 * std::numbers::pi * f_hz * double(t) / 8000);
  return x;
}

/// A denoise run; `files`: also wav/ and filters/ (the spectrogram and filter figures).
void write_denoise(const fs::path& dir, double sigma, double best_mse, bool files = true) {
  json j{{"task", "denoise"}, {"sigma", sigma}, {"n", 320}, {"hop", 160}, {"train_files", {"a.raw", "b.raw"}},
         {"test_files", {"c.raw"}}, {"noisy_mse", 0.01}, {"linear_mse", 0.004}, {"linear_snr_db", snr(0.004)}};
  j["configs"] = json::array({config("quadratic", "bilevel", 0, 0.0040, 0.0041),
                              config("huber", "bilevel", 0, 0.0024, 0.0025),
                              config("huber", "unrolled", 1, 0.0034, 0.0035),
                              config("huber", "unrolled", 2, 0.0029, 0.0030),
                              config("huber", "unrolled", 5, 0.0026, 0.0027),
                              config("huber", "unrolled", 10, 0.0023, best_mse, "max_iterations"),
                              config("huber", "unrolled", 20, kNaN, kNaN, "diverged"),
                              config("huber", "unrolled", 5, 0.0030, 0.0031, "converged", "fixed"),
                              config("student", "bilevel", 0, 0.0025, 0.0026),
                              config("student", "unrolled", 5, kNaN, 0.0028)});
  j["convergence"] = json::array();
  for (int n : kConvergenceDepths) j["convergence"].push_back({{"regularizer", "huber"}, {"depth", n}, {"distance", distance(n)}});
  j["bilevel_of_unrolled"] = json::array({{{"regularizer", "huber"}, {"depth", 1}, {"test_mse", 0.004}},
                                          {{"regularizer", "huber"}, {"depth", 2}, {"test_mse", 0.0032}},
                                          {{"regularizer", "huber"}, {"depth", 5}, {"test_mse", 0.0027}},
                                          {{"regularizer", "huber"}, {"depth", 10}, {"test_mse", 0.00255}}});
  fs::create_directories(dir);
  io::write_atomic(dir / "results.json", j.dump(2));
  if (!files) return;
  fs::create_directories(dir / "wav");
  fs::create_directories(dir / "filters");
  const Vector clean = tone(8000, 500, 0.5);
  Vector noisy = clean;
  for (Index t = 0; t < noisy.size(); ++t) noisy[t] += 0.1 * std::sin(0.37 * double(t * t % 1013));
  audio::write_wav(dir / "wav" / "clean.wav", clean, 8000);
  audio::write_wav(dir / "wav" / "degraded.wav", noisy, 8000);
  audio::write_wav(dir / "wav" / "linear_wiener.wav", 0.5 * (clean + noisy), 8000);
  audio::write_wav(dir / "wav" / "huber_unrolled_N10.wav", 0.9 * clean + 0.1 * noisy, 8000);
  std::ofstream(dir / "filters" / "huber_unrolled_N10.csv") << "1,-1,0,0\n0,1,-1,0\n0,0,1,-1\n";
  std::ofstream(dir / "filters" / "student_bilevel.csv") << "k0,k1,k2\n0.5,0.25,-0.75\n0.1,0.2,0.3\n";
}

void write_inpaint(const fs::path& dir) {
  json j{{"task", "inpaint"}, {"sigma", 0.01}, {"n", 320}, {"missing", 0.2}, {"burst", 40}, {"train_files", {"a.raw"}}, {"test_files", {"c.raw"}},
         {"noisy_mse", 0.02}, {"zero_fill_mse", 0.02}, {"zero_fill_snr_db", snr(0.02)}, {"linear_mse", 0.03},
         {"linear_snr_db", snr(0.03)}, {"linear_local_mse", 0.015}, {"linear_local_snr_db", snr(0.015)}};
  j["configs"] = json::array({config("tv", "bilevel", 0, 0.013, 0.012), config("tv", "unrolled", 3, 0.010, 0.011),
                              config("tv", "unrolled", 10, 0.009, 0.005, "line_search_failed")});
  fs::create_directories(dir);
  io::write_atomic(dir / "results.json", j.dump(2));
}

bool contains(const std::string& md, const std::string& what) { return md.find(what) != std::string::npos; }

std::string signed_db(double v) { return std::string(v >= 0 ? "+" : "") + format_fixed(v, 2) + " dB"; }

}  // namespace

TEST(RestoreSection, DenoiseFindingsHoldTheRecomputedNumbers) {
  varlearn::testing::TempDir d;
  const fs::path run = d.path / "restore" / "denoise";
  write_denoise(run, 0.1, 0.0024);
  ReportContext ctx{d.path, false, {}, {}};
  const std::string md = restore_section(ctx, {run});
  // best model and its gains over Wiener (SNR keys) and over no restoration (derived from MSE)
  EXPECT_TRUE(contains(md, "**huber unrolled N=10**")) << md;
  EXPECT_TRUE(contains(md, signed_db(snr(0.0024) - snr(0.004)) + " over Wiener filter")) << md;
  EXPECT_TRUE(contains(md, signed_db(10 * std::log10(0.01 / 0.0024)) + " over no restoration")) << md;
  // target: +2.22 dB >= 2 dB at sigma = 0.1
  EXPECT_TRUE(contains(md, "**met**: huber unrolled N=10 is " + signed_db(snr(0.0024) - snr(0.004)))) << md;
  // per regularizer: huber unrolled wins with the lower training loss, student bilevel wins
  EXPECT_TRUE(contains(md, "unrolled better by " + format_fixed(snr(0.0024) - snr(0.0025), 2) + " dB")) << md;
  EXPECT_TRUE(contains(md, "bilevel better by " + format_fixed(snr(0.0026) - snr(0.0028), 2) + " dB")) << md;
  EXPECT_TRUE(contains(md, "Unrolled beats bilevel on the test files for 1 of 2 regularizers")) << md;
  // failed (diverged, null numbers) and budget-stopped configurations are named
  EXPECT_TRUE(contains(md, "left out of every finding below: huber unrolled N=20 (diverged)")) << md;
  EXPECT_TRUE(contains(md, "huber unrolled N=10 (max_iterations)")) << md;
  // 2(a): N=10 is within 5 % of bilevel
  EXPECT_TRUE(contains(md, "within 5 % of bilevel at N = 10 (" + format_percent(0.0024 / 0.0025 - 1, 1, true) + ")")) << md;
  // 2(b): the fitted geometric rate, recomputed by least squares of ln d on N
  double mx = 0, my = 0;
  for (int n : kConvergenceDepths) mx += n, my += std::log(distance(n));
  mx /= double(kConvergenceDepths.size());
  my /= double(kConvergenceDepths.size());
  double sxx = 0, sxy = 0;
  for (int n : kConvergenceDepths) sxx += (n - mx) * (n - mx), sxy += (n - mx) * (std::log(distance(n)) - my);
  const double rho = std::exp(sxy / sxx);
  EXPECT_NEAR(rho, 0.85, 0.01);
  EXPECT_TRUE(contains(md, "rho = " + format_general(rho, 3) + " per iteration")) << md;
  EXPECT_TRUE(contains(md, "a factor 10 every " + format_general(std::log(10.0) / -std::log(rho), 3) + " iterations")) << md;
  EXPECT_TRUE(contains(md, "the geometric (linear) rate fits better")) << md;
  // 2(c): theta_10's exact minimizer is within 5 % of bilevel
  EXPECT_TRUE(contains(md, "approach a bilevel optimum")) << md;
  EXPECT_TRUE(contains(md, format_percent(0.00255 / 0.0025 - 1, 1, true))) << md;
  // missing train_loss is n/a, not a number
  EXPECT_TRUE(contains(md, "| student | unrolled | 5 | learned | n/a |")) << md;
  // figures and their data files, linked relative to the report folder
  for (const char* f : {"snr_vs_depth", "mse_vs_depth", "convergence", "filters_huber_unrolled_N10", "filters_student_bilevel",
                        "spectrograms"}) {
    EXPECT_TRUE(fs::is_regular_file(run / "figures" / (std::string(f) + ".png"))) << f;
    EXPECT_TRUE(fs::is_regular_file(run / "figures" / (std::string(f) + ".svg"))) << f;
  }
  for (const char* f : {"snr_vs_depth", "mse_vs_depth", "convergence", "filters_huber_unrolled_N10", "spectrogram_clean",
                        "spectrogram_degraded", "spectrogram_linear_wiener", "spectrogram_huber_unrolled_N10"})
    EXPECT_GT(fs::file_size(run / "figures" / (std::string(f) + ".dat")), 0u) << f;
  EXPECT_TRUE(contains(md, "](restore/denoise/figures/snr_vs_depth.png)")) << md;
  EXPECT_TRUE(contains(md, "](restore/denoise/figures/spectrograms.png)")) << md;
  // the SNR curve's data: the huber block holds N and the exact SNR of each usable depth
  const std::string dat = io::read_text(run / "figures" / "snr_vs_depth.dat");
  EXPECT_TRUE(contains(dat, "10 " + format_exact(snr(0.0024)))) << dat;
  EXPECT_FALSE(contains(dat, "20 ")) << dat;  // the diverged N = 20 is not drawn
  // the filter image: 3 rows of 4 (the student file's header line is skipped)
  EXPECT_EQ(io::read_text(run / "figures" / "filters_huber_unrolled_N10.dat"), "1 -1 0 0\n0 1 -1 0\n0 0 1 -1\n");
  EXPECT_EQ(io::read_text(run / "figures" / "filters_student_bilevel.dat"), "0.5 0.25 -0.75\n0.1 0.2 0.3\n");
}

TEST(RestoreSection, AtAnotherSigmaTheTargetIsNotJudged) {
  varlearn::testing::TempDir d;
  write_denoise(d.path, 0.05, 0.0024, false);
  const std::string md = restore_findings(d.path, d.path);
  EXPECT_TRUE(contains(md, "this run has sigma = 0.05, where huber unrolled N=10 is " + signed_db(snr(0.0024) - snr(0.004)))) << md;
  EXPECT_FALSE(contains(md, "**met**")) << md;
  EXPECT_FALSE(contains(md, "**not met**")) << md;
}

TEST(RestoreSection, TargetNotMetSaysByHowMuch) {
  varlearn::testing::TempDir d;
  write_denoise(d.path, 0.1, 0.0030, false);
  // make every nonlinear model worse than 2 dB over Wiener: overwrite the results
  json j = json::parse(io::read_text(d.path / "results.json"));
  for (auto& c : j["configs"])
    if (c["regularizer"] != "quadratic" && c["test_mse"].is_number()) {
      c["test_mse"] = c["test_mse"].get<double>() * 1.2;
      c["test_snr_db"] = snr(c["test_mse"].get<double>());
    }
  io::write_atomic(d.path / "results.json", j.dump());
  const std::string md = restore_findings(d.path, d.path);
  const double g = snr(0.0025 * 1.2) - snr(0.004);  // huber bilevel is now the best nonlinear model
  ASSERT_LT(g, 2.0);
  EXPECT_TRUE(contains(md, "**not met**: huber bilevel is " + signed_db(g) + " over Wiener, short by " +
                               format_fixed(2.0 - g, 2) + " dB")) << md;
  EXPECT_FALSE(contains(md, "in these numbers")) << md;  // converged bilevel of a full run: nothing to point at
  j["quick"] = true;
  j["steps"] = 60;
  for (auto& c : j["configs"])
    if (c["regularizer"] == "huber" && c["method"] == "bilevel") c["status"] = "max_iterations";
  io::write_atomic(d.path / "results.json", j.dump());
  EXPECT_TRUE(contains(restore_findings(d.path, d.path),
                       "; in these numbers: this is a --quick run (reduced corpus, frame length and steps); its training "
                       "stopped at the step budget (60 steps) without converging."));
}

TEST(RestoreSection, InpaintWithoutOptionalKeysAndWithAFailedRun) {
  varlearn::testing::TempDir d;
  write_inpaint(d.path / "inpaint");
  const std::string md = restore_findings(d.path / "inpaint", d.path);
  // the failed N=10 (better numbers, but line_search_failed) is not the best model
  EXPECT_TRUE(contains(md, "**tv unrolled N=3**")) << md;
  EXPECT_TRUE(contains(md, "left out of every finding below: tv unrolled N=10 (line_search_failed)")) << md;
  EXPECT_TRUE(contains(md, signed_db(snr(0.011) - snr(0.02)) + " over zero filling")) << md;
  EXPECT_TRUE(contains(md, signed_db(snr(0.011) - snr(0.015)) + " over linear (local)")) << md;
  EXPECT_TRUE(contains(md, "The linear MMSE is " + format_fixed(snr(0.02) - snr(0.03), 2) +
                               " dB below zero filling: the global linear estimator loses to zero filling here")) << md;
  EXPECT_FALSE(contains(md, "no restoration")) << md;  // noisy_mse = zero_fill_mse: one reference, not two
  EXPECT_TRUE(contains(md, "(best learned model beats zero filling and the linear MMSE): **met**")) << md;
  EXPECT_TRUE(contains(md, "hop = n/a; 20 % of the samples missing in bursts of 40 samples;")) << md;
  EXPECT_TRUE(contains(md, "No convergence distances in the results")) << md;
  EXPECT_TRUE(contains(md, "No exact-minimizer results")) << md;
  EXPECT_TRUE(fs::is_regular_file(d.path / "inpaint" / "figures" / "snr_vs_depth.png"));
  EXPECT_FALSE(fs::exists(d.path / "inpaint" / "figures" / "convergence.png"));   // nothing to draw
  EXPECT_FALSE(fs::exists(d.path / "inpaint" / "figures" / "spectrograms.png"));  // no wav/
}

TEST(RestoreSection, BadFoldersAreRefused) {
  varlearn::testing::TempDir d;
  EXPECT_THROW(restore_findings(d.path, d.path), Error);  // no results.json
  io::write_atomic(d.path / "results.json", "{\"task\": \"denoise\"}");
  EXPECT_THROW(restore_findings(d.path, d.path), Error);  // no configs
  io::write_atomic(d.path / "results.json", "not json");
  EXPECT_THROW(restore_findings(d.path, d.path), Error);
  ReportContext ctx{d.path, true, {}, {}};
  EXPECT_TRUE(contains(restore_section(ctx, {}), "No restore results were given"));
}

// Every used configuration stopped by the budget: one summary line, not a list; an unrolled
// theta_N whose exact minimizer beats bilevel's theta* is called out.
TEST(RestoreSection, BudgetStatusSummaryAndAnUnderTrainedBilevel) {
  varlearn::testing::TempDir d;
  write_denoise(d.path, 0.1, 0.0024, false);
  json j = json::parse(io::read_text(d.path / "results.json"));
  for (auto& c : j["configs"])
    if (c["status"] != "diverged") c["status"] = "max_iterations";
  for (auto& b : j["bilevel_of_unrolled"]) b["test_mse"] = 0.002;  // 20 % below bilevel's 0.0025
  io::write_atomic(d.path / "results.json", j.dump());
  const std::string md = restore_findings(d.path, d.path);
  EXPECT_TRUE(contains(md, "- All 9 used configurations ended with status max_iterations (they ran their whole training budget).")) << md;
  EXPECT_FALSE(contains(md, "did not report convergence")) << md;
  EXPECT_TRUE(contains(md, "The exact minimizer of theta_10 is better than that of the bilevel-trained theta* (" +
                               format_percent(0.002 / 0.0025 - 1, 1, true) + ")")) << md;
}

TEST(RestoreSection, FurtherTestSetsGetTheirBaselinesAColumnAndASentence) {
  varlearn::testing::TempDir d;
  write_denoise(d.path, 0.1, 0.0024, false);
  json j = json::parse(io::read_text(d.path / "results.json"));
  j["corpus"] = "asterisk";
  j["test_name"] = "ru (unseen)";
  j["extra_tests"] = json::array({{{"name", "codec2"}, {"test_files", {"x.raw", "y.raw"}}, {"test_frames", 600},
                                   {"noisy_mse", 0.012}, {"noisy_snr_db", snr(0.012)}, {"linear_mse", 0.005},
                                   {"linear_snr_db", snr(0.005)}}});
  // Every model scores 1.5x its test MSE on codec2; one row has no codec2 score (null).
  for (auto& c : j["configs"])
    if (c["test_mse"].is_number())
      c["extra_tests"] = json::array({{{"name", "codec2"},
                                       {"test_mse", 1.5 * c["test_mse"].get<double>()},
                                       {"test_snr_db", snr(1.5 * c["test_mse"].get<double>())}}});
  j["configs"][0]["extra_tests"] = json::array({{{"name", "codec2"}, {"test_mse", nullptr}, {"test_snr_db", nullptr}}});
  io::write_atomic(d.path / "results.json", j.dump());
  const std::string md = restore_findings(d.path, d.path);
  EXPECT_TRUE(contains(md, "Setting: corpus asterisk, training 2 files, test 1 file (ru (unseen))")) << md;
  EXPECT_TRUE(contains(md, "Further test set **codec2** (2 files): no restoration SNR " + format_fixed(snr(0.012), 2) +
                               " dB; Wiener filter SNR " + format_fixed(snr(0.005), 2) + " dB.")) << md;
  // The best model (huber unrolled N=10, MSE 0.0024) on codec2: 0.0036 against Wiener's 0.005 there.
  const double there = snr(1.5 * 0.0024) - snr(0.005), here = snr(0.0024) - snr(0.004);
  EXPECT_TRUE(contains(md, "- On the further test set codec2 (never used for any choice) the same model has SNR " +
                               format_fixed(snr(1.5 * 0.0024), 2) + " dB")) << md;
  EXPECT_TRUE(contains(md, signed_db(there) + " over Wiener filter (on the main test files: " + signed_db(here) +
                               " against the Wiener filter).")) << md;
  EXPECT_TRUE(contains(md, " codec2 SNR | codec2 vs linear |")) << md;
  EXPECT_TRUE(contains(md, "| n/a | n/a |")) << md;  // the row without a codec2 score
}
