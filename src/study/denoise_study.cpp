// Speech denoising study (issue 5): corpus -> frames -> S -> theory + training -> metrics.
#include "varlearn/study/denoise_study.hpp"

#include <omp.h>
#include <unistd.h>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/audio/corpus.hpp"
#include "varlearn/audio/framing.hpp"
#include "varlearn/audio/metrics.hpp"
#include "varlearn/audio/noise.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/minimize.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/learn/objective.hpp"
#include "varlearn/learn/trainer.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/family.hpp"
#include "varlearn/theory/optimal.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

namespace {

// Largest singular value of R.
double spectral_norm(const Matrix& r) {
  if (r.size() == 0) return 0;
  const Matrix g = r.rows() <= r.cols() ? Matrix(r * r.transpose()) : Matrix(r.transpose() * r);
  Eigen::SelfAdjointEigenSolver<Matrix> es(g, Eigen::EigenvaluesOnly);
  return std::sqrt(std::max(0.0, es.eigenvalues().maxCoeff()));
}

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

// Minimizer of p on [-1, 0] for odd N >= 3 (p is unimodal there).
double poly_argmin(int depth) {
  return minimize_scalar([depth](double q) { return poly_sum(q, depth); }, -1.0, 0.0).x;
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

// Identity-like k x n: [I_k 0].
Matrix eye_rect(Index k, Index n) { return Matrix::Identity(k, n); }

struct Job {
  learn::ModelSpec spec;
  std::string init = "shrink";
  double fixed_stepsize = 0;  // for Fixed mode
  Matrix r0;
  double omega0 = 0.5;
  // results
  learn::QuadraticModel model;
  varlearn::optim::Result optim;
  double train_loss = 0;
  double seconds = 0;
};

// Continuation step omega -> omega': the R' whose denoiser is nearest to the current one,
// direction by direction: with R^T R = V diag(s) V^T (k largest), t = f_omega(s) and
// s' = f_omega'^{-1}(t clamped to the new range) (smaller preimage), R' = diag(sqrt(s')) V^T.
Matrix remap_regularizer(const Matrix& r, int depth, double w_old, double w_new) {
  const Index k = r.rows(), n = r.cols();
  Eigen::SelfAdjointEigenSolver<Matrix> es(r.transpose() * r);
  const auto f_old = theory::Family::unrolled(depth, w_old), f_new = theory::Family::unrolled(depth, w_new);
  const theory::Interval range = f_new.range();
  Matrix out = Matrix::Zero(k, n);
  for (Index i = 0; i < k; ++i) {
    const Index col = n - 1 - i;  // eigenvalues ascending: take the k largest
    const double s = std::max(0.0, es.eigenvalues()[col]);
    double t = range.clamp(f_old(s));
    double s_new = 0;
    try {
      s_new = f_new.inverse(t);
    } catch (const Error&) {
      s_new = 0;
    }
    out.row(i) = std::sqrt(std::max(0.0, s_new)) * es.eigenvectors().col(col).transpose();
  }
  return out;
}


}  // namespace

// ---------------------------------------------------------------------------------------
void DenoiseOptions::validate() const {
  const char* w = "study denoise";
  require(n == 0 || n >= 2, w, "frame length --n must be >= 2 (got " + std::to_string(n) + ")");
  const Index nn = n == 0 ? (quick ? 80 : 320) : n;
  require(hop == 0 || (hop >= 1 && hop <= nn), w,
          "--hop must be in 1..n = " + std::to_string(nn) + " (got " + std::to_string(hop) + ")");
  require(std::isfinite(noise_std) && noise_std > 0, w, "--sigma must be > 0 and finite");
  require(rank >= 0 && rank <= nn, w,
          "--k must be in 1..n = " + std::to_string(nn) + " (got " + std::to_string(rank) + ")");
  require(!depths.empty(), w, "--depths is empty");
  std::set<int> seen;
  for (int d : depths) {
    require(d >= 1 && d <= 200, w, "depth " + std::to_string(d) + " is outside 1..200");
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
  if (o.n == 0) o.n = quick ? 80 : 320;
  if (o.hop == 0) o.hop = std::max<Index>(1, o.n / 2);
  if (o.rank == 0) o.rank = o.n;
  if (o.iterations == 0) o.iterations = objective == Objective::Exact ? (quick ? 300 : 150) : (quick ? 300 : 2000);
  std::sort(o.depths.begin(), o.depths.end());
  return o;
}

double exact_mse(const Matrix& t, const Matrix& s, double sigma) {
  const Index n = t.rows();
  const Matrix d = t - Matrix::Identity(n, n);
  return ((d * s).cwiseProduct(d).sum() + sigma * sigma * t.squaredNorm()) / double(n);
}

double independent_bilevel_mse(const Matrix& s, double sigma, Index rank) {
  const auto g = eigenvalues_of(s);
  const double s2 = sigma * sigma;
  return best_rank_risk(g, s2, rank, 1.0, 0.0, 1.0) / double(s.rows());
}

double independent_unrolled_mse(const Matrix& s, double sigma, Index rank, int depth, double omega) {
  const auto g = eigenvalues_of(s);
  const double s2 = sigma * sigma;
  const double b = 1 - std::pow(1 - omega, depth);
  double lo = -INFINITY, hi = b;  // even N: (-inf, b]
  if (depth == 1) lo = hi = omega;
  else if (depth % 2 == 1) {
    const double qs = poly_argmin(depth);
    hi = INFINITY;
    lo = (1 - omega < qs) ? b : omega * poly_sum(qs, depth);
  }
  return best_rank_risk(g, s2, rank, b, lo, hi) / double(s.rows());
}

double independent_learned_mse(const Matrix& s, double sigma, int depth) {
  const auto g = eigenvalues_of(s);
  const double s2 = sigma * sigma, n = double(s.rows());
  if (depth == 1) {  // T = omega I: quadratic in omega
    double tr = 0;
    for (double x : g) tr += x;
    const double w = tr / (tr + n * s2);
    return (tr * (w - 1) * (w - 1) + n * s2 * w * w) / n;
  }
  // k = n, N >= 2: every direction free; even N reaches t = gamma/(gamma+s2) < 1 with
  // omega = 1 (b = 1), odd N approaches it as omega -> 0 (c -> 0): the Wiener risk.
  double acc = 0;
  for (double x : g) acc += s2 * x / (x + s2);
  return acc / n;
}

// ---------------------------------------------------------------------------------------
DenoiseResults run_denoise_study(const DenoiseOptions& options_in, const Progress& progress) {
  const Stopwatch t_start;
  const DenoiseOptions opt = options_in.resolved();
  std::mutex say_mu;
  auto say = [&](const std::string& s) {
    if (!progress) return;
    std::lock_guard<std::mutex> lock(say_mu);
    progress(s);
  };
  DenoiseResults res;
  res.options = opt;
  const Index n = opt.n, k = opt.rank, hop = opt.hop;
  const double sigma = opt.noise_std, s2 = sigma * sigma;

  // 1. Corpus (every input checked before any work).
  audio::CorpusSpec spec;
  const bool default_corpus = opt.train_files.empty();
  if (default_corpus) spec = audio::default_corpus(opt.quick);
  else spec = {opt.train_files, opt.test_files};
  audio::ReadOptions ro;
  ro.rate = opt.rate > 0 ? opt.rate : (default_corpus ? 8000 : 0);
  ro.mixdown = opt.mixdown;
  ro.min_samples = n;
  say("reading " + std::to_string(spec.train.size()) + " training and " + std::to_string(spec.test.size()) +
      " test files");
  const audio::LoadedCorpus corpus = audio::load_corpus(spec, ro);
  res.rate = corpus.rate;
  for (const auto& s : corpus.train) res.train_files.push_back(s.source), res.train_seconds_audio += s.seconds();
  for (const auto& s : corpus.test) res.test_files.push_back(s.source), res.test_seconds_audio += s.seconds();

  // 2. Frames and second moments.
  std::vector<Vector> ytr, yte, xte;
  for (const auto& s : corpus.train) ytr.push_back(s.samples);
  for (const auto& s : corpus.test) yte.push_back(s.samples);
  audio::Rng rng(opt.seed);
  for (const auto& y : yte) xte.push_back(audio::add_gaussian_noise(y, sigma, rng));
  const Matrix Ytr = audio::frame_all(ytr, n, hop);
  const Matrix Yte = audio::frame_all(yte, n, hop);
  const Matrix Xte = audio::frame_all(xte, n, hop);
  res.train_frames = Ytr.cols();
  res.test_frames = Yte.cols();
  const Matrix Str = (Ytr * Ytr.transpose()) / double(Ytr.cols());
  const Matrix Ste = (Yte * Yte.transpose()) / double(Yte.cols());
  say("frames: " + std::to_string(res.train_frames) + " train, " + std::to_string(res.test_frames) +
      " test (n = " + std::to_string(n) + ", hop = " + std::to_string(hop) + ", " + std::to_string(res.rate) + " Hz)");

  // Test metrics of a denoiser T: exact expectation, the seeded draw on frames, and SNR of
  // the overlap-added test signals.
  struct TestMetrics {
    double mse, mse_sampled, snr;
  };
  auto test_metrics = [&](const Matrix& t) {
    TestMetrics m{};
    m.mse = exact_mse(t, Ste, sigma);
    m.mse_sampled = (t * Xte - Yte).squaredNorm() / double(Yte.size());
    audio::SnrAccumulator acc(res.rate);
    for (size_t i = 0; i < yte.size(); ++i) {
      const Matrix f = audio::frame(xte[i], n, hop, audio::Tail::ZeroPad);
      const Vector est = audio::overlap_add(t * f, hop, xte[i].size());
      acc.add(yte[i], est);
    }
    m.snr = acc.snr_db();
    return m;
  };
  const Matrix I = Matrix::Identity(n, n);
  {
    const TestMetrics m = test_metrics(I);
    res.noisy_mse = s2;
    res.noisy_mse_sampled = m.mse_sampled;
    res.noisy_snr_db = m.snr;
  }
  // Wiener filter from the training S: T* = S (S + s2 I)^{-1} (symmetric solve).
  const Matrix Tw = Matrix((Str + s2 * I).ldlt().solve(Str)).transpose();
  res.wiener_train_mse = exact_mse(Tw, Str, sigma);
  {
    const TestMetrics m = test_metrics(Tw);
    res.wiener_mse = m.mse;
    res.wiener_snr_db = m.snr;
  }

  // 3. Theory on the training S.
  const theory::DataModel data = theory::DataModel::dense(Str, "training frames' second moment");
  auto per_sample = [&](double risk) { return 2.0 * risk / double(n); };

  // 4. The configurations.
  const double w0 = opt.fixed_stepsize;
  const Matrix R0 = std::sqrt(std::max(1.0 / w0 - 1.0, 0.0)) * eye_rect(k, n);
  std::vector<Job> jobs;
  std::vector<DenoiseConfig> cfgs;
  auto add_job = [&](learn::Method m, int depth, learn::StepsizeMode mode) {
    Job j;
    j.spec = learn::ModelSpec{n, k, m, depth > 0 ? depth : 1, mode};
    j.r0 = R0;
    j.omega0 = w0;
    j.fixed_stepsize = w0;
    jobs.push_back(j);
    DenoiseConfig c;
    c.method = m == learn::Method::Bilevel ? "bilevel" : "unrolled";
    c.depth = depth;
    c.stepsize_mode = mode == learn::StepsizeMode::Learned ? "learned" : "fixed";
    if (m == learn::Method::Bilevel) {
      const auto th = theory::best_bilevel(data, sigma, k);
      c.theory_mse = per_sample(th.risk);
      c.theory_attained = th.attained;
    } else if (mode == learn::StepsizeMode::Learned) {
      const auto th = theory::best_unrolled_learned(data, sigma, k, depth);
      c.theory_mse = per_sample(th.risk);
      c.theory_attained = th.attained;
    } else {
      const auto th = theory::best_unrolled(data, sigma, k, depth, w0);
      c.theory_mse = per_sample(th.risk);
      c.theory_attained = th.attained;
    }
    cfgs.push_back(c);
  };
  add_job(learn::Method::Bilevel, 0, learn::StepsizeMode::Fixed);
  for (int d : opt.depths) add_job(learn::Method::Unrolled, d, learn::StepsizeMode::Learned);
  for (int d : opt.depths) add_job(learn::Method::Unrolled, d, learn::StepsizeMode::Fixed);

  // Independent check of theory_mse (own eigenvalues and scalar minimizations).
  {
    double worst = 0;
    for (const auto& c : cfgs) {
      double ind;
      if (c.method == "bilevel") ind = independent_bilevel_mse(Str, sigma, k);
      else if (c.stepsize_mode == "fixed") ind = independent_unrolled_mse(Str, sigma, k, c.depth, w0);
      else if (k == n) ind = independent_learned_mse(Str, sigma, c.depth);
      else continue;
      worst = std::max(worst, std::abs(c.theory_mse - ind) / std::max(std::abs(ind), 1e-300));
    }
    res.theory_check_rel = worst;
    say("theory check: theory_mse vs independent computation, max relative gap " + format_general(worst, 3));
  }

  // 5. Training.
  learn::TrainOptions topt;
  if (opt.objective == DenoiseOptions::Objective::Exact) {
    topt.optimizer = learn::OptimizerKind::Lbfgs;
    topt.lbfgs.max_iterations = opt.iterations;
    topt.lbfgs.record_history = false;
  } else {
    topt.optimizer = learn::OptimizerKind::Adam;
    topt.adam.max_iterations = opt.iterations;
    topt.adam.learning_rate = 1e-3;
    topt.adam.record_history = false;
    topt.batch_size = 256;
  }
  topt.seed = opt.seed;

  auto train = [&](Job& j, int iterations) {
    const FlushDenormals ftz;  // float32 unrolled passes: no denormals (restored on return)
    const Stopwatch t0;
    std::vector<double> om;
    if (j.spec.method == learn::Method::Unrolled) om = {j.omega0};
    const learn::QuadraticModel init = learn::QuadraticModel::from_regularizer(j.spec, j.r0, om);
    learn::TrainOptions to = topt;
    to.lbfgs.max_iterations = iterations;
    to.adam.max_iterations = iterations;
    learn::TrainResult tr = opt.objective == DenoiseOptions::Objective::Exact
                                ? learn::train_expected(init, Str, sigma, to)
                                : learn::train_sampled_noise(init, Ytr, sigma, to);
    j.model = tr.model;
    j.optim = tr.optim;
    j.seconds = t0.seconds();
  };
  auto finish = [&](const Job& j, DenoiseConfig& c) {
    const Matrix t = j.model.denoiser();
    c.stepsize = j.spec.method == learn::Method::Bilevel ? 0.0 : j.model.stepsize();
    c.train_mse = exact_mse(t, Str, sigma);
    const TestMetrics m = test_metrics(t);
    c.test_mse = m.mse;
    c.test_mse_sampled = m.mse_sampled;
    c.test_snr_db = m.snr;
    c.shortfall = c.train_mse / c.theory_mse - 1.0;
    c.regularizer_norm = spectral_norm(j.model.regularizer());
    c.iterations = j.optim.iterations;
    c.seconds = j.seconds;
    c.status = optim::to_string(j.optim.status);
    c.init = j.init;
  };
  auto label = [](const DenoiseConfig& c) {
    return c.method == "bilevel" ? std::string("bilevel")
                                 : "unrolled N=" + std::to_string(c.depth) + " " + c.stepsize_mode;
  };

  const int total = int(jobs.size());
  std::atomic<int> done{0};
  std::vector<std::exception_ptr> errors(jobs.size());
  // Configurations in parallel (one per thread; Eigen inside stays single-threaded).
  // Longest first: deep unrolled models cost the most.
  std::vector<size_t> order(jobs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    auto cost = [&](size_t i) { return jobs[i].spec.method == learn::Method::Bilevel ? 3 : jobs[i].spec.depth; };
    return cost(a) > cost(b);
  });
  say("training " + std::to_string(total) + " configurations (" +
      (opt.objective == DenoiseOptions::Objective::Exact ? "exact noise expectation, L-BFGS"
                                                          : "sampled noise, Adam") +
      ", " + std::to_string(opt.iterations) + " iterations max, " + std::to_string(omp_get_max_threads()) +
      " threads)");
#pragma omp parallel for schedule(dynamic, 1)
  for (int oi = 0; oi < total; ++oi) {
    const size_t i = order[size_t(oi)];
    try {
      train(jobs[i], opt.iterations);
      finish(jobs[i], cfgs[i]);
      const auto& c = cfgs[i];
      const std::string count = std::to_string(++done);
      say("[" + count + "/" + std::to_string(total) + "] " + label(c) + ": train " +
          format_general(c.train_mse, 4) + " (theory " + format_general(c.theory_mse, 4) + ", " + format_percent(c.shortfall, 2, true) + "), test " +
          format_general(c.test_mse, 4) + ", " + std::to_string(c.iterations) + " its, " + format_general(c.seconds, 3) + " s, " + c.status);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  res.configs = cfgs;

  // 6. Odd depths with a learned stepsize: (a) start from the theory engine's realizing R at
  // a small omega, (b) continuation in omega (fixed-omega training down a schedule, then
  // release omega). Both then train with a learned stepsize like the default runs.
  std::vector<int> odd;
  for (int d : opt.depths)
    if (d >= 3 && d % 2 == 1) odd.push_back(d);
  std::vector<Job> sjobs;
  std::vector<DenoiseConfig> scfgs;
  if (opt.odd_strategy && opt.objective == DenoiseOptions::Objective::Exact && !odd.empty()) {
    for (int d : odd) {
      const auto inf = theory::best_unrolled_learned(data, sigma, k, d);
      // The largest omega from the list whose fixed-omega optimum is within 0.1 % of the
      // infimum (smaller omega: larger ||R||, sharper minimum).
      double ws = 0;
      for (double w : {0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001}) {
        ws = w;
        if (theory::best_unrolled(data, sigma, k, d, w).risk <= inf.risk * (1 + 1e-3)) break;
      }
      theory::OptimalOptions oo;
      oo.with_regularizer = true;
      const auto th = theory::best_unrolled(data, sigma, k, d, ws, oo);
      for (const char* how : {"theory", "continuation"}) {
        Job j;
        j.spec = learn::ModelSpec{n, k, learn::Method::Unrolled, d, learn::StepsizeMode::Learned};
        j.init = how;
        j.omega0 = ws;
        j.r0 = th.regularizer;
        j.fixed_stepsize = ws;
        sjobs.push_back(j);
        DenoiseConfig c;
        c.method = "unrolled";
        c.depth = d;
        c.stepsize_mode = "learned";
        c.theory_mse = per_sample(inf.risk);
        c.theory_attained = inf.attained;
        scfgs.push_back(c);
      }
    }
    say("odd-depth strategy: " + std::to_string(sjobs.size()) + " runs (theory init / continuation in omega)");
    std::vector<std::exception_ptr> serr(sjobs.size());
    std::atomic<int> sdone{0};
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < int(sjobs.size()); ++i) {
      try {
        Job& j = sjobs[size_t(i)];
        const Stopwatch t0;
        auto d_of = [](const Job& jj) { return jj.spec.depth; };
        if (j.init == "continuation") {
          // omega: w0 -> ws geometrically in 6 stages at a fixed stepsize, warm-starting R.
          const FlushDenormals ftz;  // float32 unrolled passes: no denormals (restored on return)
          const double ws = j.omega0;
          Matrix r = R0;
          int its = 0;
          double w_prev = w0;
          const int stages = 6;
          for (int st = 1; st <= stages; ++st) {
            const double w = w0 * std::pow(ws / w0, double(st) / stages);
            learn::ModelSpec fs = j.spec;
            fs.stepsize_mode = learn::StepsizeMode::Fixed;
            r = remap_regularizer(r, d_of(j), w_prev, w);
            w_prev = w;
            const auto init = learn::QuadraticModel::from_regularizer(fs, r, {w});
            learn::TrainOptions to = topt;
            to.lbfgs.max_iterations = std::max(20, opt.iterations / 4);
            const auto tr = learn::train_expected(init, Str, sigma, to);
            r = tr.model.regularizer();
            its += tr.optim.iterations;
            say("  continuation N=" + std::to_string(d_of(j)) + " stage " + std::to_string(st) + " omega " +
                format_general(w, 3) + ": train " + format_general(exact_mse(tr.model.denoiser(), Str, sigma), 4) + " (fixed-omega theory " +
                format_general(per_sample(theory::best_unrolled(data, sigma, k, d_of(j), w).risk), 4) + ", " + tr.optim.message + ")");
          }
          j.r0 = r;
          train(j, opt.iterations);
          j.optim.iterations += its;
        } else {
          train(j, opt.iterations);
        }
        j.seconds = t0.seconds();
        finish(j, scfgs[size_t(i)]);
        const auto& c = scfgs[size_t(i)];
        say("[strategy " + std::to_string(++sdone) + "/" + std::to_string(sjobs.size()) + "] N=" +
            std::to_string(c.depth) + " from " + c.init + " (omega0 " + format_general(j.omega0, 3) + "): train " +
            format_general(c.train_mse, 4) + " (theory " + format_general(c.theory_mse, 4) + ", " + format_percent(c.shortfall, 2, true) + "), omega " +
            format_general(c.stepsize, 3) + ", ||R|| " + format_general(c.regularizer_norm, 3));
      } catch (...) {
        serr[size_t(i)] = std::current_exception();
      }
    }
    for (auto& e : serr)
      if (e) std::rethrow_exception(e);
    res.strategy = scfgs;

    // 7. Sharpness: curvature (largest Hessian eigenvalue, power iteration on finite-
    // difference Hessian-vector products) and basin width (radius along random directions
    // at which the MSE rises by 1 %), in the per-sample MSE, at: the default even-depth
    // minimum next to each odd depth, the default odd-depth point, the strategy's point.
    const auto moments = learn::Moments<double>::expected(Str, sigma);
    auto measure = [&](const learn::QuadraticModel& m, const std::string& init) {
      const FlushDenormals ftz;  // float32 unrolled passes: no denormals (restored on return)
      Sharpness sh;
      sh.depth = m.spec().depth;
      sh.init = init;
      sh.stepsize = m.stepsize();
      sh.regularizer_norm = spectral_norm(m.regularizer());
      const Vector th = m.parameters();
      const double scale = 2.0 / double(n);
      auto lossg = [&](const Vector& x, Vector* g) {
        return scale * learn::loss_structured<double>(m.spec(), x, {}, moments, g);
      };
      Vector g0(th.size());
      const double l0 = lossg(th, &g0);
      g0 *= scale;
      sh.mse = l0;
      const double h = 1e-5 * std::max(1.0, th.norm() / std::sqrt(double(th.size())));
      auto hvp = [&](const Vector& v) {
        Vector gp(th.size()), gm(th.size());
        lossg(th + h * v, &gp);
        lossg(th - h * v, &gm);
        return Vector(scale * (gp - gm) / (2 * h));
      };
      audio::Rng r(7);
      std::normal_distribution<double> nd;
      Vector v(th.size());
      for (Index i = 0; i < v.size(); ++i) v[i] = nd(r);
      v.normalize();
      double lam = 0;
      for (int it = 0; it < 20; ++it) {
        const Vector hv = hvp(v);
        lam = v.dot(hv);
        if (hv.norm() == 0) break;
        v = hv.normalized();
      }
      sh.hessian_max = lam;
      {
        Vector e = Vector::Zero(th.size());
        e[th.size() - 1] = 1;
        sh.hessian_max_alpha = e.dot(hvp(e));
      }
      // Basin width: bisection on the radius for 5 random unit directions.
      std::vector<double> radii;
      const double tn = std::max(th.norm(), 1e-12);
      for (int dir = 0; dir < 3; ++dir) {
        Vector u(th.size());
        for (Index i = 0; i < u.size(); ++i) u[i] = nd(r);
        u.normalize();
        double lo = 0, hi = tn;
        auto over = [&](double rad) {
          const double l = lossg(th + rad * u, nullptr);
          return !std::isfinite(l) || l > 1.01 * l0;
        };
        while (!over(hi) && hi < 1e6 * tn) hi *= 2;
        for (int it = 0; it < 25; ++it) {
          const double mid = 0.5 * (lo + hi);
          (over(mid) ? hi : lo) = mid;
        }
        radii.push_back(hi / tn);
      }
      std::sort(radii.begin(), radii.end());
      sh.basin_width = radii[radii.size() / 2];
      return sh;
    };
    // The smallest and largest odd depth (default and theory-init minima) and the even depth
    // below each (default minimum), to keep the cost bounded.
    std::vector<std::pair<const learn::QuadraticModel*, std::string>> todo;
    std::vector<int> sd{odd.front()};
    if (odd.back() != odd.front()) sd.push_back(odd.back());
    for (int d : sd) {
      for (size_t i = 0; i < cfgs.size(); ++i)
        if (cfgs[i].stepsize_mode == "learned" && (cfgs[i].depth == d || cfgs[i].depth == d - 1))
          todo.push_back({&jobs[i].model, "shrink"});
      for (size_t i = 0; i < scfgs.size(); ++i)
        if (scfgs[i].depth == d && scfgs[i].init == "theory") todo.push_back({&sjobs[i].model, "theory"});
    }
    std::vector<Sharpness> sh(todo.size());
    say("sharpness: " + std::to_string(todo.size()) + " minima (Hessian power iteration, basin width)");
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < int(todo.size()); ++i) sh[size_t(i)] = measure(*todo[size_t(i)].first, todo[size_t(i)].second);
    res.sharpness = sh;
  }

  // 8. Demo WAVs: the first test file, clean / noisy / bilevel / learned N=1 / learned N=max.
  if (opt.write_audio) {
    res.demo_file = corpus.test.front().source;
    res.demo_clean = yte.front();
    res.demo_noisy = xte.front();
    auto denoise = [&](const Matrix& t) {
      const Matrix f = audio::frame(xte.front(), n, hop, audio::Tail::ZeroPad);
      return audio::overlap_add(t * f, hop, xte.front().size());
    };
    const int nmax = opt.depths.back();
    for (size_t i = 0; i < cfgs.size(); ++i) {
      const auto& c = cfgs[i];
      if (c.method == "bilevel") res.demo_denoised.push_back({"bilevel.wav", denoise(jobs[i].model.denoiser())});
      else if (c.stepsize_mode == "learned" && (c.depth == 1 || c.depth == nmax))
        res.demo_denoised.push_back({"unrolled_learned_N" + std::to_string(c.depth) + ".wav",
                                     denoise(jobs[i].model.denoiser())});
    }
    res.demo_denoised.push_back({"wiener.wav", denoise(Tw)});
  }
  res.seconds = t_start.seconds();
  return res;
}

}  // namespace varlearn::study
