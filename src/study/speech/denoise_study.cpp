// Speech denoising study: the pipeline (corpus -> frames -> baselines -> jobs -> training ->
// odd-depth strategy -> sharpness -> demo audio), options and the exact MSE. The stages live
// in denoise_stages.cpp, denoise_training.cpp and denoise_sharpness.cpp; the writers in
// denoise_outputs.cpp.
#include "varlearn/core/names.hpp"
#include "varlearn/study/denoise_study.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "varlearn/core/error.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/study/denoise_pipeline.hpp"

namespace varlearn::study {

namespace {
constexpr NameTable<DenoiseInit, 3> kInitNames{{{DenoiseInit::Shrink, "shrink"}, {DenoiseInit::Theory, "theory"},
                                                {DenoiseInit::Continuation, "continuation"}}};
}  // namespace

const char* to_string(DenoiseInit init) { return name_of(kInitNames, init); }

void DenoiseOptions::validate() const {
  const char* w = "study denoise";
  require(n == 0 || n >= 2, w, "frame length --n must be >= 2 (got " + std::to_string(n) + ")");
  const Index nn = n == 0 ? (quick ? kQuickFrameLength : kDefaultFrameLength) : n;
  require(hop == 0 || (hop >= 1 && hop <= nn), w,
          "--hop must be in 1..n = " + std::to_string(nn) + " (got " + std::to_string(hop) + ")");
  require(std::isfinite(noise_std) && noise_std > 0, w, "--sigma must be > 0 and finite");
  require(rank >= 0 && rank <= nn, w,
          "--k must be in 1..n = " + std::to_string(nn) + " (got " + std::to_string(rank) + ")");
  std::set<Index> seen_ranks;
  for (Index k : ranks) {
    require(k >= 1 && k <= nn, w,
            std::string("--k must satisfy 1 <= k <= n = ") + std::to_string(nn) + " (got " + std::to_string(k) +
                " in the list)");
    require(seen_ranks.insert(k).second, w, std::string("--k: rank ") + std::to_string(k) + " is given twice");
  }
  std::set<int> seen_rank_depths;
  for (int d : rank_depths) {
    require(d >= 1 && d <= kMaxDepth, w,
            std::string("--rank-depths: depth ") + std::to_string(d) + " is outside 1.." + std::to_string(kMaxDepth));
    require(seen_rank_depths.insert(d).second, w, std::string("--rank-depths: depth ") + std::to_string(d) + " is given twice");
  }
  require(!depths.empty(), w, "--depths is empty");
  std::set<int> seen;
  for (int d : depths) {
    require(d >= 1 && d <= kMaxDepth, w,
            "depth " + std::to_string(d) + " is outside 1.." + std::to_string(kMaxDepth));
    require(seen.insert(d).second, w, "depth " + std::to_string(d) + " is given twice");
  }
  require(std::isfinite(fixed_stepsize) && fixed_stepsize > 0 && fixed_stepsize < 2, w,
          "--fixed-stepsize must be in (0, 2) (gradient descent on I + R^T R diverges beyond)");
  require(iterations >= 0, w, "--iterations must be >= 0");
  require(rate >= 0, w, "--rate must be >= 0");
  require(train_files.empty() == test_files.empty(), w,
          "give both --train and --test files (or neither, for the default codec2 corpus)");
}

DenoiseOptions DenoiseOptions::resolved() const {
  validate();
  DenoiseOptions o = *this;
  if (o.n == 0) o.n = quick ? kQuickFrameLength : kDefaultFrameLength;
  if (o.hop == 0) o.hop = std::max<Index>(1, o.n / 2);
  std::sort(o.ranks.begin(), o.ranks.end());
  if (o.rank == 0) o.rank = o.ranks.empty() ? o.n : o.ranks.back();
  if (!o.ranks.empty() && o.rank_depths.empty()) o.rank_depths = o.depths;
  std::sort(o.rank_depths.begin(), o.rank_depths.end());
  if (o.iterations == 0)
    o.iterations = quick ? kQuickIterations : (objective == Objective::Exact ? kExactIterations : kSampledIterations);
  std::sort(o.depths.begin(), o.depths.end());
  return o;
}

double exact_mse(const Matrix& t, const Matrix& s, double sigma) {
  const Index n = t.rows();
  const Matrix d = t - Matrix::Identity(n, n);
  return ((d * s).cwiseProduct(d).sum() + sigma * sigma * t.squaredNorm()) / double(n);
}

namespace {

std::vector<DenoiseConfig> configs_of(const std::vector<denoise::Job>& jobs) {
  std::vector<DenoiseConfig> out;
  for (const auto& j : jobs) out.push_back(j.config);
  return out;
}

DenoiseInit parse_init(const std::string& s) {
  try {
    return parse_name(kInitNames, s, "init");
  } catch (const Error& e) {
    throw Error(std::string("journal: ") + e.what(), Error::Kind::Internal);
  }
}

// The sharpness measurements as one journal entry (they run together, in parallel).
std::vector<Sharpness> measure_or_reload(const std::vector<denoise::SharpnessTarget>& targets,
                                         const denoise::Frames& frames, const Log& log, const Journal& journal) {
  if (auto done = journal.find("sharpness")) {
    std::vector<Sharpness> out;
    for (const auto& v : *done) {
      Sharpness s;
      s.depth = v.at("depth").get<int>(), s.init = parse_init(v.at("init").get<std::string>());
      s.mse = v.at("mse").get<double>(), s.stepsize = v.at("stepsize").get<double>();
      s.regularizer_norm = v.at("regularizer_norm").get<double>(), s.hessian_max = v.at("hessian_max").get<double>();
      s.hessian_max_alpha = v.at("hessian_max_alpha").get<double>(), s.basin_width = v.at("basin_width").get<double>();
      out.push_back(s);
    }
    if (out.size() == targets.size()) {
      if (log) log("sharpness: " + std::to_string(out.size()) + " measurements reloaded (resumed)");
      return out;
    }
  }
  std::vector<Sharpness> out = denoise::measure_all(targets, frames, log);
  nlohmann::json rows = nlohmann::json::array();
  for (const Sharpness& s : out)
    rows.push_back({{"depth", s.depth}, {"init", to_string(s.init)}, {"mse", s.mse}, {"stepsize", s.stepsize},
                    {"regularizer_norm", s.regularizer_norm}, {"hessian_max", s.hessian_max},
                    {"hessian_max_alpha", s.hessian_max_alpha}, {"basin_width", s.basin_width}});
  journal.record("sharpness", rows);
  return out;
}

}  // namespace

nlohmann::json denoise_fingerprint(const DenoiseOptions& options) {
  const DenoiseOptions o = options.resolved();
  nlohmann::json f{{"study", "denoise"}, {"n", o.n}, {"hop", o.hop}, {"sigma", o.noise_std}, {"k", o.rank},
                   {"depths", o.depths}, {"fixed_stepsize", o.fixed_stepsize},
                   {"objective", o.objective == DenoiseOptions::Objective::Exact ? "exact" : "sampled"},
                   {"train_files", input_fingerprint(o.train_files)}, {"test_files", input_fingerprint(o.test_files)},
                   {"rate", o.rate}, {"mixdown", o.mixdown}, {"quick", o.quick}, {"iterations", o.iterations},
                   {"seed", o.seed}, {"odd_strategy", o.odd_strategy}, {"write_audio", o.write_audio}};
  if (!o.ranks.empty()) f["ranks"] = o.ranks, f["rank_depths"] = o.rank_depths;  // (single k: as before)
  return f;
}

DenoiseResults run_denoise_study(const DenoiseOptions& options_in, const Log& log_in, const Journal& journal) {
  using namespace denoise;
  const Stopwatch clock;
  const DenoiseOptions opt = options_in.resolved();
  const Log log = serialized_log(log_in);  // called from worker threads
  DenoiseResults res;
  res.options = opt;

  const Corpus corpus = load_corpus(opt, log);
  res.rate = corpus.rate;
  res.train_files = corpus.train_files, res.test_files = corpus.test_files;
  res.train_seconds_audio = corpus.train_seconds, res.test_seconds_audio = corpus.test_seconds;

  const Frames frames = make_frames(corpus, opt);
  // Silent audio: S = 0, the theory's best MSE is 0 (T = 0) and every shortfall and SNR is
  // infinite. Refused before any training.
  if (!(frames.train_moment.trace() > 0))
    throw Error("study denoise: the training audio is silent (every frame is zero): its second moment S is 0 and "
                "there is nothing to learn; give speech with --train");
  if (!(frames.test_moment.trace() > 0))
    throw Error("study denoise: the test audio is silent (every frame is zero): the SNR is undefined; give speech "
                "with --test");
  res.train_frames = frames.train_clean.cols(), res.test_frames = frames.test_clean_frames.cols();
  if (log)
    log("frames: " + std::to_string(res.train_frames) + " train, " + std::to_string(res.test_frames) +
        " test (n = " + std::to_string(opt.n) + ", hop = " + std::to_string(opt.hop) + ", " +
        std::to_string(res.rate) + " Hz)");

  const Baselines base = baselines(frames);
  res.noisy_mse = base.noisy_mse, res.noisy_mse_sampled = base.noisy_mse_sampled, res.noisy_snr_db = base.noisy_snr_db;
  res.wiener_train_mse = base.wiener_train_mse, res.wiener_mse = base.wiener_mse, res.wiener_snr_db = base.wiener_snr_db;

  const theory::DataModel data = theory::DataModel::dense(frames.train_moment, "training frames' second moment");
  std::vector<Job> jobs = make_jobs(opt, data);
  train_all(jobs, frames, opt, log, journal);
  res.configs = configs_of(jobs);

  const std::vector<int> odd = odd_depths(opt.depths);
  if (opt.odd_strategy && opt.objective == DenoiseOptions::Objective::Exact && !odd.empty()) {
    std::vector<Job> strategy = make_strategy_jobs(opt, data, odd);
    run_strategy(strategy, frames, opt, data, log, journal);
    res.strategy = configs_of(strategy);
    res.sharpness = measure_or_reload(sharpness_targets(jobs, strategy, odd), frames, log, journal);
  }

  if (!opt.ranks.empty()) {  // after the main study, whose runs at k = rank it reuses
    const Stopwatch rank_clock;
    std::vector<DenoiseConfig> done = res.configs;
    done.insert(done.end(), res.strategy.begin(), res.strategy.end());
    res.ranks = run_ranks(opt, data, frames, done, log, journal);
    res.rank_theory = rank_theory(data, opt.noise_std, rank_grid(opt.n, opt.ranks), opt.rank_depths);
    res.rank_seconds = rank_clock.seconds();
  }

  if (opt.write_audio) {
    Demo demo = demo_audio(corpus, frames, jobs, base, opt);
    res.demo_file = demo.file;
    res.demo_clean = std::move(demo.clean), res.demo_noisy = std::move(demo.noisy);
    res.demo_denoised = std::move(demo.denoised);
  }
  res.seconds = clock.seconds();
  return res;
}

}  // namespace varlearn::study
