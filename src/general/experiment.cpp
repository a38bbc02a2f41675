#include "varlearn/general/experiment.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/audio/framing.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/core/parse.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/ops/model.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::general {
using nlohmann::json;

namespace {

constexpr std::uint64_t kTestDrawSalt = 0x7e57d4a3ULL, kTestFramesSalt = 0x7e57f4a3ULL;

bool is_audio(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".wav" || ext == ".flac" || ext == ".ogg" || ext == ".mp3" || ext == ".aiff" || ext == ".aif";
}

double file_bytes(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0.0 : double(size);
}

/// Frames from a text matrix (n x B) or an audio file (mono, cut into frames of n samples, hop n).
Matrix read_clean(const std::string& path, Index n, const std::string& flag) {
  if (is_audio(path)) {
    const audio::Signal s = audio::read_audio(path);
    const Index nn = n > 0 ? n : 50;
    require(s.samples.size() >= nn, flag, quote_for_message(path) + " holds " + std::to_string(s.samples.size()) +
                                               " samples, fewer than one frame of n = " + std::to_string(nn));
    return audio::frame(s.samples, nn, nn, audio::Tail::Drop);
  }
  return learn::read_frames(path, n);
}

/// Frame counts (n, training+validation B, test) of the data the experiment will use.
Index resolved_n(const GeneralTrainExperiment& e) { return e.data.n > 0 ? e.data.n : 50; }

std::optional<std::string> stepsize_kind_name(const GeneralTrainExperiment& e) {
  if (e.method != LearningMethod::Unrolled) return std::nullopt;
  if (e.stepsize == "learned" || e.stepsize == "per-iteration") return e.stepsize;
  return "fixed";
}

double fixed_stepsize(const std::string& s) {
  std::string t = s;
  if (!number_problem<double>(t).empty())
    throw Error("--stepsize must be a number > 0, 'learned' or 'per-iteration' (got " + quote_for_message(s) + ")");
  const double w = parse_number<double>(s, "--stepsize");
  check_range(w, 1e-300, 1e6, "--stepsize", "stepsize omega", "0 < omega <= 1e6");
  return w;
}

/// Rows of the filter responses U = K f per frame (what the unrolled engine keeps per step).
double response_rows(const RegularizerSpec& r, Index n) {
  const double m = double(r.resolved_filters(n));
  if (r.kind == "foe") return m * double(n);
  if (r.kind == "tv") return double(n);
  return std::max(m, 1.0);
}

/// Above this many bytes of stored unrolled iterates (per solve) the run keeps only every
/// ceil(sqrt N)-th iterate and recomputes the rest backwards: O(sqrt N) batches of memory for
/// one more forward pass.
constexpr double kStoreAllLimitBytes = 1e9;

/// Bytes of the unrolled forward pass a reverse pass keeps for B frames with every iterate stored:
/// per step the iterate, A f - g (about n rows) and the responses.
double stored_iterates_bytes(const GeneralTrainExperiment& e, Index n, double frames) {
  const double per_step = 2.0 * double(n) + response_rows(e.regularizer, n);
  return (e.float32 ? 4.0 : 8.0) * double(e.depth + 1) * per_step * frames;
}

struct Split {
  Matrix train, val;
};
Split split(const Matrix& frames, double fraction, std::uint64_t seed) {
  const Index b = frames.cols();
  std::vector<Index> idx(static_cast<size_t>(b));
  std::iota(idx.begin(), idx.end(), Index{0});
  const Index nval = fraction > 0 ? std::max<Index>(1, static_cast<Index>(std::floor(fraction * double(b)))) : 0;
  require(b - nval >= 1, "--validation", "the split leaves no training frames (B = " + std::to_string(b) + ")");
  if (nval > 0) {
    Rng rng(derive_seed(seed, SeedStream::ValidationSplit));
    std::shuffle(idx.begin(), idx.end(), rng);
  }
  std::vector<Index> tr(idx.begin() + nval, idx.end()), va(idx.begin(), idx.begin() + nval);
  std::sort(tr.begin(), tr.end());
  std::sort(va.begin(), va.end());
  Split s;
  s.train.resize(frames.rows(), static_cast<Index>(tr.size()));
  s.val.resize(frames.rows(), static_cast<Index>(va.size()));
  for (size_t j = 0; j < tr.size(); ++j) s.train.col(static_cast<Index>(j)) = frames.col(tr[j]);
  for (size_t j = 0; j < va.size(); ++j) s.val.col(static_cast<Index>(j)) = frames.col(va[j]);
  return s;
}

}  // namespace

