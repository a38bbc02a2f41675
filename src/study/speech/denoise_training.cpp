// Speech denoising study, training stages: the optimizer settings, one run, evaluation, all
// runs in parallel, and the odd-depth strategy (theory init, continuation in omega).
#include <omp.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <numeric>

#include "varlearn/core/spectral.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/study/denoise_pipeline.hpp"
#include "varlearn/theory/family.hpp"
#include "varlearn/theory/optimal.hpp"

namespace varlearn::study::denoise {

namespace {

/// Scheduling weight of a bilevel job against unrolled depth N (deepest first).
constexpr int kBilevelCost = 3;
/// Strategy: candidate omegas, tried from the largest down.
constexpr double kStrategyOmegaLadder[] = {0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001};
/// Strategy: a fixed-omega optimum within this relative gap of the infimum is close enough.
constexpr double kStrategyRiskSlack = 1e-3;
/// Continuation: fixed-omega stages from the fixed stepsize down to the strategy's omega.
constexpr int kContinuationStages = 6;
/// Continuation: L-BFGS iterations per stage, max(kMin, iterations / kDivisor).
constexpr int kContinuationMinIterations = 20;
constexpr int kContinuationIterationDivisor = 4;

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

std::string label(const DenoiseConfig& c) {
  return c.method == learn::Method::Bilevel
             ? std::string("bilevel")
             : "unrolled N=" + std::to_string(c.depth) + " " + learn::to_string(c.stepsize_mode);
}

// Runs body(i) for every index in `order` in parallel (one job per thread; Eigen inside stays
// single-threaded); the error of the first failing job in `order` is rethrown after the loop.
template <class Body>
void parallel_jobs(const std::vector<size_t>& order, Body body) {
  parallel_for(Index(order.size()), [&](Index oi) { body(order[size_t(oi)]); }, Schedule::Dynamic, 1);
}

}  // namespace

learn::TrainOptions train_options(const DenoiseOptions& opt) {
  learn::TrainOptions topt;
  if (opt.objective == DenoiseOptions::Objective::Exact) {
    topt.optimizer = learn::OptimizerKind::Lbfgs;
    topt.lbfgs.max_iterations = opt.iterations;
    topt.lbfgs.record_history = false;
  } else {
    topt.optimizer = learn::OptimizerKind::Adam;
    topt.adam.max_iterations = opt.iterations;
    topt.adam.learning_rate = DenoiseOptions::kSampledLearningRate;
    topt.adam.record_history = false;
    topt.batch_size = DenoiseOptions::kSampledBatchSize;
  }
  topt.seed = opt.seed;
  return topt;
}

void train(Job& j, const Frames& frames, const DenoiseOptions& opt, int iterations) {
  const FlushDenormals ftz;  // float32 unrolled passes: no denormals (restored on return)
  const Stopwatch clock;
  std::vector<double> om;
  if (j.spec.method == learn::Method::Unrolled) om = {j.omega0};
  const learn::QuadraticModel init = learn::QuadraticModel::from_regularizer(j.spec, j.r0, om);
  learn::TrainOptions to = train_options(opt);
  to.lbfgs.max_iterations = iterations;
  to.adam.max_iterations = iterations;
  const learn::TrainResult tr = opt.objective == DenoiseOptions::Objective::Exact
                                    ? learn::train_expected(init, frames.train_moment, opt.noise_std, to)
                                    : learn::train_sampled_noise(init, frames.train_clean, opt.noise_std, to);
  j.model = tr.model;
  j.optim = tr.optim;
  j.seconds = clock.seconds();
}

void evaluate(Job& j, const Frames& frames) {
  DenoiseConfig& c = j.config;
  const Matrix t = j.model.denoiser();
  c.stepsize = j.spec.method == learn::Method::Bilevel ? 0.0 : j.model.stepsize();
  c.train_mse = exact_mse(t, frames.train_moment, frames.noise_std);
  const TestMetrics m = test_metrics(frames, t);
  c.test_mse = m.mse;
  c.test_mse_sampled = m.mse_sampled;
  c.test_snr_db = m.snr_db;
  c.shortfall = c.train_mse / c.theory_mse - 1.0;
  c.regularizer_norm = spectral_norm(j.model.regularizer());
  c.iterations = j.optim.iterations;
  c.seconds = j.seconds;
  c.status = optim::to_string(j.optim.status);
}

std::string job_key(const Job& j, const std::string& prefix) {
  const DenoiseConfig& c = j.config;
  if (c.method == learn::Method::Bilevel) return prefix + "-bilevel";
  return prefix + "-N" + std::to_string(c.depth) + "-" + learn::to_string(c.stepsize_mode) + "-" + to_string(c.init);
}

namespace {

/// A finished job's numbers (the journal entry's fields; R and the stepsizes apart).
nlohmann::json job_values(const Job& j) {
  const DenoiseConfig& c = j.config;
  const Matrix& r = j.model.regularizer();
  return {{"stepsize", c.stepsize}, {"train_mse", c.train_mse}, {"test_mse", c.test_mse},
          {"test_mse_sampled", c.test_mse_sampled}, {"test_snr_db", c.test_snr_db},
          {"theory_mse", c.theory_mse}, {"theory_attained", c.theory_attained},
          {"shortfall", c.shortfall}, {"regularizer_norm", c.regularizer_norm},
          {"iterations", c.iterations}, {"seconds", c.seconds}, {"status", c.status},
          {"rows", r.rows()}, {"cols", r.cols()}, {"stepsizes", j.model.stepsizes()},
          {"omega0", j.omega0}};
}

/// The job as recorded by job_values and its R; false when R does not fit the job's spec.
bool set_job(Job& j, const nlohmann::json& v, const Vector& r) {
  const Index rows = v.at("rows").get<Index>(), cols = v.at("cols").get<Index>();
  if (r.size() != rows * cols || rows != j.spec.rank || cols != j.spec.n) return false;
  DenoiseConfig& c = j.config;
  c.stepsize = v.at("stepsize").get<double>(), c.train_mse = v.at("train_mse").get<double>();
  c.test_mse = v.at("test_mse").get<double>(), c.test_mse_sampled = v.at("test_mse_sampled").get<double>();
  c.test_snr_db = v.at("test_snr_db").get<double>(), c.theory_mse = v.at("theory_mse").get<double>();
  c.theory_attained = v.at("theory_attained").get<bool>(), c.shortfall = v.at("shortfall").get<double>();
  c.regularizer_norm = v.at("regularizer_norm").get<double>(), c.iterations = v.at("iterations").get<int>();
  c.seconds = v.at("seconds").get<double>(), c.status = v.at("status").get<std::string>();
  j.omega0 = v.at("omega0").get<double>();
  j.seconds = c.seconds;
  j.model = learn::QuadraticModel::from_regularizer(j.spec, Eigen::Map<const Matrix>(r.data(), rows, cols),
                                                    v.at("stepsizes").get<std::vector<double>>());
  return true;
}

/// Under mpirun (docs/scale-out.md): every rank sends the jobs it trained (numbers and R, exact
/// doubles through JSON) and takes the others' jobs, so that every rank holds all of them.
void exchange_jobs(std::vector<Job>& jobs, const std::vector<size_t>& mine) {
  nlohmann::json sent = nlohmann::json::array();
  for (size_t i : mine) {
    nlohmann::json v = job_values(jobs[i]);
    const Matrix& r = jobs[i].model.regularizer();
    v["index"] = i;
    v["R"] = std::vector<double>(r.data(), r.data() + r.size());
    sent.push_back(std::move(v));
  }
  const std::vector<std::string> all = dist::all_gather(sent.dump());
  for (int q = 0; q < dist::size(); ++q) {
    if (q == dist::rank()) continue;
    for (const nlohmann::json& v : nlohmann::json::parse(all[size_t(q)])) {
      const std::vector<double> r = v.at("R").get<std::vector<double>>();
      if (!set_job(jobs.at(v.at("index").get<size_t>()), v, Eigen::Map<const Vector>(r.data(), Index(r.size()))))
        throw Error("study: a trained configuration from rank " + std::to_string(q) + " does not fit", Error::Kind::Internal);
    }
  }
}

}  // namespace

void record_job(const Journal& journal, const std::string& key, const Job& j) {
  if (!journal.enabled()) return;
  const Matrix& r = j.model.regularizer();
  journal.record_signal(key, "R", Eigen::Map<const Vector>(r.data(), r.size()));
  journal.record(key, job_values(j));
}

bool load_job(const Journal& journal, const std::string& key, Job& j) {
  const auto found = journal.find(key);
  if (!found) return false;
  const auto r = journal.find_signal(key, "R");
  if (!r) return false;
  return set_job(j, *found, *r);
}

namespace {

/// The jobs an interrupted run journaled (keys `prefix`-...), reloaded into `jobs`; true where
/// reloaded. Under mpirun rank 0 alone reads the journal and sends the jobs it found (numbers
/// and R, exact doubles through JSON): a rank reading it itself could see an entry rank 0
/// journaled meanwhile, and the ranks would then split different work.
std::vector<bool> load_jobs(std::vector<Job>& jobs, const Journal& journal, const std::string& prefix) {
  std::vector<bool> loaded(jobs.size(), false);
  if (dist::size() == 1) {
    for (size_t i = 0; i < jobs.size(); ++i) loaded[i] = load_job(journal, job_key(jobs[i], prefix), jobs[i]);
    return loaded;
  }
  std::string text;
  if (dist::rank() == 0) {
    nlohmann::json found = nlohmann::json::array();
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (!load_job(journal, job_key(jobs[i], prefix), jobs[i])) continue;
      nlohmann::json v = job_values(jobs[i]);
      const Matrix& r = jobs[i].model.regularizer();
      v["index"] = i;
      v["R"] = std::vector<double>(r.data(), r.data() + r.size());
      found.push_back(std::move(v));
    }
    text = found.dump();
  }
  dist::broadcast(text);
  for (const nlohmann::json& v : nlohmann::json::parse(text)) {
    const size_t i = v.at("index").get<size_t>();
    if (dist::rank() != 0) {
      const std::vector<double> r = v.at("R").get<std::vector<double>>();
      if (!set_job(jobs.at(i), v, Eigen::Map<const Vector>(r.data(), Index(r.size()))))
        throw Error("study: a journaled configuration from rank 0 does not fit", Error::Kind::Internal);
    }
    loaded.at(i) = true;
  }
  return loaded;
}

}  // namespace

