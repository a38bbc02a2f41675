// Speech denoising study on generated audio (sums of sinusoids in temporary WAVs): theory
// check, training reaching theory, outputs, bad input. Does not need the codec2 files.
#include <gtest/gtest.h>
#include <unistd.h>

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
#include "varlearn/study/denoise_study.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/optimal.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::study;

namespace {

using varlearn::testing::TempDir;

// "Speech-like" test signal: a few harmonics of a slowly gliding pitch, amplitude-modulated
// syllables, a little broadband noise; 16-bit grid.
Vector voice(Index len, int rate, double f0, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  Vector x(len);
  double phase = 0;
  for (Index t = 0; t < len; ++t) {
    const double time = double(t) / rate;
    const double f = f0 * (1 + 0.1 * std::sin(2 * std::numbers::pi * 0.7 * time));
    phase += 2 * std::numbers::pi * f / rate;
    const double env = std::pow(std::sin(std::numbers::pi * 3.0 * time), 2);
    double v = 0;
    for (int h = 1; h <= 6; ++h) v += std::sin(h * phase) / h;
    x[t] = std::nearbyint((0.25 * env * v + 0.003 * g(rng)) * 32768.0) / 32768.0;
  }
  return x;
}

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

}  // namespace

TEST(DenoiseStudy, TheoryMseMatchesIndependentComputation) {
  TempDir d;
  DenoiseOptions o = small_options(d);
  o.iterations = 1;  // only the theory matters here
  const DenoiseResults r = run_denoise_study(o);
  ASSERT_EQ(r.configs.size(), 1u + 2 * 4);
  EXPECT_LT(r.theory_check_rel, 1e-6);
  // and directly, from frames built here (second moment by a plain loop over frames)
  std::vector<Vector> ys;
  for (const auto& p : o.train_files) ys.push_back(audio::read_audio(p).samples);
  const Matrix y = audio::frame_all(ys, 16, 8);
  Matrix s = Matrix::Zero(16, 16);
  for (Index b = 0; b < y.cols(); ++b) s += y.col(b) * y.col(b).transpose();
  s /= double(y.cols());
  for (const auto& c : r.configs) {
    double ind;
    if (c.method == "bilevel") ind = independent_bilevel_mse(s, 0.1, 16);
    else if (c.stepsize_mode == "fixed") ind = independent_unrolled_mse(s, 0.1, 16, c.depth, 0.5);
    else ind = independent_learned_mse(s, 0.1, c.depth);
    EXPECT_NEAR(c.theory_mse / ind, 1.0, 1e-6) << c.method << " " << c.depth << " " << c.stepsize_mode;
  }
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
    const bool must = c.method == "bilevel" || c.stepsize_mode == "fixed" || c.depth % 2 == 0;
    // Fixed stepsize, odd N >= 3: directions whose optimal t exceeds b = f(0) sit on the far
    // branch of f (s beyond the minimum of f); from R_0 training reaches it only over the
    // barrier t = c, so on these strongly harmonic signals it can stop ~1.5 % short (on
    // speech it does not: see SpeechQuickReachesTheory).
    const double tol = (c.stepsize_mode == "fixed" && c.depth >= 3 && c.depth % 2 == 1) ? 0.05 : 0.01;
    if (must) { EXPECT_LT(c.shortfall, tol) << c.method << " N=" << c.depth << " " << c.stepsize_mode; }
    EXPECT_LT(c.test_mse, r.noisy_mse);
  }
  // the strategy reaches the odd-depth optimum
  ASSERT_FALSE(r.strategy.empty());
  for (const auto& c : r.strategy)
    EXPECT_LT(c.shortfall, 0.01) << "N=" << c.depth << " init " << c.init << " omega " << c.stepsize << " train "
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
  EXPECT_LT(r.theory_check_rel, 1e-6);
  for (const auto& c : r.configs) {
    const bool must = c.method == "bilevel" || c.stepsize_mode == "fixed" || c.depth % 2 == 0;
    if (must) { EXPECT_LT(c.shortfall, 0.01) << c.method << " N=" << c.depth << " " << c.stepsize_mode; }
    EXPECT_GT(c.shortfall, -1e-6);
  }
  // the talk: with a learned stepsize, even depths agree (within 5 %) and N = 1 is worse
  double lo = 1e300, hi = 0, n1 = 0;
  for (const auto& c : r.configs)
    if (c.stepsize_mode == "learned" && c.method == "unrolled") {
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
