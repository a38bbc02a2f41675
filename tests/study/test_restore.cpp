// Speech restoration study on generated audio (harmonics + noise in temporary WAVs): results
// keys, the linear baselines recomputed independently, the convergence of the N-step output
// to the lower-level minimizer on a convex model, --resume, bad input. No speech packages needed.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <cmath>
#include <filesystem>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/audio/framing.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/general/model.hpp"
#include "varlearn/study/restore_pipeline.hpp"
#include "varlearn/study/restore_study.hpp"
#include "../support/temp_dir.hpp"
#include "../support/voice.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::study;
using varlearn::testing::TempDir;
using varlearn::testing::voice;

namespace {

RestoreOptions tiny(const TempDir& d, const std::string& task = "denoise") {
  RestoreOptions o;
  o.task = task;
  for (int i = 0; i < 4; ++i) {
    const fs::path p = d.path / (std::string("v") + std::to_string(i) + ".wav");
    audio::write_wav(p, voice(4000, 8000, 110.0 + 37 * i, unsigned(i + 1)), 8000);
    (i < 3 ? o.train_files : o.test_files).push_back(p);
  }
  o.n = 16;
  o.hop = 8;
  o.burst = 4;
  o.steps = 30;
  o.depths = {1, 3};
  o.regularizers = {"tv", "analysis"};
  return o;
}

// Own overlap-add scoring: frames of each test signal (zero-padded tail), estimate per frame,
// Hann overlap-add, per-sample MSE over all test samples.
double own_mse(const restore::Data& d, const std::function<Vector(const Vector& g, const Vector& obs)>& est) {
  double err = 0;
  Index count = 0;
  for (size_t i = 0; i < d.test_clean.size(); ++i) {
    const Vector& y = d.test_clean[i];
    const Matrix g = audio::frame(d.test_degraded[i], d.n, d.hop, audio::Tail::ZeroPad);
    const Matrix obs = d.inpaint ? audio::frame(d.test_observed[i], d.n, d.hop, audio::Tail::ZeroPad)
                                 : Matrix(Matrix::Ones(g.rows(), g.cols()));
    Matrix out(g.rows(), g.cols());
    for (Index j = 0; j < g.cols(); ++j) out.col(j) = est(g.col(j), obs.col(j));
    const Vector x = audio::overlap_add(out, d.hop, y.size());
    err += (x - y).squaredNorm();
    count += y.size();
  }
  return err / double(count);
}

// Own conditional mean from the observed samples: S_{:,o} (S_oo + s^2 I)^{-1} g_o.
Vector own_lmmse(const Matrix& s, double sigma, const Vector& g, const Vector& obs) {
  std::vector<Index> o;
  for (Index i = 0; i < g.size(); ++i)
    if (obs[i] > 0.5) o.push_back(i);
  if (o.empty()) return Vector::Zero(g.size());
  const Index m = Index(o.size());
  Matrix soo(m, m), sxo(s.rows(), m);
  Vector go(m);
  for (Index a = 0; a < m; ++a) {
    go[a] = g[o[a]];
    sxo.col(a) = s.col(o[a]);
    for (Index b = 0; b < m; ++b) soo(a, b) = s(o[a], o[b]);
  }
  soo += sigma * sigma * Matrix::Identity(m, m);
  return sxo * Eigen::LLT<Matrix>(soo).solve(go);
}

}  // namespace

