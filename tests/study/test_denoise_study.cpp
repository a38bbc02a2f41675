// Speech denoising study on generated audio (sums of sinusoids in temporary WAVs): theory
// check, training reaching theory, outputs, bad input. Does not need the codec2 files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>

#include <nlohmann/json.hpp>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/audio/framing.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/minimize.hpp"
#include "varlearn/study/denoise_pipeline.hpp"
#include "varlearn/study/denoise_study.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/optimal.hpp"
#include "../support/temp_dir.hpp"
#include "../support/voice.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::study;

namespace {

using varlearn::testing::TempDir;
using varlearn::testing::voice;


DenoiseOptions small_options(const TempDir& d, int files_train = 3) {
  DenoiseOptions o;
  for (int i = 0; i < files_train + 1; ++i) {
    fs::path p = d.path / "v";
    p += std::to_string(i) + ".wav";
    audio::write_wav(p, voice(8000, 8000, 110.0 + 37 * i, unsigned(i + 1)), 8000);
    (i < files_train ? o.train_files : o.test_files).push_back(p);
  }
  o.n = 16;
  o.hop = 8;
  o.depths = {1, 2, 3, 4};
  o.iterations = 400;
  o.odd_strategy = false;
  return o;
}

// ---- Independent computation of the theory MSEs from a second moment (own
// eigendecomposition and own scalar minimizations, no theory engine): bilevel infimum,
// unrolled depth N at stepsize omega, and with learned stepsize (k = n only). Per-sample
// (2 risk / n). The study's theory_mse must agree with these.

// Own symmetric eigenvalues of S (ascending), negatives from rounding clamped to 0.
std::vector<double> eigenvalues_of(const Matrix& s) {
  Eigen::SelfAdjointEigenSolver<Matrix> es(0.5 * (s + s.transpose()), Eigen::EigenvaluesOnly);
  std::vector<double> g(size_t(s.rows()));
  for (Index i = 0; i < s.rows(); ++i) g[size_t(i)] = std::max(0.0, es.eigenvalues()[i]);
  return g;
}

// p(q) = sum_{j<N} q^j, evaluated directly (q in [-1, 1]).
double poly_sum(double q, int depth) {
  double acc = 0, pw = 1;
  for (int j = 0; j < depth; ++j) acc += pw, pw *= q;
  return acc;
}

// Per direction: forced cost h (t = b) and best free cost over the interval [lo, hi].
double best_rank_risk(const std::vector<double>& gammas, double s2, Index rank, double b, double lo, double hi) {
  std::vector<double> savings;
  double total = 0;
  for (double g : gammas) {
    const double h = g * (b - 1) * (b - 1) + s2 * b * b;
    const double t = std::clamp(g / (g + s2), lo, hi);
    const double c = g * (t - 1) * (t - 1) + s2 * t * t;
    total += h;
    savings.push_back(std::max(0.0, h - c));
  }
  std::sort(savings.begin(), savings.end(), std::greater<>());
  for (Index i = 0; i < rank && i < Index(savings.size()); ++i) total -= savings[size_t(i)];
  return total;  // = 2 * risk
}

double independent_bilevel_mse(const Matrix& s, double sigma, Index rank) {
  return best_rank_risk(eigenvalues_of(s), sigma * sigma, rank, 1.0, 0.0, 1.0) / double(s.rows());
}

double independent_unrolled_mse(const Matrix& s, double sigma, Index rank, int depth, double omega) {
  const double b = 1 - std::pow(1 - omega, depth);
  double lo = -INFINITY, hi = b;  // even N: (-inf, b]
  if (depth == 1) lo = hi = omega;
  else if (depth % 2 == 1) {  // p is unimodal on [-1, 0] for odd N >= 3
    const double qs = minimize_scalar([depth](double q) { return poly_sum(q, depth); }, -1.0, 0.0).x;
    hi = INFINITY;
    lo = (1 - omega < qs) ? b : omega * poly_sum(qs, depth);
  }
  return best_rank_risk(eigenvalues_of(s), sigma * sigma, rank, b, lo, hi) / double(s.rows());
}

double independent_learned_mse(const Matrix& s, double sigma, int depth) {  // k = n
  const auto g = eigenvalues_of(s);
  const double s2 = sigma * sigma, n = double(s.rows());
  if (depth == 1) {  // T = omega I: quadratic in omega
    double tr = 0;
    for (double x : g) tr += x;
    const double w = tr / (tr + n * s2);
    return (tr * (w - 1) * (w - 1) + n * s2 * w * w) / n;
  }
  // N >= 2: every direction free; even N reaches t = gamma/(gamma+s2) with omega = 1, odd N
  // approaches it as omega -> 0: the Wiener risk.
  double acc = 0;
  for (double x : g) acc += s2 * x / (x + s2);
  return acc / n;
}

double independent_mse(const DenoiseConfig& c, const Matrix& s, double sigma, Index rank, double omega) {
  if (c.method == learn::Method::Bilevel) return independent_bilevel_mse(s, sigma, rank);
  if (c.stepsize_mode == learn::StepsizeMode::Fixed) return independent_unrolled_mse(s, sigma, rank, c.depth, omega);
  return independent_learned_mse(s, sigma, c.depth);
}

}  // namespace

