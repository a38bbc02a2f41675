#include "varlearn/learn/experiment.hpp"

#include <cmath>
#include <filesystem>
#include <optional>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/names.hpp"
#include "varlearn/core/parse.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/learn/checkpoint.hpp"
#include "varlearn/learn/evaluate.hpp"
#include "varlearn/learn/objective.hpp"
#include "varlearn/optim/gradient_check.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/ranges.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::learn {

Index resolve_rank(Index k, Index n) {
  const Index r = k == 0 ? n : k;
  if (r < 1 || r > n)
    throw Error("--k must satisfy 1 <= k <= n = " + std::to_string(n) + " (got " + std::to_string(r) + ")");
  return r;
}

namespace {
constexpr NameTable<TrainObjective, 3> kObjectiveNames{{{TrainObjective::Empirical, "empirical"}, {TrainObjective::Expected, "expected"},
                                                        {TrainObjective::Sampled, "sampled"}}};
}  // namespace

TrainObjective parse_train_objective(const std::string& s) { return parse_name(kObjectiveNames, s, "objective"); }
const char* to_string(TrainObjective o) { return name_of(kObjectiveNames, o); }


namespace {

const char* precision_name(Precision p) { return p == Precision::Float32 ? "float32" : "float64"; }

double parse_positive(const std::string& s, const char* flag) {
  std::string t = s;  // the one strict number rule (core/parse.hpp), then > 0
  const bool number = number_problem<double>(t).empty();
  const double w = number ? parse_number<double>(s, flag) : 0.0;
  if (!number || !(w > 0))
    throw Error(std::string(flag) + " must be a number > 0, 'learned' or 'per-iteration' (got " + quote_for_message(s) +
                ")");
  return w;
}

/// Bytes of a file (0 when it cannot be stat'ed: reading it reports that).
double file_bytes(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0.0 : double(size);
}

/// The clean-signal model, the truth for the exact risk, and the frames (when the objective
/// trains on frames). Draws from `rng` in the same order as always: clean frames, then noise.
struct TrainData {
  SampleModel model;
  theory::DataModel truth;
  Matrix clean, noisy;
};

TrainData file_data(const TrainExperiment& e, bool need_frames) {
  TrainData d;
  const DataSource& s = e.data;
  if (!s.clean_file.empty()) {
    d.clean = read_frames(s.clean_file);
    if (s.n > 0 && d.clean.rows() != s.n)
      throw Error("--clean '" + s.clean_file + "' has frames of n = " + std::to_string(d.clean.rows()) + " but --n " +
                  std::to_string(s.n));
    if (!e.noisy_file.empty()) {
      d.noisy = read_frames(e.noisy_file);
      if (d.noisy.rows() != d.clean.rows() || d.noisy.cols() != d.clean.cols())
        throw Error("--noisy '" + e.noisy_file + "' is " + std::to_string(d.noisy.rows()) + "x" +
                    std::to_string(d.noisy.cols()) + " but --clean is " + std::to_string(d.clean.rows()) + "x" +
                    std::to_string(d.clean.cols()));
    }
  } else if (need_frames) {
    throw Error(std::string("--objective ") + to_string(e.objective) +
                " trains on frames: give --clean FRAMES (or use --objective expected with --second-moment)");
  }
  if (!s.second_moment_file.empty()) {
    d.truth = s.theory_model();
    d.model = SampleModel::gaussian(d.truth.second_moment());
    if (d.clean.size() > 0 && d.clean.rows() != d.truth.n())
      throw Error("--clean has frames of n = " + std::to_string(d.clean.rows()) + " but --second-moment is " +
                  std::to_string(d.truth.n()) + " x " + std::to_string(d.truth.n()));
  } else {
    d.model = SampleModel::gaussian(empirical_second_moment(d.clean));
    d.truth = d.model.to_theory();
  }
  return d;
}

TrainData train_data(const TrainExperiment& e, Rng& rng) {
  const bool need_frames = e.objective != TrainObjective::Expected;
  TrainData d;
  if (e.data.kind == theory::DataKind::File) {
    d = file_data(e, need_frames);
  } else {
    if (e.data.n < 1) throw Error("--n must be >= 1 (got " + std::to_string(e.data.n) + ")");
    d.model = SampleModel::make(e.data.kind, e.data.n, e.data.mu, e.data.theta, e.data.rho);
    d.truth = d.model.to_theory();
    if (need_frames) {
      if (e.samples < 1) throw Error("--samples B must be >= 1 (got " + std::to_string(e.samples) + ")");
      d.clean = d.model.sample(e.samples, rng);
    }
  }
  if (need_frames && d.noisy.size() == 0 && e.objective == TrainObjective::Empirical)
    d.noisy = add_noise(d.clean, e.noise_std, rng);
  return d;
}

/// The model's shape and its starting point (random, theory optimum, or a checkpoint).
QuadraticModel initial_model(const TrainExperiment& e, const TrainData& d, ModelSpec& spec) {
  const Index n = d.model.n;
  spec = ModelSpec{n, resolve_rank(e.rank, n), e.method, e.depth, StepsizeMode::Learned};
  double fixed_w = e.init_stepsize;
  if (e.stepsize == "per-iteration") spec.stepsize_mode = StepsizeMode::PerIteration;
  else if (e.stepsize != "learned") {
    spec.stepsize_mode = StepsizeMode::Fixed;
    fixed_w = parse_positive(e.stepsize, "--stepsize");
  }
  if (e.init == "random") {
    InitOptions io;
    io.scale = e.init_scale;
    io.stepsize = fixed_w;
    io.seed = e.seed + 1;
    return QuadraticModel::random(spec, io);
  }
  if (e.init == "theory") return model_at_theory_optimum(spec, d.truth, e.noise_std, fixed_w);
  QuadraticModel init = load_model(e.init, spec).model;
  // A fixed stepsize given with a checkpoint replaces the checkpoint's.
  if (spec.stepsize_mode == StepsizeMode::Fixed)
    init = QuadraticModel::from_regularizer(spec, init.regularizer(), {fixed_w});
  return init;
}

TrainOptions train_options(const TrainExperiment& e) {
  TrainOptions t;
  t.seed = e.seed;
  t.precision = e.precision;
  t.batch_size = e.batch;
  t.validation_fraction = e.validation;
  t.patience = e.patience;
  const bool stochastic = e.objective == TrainObjective::Sampled || e.batch > 0;
  t.optimizer = e.optimizer == "auto" ? (stochastic ? OptimizerKind::Adam : OptimizerKind::Lbfgs)
                                      : parse_optimizer(e.optimizer);
  t.lbfgs.max_iterations = e.iterations > 0 ? e.iterations : 1000;
  t.adam.max_iterations = e.iterations > 0 ? e.iterations : 3000;
  t.adam.learning_rate = e.learning_rate;
  t.adam.decay = 0.5;
  t.adam.decay_every = std::max(1, t.adam.max_iterations / 4);
  return t;
}

void add_hessian(TrainReport& rep, const ModelSpec& spec, const TrainData& d, double noise_std) {
  if (spec.num_parameters() > kMaxDenseDimension)
    throw Error("--hessian: too many parameters (k n > " + std::to_string(kMaxDenseDimension) + ")");
  const auto mo = Moments<double>::expected(d.model.second_moment(), noise_std);
  const auto w = rep.model.stepsizes();
  const auto cv = optim::curvature(StructuredLoss<double>(spec, w, mo), rep.model.parameters());
  rep.hessian_max_eig = cv.max_eigenvalue;
  rep.hessian_min_eig = cv.min_eigenvalue;
  rep.hessian_negative = cv.negative;
}

TrainReport report(const TrainExperiment& e, const ModelSpec& spec, const TrainOptions& t, const TrainData& d,
                   TrainResult&& r) {
  TrainReport rep;
  const bool file = e.data.kind == theory::DataKind::File;
  rep.data = theory::to_string(e.data.kind);
  rep.n = spec.n;
  rep.k = spec.rank;
  if (!file) rep.mu = e.data.mu, rep.theta = e.data.theta;
  if (e.data.kind == theory::DataKind::Ar1) rep.rho = e.data.rho;
  rep.sigma = e.noise_std;
  rep.samples = e.objective != TrainObjective::Expected ? d.clean.cols() : 0;
  rep.method = to_string(e.method);
  const bool unrolled = spec.method == Method::Unrolled;
  if (unrolled) rep.depth = e.depth, rep.stepsize_mode = to_string(spec.stepsize_mode);
  rep.objective = to_string(e.objective);
  rep.optimizer = to_string(t.optimizer);
  rep.precision = precision_name(e.precision);
  rep.seed = e.seed;
  rep.train_loss = r.train_loss;
  if (r.validation_loss >= 0) rep.validation_loss = r.validation_loss;
  const theory::OptimalRisk opt = theory_optimum(r.model, d.truth, e.noise_std);
  rep.population_risk = population_risk(r.model, d.truth, e.noise_std);
  rep.optimal_risk = opt.risk;
  rep.optimal_attained = opt.attained;
  rep.risk_ratio = opt.risk > 0 ? rep.population_risk / opt.risk : 1.0;
  rep.linear_risk = theory::best_linear(d.truth, e.noise_std).risk;
  if (unrolled) {
    rep.stepsize = r.model.stepsize();
    if (spec.stepsize_mode == StepsizeMode::PerIteration) rep.stepsizes = r.model.stepsizes();
    rep.optimal_stepsize = opt.stepsize;
  }
  rep.regularizer_norm = r.model.regularizer().norm();
  rep.status = optim::to_string(r.optim.status);
  rep.iterations = r.optim.iterations;
  rep.seconds = r.optim.seconds;
  rep.message = r.optim.message;
  rep.diverged = r.optim.status == optim::Status::Diverged;
  rep.model = std::move(r.model);
  return rep;
}

}  // namespace

