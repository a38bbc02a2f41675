// Speech dequantization study, stages: corpus, quantization at one bit depth, evaluation of a
// frame method, and one result row per method (quantized, classic tuned / converged, learned).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "varlearn/audio/corpus.hpp"
#include "varlearn/audio/metrics.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/dequant/dct.hpp"
#include "varlearn/study/dequant_pipeline.hpp"

namespace varlearn::study::dequantize {

namespace {

constexpr int kDefaultCorpusRate = 8000;     ///< Hz of the codec2 corpus
constexpr Index kTuneMaxFrames = 4000;       ///< training frames used to tune the classic solver
// Seed salts: subsample of the training frames (+ b), of the tuning frames (+ b), and of
// the learned network's minibatches (+ kLearnedSalt * b + N).
constexpr std::uint64_t kTuneSalt = 100;
constexpr std::uint64_t kLearnedSalt = 1000;
/// Converged classic: any tau * sigma = 1 converges; this tau was fastest on speech at 4 bits.
constexpr double kConvergedTau = 0.3;
constexpr int kConvergedCheckEvery = 20;     ///< duality-gap check every this many iterations
/// Adam: eta_N = eta * min(1, kLearningRateDepth / N) (deeper networks amplify a change of K).
constexpr double kLearningRateDepth = 5.0;
constexpr double kLearningRateDecay = 0.5;   ///< eta halved ...
constexpr int kDecayPeriods = 4;             ///< ... every steps / 4 (and a log line as often)

// Pooled SNR of frame estimates against clean frames.
double frames_snr(const Matrix& clean, const Matrix& est) {
  return 10.0 * std::log10(clean.squaredNorm() / std::max((est - clean).squaredNorm(), 1e-300));
}

dequant::DequantFrames subsample(const dequant::DequantFrames& f, Index max_frames, std::uint64_t seed) {
  if (f.size() <= max_frames) return f;
  std::vector<Index> idx(f.size());
  std::iota(idx.begin(), idx.end(), Index{0});
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  idx.resize(max_frames);
  std::sort(idx.begin(), idx.end());
  dequant::DequantFrames out;
  out.clean.resize(f.clean.rows(), max_frames);
  out.quantized.resizeLike(out.clean);
  out.lower.resizeLike(out.clean);
  out.upper.resizeLike(out.clean);
  for (Index j = 0; j < max_frames; ++j) {
    out.clean.col(j) = f.clean.col(idx[j]);
    out.quantized.col(j) = f.quantized.col(idx[j]);
    out.lower.col(j) = f.lower.col(idx[j]);
    out.upper.col(j) = f.upper.col(idx[j]);
  }
  return out;
}

// Scales each signal to the peak (if any), clips into [-1, 1]; returns the clipped count.
Index prepare(std::vector<audio::Signal>& sigs, double peak, std::vector<Vector>& out, std::vector<std::string>& names) {
  Index clipped = 0;
  for (auto& s : sigs) {
    Vector x = std::move(s.samples);
    if (peak > 0) {
      const double m = x.cwiseAbs().maxCoeff();
      if (m > 0) x *= peak / m;
    }
    clipped += audio::clip_to_unit(x);
    names.push_back(s.source);
    out.push_back(std::move(x));
  }
  return clipped;
}

}  // namespace

Corpus load_corpus(const DequantOptions& opt, const Log& log) {
  audio::CorpusSpec spec;
  audio::ReadOptions ro;
  if (opt.train_files.empty() && opt.test_files.empty()) {
    spec = audio::default_corpus(opt.quick);
    ro.rate = kDefaultCorpusRate;
  } else {
    require(!opt.train_files.empty() && !opt.test_files.empty(), "study dequant",
            "give both --train and --test files (or neither for the codec2 corpus)");
    spec.train = opt.train_files;
    spec.test = opt.test_files;
  }
  if (log)
    log("dequant: reading " + std::to_string(spec.train.size()) + " training and " + std::to_string(spec.test.size()) +
        " test files");
  audio::LoadedCorpus loaded = audio::load_corpus(spec, ro);
  Corpus c;
  c.rate = loaded.rate;
  c.clipped_samples += prepare(loaded.train, opt.peak, c.train, c.train_files);
  c.clipped_samples += prepare(loaded.test, opt.peak, c.test, c.test_files);
  for (size_t i = 0; i < c.test.size(); ++i)
    require(c.test[i].size() >= opt.frame_length, "study dequant",
            "test file '" + c.test_files[i] + "' (" + std::to_string(c.test[i].size()) +
                " samples) is shorter than one frame (n = " + std::to_string(opt.frame_length) + ")");
  for (const auto& x : c.test) c.test_samples += x.size();
  return c;
}

BitDepth quantize(const Corpus& corpus, const DequantOptions& opt, int bits) {
  const audio::Quantizer q(bits, opt.quantizer);
  BitDepth b;
  b.bits = bits;
  for (const auto& x : corpus.test) b.test.push_back(dequant::quantize_signal(x, q));
  const dequant::FramingOptions framing{opt.frame_length, opt.half_overlap};
  b.train = subsample(dequant::make_frames(corpus.train, q, framing), opt.max_train_frames, opt.seed + bits);
  b.example = bits == opt.example_bits && opt.write_audio;
  return b;
}

Evaluation evaluate(const Corpus& corpus, const BitDepth& b, const DequantOptions& opt,
                    const dequant::FrameMethod& method) {
  const dequant::FramingOptions framing{opt.frame_length, opt.half_overlap};
  audio::SnrAccumulator acc(corpus.rate);
  Evaluation ev;
  for (size_t i = 0; i < corpus.test.size(); ++i) {
    Vector out = dequant::dequantize_signal(b.test[i], framing, method);
    acc.add(corpus.test[i], out);
    ev.violation =
        std::max(ev.violation, std::max((b.test[i].lower - out).maxCoeff(), (out - b.test[i].upper).maxCoeff()));
    ev.outputs.push_back(std::move(out));
  }
  ev.violation = std::max(ev.violation, 0.0);
  ev.snr = acc.snr_db();
  ev.segsnr = acc.segsnr_db();
  return ev;
}

DequantEntry quantized_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& opt) {
  const Stopwatch clock;
  const Evaluation ev =
      evaluate(corpus, b, opt, [](const Matrix& s, const Matrix&, const Matrix&) { return s; });
  DequantEntry e{DequantMethod::Quantized, b.bits, std::nullopt, ev.snr, ev.segsnr,
                 frames_snr(b.train.clean, b.train.quantized)};
  e.projected = true;
  e.max_cell_violation = ev.violation;
  e.seconds = clock.seconds();
  return e;
}