TEST(DenoiseStudy, TheoryMseMatchesIndependentComputation) {
  TempDir d;
  DenoiseOptions o = small_options(d);
  o.iterations = 1;  // only the theory matters here
  const DenoiseResults r = run_denoise_study(o);
  ASSERT_EQ(r.configs.size(), 1u + 2 * 4);
  // and directly, from frames built here (second moment by a plain loop over frames)
  std::vector<Vector> ys;
  for (const auto& p : o.train_files) ys.push_back(audio::read_audio(p).samples);
  const Matrix y = audio::frame_all(ys, 16, 8);
  Matrix s = Matrix::Zero(16, 16);
  for (Index b = 0; b < y.cols(); ++b) s += y.col(b) * y.col(b).transpose();
  s /= double(y.cols());
  for (const auto& c : r.configs)
    EXPECT_NEAR(c.theory_mse / independent_mse(c, s, 0.1, 16, 0.5), 1.0, 1e-10)
        << learn::to_string(c.method) << " " << c.depth << " " << learn::to_string(c.stepsize_mode);
  // The independent formulas are not vacuous: bilevel k = n equals the Wiener risk, learned
  // N = 1 is worse, a rank-1 bilevel is worse still than full rank.
  EXPECT_NEAR(r.configs[0].theory_mse / r.wiener_train_mse, 1.0, 1e-9);
  EXPECT_GT(independent_learned_mse(s, 0.1, 1), 1.01 * independent_learned_mse(s, 0.1, 2));
  EXPECT_GT(independent_bilevel_mse(s, 0.1, 1), 1.01 * independent_bilevel_mse(s, 0.1, 16));
  // k < n at a fixed stepsize against the theory engine too.
  const auto data = theory::DataModel::dense(s);
  for (int depth : {2, 3, 5})
    EXPECT_NEAR(2 * theory::best_unrolled(data, 0.1, 5, depth, 0.3).risk / 16 /
                    independent_unrolled_mse(s, 0.1, 5, depth, 0.3),
                1.0, 1e-6);
}

TEST(DenoiseStudy, ExactMseIsTheNoiseExpectation) {
  // Monte Carlo check of exact_mse against noisy frames.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g;
  const Index n = 6, B = 200000;
  Matrix y(n, B), x(n, B);
  for (Index b = 0; b < B; ++b)
    for (Index i = 0; i < n; ++i) y(i, b) = 0.3 * std::sin(0.7 * double(i) + double(b % 17)), x(i, b) = y(i, b) + 0.1 * g(rng);
  Matrix t = Matrix::Identity(n, n) * 0.6;
  t(0, 1) = t(1, 0) = 0.1;
  const Matrix s = y * y.transpose() / double(B);
  EXPECT_NEAR(exact_mse(t, s, 0.1), (t * x - y).squaredNorm() / double(n * B), 2e-4 * exact_mse(t, s, 0.1) * 10);
}