void TrainExperiment::validate() const {
  theory::check_noise_std(noise_std, "--sigma");
  data.validate();
  if (!noisy_file.empty() && data.clean_file.empty()) throw Error("--noisy needs --clean FRAMES");
  if (data.kind != theory::DataKind::File) {
    // train builds dense n x n matrices (the truth's Sigma, T_R, the theory optimum): the
    // library's dense cap, as in theory.
    if (data.n < 1 || data.n > kMaxDenseDimension)
      throw_out_of_range("--n", "signal dimension n", double(data.n),
                         "1 <= n <= " + std::to_string(kMaxDenseDimension) + ": train builds dense n x n matrices");
    if (rank != 0) resolve_rank(rank, data.n);
  } else if (data.n > kMaxDenseDimension) {
    throw_out_of_range("--n", "signal dimension n", double(data.n),
                       "1 <= n <= " + std::to_string(kMaxDenseDimension) + ": train builds dense n x n matrices");
  }
  if (rank < 0) throw Error("--k must satisfy 1 <= k <= n (got " + std::to_string(rank) + ")");
  if (method == Method::Unrolled && (depth < 1 || depth > kMaxDepth))
    throw_out_of_range("--depth", "depth N", depth, "1 <= N <= " + std::to_string(kMaxDepth));
  if (method == Method::Unrolled && stepsize != "learned" && stepsize != "per-iteration") {
    const double w = parse_positive(stepsize, "--stepsize");
    check_range(w, theory::kMinStepsize, 1e6, "--stepsize", "stepsize omega");
  }
  if (objective != TrainObjective::Expected && data.kind != theory::DataKind::File && samples < 1)
    throw_out_of_range("--samples", "samples B", double(samples), "B >= 1");
  if (batch < 0) throw_out_of_range("--batch", "batch", double(batch), "batch >= 0");
  if (iterations < 0) throw_out_of_range("--iterations", "iterations", iterations, "iterations >= 0");
  check_range(learning_rate, std::numeric_limits<double>::min(), 1e6, "--lr", "learning rate eta", "0 < eta <= 1e6");
  check_range(validation, 0, 0.9, "--validation", "held-out fraction");
  if (patience < 0) throw_out_of_range("--patience", "patience", patience, "patience >= 0");
  // A random R = scale G / sqrt(n): R^T R must stay inside the theory's eigenvalue range.
  if (init == "random") {
    check_range(init_scale, 0, 1e100, "--init-scale", "scale of the random R", "0 <= scale <= 1e100");
    if (method == Method::Unrolled)
      check_range(init_stepsize, theory::kMinStepsize, 1e6, "--init-stepsize", "initial stepsize omega",
                  "1e-300 <= omega <= 1e6");
  }
  if (optimizer != "auto") parse_optimizer(optimizer);
  if (checkpoint_every < 0) throw Error("--checkpoint-every must be >= 0 (got " + std::to_string(checkpoint_every) + ")");
  if (checkpoint_every > 0 && save.empty() && resume.empty())
    throw Error("--checkpoint-every needs --save FILE (where the checkpoints go)");
  if (!resume.empty() && init != "random")
    throw Error("--resume continues a saved run; it excludes --init " + init);
  if (!save.empty()) io::check_writable_prefix(save);
}