std::map<int, ClassicChoice> tune_classic(const dequant::DequantFrames& f, const std::vector<int>& depths,
                                          const std::vector<double>& taus) {
  const Index n = f.clean.rows();
  const Matrix c = dequant::dct_matrix<double>(n);
  const Matrix k = c.transpose();
  const int nmax = *std::max_element(depths.begin(), depths.end());
  std::map<int, ClassicChoice> best;
  for (int d : depths) best[d] = {};
  for (double tau : taus) {
    dequant::CpState<double> st;
    st.x = c * f.quantized;
    st.xbar = st.x;
    st.y = Matrix::Zero(n, f.size());
    st.work.resize(n, f.size());
    for (int it = 1; it <= nmax; ++it) {
      dequant::cp_iteration<double>(k, f.lower, f.upper, tau, 1.0 / tau, st);
      if (!best.count(it)) continue;
      const Matrix out = k * st.x;
      const double s0 = frames_snr(f.clean, out);
      const double s1 = frames_snr(f.clean, out.cwiseMax(f.lower).cwiseMin(f.upper));
      auto& bc = best[it];
      if (s0 > bc.train_snr) bc = {tau, s0, false};
      if (s1 > bc.train_snr) bc = {tau, s1, true};
    }
  }
  return best;
}

ClassicTuning tune(const BitDepth& b, const DequantOptions& opt) {
  const Stopwatch clock;
  ClassicTuning t;
  const dequant::DequantFrames frames =
      subsample(b.train, std::min<Index>(b.train.size(), kTuneMaxFrames), opt.seed + kTuneSalt + b.bits);
  if (!opt.depths.empty()) t.best = tune_classic(frames, opt.depths, opt.tau_grid);
  t.seconds = clock.seconds();
  return t;
}