void train_all(std::vector<Job>& jobs, const Frames& frames, const DenoiseOptions& opt, const Log& log,
               const Journal& journal, const std::string& prefix) {
  // Longest first: deep unrolled models cost the most. Jobs finished by an interrupted run
  // (journal) are reloaded, not trained.
  std::vector<size_t> order;
  const std::vector<bool> loaded = load_jobs(jobs, journal, prefix);
  for (size_t i = 0; i < jobs.size(); ++i)
    if (!loaded[i]) order.push_back(i);
  if (log && order.size() < jobs.size())
    log(std::string("resumed: ").append(std::to_string(jobs.size() - order.size())) + " configurations reloaded from " +
        journal.dir().string());
  auto cost = [&](size_t i) { return jobs[i].spec.method == learn::Method::Bilevel ? kBilevelCost : jobs[i].spec.depth; };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost(a) > cost(b); });
  const std::string total = std::to_string(jobs.size());
  if (log)
    log("training " + total + " configurations (" +
        (opt.objective == DenoiseOptions::Objective::Exact ? "exact noise expectation, L-BFGS" : "sampled noise, Adam") +
        ", " + std::to_string(opt.iterations) + " iterations max, " + std::to_string(omp_get_max_threads()) + " threads)");
  // Under mpirun the configurations go to the ranks, largest first onto the least loaded (each is
  // seeded by itself, never by its rank); then every rank takes the others' trained jobs.
  std::vector<double> costs;
  for (size_t i : order) costs.push_back(double(cost(i)));
  const std::vector<size_t> mine = dist::my_share(order, costs);
  std::atomic<int> done{int(jobs.size() - order.size())};
  parallel_jobs(mine, [&](size_t i) {
    train(jobs[i], frames, opt, opt.iterations);
    evaluate(jobs[i], frames);
    record_job(journal, job_key(jobs[i], prefix), jobs[i]);
    const auto& c = jobs[i].config;
    const std::string count = std::to_string(++done);  // (named: GCC 12 -Wrestrict on "lit" + string&&)
    if (log)
      log(std::string("[") + count + "/" + total + "] " + label(c) + ": train " + format_general(c.train_mse, 4) +
          " (theory " + format_general(c.theory_mse, 4) + ", " + format_percent(c.shortfall, 2, true) + "), test " +
          format_general(c.test_mse, 4) + ", " + std::to_string(c.iterations) + " its, " +
          format_general(c.seconds, 3) + " s, " + c.status);
  });
  if (dist::size() > 1) {
    exchange_jobs(jobs, mine);
    for (size_t i : order) record_job(journal, job_key(jobs[i], prefix), jobs[i]);  // rank 0 writes
  }
}

