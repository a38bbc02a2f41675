// Speech restoration study, stages: corpus, frames and test degradations, linear baselines,
// the job list, training one configuration, convergence of the bilevel models.
#include <algorithm>
#include <cmath>
#include <limits>

#include "varlearn/audio/corpus.hpp"
#include "varlearn/audio/framing.hpp"
#include "varlearn/audio/metrics.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/general/bilevel.hpp"
#include "varlearn/general/energy.hpp"
#include "varlearn/general/linear.hpp"
#include "varlearn/general/unrolled.hpp"
#include "varlearn/ops/identity.hpp"
#include "varlearn/ops/model.hpp"
#include "varlearn/reg/analysis.hpp"
#include "varlearn/reg/foe.hpp"
#include "varlearn/reg/quadratic.hpp"
#include "varlearn/study/restore_pipeline.hpp"

namespace varlearn::study::restore {

namespace {
constexpr std::uint64_t kTestDrawSalt = 0x7e57'd0e5'0000'0001ULL;
constexpr std::uint64_t kValidationMaskSalt = 0x7e57'd0e5'0000'0002ULL;
constexpr int kDefaultCorpusRate = 8000;
constexpr int kProgressEvery = 100;  // Adam steps between progress lines

// Evenly spaced columns (at most `count`).
Matrix spaced_columns(const Matrix& m, Index count) {
  if (m.cols() <= count) return m;
  Matrix out(m.rows(), count);
  for (Index j = 0; j < count; ++j) out.col(j) = m.col(j * m.cols() / count);
  return out;
}

ops::Mask test_mask(const Data& d) { return ops::Mask(d.test_pattern); }

// The test part of d from whole clean signals: noise at every sample (and, inpaint, bursts
// drawn on consecutive blocks of n samples, zeros at the gaps), framed with a zero-padded tail.
void set_tests(Data& d, const std::vector<Vector>& test, const RestoreOptions& o, std::uint64_t seed);
}  // namespace

std::vector<size_t> cap_duration(const std::vector<Vector>& signals, int rate, double seconds) {
  double total = 0;
  for (const Vector& x : signals) total += double(x.size());
  total /= double(std::max(rate, 1));
  const size_t every = seconds > 0 && total > seconds ? size_t(std::ceil(total / seconds)) : 1;
  std::vector<size_t> kept;
  for (size_t i = 0; i < signals.size(); i += every) kept.push_back(i);
  return kept;
}

Signals load_signals(const RestoreOptions& o, const Log& log) {
  const bool default_corpus = o.train_files.empty();
  const audio::CorpusSpec spec =
      default_corpus ? audio::default_corpus(o.quick) : audio::CorpusSpec{o.train_files, o.test_files};
  audio::ReadOptions ro;
  ro.rate = default_corpus ? kDefaultCorpusRate : o.rate;
  ro.min_samples = o.n;
  size_t extra_files = 0;
  for (const auto& t : o.extra_tests) extra_files += t.files.size();
  if (log)
    log(std::string("reading ") + std::to_string(spec.train.size()) + " training and " +
        std::to_string(spec.test.size() + extra_files) + " test files");
  const audio::LoadedCorpus loaded = audio::load_corpus(spec, ro);
  Signals s;
  s.rate = loaded.rate;
  for (const auto& x : loaded.train) s.train_files.push_back(x.source), s.train.push_back(x.samples);
  std::vector<Vector> test;
  for (const auto& x : loaded.test) test.push_back(x.samples);
  for (size_t i : cap_duration(test, s.rate, o.test_seconds))
    s.test_files.push_back(loaded.test[i].source), s.test.push_back(test[i]);
  for (const audio::TestSet& t : o.extra_tests) {
    audio::ReadOptions er = ro;
    er.rate = s.rate;  // every set at the training rate
    const std::vector<audio::Signal> sig = audio::read_many(t.files, er);
    std::vector<Vector> x;
    for (const auto& g : sig) x.push_back(g.samples);
    Signals::Extra e{t.name, {}, {}};
    for (size_t i : cap_duration(x, s.rate, o.test_seconds)) e.files.push_back(sig[i].source), e.test.push_back(x[i]);
    s.extra_tests.push_back(std::move(e));
  }
  return s;
}

Data make_data(const Signals& s, const RestoreOptions& o) {
  Data d;
  d.n = o.n, d.hop = o.hop, d.sigma = o.sigma, d.rate = s.rate, d.inpaint = o.inpaint();
  d.mask.kind = ops::MaskKind::Burst;
  d.mask.missing_probability = o.missing;
  d.mask.burst_length = o.burst;
  d.train_files = s.train_files, d.test_files = s.test_files;
  const Matrix all = audio::frame_all(s.train, o.n, o.hop);
  require(all.cols() >= 2, "study restore", "fewer than 2 training frames: give more or longer --train files");
  const Index held = std::max<Index>(1, Index(std::floor(RestoreOptions::kValidationFraction * double(all.cols()))));
  d.fit = all.leftCols(all.cols() - held);
  d.validation = all.rightCols(held);
  d.moment = all * all.transpose() / double(all.cols());
  d.moment_fit = d.fit * d.fit.transpose() / double(d.fit.cols());
  d.signal_rms = std::sqrt(all.squaredNorm() / double(all.size()));

  set_tests(d, s.test, o, o.seed ^ kTestDrawSalt);
  for (size_t k = 0; k < s.extra_tests.size(); ++k) {
    Data e;
    e.n = d.n, e.hop = d.hop, e.sigma = d.sigma, e.rate = d.rate, e.inpaint = d.inpaint, e.mask = d.mask;
    e.moment = d.moment, e.moment_fit = d.moment_fit, e.signal_rms = d.signal_rms;
    e.name = s.extra_tests[k].name;
    e.test_files = s.extra_tests[k].files;
    set_tests(e, s.extra_tests[k].test, o, o.seed ^ (kTestDrawSalt + 1 + k));
    d.extra_tests.push_back(std::move(e));
  }
  return d;
}

namespace {
void set_tests(Data& d, const std::vector<Vector>& test, const RestoreOptions& o, std::uint64_t seed) {
  Rng rng(seed);
  std::normal_distribution<double> normal;
  for (const Vector& y : test) {
    Vector g = y;
    for (Index t = 0; t < g.size(); ++t) g[t] += o.sigma * normal(rng);
    if (d.inpaint) {
      const Index blocks = (y.size() + o.n - 1) / o.n;
      const ops::MaskPattern p = ops::draw_mask_pattern(o.n, blocks, d.mask, rng);
      Vector obs(y.size());
      for (Index t = 0; t < y.size(); ++t) obs[t] = p(t % o.n, t / o.n) ? 1.0 : 0.0;
      g = g.cwiseProduct(obs);
      d.test_observed.push_back(obs);
    }
    d.test_clean.push_back(y);
    d.test_degraded.push_back(g);
    d.test_frame_counts.push_back(audio::frame_count(y.size(), o.n, o.hop, audio::Tail::ZeroPad));
  }
  d.test_g = audio::frame_all(d.test_degraded, o.n, o.hop, audio::Tail::ZeroPad);
  d.test_frames = audio::frame_all(d.test_clean, o.n, o.hop, audio::Tail::ZeroPad);
  if (d.inpaint) {
    const Matrix obs = audio::frame_all(d.test_observed, o.n, o.hop, audio::Tail::ZeroPad);
    d.test_pattern = obs.array() > 0.5;
  }
}
}  // namespace

ops::Operator test_operator(const Data& d) {
  if (d.inpaint) return ops::Operator(test_mask(d));
  return ops::Operator(ops::Identity(d.n));
}

std::vector<Vector> to_signals(const Data& d, const Matrix& frames) {
  require(frames.rows() == d.n && frames.cols() == d.test_g.cols(), "study restore", "restored frames have the wrong shape");
  std::vector<Vector> out;
  Index at = 0;
  for (size_t i = 0; i < d.test_clean.size(); ++i) {
    const Index b = d.test_frame_counts[i];
    out.push_back(audio::overlap_add(frames.middleCols(at, b), d.hop, d.test_clean[i].size()));
    at += b;
  }
  return out;
}

Score score_frames(const Data& d, const Matrix& frames) { return score(d, to_signals(d, frames)); }

Score score(const Data& d, const std::vector<Vector>& restored) {
  require(restored.size() == d.test_clean.size(), "study restore", "one restored signal per test file");
  audio::SnrAccumulator acc(d.rate);
  double err = 0;
  Index count = 0;
  for (size_t i = 0; i < restored.size(); ++i) {
    acc.add(d.test_clean[i], restored[i]);
    err += (restored[i] - d.test_clean[i]).squaredNorm();
    count += restored[i].size();
  }
  return {err / double(count), acc.snr_db()};
}

std::vector<double> taper_grid() {
  return {1, 2, 3, 5, 8, 10, 20, 40, 80, std::numeric_limits<double>::infinity()};
}

Linear linear_baselines(const Data& d, std::uint64_t seed) {
  if (!d.inpaint) return linear_baselines_at(d, 0);
  // On at most kMaxValidationFrames held-out frames (evenly spaced, as early stopping uses): each
  // frame costs a Cholesky factorization per width, and asterisk holds out ~60 000 frames.
  const Matrix validation = spaced_columns(d.validation, RestoreOptions::kMaxValidationFrames);
  Rng rng(seed ^ kValidationMaskSalt);
  const ops::Mask val_mask = ops::draw_mask(d.n, validation.cols(), d.mask, rng);
  const general::ParameterChoice w = general::choose_taper(d.moment_fit, d.sigma, validation, val_mask, taper_grid());
  return linear_baselines_at(d, w.value);
}

Linear linear_baselines_at(const Data& d, double local_width) {
  Linear l;
  l.noisy = score(d, d.test_degraded);
  if (!d.inpaint) {
    const Matrix w = general::wiener_filter(d.moment, d.sigma);
    l.linear_signals = to_signals(d, w * d.test_g);
    l.linear = score(d, l.linear_signals);
    return l;
  }
  const ops::Mask mask = test_mask(d);
  l.zero_fill = score(d, to_signals(d, general::zero_fill(d.test_g, mask)));
  l.linear_signals = to_signals(d, general::lmmse_inpaint(d.moment, d.sigma, d.test_g, mask));
  l.linear = score(d, l.linear_signals);
  l.local_width = local_width;
  l.local_signals =
      to_signals(d, general::lmmse_inpaint(general::taper_second_moment(d.moment, local_width), d.sigma, d.test_g, mask));
  l.local = score(d, l.local_signals);
  return l;
}

std::string Job::key() const {
  std::string k = std::string("cfg-") + regularizer + "-" + general::to_string(method);
  if (method == general::LearningMethod::Unrolled) k += std::string("-N") + std::to_string(depth) + (fixed ? "-fixed" : "-learned");
  return k;
}

std::vector<Job> make_jobs(const RestoreOptions& o) {
  std::vector<Job> jobs;
  const bool bilevel = std::find(o.methods.begin(), o.methods.end(), "bilevel") != o.methods.end();
  const bool unrolled = std::find(o.methods.begin(), o.methods.end(), "unrolled") != o.methods.end();
  for (const std::string& r : o.regularizers) {
    if (bilevel) jobs.push_back({r, general::LearningMethod::Bilevel, 0, false});
    if (unrolled)
      for (int d : o.depths) jobs.push_back({r, general::LearningMethod::Unrolled, d, false});
    if (unrolled && r == o.fixed_control)
      for (int d : o.depths)
        if (d <= RestoreOptions::kFixedControlMaxDepth) jobs.push_back({r, general::LearningMethod::Unrolled, d, true});
  }
  return jobs;
}

double safe_stepsize(const general::RegularizerSpec&, const reg::Regularizer<double>& r, Index, double) {
  const std::optional<double> bound = r.hessian_bound();
  const double lr = bound && std::isfinite(*bound) ? *bound : 1.0;
  return 0.9 / (1.0 + lr);  // identity and masks: ||A||^2 = 1
}

general::GeneralTrainOptions train_options(const Job& job, const RestoreOptions& o, const Data& d) {
  general::GeneralTrainOptions t;
  t.method = job.method;
  t.depth = std::max(1, job.depth);
  t.start = general::UnrolledInit::Adjoint;
  t.noise_std = d.sigma;
  t.optimizer = general::Optimizer::Adam;
  t.adam.learning_rate = o.learning_rate;
  t.adam.max_iterations = o.steps;
  t.batch_size = std::min<Index>(job.method == general::LearningMethod::Bilevel ? RestoreOptions::kBilevelBatch
                                                                               : RestoreOptions::kBatch,
                                 d.fit.cols());
  t.loss_frames = RestoreOptions::kMaxTrainLossFrames;
  t.patience = o.patience;
  t.validate_every = RestoreOptions::kValidateEvery;
  t.seed = o.seed;
  t.alone = true;  // under mpirun a configuration runs on one rank (the ranks share the configurations)
  t.unrolled_checkpoint_every = 1;
  t.bilevel.lower_solver = general::LowerSolver::Lbfgs;
  t.bilevel.tolerance = RestoreOptions::kTrainTolerance;
  t.stepsize_kind = job.fixed ? general::StepsizeKind::Fixed : general::StepsizeKind::Learned;
  return t;
}

general::GeneralModel rebuild_model(const RestoreConfig& c, const Job& job, const RestoreOptions& o, const Data& d) {
  const general::RegularizerSpec spec = restore_regularizer_spec(job.regularizer, d.signal_rms);
  auto r = general::make_regularizer(spec, d.n, o.seed, d.signal_rms);
  const double omega0 = safe_stepsize(spec, *r, d.n, d.signal_rms);
  r->set_parameters(c.theta);
  general::GeneralModel m;
  m.method = job.method;
  m.regularizer = std::shared_ptr<const reg::Regularizer<double>>(std::move(r));
  general::GeneralTrainOptions t = train_options(job, o, d);
  t.stepsize = omega0;
  m.unrolled = general::unrolled_options(t);
  m.alpha = c.alpha;
  m.fixed_stepsize = job.fixed ? omega0 : 0;
  m.bilevel = t.bilevel;
  m.bilevel.tolerance = RestoreOptions::kEvaluationTolerance * std::sqrt(double(d.test_g.size()));
  return m;
}

namespace {
// Test MSE / SNR and the demo signal of a model; nullopt-free: throws on failure.
void score_model(const general::GeneralModel& m, const Data& d, RestoreConfig& c) {
  const std::vector<Vector> signals = to_signals(d, m.output(test_operator(d), d.test_g));
  const Score s = score(d, signals);
  c.test_mse = s.mse;
  c.test_snr_db = s.snr_db;
  c.demo = signals.front();
  c.extra_tests.clear();
  for (const Data& e : d.extra_tests) {
    RestoreConfig::ExtraScore x{e.name, std::nullopt, std::nullopt};
    try {
      const Score se = score_frames(e, m.output(test_operator(e), e.test_g));
      x.test_mse = se.mse, x.test_snr_db = se.snr_db;
    } catch (const Error&) {
      // A test set the model cannot restore (e.g. a lower-level solve that fails there) reads null.
    }
    c.extra_tests.push_back(std::move(x));
  }
}
}  // namespace

RestoreConfig run_job(const Job& job, const RestoreOptions& o, const Data& d, const Log& log) {
  const Stopwatch clock;
  RestoreConfig c;
  c.regularizer = job.regularizer;
  c.method = general::to_string(job.method);
  c.depth = job.method == general::LearningMethod::Unrolled ? job.depth : 0;
  c.stepsize_mode = job.method == general::LearningMethod::Bilevel ? "" : (job.fixed ? "fixed" : "learned");
  const general::RegularizerSpec spec = restore_regularizer_spec(job.regularizer, d.signal_rms);
  const auto init = general::make_regularizer(spec, d.n, o.seed, d.signal_rms);
  general::GeneralTrainOptions t = train_options(job, o, d);
  t.stepsize = safe_stepsize(spec, *init, d.n, d.signal_rms);
  if (job.method == general::LearningMethod::Unrolled)
    t.single_precision = general::make_regularizer_as<float>(spec, d.n, o.seed, d.signal_rms);
  const ops::OperatorModel op =
      d.inpaint ? ops::OperatorModel(d.n, d.mask) : ops::OperatorModel(ops::Operator(ops::Identity(d.n)));
  const Matrix validation = spaced_columns(d.validation, RestoreOptions::kMaxValidationFrames);
  try {
    optim::Observer observer;
    if (log)
      observer = [&log, &c](const optim::Progress& p) {
        if (p.iteration > 0 && p.iteration % kProgressEvery == 0)
          log(std::string("      ") + c.name() + " step " + std::to_string(p.iteration) + "/" + std::to_string(p.max_iterations) + ", minibatch loss " +
              format_general(p.loss, 4) + ", " + format_fixed(p.elapsed_s, 1) + " s");
        return true;
      };
    const general::GeneralTrainResult r = general::train_general(op, *init, d.fit, validation, t, observer);
    c.iterations = r.optim.iterations;
    c.status = optim::to_string(r.optim.status);
    c.message = r.message.empty() ? r.optim.message : r.message;
    c.theta = r.model.regularizer->parameters();
    c.alpha = r.model.alpha;
    if (job.method == general::LearningMethod::Unrolled) c.stepsize = r.model.stepsizes().front();
    if (std::isfinite(r.train_loss)) c.train_loss = 2.0 * r.train_loss / double(d.n);
    if (r.validation_loss >= 0 && std::isfinite(r.validation_loss)) c.validation_mse = 2.0 * r.validation_loss / double(d.n);
    score_model(rebuild_model(c, job, o, d), d, c);
  } catch (const Error& e) {
    c.status = "failed";
    c.message = e.what();
  }
  if (job.method == general::LearningMethod::Unrolled && !job.fixed && c.theta.size() > 0) {
    // 2(c): the exact lower-level minimizer of theta_N (used bilevel-style) on the test files.
    try {
      Job b = job;
      b.method = general::LearningMethod::Bilevel;
      const general::GeneralModel m = rebuild_model(c, b, o, d);
      c.exact_test_mse = score(d, to_signals(d, m.output(test_operator(d), d.test_g))).mse;
    } catch (const Error& e) {
      if (log) log(c.name() + ": no exact lower-level solution (" + std::string(e.what()) + ")");
    }
  }
  c.seconds = clock.seconds();
  return c;
}

std::vector<ConvergencePoint> convergence(const RestoreConfig& c, const Job& job, const RestoreOptions& o,
                                          const Data& d) {
  std::vector<ConvergencePoint> out;
  if (c.theta.size() == 0 || !c.test_mse) return out;
  const general::RegularizerSpec spec = restore_regularizer_spec(job.regularizer, d.signal_rms);
  auto r = general::make_regularizer(spec, d.n, o.seed, d.signal_rms);
  r->set_parameters(c.theta);
  const double omega = safe_stepsize(spec, *r, d.n, d.signal_rms);
  // Evenly spaced test frames (with their masks).
  const Index b = std::min<Index>(RestoreOptions::kConvergenceFrames, d.test_g.cols());
  Matrix g(d.n, b);
  ops::MaskPattern p(d.n, b);
  for (Index j = 0; j < b; ++j) {
    const Index col = j * d.test_g.cols() / b;
    g.col(j) = d.test_g.col(col);
    if (d.inpaint) p.col(j) = d.test_pattern.col(col);
  }
  const ops::Operator a = d.inpaint ? ops::Operator(ops::Mask(p)) : ops::Operator(ops::Identity(d.n));
  const general::Energy energy(a, *r, g);
  general::BilevelOptions bo;
  bo.lower_solver = general::LowerSolver::Lbfgs;
  bo.tolerance = 1e-9;
  const Matrix fstar = general::solve_lower_level(energy, bo).f;
  const double scale = fstar.norm();
  for (int depth : o.depths) {
    general::UnrolledOptions u;
    u.steps = depth;
    u.init = general::UnrolledInit::Adjoint;
    u.sharing = general::StepSharing::Fixed;
    u.stepsize = omega;
    const Matrix fn = general::unrolled_output(energy, Vector(), u);
    out.push_back({c.regularizer, depth, (fn - fstar).norm() / (scale > 0 ? scale : 1.0)});
  }
  return out;
}

Matrix filter_rows(const reg::Regularizer<double>& r) {
  if (const auto* a = dynamic_cast<const reg::Analysis<double>*>(&r)) return a->matrix();
  if (const auto* f = dynamic_cast<const reg::Foe<double>*>(&r)) return f->filters();
  if (const auto* q = dynamic_cast<const reg::Quadratic<double>*>(&r)) return q->matrix();
  const Vector p = r.parameters();
  return Matrix(p.transpose());
}

}  // namespace varlearn::study::restore