double estimate_memory(const TrainExperiment& e) {
  // Measured on the engines (RSS of train at n = 10, B = 10^6 and n = 1000, B = 10): about
  // 5 copies of the n x B frames (clean, noisy, residuals and gradients; 9 with fresh noise per
  // step), about 24 dense n x n matrices, plus 30 MB for the program itself.
  constexpr double kBase = 30e6, kDenseCopies = 24, kFrameCopies = 5.5, kSampledFrameCopies = 9.5;
  const bool file = e.data.kind == theory::DataKind::File;
  double n = double(e.data.n), frame_entries = 0, dense_entries = 0;
  const double copies = e.objective == TrainObjective::Sampled ? kSampledFrameCopies : kFrameCopies;
  if (file) {
    // Text files: every number takes at least 2 bytes ("0 "), so a file of S bytes holds at
    // most S/2 entries; Sigma's n^2 entries, frames n B.
    frame_entries = (file_bytes(e.data.clean_file) + file_bytes(e.noisy_file)) / 2;
    const double sigma_entries = file_bytes(e.data.second_moment_file) / 2;
    const double max_dense = double(kMaxDenseDimension) * double(kMaxDenseDimension);
    dense_entries = sigma_entries > 0 ? sigma_entries : std::min(frame_entries, max_dense);
  } else {
    dense_entries = n * n;
    if (e.objective != TrainObjective::Expected) frame_entries = n * double(e.samples);
  }
  if (e.objective == TrainObjective::Expected) frame_entries = 0;
  return kBase + 8.0 * (copies * frame_entries + kDenseCopies * dense_entries);
}