dequant::CpOptions fixed_budget(const ClassicChoice& choice, int depth) {
  dequant::CpOptions co;
  co.tau = choice.tau;
  co.sigma = 1.0 / co.tau;
  co.max_iterations = depth;
  co.gap_tolerance = 0;
  co.project_output = choice.project;
  return co;
}

DequantEntry classic_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& opt, int depth,
                           const ClassicTuning& tuning) {
  const Stopwatch clock;
  const dequant::CpOptions co = fixed_budget(tuning.best.at(depth), depth);
  const Evaluation ev = evaluate(corpus, b, opt, [&](const Matrix& s, const Matrix& l, const Matrix& u) {
    return dequant::solve_l1_dequant(s, l, u, co).signal;
  });
  DequantEntry e{DequantMethod::Classic, b.bits, depth, ev.snr, ev.segsnr, tuning.best.at(depth).train_snr};
  e.tau = co.tau;
  e.sigma = co.sigma;
  e.projected = co.project_output;
  e.iterations = depth;
  e.max_cell_violation = ev.violation;
  e.seconds = clock.seconds() + tuning.seconds / opt.depths.size();
  return e;
}

DequantEntry converged_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& opt,
                             Evaluation* evaluation) {
  const Stopwatch clock;
  dequant::CpOptions co;
  co.tau = kConvergedTau;
  co.sigma = 1.0 / kConvergedTau;
  co.gap_tolerance = opt.converged_rel_gap;
  co.max_iterations = opt.converged_max_iter;
  co.check_every = kConvergedCheckEvery;
  co.project_output = true;
  int iters = 0;
  double gap = 0;
  Evaluation ev = evaluate(corpus, b, opt, [&](const Matrix& s, const Matrix& l, const Matrix& u) {
    auto r = dequant::solve_l1_dequant(s, l, u, co);
    iters = std::max(iters, r.iterations());
    gap = std::max(gap, r.max_rel_gap);
    return r.signal;
  });
  DequantEntry e{DequantMethod::Classic, b.bits, std::nullopt, ev.snr, ev.segsnr, 0.0};
  e.tau = co.tau;
  e.sigma = co.sigma;
  e.projected = true;
  e.iterations = iters;
  e.max_rel_gap = gap;
  e.max_cell_violation = ev.violation;
  e.seconds = clock.seconds();
  if (evaluation) *evaluation = std::move(ev);
  return e;
}

dequant::UnrolledSpec learned_spec(const DequantOptions& opt, int depth) {
  dequant::UnrolledSpec us;
  us.n = opt.frame_length;
  us.depth = depth;
  us.sharing = opt.per_iteration_stepsizes ? dequant::StepsizeSharing::PerIteration : dequant::StepsizeSharing::Shared;
  us.project_output = opt.project_learned;
  return us;
}