void GeneralTrainExperiment::validate() const {
  theory::check_noise_std(noise_std, "--sigma");
  if (data.kind == theory::DataKind::File) {
    require(!data.clean_file.empty(), "--data file", "the general model trains on frames: give --clean FRAMES");
    require(data.second_moment_file.empty(), "--second-moment",
            "the general model trains on frames (--clean), not on a second moment");
  } else {
    data.validate();
    if (data.n < 1 || data.n > kMaxDenseDimension)
      throw_out_of_range("--n", "signal dimension n", double(data.n), "1 <= n <= " + std::to_string(kMaxDenseDimension));
    if (samples < 1) throw_out_of_range("--samples", "samples B", double(samples), "B >= 1");
  }
  regularizer.validate(data.n > 0 ? data.n : 0);
  if (method == LearningMethod::Unrolled) {
    if (depth < 1 || depth > 100000) throw_out_of_range("--depth", "depth N", depth, "1 <= N <= 100000");
    if (stepsize != "learned" && stepsize != "per-iteration") fixed_stepsize(stepsize);
  }
  require(start == "zero" || start == "adjoint", "--start",
          "unknown start " + quote_for_message(start) + " (expected zero or adjoint)");
  if (!(lower_tolerance > 0) || !std::isfinite(lower_tolerance))
    throw_out_of_range("--lower-tolerance", "lower-level tolerance", lower_tolerance, "tol > 0");
  require(optimizer == "auto" || optimizer == "lbfgs" || optimizer == "adam", "--optimizer",
          "unknown optimizer " + quote_for_message(optimizer) + " (expected auto, lbfgs or adam)");
  if (iterations < 0) throw_out_of_range("--iterations", "iterations", iterations, "iterations >= 0");
  check_range(learning_rate, std::numeric_limits<double>::min(), 1e6, "--lr", "learning rate eta", "0 < eta <= 1e6");
  if (batch < 0) throw_out_of_range("--batch", "batch", double(batch), "batch >= 0");
  check_range(validation, 0, 0.9, "--validation", "held-out fraction");
  if (patience < 0) throw_out_of_range("--patience", "patience", patience, "patience >= 0");
  require(patience == 0 || validation > 0, "--patience", "early stopping watches the validation loss (--validation > 0)");
  if (!(init_stepsize >= 0) || !std::isfinite(init_stepsize) || init_stepsize > 1e6)
    throw_out_of_range("--init-stepsize", "initial stepsize omega", init_stepsize, "0 < omega <= 1e6");
  if (checkpoint_every < 0) throw_out_of_range("--checkpoint-every", "K", checkpoint_every, "K >= 0");
  if (checkpoint_every > 0 && save.empty() && resume.empty())
    throw Error("--checkpoint-every needs --save FILE (where the checkpoints go)");
  if (!save.empty()) io::check_writable_prefix(save);
  train_options().validate();  // momentum, optimizer options
}

