// Speech denoising study, data stages: corpus, frames, test metrics, baselines, theory
// predictions, the job list and the demo audio.
#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>

#include "varlearn/audio/corpus.hpp"
#include "varlearn/audio/framing.hpp"
#include "varlearn/audio/metrics.hpp"
#include "varlearn/audio/noise.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/study/denoise_pipeline.hpp"
#include "varlearn/theory/optimal.hpp"

namespace varlearn::study::denoise {

Corpus load_corpus(const DenoiseOptions& opt, const Log& log) {
  const bool default_corpus = opt.train_files.empty();
  const audio::CorpusSpec spec =
      default_corpus ? audio::default_corpus(opt.quick) : audio::CorpusSpec{opt.train_files, opt.test_files};
  audio::ReadOptions ro;
  ro.rate = opt.rate > 0 ? opt.rate : (default_corpus ? DenoiseOptions::kDefaultCorpusRate : 0);
  ro.mixdown = opt.mixdown;
  ro.min_samples = opt.n;
  if (log)
    log("reading " + std::to_string(spec.train.size()) + " training and " + std::to_string(spec.test.size()) +
        " test files");
  const audio::LoadedCorpus loaded = audio::load_corpus(spec, ro);
  Corpus c;
  c.rate = loaded.rate;
  for (const auto& s : loaded.train)
    c.train_files.push_back(s.source), c.train_seconds += s.seconds(), c.train.push_back(s.samples);
  for (const auto& s : loaded.test)
    c.test_files.push_back(s.source), c.test_seconds += s.seconds(), c.test.push_back(s.samples);
  return c;
}

Frames make_frames(const Corpus& corpus, const DenoiseOptions& opt) {
  Frames f;
  f.n = opt.n, f.hop = opt.hop, f.noise_std = opt.noise_std, f.rate = corpus.rate;
  f.test_clean = corpus.test;
  audio::Rng rng(opt.seed);
  for (const auto& y : f.test_clean) f.test_noisy.push_back(audio::add_gaussian_noise(y, opt.noise_std, rng));
  f.train_clean = audio::frame_all(corpus.train, f.n, f.hop);
  f.test_clean_frames = audio::frame_all(f.test_clean, f.n, f.hop);
  f.test_noisy_frames = audio::frame_all(f.test_noisy, f.n, f.hop);
  f.train_moment = (f.train_clean * f.train_clean.transpose()) / double(f.train_clean.cols());
  f.test_moment = (f.test_clean_frames * f.test_clean_frames.transpose()) / double(f.test_clean_frames.cols());
  return f;
}

Vector denoise_test_signal(const Frames& f, const Matrix& t, size_t i) {
  const Matrix frames = audio::frame(f.test_noisy[i], f.n, f.hop, audio::Tail::ZeroPad);
  return audio::overlap_add(t * frames, f.hop, f.test_noisy[i].size());
}

TestMetrics test_metrics(const Frames& f, const Matrix& t) {
  TestMetrics m;
  m.mse = exact_mse(t, f.test_moment, f.noise_std);
  m.mse_sampled = (t * f.test_noisy_frames - f.test_clean_frames).squaredNorm() / double(f.test_clean_frames.size());
  audio::SnrAccumulator acc(f.rate);
  for (size_t i = 0; i < f.test_clean.size(); ++i) acc.add(f.test_clean[i], denoise_test_signal(f, t, i));
  m.snr_db = acc.snr_db();
  return m;
}

Baselines baselines(const Frames& f) {
  Baselines b;
  const double s2 = f.noise_std * f.noise_std;
  const Matrix eye = Matrix::Identity(f.n, f.n);
  const TestMetrics noisy = test_metrics(f, eye);
  b.noisy_mse = s2;
  b.noisy_mse_sampled = noisy.mse_sampled;
  b.noisy_snr_db = noisy.snr_db;
  // T* = S (S + s2 I)^{-1} (symmetric solve).
  b.wiener = Matrix((f.train_moment + s2 * eye).ldlt().solve(f.train_moment)).transpose();
  b.wiener_train_mse = exact_mse(b.wiener, f.train_moment, f.noise_std);
  const TestMetrics w = test_metrics(f, b.wiener);
  b.wiener_mse = w.mse;
  b.wiener_snr_db = w.snr_db;
  return b;
}

Prediction predict(const theory::DataModel& data, double sigma, Index k, learn::Method method,
                   learn::StepsizeMode mode, int depth, double stepsize) {
  const auto th = method == learn::Method::Bilevel          ? theory::best_bilevel(data, sigma, k)
                  : mode == learn::StepsizeMode::Learned ? theory::best_unrolled_learned(data, sigma, k, depth)
                                                          : theory::best_unrolled(data, sigma, k, depth, stepsize);
  return {2.0 * th.risk / double(data.n()), th.attained};
}

std::vector<Job> make_jobs(const DenoiseOptions& opt, const theory::DataModel& data) {
  const double w0 = opt.fixed_stepsize;
  const Matrix r0 = std::sqrt(std::max(1.0 / w0 - 1.0, 0.0)) * Matrix::Identity(opt.rank, opt.n);
  std::vector<Job> jobs;
  auto add = [&](learn::Method method, int depth, learn::StepsizeMode mode) {
    Job j;
    j.spec = learn::ModelSpec{opt.n, opt.rank, method, depth > 0 ? depth : 1, mode};
    j.r0 = r0;
    j.omega0 = w0;
    j.config.method = method;
    j.config.depth = depth;
    j.config.stepsize_mode = mode;
    const Prediction p = predict(data, opt.noise_std, opt.rank, method, mode, depth, w0);
    j.config.theory_mse = p.mse;
    j.config.theory_attained = p.attained;
    jobs.push_back(std::move(j));
  };
  add(learn::Method::Bilevel, 0, learn::StepsizeMode::Fixed);
  for (int d : opt.depths) add(learn::Method::Unrolled, d, learn::StepsizeMode::Learned);
  for (int d : opt.depths) add(learn::Method::Unrolled, d, learn::StepsizeMode::Fixed);
  return jobs;
}

std::vector<Job> make_rank_jobs(const DenoiseOptions& opt, const theory::DataModel& data, Index k,
                                const std::vector<int>& depths) {
  DenoiseOptions at = opt;
  at.rank = k;
  at.depths = depths;
  std::vector<Job> all = make_jobs(at, data);  // bilevel, learned at each depth, fixed at each depth
  std::vector<Job> jobs;
  for (Job& j : all)
    if (j.config.method == learn::Method::Bilevel || j.config.stepsize_mode == learn::StepsizeMode::Learned)
      jobs.push_back(std::move(j));
  return jobs;
}

std::vector<Index> rank_grid(Index n, const std::vector<Index>& ranks) {
  std::vector<Index> grid(ranks);
  grid.push_back(1);
  grid.push_back(n);
  constexpr double kPerOctave = 4;
  for (double k = 1; k < double(n); k *= std::pow(2.0, 1.0 / kPerOctave)) grid.push_back(Index(std::lround(k)));
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
  return grid;
}

std::vector<DenoiseRankTheory> rank_theory(const theory::DataModel& data, double sigma, const std::vector<Index>& grid,
                                           const std::vector<int>& depths) {
  std::vector<DenoiseRankTheory> out(grid.size());
  parallel_for(Index(grid.size()), [&](Index i) {
    DenoiseRankTheory& t = out[size_t(i)];
    t.rank = grid[size_t(i)];
    t.bilevel = predict(data, sigma, t.rank, learn::Method::Bilevel, learn::StepsizeMode::Fixed, 0, 0).mse;
    for (int d : depths)
      t.unrolled.push_back(
          {d, predict(data, sigma, t.rank, learn::Method::Unrolled, learn::StepsizeMode::Learned, d, 0).mse});
  }, Schedule::Dynamic, 1);
  return out;
}

Demo demo_audio(const Corpus& corpus, const Frames& frames, const std::vector<Job>& jobs, const Baselines& base,
                const DenoiseOptions& opt) {
  Demo demo;
  demo.file = corpus.test_files.front();
  demo.clean = frames.test_clean.front();
  demo.noisy = frames.test_noisy.front();
  const int deepest = opt.depths.back();
  for (const Job& j : jobs) {
    const DenoiseConfig& c = j.config;
    if (c.method == learn::Method::Bilevel)
      demo.denoised.push_back({"bilevel.wav", denoise_test_signal(frames, j.model.denoiser(), 0)});
    else if (c.stepsize_mode == learn::StepsizeMode::Learned && (c.depth == 1 || c.depth == deepest))
      demo.denoised.push_back({"unrolled_learned_N" + std::to_string(c.depth) + ".wav",
                               denoise_test_signal(frames, j.model.denoiser(), 0)});
  }
  demo.denoised.push_back({"wiener.wav", denoise_test_signal(frames, base.wiener, 0)});
  return demo;
}

}  // namespace varlearn::study::denoise