namespace {

// SNR of the network at theta on the training frames (float64 forward).
double train_snr(const dequant::UnrolledSpec& us, const Vector& theta, const dequant::DequantFrames& f) {
  return frames_snr(f.clean, dequant::unrolled_forward<double>(us, theta, f.quantized, f.lower, f.upper));
}

// Trains the network from theta0 for `steps` Adam steps and evaluates it on the test signals.
DequantEntry train_and_evaluate(const Corpus& corpus, const BitDepth& b, const DequantOptions& opt,
                                const dequant::UnrolledSpec& us, const Vector& theta0, int steps, std::uint64_t seed,
                                const std::string& label, const Log& log, Evaluation* evaluation, Vector* theta_out) {
  const Stopwatch clock;
  dequant::UnrolledTrainOptions to;
  to.adam.learning_rate = opt.learning_rate * std::min(1.0, kLearningRateDepth / us.depth);
  to.adam.max_iterations = steps;
  to.adam.decay = kLearningRateDecay;
  to.adam.decay_every = std::max(1, steps / kDecayPeriods);
  to.batch_size = opt.batch_size;
  to.seed = seed;
  const int report_every = std::max(1, steps / kDecayPeriods);
  const auto trained = dequant::train_unrolled(us, theta0, b.train, to, [&](const optim::Progress& p) {
    if (log && p.iteration % report_every == 0)
      log("dequant: b = " + std::to_string(b.bits) + " " + label + " N = " + std::to_string(us.depth) + ": step " +
          std::to_string(p.iteration) + "/" + std::to_string(steps) + ", batch MSE " + format_fixed(p.loss * 1e4, 3) +
          "e-4");
    return true;
  });
  Evaluation ev = evaluate(corpus, b, opt, [&](const Matrix& s, const Matrix& l, const Matrix& u) {
    return dequant::unrolled_forward<double>(us, trained.theta, s, l, u);
  });
  const double train_energy = b.train.clean.squaredNorm() / static_cast<double>(b.train.clean.size());
  DequantEntry e{DequantMethod::Learned, b.bits, us.depth, ev.snr, ev.segsnr,
                 10.0 * std::log10(train_energy / std::max(trained.final_loss, 1e-300))};
  const auto p = dequant::unpack(us, trained.theta);
  e.tau = std::accumulate(p.tau.begin(), p.tau.end(), 0.0) / p.tau.size();
  e.sigma = std::accumulate(p.sigma.begin(), p.sigma.end(), 0.0) / p.sigma.size();
  e.projected = us.project_output;
  e.iterations = trained.optim.iterations;
  e.max_cell_violation = ev.violation;
  e.budget = static_cast<double>(steps) / opt.train_steps;
  e.start_train_snr_db = train_snr(us, theta0, b.train);
  e.seconds = clock.seconds();
  if (evaluation) *evaluation = std::move(ev);
  if (theta_out) *theta_out = trained.theta;
  return e;
}

constexpr std::uint64_t kWarmSalt = 100000;  ///< warm-started networks' minibatch seed salt

}  // namespace

DequantEntry learned_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& opt, int depth,
                           const dequant::CpOptions& start, const Log& log, Evaluation* evaluation, Vector* theta) {
  const dequant::UnrolledSpec us = learned_spec(opt, depth);
  const Vector theta0 = dequant::initial_parameters<double>(us, start.tau, start.sigma);
  return train_and_evaluate(corpus, b, opt, us, theta0, opt.train_steps, opt.seed + kLearnedSalt * b.bits + depth,
                            "learned", log, evaluation, theta);
}

WarmStart warm_start(const BitDepth& b, const DequantOptions& opt, int depth, int shallow_depth,
                     const Vector& shallow_theta) {
  const dequant::UnrolledSpec shallow = learned_spec(opt, shallow_depth), deep = learned_spec(opt, depth);
  const auto p = dequant::unpack(shallow, shallow_theta);
  const dequant::DequantFrames frames =
      subsample(b.train, std::min<Index>(b.train.size(), kTuneMaxFrames), opt.seed + kTuneSalt + b.bits);
  const dequant::UnrolledLoss<double> loss(deep, frames.quantized, frames.lower, frames.upper, frames.clean);
  WarmStart best;
  double best_loss = 0;
  for (double c : opt.added_tau_grid) {
    const double tau = c > 0 ? c * p.tau.back() : dequant::kNoOpStepsize;
    Vector theta = dequant::extend_parameters<double>(shallow, shallow_theta, deep, tau, p.sigma.back());
    const double v = loss.evaluate(theta);
    if (best.theta.size() == 0 || (std::isfinite(v) && v < best_loss)) {
      best_loss = v;
      best.theta = std::move(theta);
      best.added_tau = tau;
    }
  }
  return best;
}