GeneralTrainOptions GeneralTrainExperiment::train_options() const {
  GeneralTrainOptions o;
  o.method = method;
  o.depth = depth;
  o.start = start == "adjoint" ? UnrolledInit::Adjoint : UnrolledInit::Zero;
  const auto kind = stepsize_kind_name(*this);
  if (kind == "learned") o.stepsize_kind = StepsizeKind::Learned;
  else if (kind == "per-iteration") o.stepsize_kind = StepsizeKind::PerIteration;
  else if (kind) o.stepsize_kind = StepsizeKind::Fixed;
  o.stepsize = o.stepsize_kind == StepsizeKind::Fixed && method == LearningMethod::Unrolled ? fixed_stepsize(stepsize)
                                                                                            : init_stepsize;
  o.momentum = momentum;
  o.bilevel.tolerance = lower_tolerance;
  o.bilevel.lower_solver = lower_solver;
  o.noise_std = noise_std;
  const bool adam = optimizer == "adam" || (optimizer == "auto" && (batch > 0 || sampled));
  o.optimizer = adam ? Optimizer::Adam : Optimizer::Lbfgs;
  o.adam.learning_rate = learning_rate;
  o.adam.max_iterations = iterations > 0 ? iterations : 500;
  o.lbfgs.max_iterations = iterations > 0 ? iterations : 100;
  o.batch_size = adam ? batch : 0;
  o.patience = patience;
  o.seed = seed;
  o.checkpoint_every = checkpoint_every;
  o.shards = shards;
  return o;
}

double estimate_memory(const GeneralTrainExperiment& e) {
  // Frames: clean, observations and outputs of the training, validation and test sets
  // (about 4 copies); per step the batch's iterates (unrolled: N + 1, plus adjoints and
  // gradients; bilevel: the Newton-CG and CG vectors), the filter responses (J M per frame for
  // analysis and foe, a few copies), and the parameters with the optimizer's memory.
  constexpr double kBase = 30e6, kFrameCopies = 4;
  const Index n = resolved_n(e);
  double frames = 0, test_entries = 0;
  if (e.data.kind == theory::DataKind::File) {
    // Text: at least 2 bytes a number; 16-bit WAV/AIFF: 2 bytes a sample; FLAC/Ogg/MP3: up to
    // 4:1 compressed (as the speech studies count them).
    const auto entries = [](const std::string& f) {
      if (f.empty()) return 0.0;
      const std::string ext = std::filesystem::path(f).extension().string();
      const bool compressed = is_audio(f) && ext != ".wav" && ext != ".WAV" && ext != ".aiff" && ext != ".aif";
      return compressed ? 2.0 * file_bytes(f) : file_bytes(f) / 2;
    };
    test_entries = entries(e.test_file);
    frames = entries(e.data.clean_file) + test_entries;
  } else {
    frames = 2.0 * double(n) * double(e.samples);  // training + test draws
  }
  // Frames of one solve: the training part of the frames (test frames aside).
  const double train_frames = (e.data.kind == theory::DataKind::File ? (frames - test_entries) / double(n)
                                                                      : double(e.samples)) *
                              (1.0 - e.validation);
  const GeneralTrainOptions o = e.train_options();
  // The final losses run the whole training set and the test set through the solver, so a
  // minibatch does not bound the peak.
  const double test_frames = e.data.kind == theory::DataKind::File ? test_entries / double(n) : double(e.samples);
  const double batch = std::max(train_frames, test_frames);
  // Unrolled: what the reverse pass keeps (all iterates, or O(sqrt N) of them above the limit,
  // as run_general_train chooses) plus a few working copies; bilevel: the Newton-CG / CG vectors.
  const double grad_frames = o.batch_size > 0 ? std::min(double(o.batch_size), train_frames) : train_frames;
  const double store_all = stored_iterates_bytes(e, n, grad_frames);
  const double unrolled_store = store_all <= kStoreAllLimitBytes
                                    ? store_all
                                    : store_all * double(2 * sqrt_checkpointing(e.depth) + 1) / double(e.depth + 1);
  const Index m = e.regularizer.resolved_filters(n);
  const double per_batch_copies = e.method == LearningMethod::Unrolled ? 8 : 14;
  const double responses = response_rows(e.regularizer, n);
  const double response_copies = 4 * (e.method == LearningMethod::Unrolled ? 1 : 2);
  double p = 0;
  if (e.regularizer.kind == "quadratic" || e.regularizer.kind == "analysis") p = double(m) * double(n) + double(m);
  else if (e.regularizer.kind == "foe") p = double(m) * double(e.regularizer.resolved_filter_length()) + double(m);
  p += 2 + double(e.depth);
  const double param_copies = 2.0 * o.lbfgs.memory + 10;
  return kBase + (e.method == LearningMethod::Unrolled ? unrolled_store : 0.0) +
         8.0 * (kFrameCopies * frames + per_batch_copies * double(n) * batch + response_copies * responses * batch +
                param_copies * p);
}