TrainReport run_train_experiment(const TrainExperiment& e, const optim::Observer& observer) {
  e.validate();
  Rng rng(e.seed);
  const TrainData d = train_data(e, rng);
  ModelSpec spec;
  std::optional<TrainingCheckpoint> resumed;
  if (!e.resume.empty()) resumed = load_training_checkpoint(e.resume);
  // With --resume the flags still define the run (shape, fixed stepsizes): the trainer refuses
  // a checkpoint of a different run and takes the parameters from it.
  const QuadraticModel init = initial_model(e, d, spec);
  TrainOptions t = train_options(e);
  t.checkpoint_every = e.checkpoint_every;
  // Checkpoints go to --save (or back into the --resume file); the last one is kept so the
  // final file carries the report too.
  const std::string target = !e.save.empty() ? e.save : e.resume;
  auto last = std::make_shared<std::optional<TrainingCheckpoint>>();
  TrainCheckpointing cp;
  if (resumed) cp.resume = &*resumed;
  if (!target.empty())
    cp.sink = [target, last](const TrainingCheckpoint& c) {
      if (dist::is_root()) save_training_checkpoint(target, c);  // every rank holds the same state
      *last = c;
    };
  TrainResult r;
  if (e.objective == TrainObjective::Expected)
    r = train_expected(init, d.model.second_moment(), e.noise_std, t, observer, cp);
  else if (e.objective == TrainObjective::Sampled)
    r = train_sampled_noise(init, d.clean, e.noise_std, t, observer, cp);
  else
    r = train_frames<double>(init, d.noisy, d.clean, t, observer, cp);
  TrainReport rep = report(e, spec, t, d, std::move(r));
  if (e.hessian) add_hessian(rep, spec, d, e.noise_std);
  if (!target.empty()) {
    // The final file: the training state at the end (if the run reached one) plus the report.
    if (dist::is_root()) {  // only rank 0 writes (docs/scale-out.md)
      if (*last) save_training_checkpoint(target, **last, to_json(rep));
      else save_model(target, rep.model, to_json(rep));
    }
    rep.saved = target;
  }
  return rep;
}