TEST(RestoreStudy, DenoiseResultsHaveTheKeysAndSaneValues) {
  TempDir d;
  const RestoreResults r = run_restore_study(tiny(d));
  const nlohmann::json j = restore_results_json(r);
  for (const char* k : {"task", "sigma", "n", "hop", "train_files", "test_files", "noisy_mse", "linear_mse",
                        "linear_snr_db", "configs", "convergence", "bilevel_of_unrolled"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["task"], "denoise");
  EXPECT_DOUBLE_EQ(j["sigma"].get<double>(), 0.1);
  EXPECT_NEAR(r.noisy_mse, 0.01, 0.001);               // sigma^2
  EXPECT_LT(r.linear_mse, r.noisy_mse);
  // tv, analysis: bilevel + 2 unrolled; analysis also 2 fixed-stepsize controls.
  ASSERT_EQ(j["configs"].size(), 8u);
  for (const auto& c : j["configs"]) {
    for (const char* k : {"regularizer", "method", "depth", "stepsize_mode", "train_loss", "test_mse", "test_snr_db",
                          "seconds", "status"})
      EXPECT_TRUE(c.contains(k)) << k;
    ASSERT_TRUE(c["test_mse"].is_number()) << c.dump();
    EXPECT_GT(c["test_mse"].get<double>(), 0);
    EXPECT_LT(c["test_mse"].get<double>(), 2 * r.noisy_mse) << c.dump();  // not worse than twice no restoration
    EXPECT_EQ(c["depth"].is_null(), c["method"] == "bilevel");
    EXPECT_EQ(c["stepsize_mode"].is_null(), c["method"] == "bilevel");
  }
  EXPECT_EQ(j["convergence"].size(), 4u);          // 2 bilevel models x 2 depths
  EXPECT_EQ(j["bilevel_of_unrolled"].size(), 4u);  // 2 regularizers x 2 depths (learned)
  // Outputs: files exist.
  TempDir out;
  write_restore_outputs(r, out.path / "o");
  EXPECT_TRUE(fs::exists(out.path / "o" / "results.csv"));
  EXPECT_TRUE(fs::exists(out.path / "o" / "wav" / "clean.wav"));
  EXPECT_TRUE(fs::exists(out.path / "o" / "wav" / "analysis_unrolled_N3.wav"));
  EXPECT_TRUE(fs::exists(out.path / "o" / "filters" / "analysis_bilevel.csv"));
}

TEST(RestoreStudy, LinearBaselinesEqualIndependentRecomputation) {
  TempDir d;
  for (const std::string task : {"denoise", "inpaint"}) {
    RestoreOptions o = tiny(d, task).resolved();
    const restore::Data data = restore::make_data(restore::load_signals(o), o);
    const restore::Linear lin = restore::linear_baselines(data, o.seed);
    // S from all training frames, independently.
    std::vector<Vector> train;
    for (const auto& f : o.train_files) train.push_back(audio::read_audio(f).samples);
    const Matrix frames = audio::frame_all(train, o.n, o.hop);
    const Matrix s = frames * frames.transpose() / double(frames.cols());
    const double s2 = o.sigma * o.sigma;
    const Matrix eye = Matrix::Identity(o.n, o.n);
    const double noisy = own_mse(data, [](const Vector& g, const Vector&) { return g; });
    EXPECT_NEAR(lin.noisy.mse, noisy, 1e-12 * noisy) << task;
    if (task == "denoise") {
      const Matrix w = Matrix(Eigen::LLT<Matrix>(s + s2 * eye).solve(s)).transpose();  // S (S + s2 I)^{-1}
      const double mse = own_mse(data, [&](const Vector& g, const Vector&) { return Vector(w * g); });
      EXPECT_NEAR(lin.linear.mse, mse, 1e-10 * mse);
      EXPECT_LT(lin.linear.mse, lin.noisy.mse);
    } else {
      EXPECT_DOUBLE_EQ(lin.zero_fill.mse, lin.noisy.mse);  // the degraded signal has zeros at the gaps
      const double mse = own_mse(data, [&](const Vector& g, const Vector& obs) { return own_lmmse(s, o.sigma, g, obs); });
      EXPECT_NEAR(lin.linear.mse, mse, 1e-10 * mse);
      // Tapered with the chosen width, own taper.
      const double w = lin.local_width;
      Matrix st = s;
      if (std::isfinite(w))
        for (Index i = 0; i < o.n; ++i)
          for (Index k = 0; k < o.n; ++k) st(i, k) *= std::max(0.0, 1.0 - std::abs(double(i - k)) / w);
      const double local = own_mse(data, [&](const Vector& g, const Vector& obs) { return own_lmmse(st, o.sigma, g, obs); });
      EXPECT_NEAR(lin.local.mse, local, 1e-10 * local);
      // The missing fraction of the test masks is about the asked 20 %.
      double missing = 0, total = 0;
      for (const auto& m : data.test_observed) missing += double(m.size()) - m.sum(), total += double(m.size());
      EXPECT_NEAR(missing / total, o.missing, 0.05);
    }
  }
}

TEST(RestoreStudy, FurtherTestSetsAreScoredLikeTheTestFiles) {
  TempDir d;
  const fs::path extra = d.path / "other.wav";
  audio::write_wav(extra, voice(3000, 8000, 260.0, 9u), 8000);
  for (const std::string task : {"denoise", "inpaint"}) {
    RestoreOptions o = tiny(d, task);
    o.extra_tests = {{"other", {extra}}};
    o = o.resolved();
    const restore::Data data = restore::make_data(restore::load_signals(o), o);
    ASSERT_EQ(data.extra_tests.size(), 1u);
    const restore::Data& e = data.extra_tests.front();
    EXPECT_EQ(e.name, "other");
    ASSERT_EQ(e.test_clean.size(), 1u);
    EXPECT_EQ(e.test_clean.front().size(), 3000);
    // Its own degradation draw: not the test files' noise.
    EXPECT_NE((e.test_degraded.front() - e.test_clean.front()).head(16), (data.test_degraded.front() - data.test_clean.front()).head(16));
    // Baselines against the independent recomputation, with the width chosen on the held-out frames.
    const restore::Linear main = restore::linear_baselines(data, o.seed);
    const restore::Linear lin = restore::linear_baselines_at(e, main.local_width);
    std::vector<Vector> train;
    for (const auto& f : o.train_files) train.push_back(audio::read_audio(f).samples);
    const Matrix frames = audio::frame_all(train, o.n, o.hop);
    const Matrix s = frames * frames.transpose() / double(frames.cols());
    const double noisy = own_mse(e, [](const Vector& g, const Vector&) { return g; });
    EXPECT_NEAR(lin.noisy.mse, noisy, 1e-12 * noisy) << task;
    if (task == "denoise") {
      const Matrix w = Matrix(Eigen::LLT<Matrix>(s + o.sigma * o.sigma * Matrix::Identity(o.n, o.n)).solve(s)).transpose();
      const double mse = own_mse(e, [&](const Vector& g, const Vector&) { return Vector(w * g); });
      EXPECT_NEAR(lin.linear.mse, mse, 1e-10 * mse);
    } else {
      const double mse = own_mse(e, [&](const Vector& g, const Vector& obs) { return own_lmmse(s, o.sigma, g, obs); });
      EXPECT_NEAR(lin.linear.mse, mse, 1e-10 * mse);
      EXPECT_EQ(lin.local_width, main.local_width);
    }
  }
  // The whole run: every configuration has a finite score on the further set, in JSON and CSV.
  RestoreOptions o = tiny(d);
  o.extra_tests = {{"other", {extra}}};
  o.depths = {2};
  o.regularizers = {"tv"};
  const RestoreResults r = run_restore_study(o);
  ASSERT_EQ(r.extra_tests.size(), 1u);
  EXPECT_GT(r.extra_tests[0].noisy_mse, r.extra_tests[0].linear_mse);
  for (const RestoreConfig& c : r.configs) {
    ASSERT_EQ(c.extra_tests.size(), 1u) << c.name();
    ASSERT_TRUE(c.extra_tests[0].test_mse && std::isfinite(*c.extra_tests[0].test_mse)) << c.name();
  }
  const nlohmann::json j = restore_results_json(r);
  EXPECT_EQ(j["extra_tests"][0]["name"], "other");
  EXPECT_EQ(j["configs"][0]["extra_tests"][0]["test_mse"].get<double>(), *r.configs[0].extra_tests[0].test_mse);
  EXPECT_NE(restore_results_csv(r).find(",other_test_mse,other_test_snr_db\n"), std::string::npos);
}

TEST(RestoreStudy, CapDurationKeepsEvenlySpacedSignals) {
  std::vector<Vector> x(10, Vector::Zero(8000));  // ten signals of 1 s at 8 kHz
  EXPECT_EQ(restore::cap_duration(x, 8000, 0).size(), 10u);   // no cap
  EXPECT_EQ(restore::cap_duration(x, 8000, 20).size(), 10u);  // they fit
  EXPECT_EQ(restore::cap_duration(x, 8000, 5), (std::vector<size_t>{0, 2, 4, 6, 8}));
  EXPECT_EQ(restore::cap_duration(x, 8000, 3), (std::vector<size_t>{0, 4, 8}));  // every ceil(10/3) = 4th
}

TEST(RestoreStudy, UnrolledOutputApproachesTheMinimizerOnAConvexModel) {
  TempDir d;
  for (const std::string task : {"denoise", "inpaint"}) {
    RestoreOptions o = tiny(d, task);
    o.depths = {1, 2, 5, 10, 20, 50};
    o = o.resolved();
    const restore::Data data = restore::make_data(restore::load_signals(o), o);
    const restore::Job job{"tv", general::LearningMethod::Bilevel, 0, false};
    RestoreConfig c;
    c.regularizer = "tv";
    c.theta = general::make_regularizer(restore_regularizer_spec("tv", data.signal_rms), o.n, o.seed, data.signal_rms)->parameters();
    c.test_mse = 0;
    const auto points = restore::convergence(c, job, o, data);
    ASSERT_EQ(points.size(), 6u);
    for (size_t i = 1; i < points.size(); ++i) EXPECT_LT(points[i].distance, points[i - 1].distance) << task << " " << i;
    EXPECT_LT(points.back().distance, 0.5 * points.front().distance) << task;
  }
}

TEST(RestoreStudy, ResumeSkipsFinishedConfigurationsWithTheSameNumbers) {
  TempDir d;
  RestoreOptions o = tiny(d, "inpaint");
  o.regularizers = {"analysis"};
  o.methods = {"unrolled"};
  o.depths = {2};
  o.steps = 15;
  const RestoreResults plain = run_restore_study(o);
  const Journal journal(d.path / "out.partial", restore_fingerprint(o));
  const RestoreResults first = run_restore_study(o, {}, journal);
  std::vector<std::string> lines;
  const RestoreResults second =
      run_restore_study(o, [&](const std::string& l) { lines.push_back(l); }, Journal(d.path / "out.partial", restore_fingerprint(o)));
  int reused = 0;
  for (const auto& l : lines) reused += l.find("from the journal") != std::string::npos;
  EXPECT_EQ(reused, 2);  // learned and fixed-stepsize control
  ASSERT_EQ(second.configs.size(), plain.configs.size());
  for (size_t i = 0; i < plain.configs.size(); ++i) {
    EXPECT_EQ(*second.configs[i].test_mse, *plain.configs[i].test_mse);
    EXPECT_EQ(*first.configs[i].test_mse, *plain.configs[i].test_mse);
    EXPECT_EQ(*second.configs[i].train_loss, *plain.configs[i].train_loss);
    EXPECT_EQ(second.configs[i].demo, plain.configs[i].demo);
  }
  EXPECT_EQ(restore_results_csv(second), restore_results_csv(first));
  // Another fingerprint is refused.
  RestoreOptions other = o;
  other.steps = 16;
  EXPECT_THROW(Journal(d.path / "out.partial", restore_fingerprint(other)), Error);
}

TEST(RestoreStudy, BadInputIsAnError) {
  TempDir d;
  auto expect_bad = [&](auto&& change) {
    RestoreOptions o = tiny(d);
    change(o);
    EXPECT_THROW(run_restore_study(o), Error);
  };
  expect_bad([](RestoreOptions& o) { o.task = "deblur"; });
  expect_bad([](RestoreOptions& o) { o.sigma = -1; });
  expect_bad([](RestoreOptions& o) { o.depths = {0}; });
  expect_bad([](RestoreOptions& o) { o.depths = {2, 2}; });
  expect_bad([](RestoreOptions& o) { o.regularizers = {"tv", "tv"}; });
  expect_bad([](RestoreOptions& o) { o.regularizers = {"wavelet"}; });
  expect_bad([](RestoreOptions& o) { o.methods = {"unroled"}; });
  expect_bad([](RestoreOptions& o) { o.test_files.clear(); });
  expect_bad([](RestoreOptions& o) { o.missing = 1.5; });
  expect_bad([](RestoreOptions& o) { o.task = "inpaint", o.burst = 40; });  // bursts of 40 in frames of 16
  expect_bad([](RestoreOptions& o) { o.test_files = {o.train_files.front()}; });  // a file in both lists
  expect_bad([](RestoreOptions& o) { o.test_files = {o.train_files.front().parent_path() / "none.wav"}; });
}