namespace {

/// What a run of e trains and tests on: the frames (training / validation split, test), the
/// operator and the initial regularizer.
struct Prepared {
  Index n = 0;
  Split sp;
  Matrix test;
  double scale = 1;  ///< RMS of the clean training frames (the default epsilon's unit)
  ops::OperatorModel op;
  std::unique_ptr<reg::Regularizer<double>> init;
};

Prepared prepare(const GeneralTrainExperiment& e) {
  // Frames: generated (clean training frames first, then the test frames from their own seed)
  // or read.
  Matrix frames, test;
  const bool file = e.data.kind == theory::DataKind::File;
  if (file) {
    frames = read_clean(e.data.clean_file, e.data.n, "--clean");
  } else {
    const learn::SampleModel model = learn::SampleModel::make(e.data.kind, e.data.n, e.data.mu, e.data.theta, e.data.rho);
    Rng rng(e.seed);
    frames = model.sample(e.samples, rng);
    if (e.test_file.empty()) {
      Rng test_rng(e.seed ^ kTestFramesSalt);
      test = model.sample(e.samples, test_rng);
    }
  }
  const Index n = frames.rows();
  if (!e.test_file.empty()) {
    test = read_clean(e.test_file, n, "--test");
    require(test.rows() == n, "--test", "test frames have n = " + std::to_string(test.rows()) + ", training n = " +
                                            std::to_string(n));
  }
  e.regularizer.validate(n);
  Split sp = split(frames, e.validation, e.seed);
  const double scale = std::sqrt(sp.train.squaredNorm() / double(sp.train.size()));
  return {n, std::move(sp), std::move(test), scale, ops::parse_operator(e.operator_spec, n),
          make_regularizer(e.regularizer, n, e.seed + 1, scale)};
}

}  // namespace