nlohmann::json to_json(const TrainReport& r) {
  nlohmann::json j;
  j["data"] = r.data;
  j["n"] = r.n;
  j["k"] = r.k;
  if (r.mu) j["mu"] = *r.mu;
  if (r.theta) j["theta"] = *r.theta;
  if (r.rho) j["rho"] = *r.rho;
  j["sigma"] = r.sigma;
  j["samples"] = r.samples;
  j["method"] = r.method;
  if (r.depth) j["depth"] = *r.depth;
  if (r.stepsize_mode) j["stepsize_mode"] = *r.stepsize_mode;
  j["objective"] = r.objective;
  j["optimizer"] = r.optimizer;
  j["precision"] = r.precision;
  j["seed"] = r.seed;
  j["train_loss"] = r.train_loss;
  if (r.validation_loss) j["validation_loss"] = *r.validation_loss;
  j["population_risk"] = r.population_risk;
  j["optimal_risk"] = r.optimal_risk;
  j["optimal_attained"] = r.optimal_attained;
  j["risk_ratio"] = r.risk_ratio;
  j["linear_risk"] = r.linear_risk;
  if (r.stepsize) j["stepsize"] = *r.stepsize;
  if (r.stepsizes) j["stepsizes"] = *r.stepsizes;
  if (r.optimal_stepsize) j["optimal_stepsize"] = *r.optimal_stepsize;
  j["regularizer_norm"] = r.regularizer_norm;
  if (r.hessian_max_eig) j["hessian_max_eig"] = *r.hessian_max_eig;
  if (r.hessian_min_eig) j["hessian_min_eig"] = *r.hessian_min_eig;
  if (r.hessian_negative) j["hessian_negative"] = *r.hessian_negative;
  j["status"] = r.status;
  j["iterations"] = r.iterations;
  j["seconds"] = r.seconds;
  j["message"] = r.message;
  if (r.saved) j["saved"] = *r.saved;
  return j;
}

// ---------------------------------------------------------------------------------------
void EvalExperiment::validate() const {
  theory::check_noise_std(noise_std, "--sigma");
  data.validate(/*frames_anywhere=*/true);
  if (!noisy_file.empty() && data.clean_file.empty()) throw Error("--noisy needs --clean FRAMES");
  if (data.n < 0 || data.n > kMaxDenseDimension)
    throw_out_of_range("--n", "signal dimension n", double(data.n),
                       "1 <= n <= " + std::to_string(kMaxDenseDimension) + ": eval builds dense n x n matrices");
}

double estimate_memory(const EvalExperiment& e) {
  // The checkpoint (R, k x n, as text: >= 2 bytes a number) gives n^2 <= entries for k >= n,
  // the dense n x n matrices (about 24 of them, as train); the frames 3 copies (clean, noisy,
  // denoised); a second-moment file its own entries.
  constexpr double kBase = 30e6, kDenseCopies = 24, kFrameCopies = 3;
  const double max_dense = double(kMaxDenseDimension) * double(kMaxDenseDimension);
  const double model_entries = file_bytes(e.model_file) / 2;
  double dense = e.data.n > 0 ? double(e.data.n) * double(e.data.n) : std::min(model_entries, max_dense);
  dense = std::max(dense, file_bytes(e.data.second_moment_file) / 2);
  const double frames = (file_bytes(e.data.clean_file) + file_bytes(e.noisy_file)) / 2;
  return kBase + 8.0 * (kDenseCopies * dense + kFrameCopies * frames + model_entries);
}