DequantEntry warm_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& opt, int depth,
                        int shallow_depth, const Vector& shallow_theta, const Log& log, Evaluation* evaluation,
                        Vector* theta) {
  const Stopwatch clock;
  const WarmStart ws = warm_start(b, opt, depth, shallow_depth, shallow_theta);
  const int steps = std::max(1, static_cast<int>(std::lround(opt.budget * opt.train_steps)));
  Vector trained;
  DequantEntry e = train_and_evaluate(corpus, b, opt, learned_spec(opt, depth), ws.theta, steps,
                                      opt.seed + kLearnedSalt * b.bits + depth + kWarmSalt, "learned (warm)", log,
                                      evaluation, &trained);
  e.warm = true;
  e.added_tau_init = ws.added_tau;
  const auto p = dequant::unpack(learned_spec(opt, depth), trained);
  e.added_tau_learned =
      std::accumulate(p.tau.begin() + shallow_depth, p.tau.end(), 0.0) / static_cast<double>(depth - shallow_depth);
  e.seconds = clock.seconds();
  if (theta) *theta = std::move(trained);
  return e;
}

namespace {
nlohmann::json or_null(bool present, double v) { return present ? nlohmann::json(v) : nlohmann::json(nullptr); }
}  // namespace

nlohmann::json entry_json(const DequantEntry& e) {
  const bool learned = e.method == DequantMethod::Learned;
  return {{"method", to_string(e.method)}, {"bits", e.bits},
          {"depth", e.depth ? nlohmann::json(*e.depth) : nlohmann::json(nullptr)},
          {"snr_db", e.snr_db}, {"segsnr_db", e.segsnr_db}, {"train_snr_db", e.train_snr_db}, {"tau", e.tau},
          {"sigma", e.sigma}, {"projected", e.projected}, {"iterations", e.iterations},
          {"max_rel_gap", e.max_rel_gap}, {"max_cell_violation", e.max_cell_violation}, {"seconds", e.seconds},
          {"init", learned ? nlohmann::json(e.warm ? "warm" : "cold") : nlohmann::json(nullptr)},
          {"budget", or_null(learned, e.budget)}, {"start_train_snr_db", or_null(learned, e.start_train_snr_db)},
          {"added_tau_init", or_null(e.warm, e.added_tau_init)},
          {"added_tau_learned", or_null(e.warm, e.added_tau_learned)},
          {"warm_from", e.warm ? nlohmann::json(e.warm_from_warm ? "warm" : "cold") : nlohmann::json(nullptr)}};
}

DequantEntry entry_from_json(const nlohmann::json& j) {
  DequantEntry e;
  e.method = parse_dequant_method(j.at("method").get<std::string>());
  e.bits = j.at("bits").get<int>();
  if (!j.at("depth").is_null()) e.depth = j.at("depth").get<int>();
  e.snr_db = j.at("snr_db").get<double>(), e.segsnr_db = j.at("segsnr_db").get<double>();
  e.train_snr_db = j.at("train_snr_db").get<double>();
  e.tau = j.at("tau").get<double>(), e.sigma = j.at("sigma").get<double>();
  e.projected = j.at("projected").get<bool>(), e.iterations = j.at("iterations").get<int>();
  e.max_rel_gap = j.at("max_rel_gap").get<double>();
  e.max_cell_violation = j.at("max_cell_violation").get<double>();
  e.seconds = j.at("seconds").get<double>();
  auto num = [&](const char* k, double def) {
    return j.contains(k) && j.at(k).is_number() ? j.at(k).get<double>() : def;
  };
  e.warm = j.contains("init") && j.at("init").is_string() && j.at("init").get<std::string>() == "warm";
  e.budget = num("budget", 1.0);
  e.start_train_snr_db = num("start_train_snr_db", 0.0);
  e.added_tau_init = num("added_tau_init", 0.0);
  e.added_tau_learned = num("added_tau_learned", 0.0);
  e.warm_from_warm = j.contains("warm_from") && j.at("warm_from").is_string() && j.at("warm_from").get<std::string>() == "warm";
  return e;
}

}  // namespace varlearn::study::dequantize