GeneralTrainReport run_general_train(const GeneralTrainExperiment& e, const optim::Observer& observer) {
  e.validate();
  const Stopwatch clock;
  Prepared prep = prepare(e);
  const Index n = prep.n;
  const Split& sp = prep.sp;
  const Matrix& test = prep.test;
  const double scale = prep.scale;
  const ops::OperatorModel& op = prep.op;
  const auto& init = prep.init;
  GeneralTrainOptions o = e.train_options();
  const double solve_frames = o.batch_size > 0 ? double(std::min(o.batch_size, sp.train.cols())) : double(sp.train.cols());
  if (stored_iterates_bytes(e, n, solve_frames) > kStoreAllLimitBytes) o.unrolled_checkpoint_every = 0;
  if (e.float32) o.single_precision = make_regularizer_as<float>(e.regularizer, n, e.seed + 1, scale);

  std::optional<GeneralCheckpoint> resumed;
  if (!e.resume.empty()) resumed = load_general_checkpoint(e.resume);
  const std::string target = !e.save.empty() ? e.save : e.resume;
  auto last = std::make_shared<std::optional<GeneralCheckpoint>>();
  GeneralCheckpointing cp;
  if (resumed) cp.resume = &*resumed;
  if (!target.empty())
    cp.sink = [target, last](const GeneralCheckpoint& c) {
      if (dist::is_root()) save_general_checkpoint(target, c);  // every rank holds the same state
      *last = c;
    };
  GeneralTrainResult r = train_general(op, *init, sp.train, sp.val, o, observer, cp);

  GeneralTrainReport rep;
  rep.data = theory::to_string(e.data.kind);
  rep.n = n;
  rep.samples = sp.train.cols();
  rep.validation_frames = sp.val.cols();
  rep.sigma = e.noise_std;
  rep.op = op.describe();
  rep.regularizer = e.regularizer.describe(n, scale);
  rep.method = to_string(e.method);
  rep.parameters = r.parameters.size();
  if (e.method == LearningMethod::Unrolled) {
    rep.depth = e.depth;
    rep.stepsize_mode = stepsize_kind_name(e);
    rep.start = e.start;
    rep.momentum = e.momentum;
    const std::vector<double> w = r.model.stepsizes();
    if (o.stepsize_kind == StepsizeKind::PerIteration) rep.stepsizes = w;
    else rep.stepsize = w.front();
  } else {
    rep.lower_tolerance = e.lower_tolerance;
    rep.lower_solver = to_string(e.lower_solver);
    rep.lower_gradient_norm = r.lower_gradient_norm;
    rep.cg_residual = r.cg_residual;
    rep.lower_iterations = r.lower_iterations;
    rep.cg_iterations = r.cg_iterations;
  }
  rep.optimizer = to_string(o.optimizer);
  rep.precision = e.float32 ? "float32" : "float64";
  rep.seed = e.seed;
  rep.train_loss = r.train_loss;
  if (r.validation_loss >= 0) rep.validation_loss = r.validation_loss;
  if (test.cols() > 0 && dist::is_root()) {  // under mpirun rank 0 alone reports (and so tests)
    const Observation t = observe_fixed(op, test, e.noise_std, e.seed ^ kTestDrawSalt);
    rep.test_frames = test.cols();
    try {
      rep.test_mse = mse(r.model.output(t.a, t.g), test);
    } catch (const Error& err) {
      rep.test_mse = std::numeric_limits<double>::quiet_NaN();
      if (r.message.find("test") == std::string::npos) r.message += std::string("; test set: ") + err.what();
    }
    rep.test_mse_observed = mse(t.a.adjoint(t.g), test);
  }
  rep.status = optim::to_string(r.optim.status);
  rep.iterations = r.optim.iterations;
  rep.seconds = clock.seconds();
  rep.message = r.message;
  rep.diverged = r.optim.status == optim::Status::Diverged;
  rep.model = r.model;
  rep.final_parameters = r.parameters;
  if (!target.empty() && dist::is_root()) {
    json report = to_json(rep);
    report["saved"] = target;
    report["final_parameters"] = std::vector<double>(r.parameters.data(), r.parameters.data() + r.parameters.size());
    if (*last) {
      save_general_checkpoint(target, **last, report);
    } else {
      json j{{"format", "varlearn-general-checkpoint"}, {"version", 1}, {"report", report}};
      io::write_atomic(target, j.dump(1) + "\n");
    }
  }
  if (!target.empty()) rep.saved = target;
  return rep;
}