std::vector<DenoiseRankConfig> run_ranks(const DenoiseOptions& opt, const theory::DataModel& data,
                                         const Frames& frames, const std::vector<DenoiseConfig>& main, const Log& log,
                                         const Journal& journal) {
  std::vector<DenoiseRankConfig> out;
  for (Index k : opt.ranks) {
    std::vector<Job> jobs = make_rank_jobs(opt, data, k, opt.rank_depths);
    // Odd N >= 3: the learned-stepsize optimum is sharp (see the odd-depth strategy); also
    // trained from the theory engine's realizing R at a small omega, as the strategy does.
    const std::vector<int> odd = odd_depths(opt.rank_depths);
    if (opt.odd_strategy && opt.objective == DenoiseOptions::Objective::Exact && !odd.empty()) {
      DenoiseOptions at = opt;
      at.rank = k;
      for (Job& j : make_strategy_jobs(at, data, odd))
        if (j.config.init == DenoiseInit::Theory) jobs.push_back(std::move(j));
    }
    std::vector<Job> todo;
    std::vector<DenoiseRankConfig> rows;
    for (Job& j : jobs) {
      const DenoiseConfig* same = nullptr;  // the main study's run of this configuration (at k = rank)
      if (k == opt.rank)
        for (const DenoiseConfig& c : main)
          if (c.method == j.config.method && c.stepsize_mode == j.config.stepsize_mode && c.depth == j.config.depth &&
              c.init == j.config.init)
            same = &c;
      if (same) rows.push_back({k, *same});
      else todo.push_back(std::move(j));
    }
    if (log)
      log(std::string("rank k = ") + std::to_string(k) + ": " + std::to_string(todo.size()) + " configurations to train, " +
          std::to_string(rows.size()) + " from the main study");
    if (!todo.empty()) train_all(todo, frames, opt, log, journal, std::string("rank-k") + std::to_string(k));
    for (const Job& j : todo) rows.push_back({k, j.config});
    // bilevel first, then by depth
    std::stable_sort(rows.begin(), rows.end(), [](const DenoiseRankConfig& a, const DenoiseRankConfig& b) {
      const int da = a.config.method == learn::Method::Bilevel ? 0 : a.config.depth;
      const int db = b.config.method == learn::Method::Bilevel ? 0 : b.config.depth;
      return da != db ? da < db : int(a.config.init) < int(b.config.init);
    });
    out.insert(out.end(), rows.begin(), rows.end());
  }
  return out;
}