TEST(DenoiseStudy, TrainingReachesTheoryAndWritesOutputs) {
  TempDir d;
  DenoiseOptions o = small_options(d);
  o.depths = {1, 2, 3, 4};
  o.odd_strategy = true;
  std::vector<std::string> lines;
  const DenoiseResults r = run_denoise_study(o, [&](const std::string& s) { lines.push_back(s); });
  EXPECT_FALSE(lines.empty());
  for (const auto& c : r.configs) {
    EXPECT_GE(c.train_mse, c.theory_mse * (1 - 1e-6)) << "training beat the theory optimum?";
    const bool must =
        c.method == learn::Method::Bilevel || c.stepsize_mode == learn::StepsizeMode::Fixed || c.depth % 2 == 0;
    // Fixed stepsize, odd N >= 3: directions whose optimal t exceeds b = f(0) sit on the far
    // branch of f (s beyond the minimum of f); from R_0 training reaches it only over the
    // barrier t = c, so on these strongly harmonic signals it can stop ~1.5 % short (on
    // speech it does not: see SpeechQuickReachesTheory).
    const double tol = (c.stepsize_mode == learn::StepsizeMode::Fixed && c.depth >= 3 && c.depth % 2 == 1) ? 0.05 : 0.01;
    if (must) {
      EXPECT_LT(c.shortfall, tol) << learn::to_string(c.method) << " N=" << c.depth;
    }
    EXPECT_LT(c.test_mse, r.noisy_mse);
  }
  // the strategy reaches the odd-depth optimum
  ASSERT_FALSE(r.strategy.empty());
  for (const auto& c : r.strategy)
    EXPECT_LT(c.shortfall, 0.01) << "N=" << c.depth << " init " << to_string(c.init) << " omega " << c.stepsize << " train "
                                 << c.train_mse << " theory " << c.theory_mse;
  ASSERT_FALSE(r.sharpness.empty());
  EXPECT_GT(r.sharpness.front().hessian_max, 0);
  EXPECT_GT(r.sharpness.front().basin_width, 0);

  const fs::path out = d.path / "out";
  write_denoise_outputs(r, out);
  const auto j = nlohmann::json::parse(io::read_text(out / "results.json"));
  for (const char* key : {"noisy_mse", "wiener_mse", "train_files", "test_files", "configs"})
    EXPECT_TRUE(j.contains(key)) << key;
  ASSERT_EQ(j["configs"].size(), 9u);
  EXPECT_TRUE(j["configs"][0]["depth"].is_null());
  EXPECT_EQ(j["configs"][0]["method"], "bilevel");
  for (const auto& c : j["configs"])
    for (const char* key : {"method", "depth", "stepsize_mode", "stepsize", "train_mse", "test_mse",
                            "test_mse_sampled", "theory_mse"})
      EXPECT_TRUE(c.contains(key)) << key;
  EXPECT_EQ(j["configs"][1]["stepsize_mode"], "learned");
  EXPECT_EQ(j["configs"][1]["depth"], 1);
  EXPECT_EQ(j["test_files"].size(), 1u);
  for (const char* f : {"results.csv", "findings.md", "clean.wav", "noisy.wav", "bilevel.wav",
                        "unrolled_learned_N1.wav", "unrolled_learned_N4.wav", "mse_vs_depth.png", "mse_vs_depth.svg"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto clean = audio::read_audio(out / "clean.wav");
  EXPECT_EQ(clean.samples.size(), 8000);
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}

TEST(DenoiseStudy, SpeechQuickReachesTheory) {
  if (!fs::exists("/usr/share/codec2/raw/hts.raw") || std::getenv("VARLEARN_CODEC2_DIR"))
    GTEST_SKIP() << "codec2-examples not installed";
  DenoiseOptions o;
  o.quick = true;  // n = 80, hts.raw for training; cross.raw + forig.raw for test
  o.odd_strategy = false;
  o.write_audio = false;
  const DenoiseResults r = run_denoise_study(o);
  // The study's theory_mse against the independent computation on the same speech frames.
  const DenoiseOptions ro = o.resolved();
  const auto frames = denoise::make_frames(denoise::load_corpus(ro), ro);
  for (const auto& c : r.configs)
    EXPECT_NEAR(c.theory_mse / independent_mse(c, frames.train_moment, ro.noise_std, ro.rank, ro.fixed_stepsize), 1.0,
                1e-10)
        << learn::to_string(c.method) << " N=" << c.depth;
  for (const auto& c : r.configs) {
    const bool must =
        c.method == learn::Method::Bilevel || c.stepsize_mode == learn::StepsizeMode::Fixed || c.depth % 2 == 0;
    if (must) {
      EXPECT_LT(c.shortfall, 0.01) << learn::to_string(c.method) << " N=" << c.depth;
    }
    EXPECT_GT(c.shortfall, -1e-6);
  }
  // the talk: with a learned stepsize, even depths agree (within 5 %) and N = 1 is worse
  double lo = 1e300, hi = 0, n1 = 0;
  for (const auto& c : r.configs)
    if (c.stepsize_mode == learn::StepsizeMode::Learned && c.method == learn::Method::Unrolled) {
      if (c.depth % 2 == 0) lo = std::min(lo, c.test_mse), hi = std::max(hi, c.test_mse);
      if (c.depth == 1) n1 = c.test_mse;
    }
  EXPECT_LT(hi / lo, 1.05);
  EXPECT_GT(n1, 1.1 * hi);
}

TEST(DenoiseStudy, BadInputIsRefusedBeforeAnyOutput) {
  TempDir d;
  const DenoiseOptions good = small_options(d);
  auto expect_bad = [&](DenoiseOptions o, const std::string& needle) {
    try {
      run_denoise_study(o);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Error::Kind::BadInput);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  {
    auto o = good;
    o.train_files.push_back(d.path / "missing.wav");
    expect_bad(o, "not found");
  }
  {
    std::ofstream(d.path / "notaudio.wav") << "hello";
    auto o = good;
    o.test_files = {d.path / "notaudio.wav"};
    expect_bad(o, "not a readable audio file");
  }
  {
    std::ofstream(d.path / "empty.raw");
    auto o = good;
    o.test_files = {d.path / "empty.raw"};
    expect_bad(o, "empty");
  }
  {
    audio::write_wav(d.path / "short.wav", Vector::Zero(10), 8000);
    auto o = good;
    o.test_files = {d.path / "short.wav"};
    expect_bad(o, "too short");
  }
  {
    audio::write_wav(d.path / "r16.wav", voice(4000, 16000, 200, 9), 16000);
    auto o = good;
    o.test_files = {d.path / "r16.wav"};
    expect_bad(o, "mixed sample rates");
    o.rate = 8000;  // resampled: accepted
    o.iterations = 1;
    EXPECT_NO_THROW(run_denoise_study(o));
  }
  {
    auto o = good;
    o.test_files = {o.train_files[0]};
    expect_bad(o, "both");
  }
  {
    auto o = good;
    o.hop = 17;
    expect_bad(o, "--hop");
    o = good;
    o.depths = {0};
    expect_bad(o, "depth");
    o = good;
    o.test_files.clear();
    expect_bad(o, "--test");
  }
  EXPECT_THROW(io::check_writable_dir("/proc/varlearn_no_such_dir/out"), Error);
  std::ofstream(d.path / "afile") << "x";
  EXPECT_THROW(io::check_writable_dir(d.path / "afile" / "out"), Error);
  EXPECT_THROW(io::check_writable_dir(d.path / "afile"), Error);
  EXPECT_NO_THROW(io::check_writable_dir(d.path / "new" / "deeper"));
  EXPECT_FALSE(fs::exists(d.path / "new"));  // checking creates nothing
}

#ifdef VARLEARN_BINARY
TEST(DenoiseStudy, CliExitCode2AndNoOutputOnBadInput) {
  if (!fs::exists(VARLEARN_BINARY)) GTEST_SKIP() << "varlearn binary not built";
  TempDir d;
  const auto o = small_options(d);
  audio::write_wav(d.path / "stereo.wav", Vector::Zero(4000), 8000);  // mono; make a stereo one below
  {
    // 2-channel WAV through libsndfile-compatible header: reuse write_wav for mono, then build
    // stereo by hand (16-bit PCM, 8 kHz).
    std::ofstream f(d.path / "st.wav", std::ios::binary);
    const uint32_t frames = 4000, data = frames * 4;
    auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
    f << "RIFF";
    u32(36 + data);
    f << "WAVEfmt ";
    u32(16), u16(1), u16(2), u32(8000), u32(8000 * 4), u16(4), u16(16);
    f << "data";
    u32(data);
    for (uint32_t i = 0; i < frames * 2; ++i) u16(uint16_t(i * 37));
  }
  auto run = [&](const std::string& args) {
    const std::string cmd = std::string(VARLEARN_BINARY) + " study denoise --n 16 --depths 1,2 --iterations 5 " +
                            args + " >/dev/null 2>" + (d.path / "err.txt").string();
    const int rc = std::system(cmd.c_str());
    return WEXITSTATUS(rc);
  };
  const std::string train = "--train " + o.train_files[0].string() + " " + o.train_files[1].string();
  const fs::path out = d.path / "out";
  EXPECT_EQ(run(train + " --test " + (d.path / "st.wav").string() + " --out " + out.string()), 2);
  EXPECT_NE(io::read_text(d.path / "err.txt").find("--mixdown"), std::string::npos);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(run(train + " --test " + (d.path / "nope.wav").string() + " --out " + out.string()), 2);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(run(train + " --test " + o.test_files[0].string() + " --out /proc/nope/out"), 2);
  EXPECT_EQ(run(train + " --test " + (d.path / "st.wav").string() + " --mixdown --no-strategy --out " + out.string()), 0);
  EXPECT_TRUE(fs::exists(out / "results.json"));
}
#endif

// ---- stages

namespace {

struct SmallRun {
  TempDir dir;
  DenoiseOptions options;
  denoise::Corpus corpus;
  denoise::Frames frames;
  SmallRun() {
    options = small_options(dir).resolved();
    corpus = denoise::load_corpus(options);
    frames = denoise::make_frames(corpus, options);
  }
};

}  // namespace

TEST(DenoiseStages, JobListForOptions) {
  SmallRun run;
  run.options.depths = {1, 3, 4};
  run.options.fixed_stepsize = 0.2;
  const auto data = theory::DataModel::dense(run.frames.train_moment);
  const auto jobs = denoise::make_jobs(run.options, data);
  ASSERT_EQ(jobs.size(), 7u);  // bilevel, learned N = 1, 3, 4, fixed N = 1, 3, 4
  EXPECT_EQ(jobs[0].config.method, learn::Method::Bilevel);
  EXPECT_EQ(jobs[0].config.depth, 0);
  const int depth[] = {0, 1, 3, 4, 1, 3, 4};
  for (size_t i = 1; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].config.method, learn::Method::Unrolled);
    EXPECT_EQ(jobs[i].config.depth, depth[i]);
    EXPECT_EQ(jobs[i].spec.depth, depth[i]);
    EXPECT_EQ(jobs[i].config.stepsize_mode, i <= 3 ? learn::StepsizeMode::Learned : learn::StepsizeMode::Fixed);
  }
  for (const auto& j : jobs) {
    EXPECT_EQ(j.config.init, DenoiseInit::Shrink);
    EXPECT_EQ(j.omega0, 0.2);
    // R0 = sqrt(1/omega - 1) [I 0]: (I + R0^T R0) omega = I, one step lands on the minimizer.
    EXPECT_NEAR((j.r0.transpose() * j.r0 * 0.2 + 0.2 * Matrix::Identity(16, 16) - Matrix::Identity(16, 16)).norm(), 0,
                1e-12);
    EXPECT_NEAR(j.config.theory_mse / independent_mse(j.config, run.frames.train_moment, 0.1, 16, 0.2), 1.0, 1e-10);
  }
}

TEST(DenoiseStages, PredictionMatchesIndependentComputationAtLowRank) {
  SmallRun run;
  const Matrix& s = run.frames.train_moment;
  const auto data = theory::DataModel::dense(s);
  for (int depth : {1, 2, 3, 5}) {
    const auto p = denoise::predict(data, 0.1, 5, learn::Method::Unrolled, learn::StepsizeMode::Fixed, depth, 0.3);
    EXPECT_NEAR(p.mse / independent_unrolled_mse(s, 0.1, 5, depth, 0.3), 1.0, 1e-10) << depth;
  }
  const auto b = denoise::predict(data, 0.1, 5, learn::Method::Bilevel, learn::StepsizeMode::Fixed, 0, 0);
  EXPECT_NEAR(b.mse / independent_bilevel_mse(s, 0.1, 5), 1.0, 1e-10);
  // the independent formulas are not vacuous
  EXPECT_GT(independent_learned_mse(s, 0.1, 1), 1.01 * independent_learned_mse(s, 0.1, 2));
  EXPECT_GT(independent_bilevel_mse(s, 0.1, 1), 1.01 * independent_bilevel_mse(s, 0.1, 16));
}

TEST(DenoiseStages, FramesAndBaselines) {
  SmallRun run;
  const auto& f = run.frames;
  EXPECT_EQ(f.train_clean.rows(), 16);
  EXPECT_EQ(f.train_clean.cols(), 3 * ((8000 - 16) / 8 + 1));
  EXPECT_NEAR((f.train_moment - f.train_clean * f.train_clean.transpose() / double(f.train_clean.cols())).norm(), 0,
              1e-15);
  const auto base = denoise::baselines(f);
  EXPECT_DOUBLE_EQ(base.noisy_mse, 0.01);
  // The Wiener filter is optimal on the training S: any other T (here 0.9 T*) is worse.
  EXPECT_LT(base.wiener_train_mse, exact_mse(0.9 * base.wiener, f.train_moment, 0.1));
  EXPECT_NEAR(base.wiener_train_mse / independent_bilevel_mse(f.train_moment, 0.1, 16), 1.0, 1e-9);
  const auto m = denoise::test_metrics(f, Matrix::Identity(16, 16));
  EXPECT_NEAR(m.mse, 0.01, 1e-15);
  EXPECT_NEAR(m.mse_sampled, 0.01, 0.002);  // one draw of sigma^2
}

TEST(DenoiseStages, OddDepthsStrategyStepsizeAndSharpnessTargets) {
  EXPECT_EQ(denoise::odd_depths({1, 2, 3, 4, 5, 7, 8}), (std::vector<int>{3, 5, 7}));
  EXPECT_TRUE(denoise::odd_depths({1, 2, 4}).empty());
  SmallRun run;
  const auto data = theory::DataModel::dense(run.frames.train_moment);
  const double ws = denoise::strategy_stepsize(data, 0.1, 16, 3);
  EXPECT_GT(ws, 0);
  EXPECT_LE(ws, 0.3);
  run.options.depths = {2, 3, 4, 5};
  const auto jobs = denoise::make_jobs(run.options, data);
  const auto strategy = denoise::make_strategy_jobs(run.options, data, {3, 5});
  ASSERT_EQ(strategy.size(), 4u);
  EXPECT_EQ(strategy[0].config.init, DenoiseInit::Theory);
  EXPECT_EQ(strategy[1].config.init, DenoiseInit::Continuation);
  const auto targets = denoise::sharpness_targets(jobs, strategy, {3, 5});
  // N = 3: learned N = 2, 3 + theory N = 3; N = 5: learned N = 4, 5 + theory N = 5
  ASSERT_EQ(targets.size(), 6u);
  EXPECT_EQ(targets[2].init, DenoiseInit::Theory);
  EXPECT_EQ(targets[2].model, &strategy[0].model);
}

TEST(DenoiseStages, SharpnessOfAKnownQuadratic) {
  // Bilevel-free check: N = 1 unrolled with learned stepsize, T = omega I whatever R: the MSE
  // depends on alpha only, so along vec R the Hessian vanishes and lambda_max = d2/dalpha2.
  SmallRun run;
  const learn::ModelSpec spec{16, 16, learn::Method::Unrolled, 1, learn::StepsizeMode::Learned};
  const auto m = learn::QuadraticModel::from_regularizer(spec, Matrix::Identity(16, 16), {0.6});
  const Sharpness sh = denoise::measure_sharpness(m, DenoiseInit::Shrink, run.frames.train_moment, 0.1);
  EXPECT_NEAR(sh.mse, exact_mse(0.6 * Matrix::Identity(16, 16), run.frames.train_moment, 0.1), 1e-12);
  EXPECT_NEAR(sh.hessian_max / sh.hessian_max_alpha, 1.0, 1e-4);
  EXPECT_GT(sh.basin_width, 0);
}

TEST(DenoiseWriters, FileSetAndNoSelfCheckKey) {
  TempDir d;
  DenoiseOptions o = small_options(d);
  o.iterations = 2;
  o.depths = {1, 2};
  const DenoiseResults r = run_denoise_study(o);
  const auto written = write_denoise_outputs(r, d.path / "out");
  std::vector<std::string> names;
  for (const auto& p : written) names.push_back(p.filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"bilevel.wav", "clean.wav", "findings.md", "mse_vs_depth.png",
                                             "mse_vs_depth.svg", "noisy.wav", "results.csv", "results.json",
                                             "train_vs_theory.png", "train_vs_theory.svg", "unrolled_learned_N1.wav",
                                             "unrolled_learned_N2.wav", "wiener.wav"}));
  for (const auto& p : written) EXPECT_TRUE(fs::exists(p)) << p;
  const auto j = nlohmann::json::parse(io::read_text(d.path / "out" / "results.json"));
  EXPECT_FALSE(j.contains("theory_check_max_rel"));
  EXPECT_EQ(j["configs"][1]["init"], "shrink");
  EXPECT_EQ(j["configs"][3]["stepsize_mode"], "fixed");
  EXPECT_STREQ(to_string(DenoiseInit::Continuation), "continuation");
}