namespace {

/// Loss and MSE of the model on the clean frames and their noisy versions (file or drawn).
void add_frames_loss(EvalReport& rep, const EvalExperiment& e, const QuadraticModel& m, const Matrix& clean) {
  const Index n = m.spec().n;
  Matrix noisy;
  if (!e.noisy_file.empty()) {
    noisy = read_frames(e.noisy_file, n);
    if (noisy.cols() != clean.cols())
      throw Error("--noisy has " + std::to_string(noisy.cols()) + " frames, --clean " + std::to_string(clean.cols()));
  } else {
    Rng rng(e.seed);
    noisy = add_noise(clean, e.noise_std, rng);
  }
  rep.frames = clean.cols();
  rep.frames_loss = loss(m, noisy, clean);  // 1/(2B) ||T X - Y||_F^2
  rep.frames_mse = 2.0 * *rep.frames_loss / static_cast<double>(n);
}

}  // namespace

EvalReport run_eval_experiment(const EvalExperiment& e) {
  e.validate();
  const LoadedModel lm = load_model(e.model_file);
  const QuadraticModel& m = lm.model;
  const Index n = m.spec().n;
  if (e.data.n != 0 && e.data.n != n)
    throw Error("--n " + std::to_string(e.data.n) + " does not match the checkpoint's n = " + std::to_string(n));
  EvalReport rep;
  rep.model = e.model_file;
  rep.spec = m.spec().describe();
  rep.n = n;
  rep.k = m.spec().rank;
  if (m.spec().method == Method::Unrolled) rep.stepsize = m.stepsize();
  DataSource src = e.data;
  src.n = n;
  const Matrix clean = src.clean_frames();
  const theory::DataModel truth = src.kind == theory::DataKind::File && src.second_moment_file.empty()
                                      ? SampleModel::gaussian(empirical_second_moment(clean)).to_theory()
                                      : src.theory_model();
  rep.data = theory::to_string(src.kind);
  rep.sigma = e.noise_std;
  rep.population_risk = population_risk(m, truth, e.noise_std);
  if (m.spec().rank <= n) {
    const auto opt = theory_optimum(m, truth, e.noise_std);
    rep.optimal_risk = opt.risk;
    rep.risk_ratio = opt.risk > 0 ? rep.population_risk / opt.risk : 1.0;
  }
  rep.linear_risk = theory::best_linear(truth, e.noise_std).risk;
  if (clean.size() > 0) add_frames_loss(rep, e, m, clean);
  if (!e.denoiser_out.empty()) {
    if (dist::is_root()) io::write_atomic(e.denoiser_out, io::format_matrix(m.denoiser()));
    rep.denoiser = e.denoiser_out;
  }
  return rep;
}

nlohmann::json to_json(const EvalReport& r) {
  nlohmann::json j;
  j["model"] = r.model;
  j["spec"] = r.spec;
  j["n"] = r.n;
  j["k"] = r.k;
  if (r.stepsize) j["stepsize"] = *r.stepsize;
  j["data"] = r.data;
  j["sigma"] = r.sigma;
  j["population_risk"] = r.population_risk;
  if (r.optimal_risk) j["optimal_risk"] = *r.optimal_risk;
  if (r.risk_ratio) j["risk_ratio"] = *r.risk_ratio;
  j["linear_risk"] = r.linear_risk;
  if (r.frames) j["frames"] = *r.frames;
  if (r.frames_loss) j["frames_loss"] = *r.frames_loss;
  if (r.frames_mse) j["frames_mse"] = *r.frames_mse;
  if (r.denoiser) j["denoiser"] = *r.denoiser;
  return j;
}

}  // namespace varlearn::learn