std::vector<int> odd_depths(const std::vector<int>& depths) {
  std::vector<int> odd;
  for (int d : depths)
    if (d >= 3 && d % 2 == 1) odd.push_back(d);
  return odd;
}

double strategy_stepsize(const theory::DataModel& data, double sigma, Index k, int depth) {
  const double inf = theory::best_unrolled_learned(data, sigma, k, depth).risk;
  double ws = 0;
  for (double w : kStrategyOmegaLadder) {
    ws = w;
    if (theory::best_unrolled(data, sigma, k, depth, w).risk <= inf * (1 + kStrategyRiskSlack)) break;
  }
  return ws;
}

std::vector<Job> make_strategy_jobs(const DenoiseOptions& opt, const theory::DataModel& data,
                                    const std::vector<int>& odd) {
  std::vector<Job> jobs;
  for (int d : odd) {
    const auto inf = theory::best_unrolled_learned(data, opt.noise_std, opt.rank, d);
    const double ws = strategy_stepsize(data, opt.noise_std, opt.rank, d);
    theory::OptimalOptions oo;
    oo.with_regularizer = true;
    const auto th = theory::best_unrolled(data, opt.noise_std, opt.rank, d, ws, oo);
    for (DenoiseInit how : {DenoiseInit::Theory, DenoiseInit::Continuation}) {
      Job j;
      j.spec = learn::ModelSpec{opt.n, opt.rank, learn::Method::Unrolled, d, learn::StepsizeMode::Learned};
      j.omega0 = ws;
      j.r0 = th.regularizer;
      j.config.method = learn::Method::Unrolled;
      j.config.depth = d;
      j.config.stepsize_mode = learn::StepsizeMode::Learned;
      j.config.init = how;
      j.config.theory_mse = 2.0 * inf.risk / double(opt.n);
      j.config.theory_attained = inf.attained;
      jobs.push_back(std::move(j));
    }
  }
  return jobs;
}