json to_json(const GeneralTrainReport& r) {
  auto num = [](double v) -> json { return std::isfinite(v) ? json(v) : json(nullptr); };
  json j;
  j["model"] = "general";
  j["data"] = r.data;
  j["n"] = r.n;
  j["samples"] = r.samples;
  j["validation_frames"] = r.validation_frames;
  if (r.test_frames) j["test_frames"] = *r.test_frames;
  j["sigma"] = r.sigma;
  j["operator"] = r.op;
  j["regularizer"] = r.regularizer;
  j["method"] = r.method;
  j["parameters"] = r.parameters;
  if (r.depth) j["depth"] = *r.depth;
  if (r.stepsize_mode) j["stepsize_mode"] = *r.stepsize_mode;
  if (r.start) j["start"] = *r.start;
  if (r.momentum) j["momentum"] = *r.momentum;
  if (r.stepsizes) j["stepsize"] = *r.stepsizes;
  else if (r.stepsize) j["stepsize"] = num(*r.stepsize);
  else j["stepsize"] = nullptr;  // bilevel: no stepsize
  if (r.lower_tolerance) j["lower_tolerance"] = *r.lower_tolerance;
  if (r.lower_solver) j["lower_solver"] = *r.lower_solver;
  j["optimizer"] = r.optimizer;
  j["precision"] = r.precision;
  j["seed"] = r.seed;
  j["train_loss"] = num(r.train_loss);
  j["validation_loss"] = r.validation_loss ? num(*r.validation_loss) : json(nullptr);
  if (r.test_mse) j["test_mse"] = num(*r.test_mse);
  if (r.test_mse_observed) j["test_mse_observed"] = num(*r.test_mse_observed);
  if (r.lower_gradient_norm) j["lower_gradient_norm"] = num(*r.lower_gradient_norm);
  if (r.cg_residual) j["cg_residual"] = num(*r.cg_residual);
  if (r.lower_iterations) j["lower_iterations"] = *r.lower_iterations;
  if (r.cg_iterations) j["cg_iterations"] = *r.cg_iterations;
  j["status"] = r.status;
  j["iterations"] = r.iterations;
  j["seconds"] = r.seconds;
  j["message"] = r.message;
  if (r.saved) j["saved"] = *r.saved;
  return j;
}

ToleranceReport run_tolerance_table(const GeneralTrainExperiment& e, const std::vector<double>& tolerances) {
  e.validate();
  require(e.method == LearningMethod::Bilevel, "--tolerance-table", "needs --method bilevel");
  require(!tolerances.empty(), "--tolerance-table", "give at least one tolerance");
  for (const double t : tolerances)
    require(std::isfinite(t) && t > 0, "--tolerance-table", "every tolerance must be > 0 (got " + format_general(t, 3) + ")");
  const Stopwatch clock;
  const Prepared prep = prepare(e);
  const GeneralTrainOptions o = e.train_options();
  // The training set's fixed draw (the one L-BFGS trains on) at the initial theta.
  const Observation obs = observe_fixed(prep.op, prep.sp.train, e.noise_std, draw_seed(e.seed, DrawSet::Training));
  const Energy energy(obs.a, *prep.init, obs.g);
  ToleranceReport r;
  r.n = prep.n;
  r.frames = prep.sp.train.cols();
  r.op = prep.op.describe();
  r.regularizer = e.regularizer.describe(prep.n, prep.scale);
  r.lower_solver = to_string(e.lower_solver);
  r.parameters = energy.num_parameters();
  r.rows = tolerance_table(energy, prep.sp.train, tolerances, o.bilevel);
  BilevelOptions tightest = o.bilevel;
  tightest.tolerance = *std::min_element(tolerances.begin(), tolerances.end());
  // Central differences on at most 20 coordinates of theta (two lower-level solves each).
  r.reference_fd_error = reference_fd_error(energy, prep.sp.train, tightest, 1e-4, 20);
  r.seconds = clock.seconds();
  return r;
}

json to_json(const ToleranceReport& r) {
  json rows = json::array();
  for (const ToleranceRow& t : r.rows)
    rows.push_back({{"tolerance", t.tolerance},
                    {"lower_iterations", t.lower_iterations},
                    {"gradient_evaluations", t.gradient_evaluations},
                    {"hessian_products", t.hessian_products},
                    {"lower_gradient_norm", t.lower_gradient_norm},
                    {"cg_iterations", t.cg_iterations},
                    {"cg_residual", t.cg_residual},
                    {"relative_error", t.relative_error}});
  return {{"n", r.n},
          {"frames", r.frames},
          {"operator", r.op},
          {"regularizer", r.regularizer},
          {"lower_solver", r.lower_solver},
          {"parameters", r.parameters},
          {"reference_fd_error", r.reference_fd_error},
          {"seconds", r.seconds},
          {"table", rows}};
}

}  // namespace varlearn::general