int continuation(Job& j, const Frames& frames, const DenoiseOptions& opt, const theory::DataModel& data,
                 const Log& log) {
  const FlushDenormals ftz;  // float32 unrolled passes: no denormals (restored on return)
  const double w0 = opt.fixed_stepsize, ws = j.omega0;
  const int depth = j.spec.depth;
  Matrix r = std::sqrt(std::max(1.0 / w0 - 1.0, 0.0)) * Matrix::Identity(opt.rank, opt.n);  // Shrink start
  learn::ModelSpec fixed = j.spec;
  fixed.stepsize_mode = learn::StepsizeMode::Fixed;
  learn::TrainOptions to = train_options(opt);
  to.lbfgs.max_iterations = std::max(kContinuationMinIterations, opt.iterations / kContinuationIterationDivisor);
  int its = 0;
  double w_prev = w0;
  for (int st = 1; st <= kContinuationStages; ++st) {
    const double w = w0 * std::pow(ws / w0, double(st) / kContinuationStages);  // geometric
    r = remap_regularizer(r, depth, w_prev, w);
    w_prev = w;
    const auto tr = learn::train_expected(learn::QuadraticModel::from_regularizer(fixed, r, {w}),
                                          frames.train_moment, opt.noise_std, to);
    r = tr.model.regularizer();
    its += tr.optim.iterations;
    if (log)
      log("  continuation N=" + std::to_string(depth) + " stage " + std::to_string(st) + " omega " +
          format_general(w, 3) + ": train " +
          format_general(exact_mse(tr.model.denoiser(), frames.train_moment, opt.noise_std), 4) +
          " (fixed-omega theory " +
          format_general(2.0 * theory::best_unrolled(data, opt.noise_std, opt.rank, depth, w).risk / double(opt.n), 4) +
          ", " + tr.optim.message + ")");
  }
  j.r0 = r;
  return its;
}

void run_strategy(std::vector<Job>& jobs, const Frames& frames, const DenoiseOptions& opt,
                  const theory::DataModel& data, const Log& log, const Journal& journal) {
  if (log)
    log("odd-depth strategy: " + std::to_string(jobs.size()) + " runs (theory init / continuation in omega)");
  std::vector<size_t> order;
  const std::vector<bool> loaded = load_jobs(jobs, journal, "strategy");
  for (size_t i = 0; i < jobs.size(); ++i)
    if (!loaded[i]) order.push_back(i);
  // Under mpirun the configurations go to the ranks, largest first onto the least loaded (each is
  // seeded by itself, never by its rank); then every rank takes the others' trained jobs.
  std::vector<double> costs;
  for (size_t i : order) costs.push_back(double(jobs[i].spec.depth));  // continuation + training ~ N
  const std::vector<size_t> mine = dist::my_share(order, costs);
  std::atomic<int> done{int(jobs.size() - order.size())};
  parallel_jobs(mine, [&](size_t i) {
    Job& j = jobs[i];
    const Stopwatch clock;
    const int extra = j.config.init == DenoiseInit::Continuation ? continuation(j, frames, opt, data, log) : 0;
    train(j, frames, opt, opt.iterations);
    j.optim.iterations += extra;
    j.seconds = clock.seconds();
    evaluate(j, frames);
    record_job(journal, job_key(j, "strategy"), j);
    const auto& c = j.config;
    if (log)
      log("[strategy " + std::to_string(++done) + "/" + std::to_string(jobs.size()) + "] N=" + std::to_string(c.depth) +
          " from " + to_string(c.init) + " (omega0 " + format_general(j.omega0, 3) + "): train " +
          format_general(c.train_mse, 4) + " (theory " + format_general(c.theory_mse, 4) + ", " +
          format_percent(c.shortfall, 2, true) + "), omega " + format_general(c.stepsize, 3) + ", ||R|| " +
          format_general(c.regularizer_norm, 3));
  });
  if (dist::size() > 1) {
    exchange_jobs(jobs, mine);
    for (size_t i : order) record_job(journal, job_key(jobs[i], "strategy"), jobs[i]);  // rank 0 writes
  }
}

}  // namespace varlearn::study::denoise
