#include "options.hpp"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <type_traits>

#include "varlearn/audio/audio_file.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/core/parse.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::cli {

// ---------------------------------------------------------------------------------------
// Numbers

namespace {

template <class T>
struct element {
  using type = T;
};
template <class T>
struct element<std::vector<T>> {
  using type = T;
};

constexpr const char* kNumberValidator = "STRICT_NUMBER";

}  // namespace

template <class T>
CLI::Option* add_number(CLI::App* app, const std::string& flag, T& value, const std::string& help) {
  using E = typename element<T>::type;
  CLI::Validator v([](std::string& text) { return number_problem<E>(text); }, "", kNumberValidator);
  return app->add_option(flag, value, help)->check(v);
}

#define VARLEARN_NUMBER(T)                                                    \
  template CLI::Option* add_number<T>(CLI::App*, const std::string&, T&, const std::string&); \
  template CLI::Option* add_number<std::vector<T>>(CLI::App*, const std::string&, std::vector<T>&, const std::string&);
VARLEARN_NUMBER(int)
VARLEARN_NUMBER(long)
VARLEARN_NUMBER(long long)
VARLEARN_NUMBER(unsigned long)
VARLEARN_NUMBER(unsigned long long)
VARLEARN_NUMBER(double)
#undef VARLEARN_NUMBER

CLI::Validator number_range(double lo, double hi, const std::string& accepted) {
  return CLI::Validator(
      [lo, hi, accepted](std::string& text) -> std::string {
        double v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::general);
        if (ec != std::errc{} || end != text.data() + text.size()) return "";  // the strict parse reports it
        if (v >= lo && v <= hi) return "";
        return text + " out of range (" +
               (accepted.empty() ? format_general(lo, 10) + " <= value <= " + format_general(hi, 10) : accepted) + ")";
      },
      "");
}

void enforce_strict_numbers(CLI::App& app) {
  for (CLI::Option* o : app.get_options()) {
    bool has = true;
    try {
      o->get_validator(kNumberValidator);
    } catch (const CLI::OptionNotFound&) {
      has = false;
    }
    if (has) continue;
    const std::string type = o->get_type_name();
    if (type.rfind("TEXT", 0) == 0) {  // no text flag means anything when given as ""
      o->check(CLI::Validator(
          [](std::string& t) { return t.empty() ? std::string("empty value (omit the flag for its default)") : std::string(); },
          "", kNumberValidator));
      continue;
    }
    if (type == "INT")
      o->check(CLI::Validator([](std::string& t) { return number_problem<long long>(t); }, "", kNumberValidator));
    else if (type == "UINT")
      o->check(CLI::Validator([](std::string& t) { return number_problem<unsigned long long>(t); }, "", kNumberValidator));
    else if (type == "FLOAT")
      o->check(CLI::Validator([](std::string& t) { return number_problem<double>(t); }, "", kNumberValidator));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) enforce_strict_numbers(*sub);
}

void refuse_if_given(const CLI::Option* option, bool does_not_apply, const std::string& mode, const std::string& why) {
  if (option == nullptr || option->count() == 0 || !does_not_apply) return;
  throw Error(option->get_name() + " does not apply with " + mode + (why.empty() ? "" : " (" + why + ")"));
}

// ---------------------------------------------------------------------------------------
// Budget

double default_memory_limit() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 8e9;  // unknown: 8 GB
  return 0.75 * double(pages) * double(page);
}

double parse_memory_size(const std::string& text) {
  std::string t = text;
  double unit = 1;
  if (!t.empty()) {
    const char c = char(std::toupper(static_cast<unsigned char>(t.back())));
    const std::string units = "KMGT";
    if (const auto at = units.find(c); at != std::string::npos) {
      unit = std::pow(1000.0, double(at + 1));
      t.pop_back();
      if (!t.empty() && (t.back() == 'i' || t.back() == 'I')) {  // KiB-style: 1024^k
        unit = std::pow(1024.0, double(at + 1));
        t.pop_back();
      }
    }
  }
  const double v = parse_number<double>(t, "--max-memory");
  if (!(v > 0) || v * unit > 1e18)
    throw Error("--max-memory: " + quote_for_message(text) + " out of range (a size > 0, e.g. 512M, 8G)");
  return v * unit;
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e12) return format_general(bytes / 1e12, 3) + " TB";
  if (bytes >= 1e9) return format_general(bytes / 1e9, 3) + " GB";
  if (bytes >= 1e6) return format_general(bytes / 1e6, 3) + " MB";
  return format_general(bytes / 1e3, 3) + " kB";
}

void BudgetOptions::add(CLI::App* app) {
  app->add_option("--max-memory", max_memory,
                  "Refuse to start when the estimated memory of the run exceeds SIZE (e.g. 512M, 8G; "
                  "default: 75 % of physical memory, here " + format_bytes(default_memory_limit()) + ")")
      ->check(CLI::Validator(
          [](std::string& t) {
            try {
              parse_memory_size(t);
            } catch (const Error& e) {
              return std::string(e.what()).substr(std::string("--max-memory: ").size());
            }
            return std::string();
          },
          "SIZE"));
}

double BudgetOptions::limit_bytes() const {
  return max_memory.empty() ? default_memory_limit() : parse_memory_size(max_memory);
}

void BudgetOptions::check(double estimate_bytes, const std::string& what) const {
  const double limit = limit_bytes();
  if (!(estimate_bytes <= limit))
    throw Error(what + " needs about " + format_bytes(estimate_bytes) + " of memory, over the limit of " +
                format_bytes(limit) + " (--max-memory" + (max_memory.empty() ? ", default 75 % of physical memory" : "") +
                ")");
}

// ---------------------------------------------------------------------------------------
// DataOptions

DataOptions::DataOptions(Index default_n) : default_n_(default_n) { source.n = default_n; }

void DataOptions::add(CLI::App* app, bool frames) {
  app->add_option("--data", name,
                  "Data model of the clean signal y: constant (y = lambda 1, E lambda = mu, Var lambda = theta^2), "
                  "iid (y_j i.i.d., mean mu, variance theta^2), ar1 (Sigma = mu^2 11^T + theta^2 rho^|i-j|), "
                  "file (the clean signal comes from files: --second-moment SIGMA (n x n) and/or --clean FRAMES "
                  "(n x B; their second moment Y Y^T / B is Sigma unless --second-moment is given))")
      ->check(CLI::IsMember({"constant", "iid", "ar1", "file"}))
      ->capture_default_str();
  n_ = add_number(app, "--n", source.n,
                       default_n_ > 0 ? "Signal dimension n (--data file: taken from the files; if given, it must agree)"
                                      : "Signal dimension n (default: from the checkpoint or matrix; if given, it must "
                                        "agree)");
  n_->check(number_range(1, 1e18, "n >= 1"));
  if (default_n_ > 0) n_->capture_default_str();
  mu_ = add_number(app, "--mu", source.mu, "Mean mu of the signal (constant: of lambda; iid/ar1: of each entry)")
            ->capture_default_str();
  theta_ = add_number(app, "--theta", source.theta, "Standard deviation theta of the signal (theta >= 0)")
               ->capture_default_str();
  rho_ = add_number(app, "--rho", source.rho, "AR(1) correlation rho, |rho| < 1 (--data ar1 only)")->capture_default_str();
  app->add_option("--second-moment", source.second_moment_file,
                  "--data file: text file with Sigma = E[y y^T], a symmetric PSD n x n matrix (rows per line, "
                  "space/comma separated)");
  app->add_option("--clean", source.clean_file,
                  frames ? "Clean frames file (n x B, one frame per column): the frames of this command; with "
                           "--data file also Sigma = Y Y^T / B (unless --second-moment)"
                         : "--data file: clean frames file (n x B, one frame per column); Sigma = Y Y^T / B "
                           "(unless --second-moment)");
  if (frames)
    noisy_ = app->add_option("--noisy", noisy, "Noisy frames file matching --clean (default: clean + N(0, sigma^2), --seed)");
}

learn::DataSource DataOptions::resolved(Index n_elsewhere, bool frames_anywhere) const {
  learn::DataSource s = source;
  s.kind = theory::parse_data_kind(name);
  const bool file = s.kind == theory::DataKind::File;
  if (file) {
    for (const CLI::Option* o : {mu_, theta_, rho_})
      if (o->count()) throw Error(o->get_name() + " is not used with --data file (Sigma comes from the files)");
  } else if (s.kind != theory::DataKind::Ar1 && rho_->count()) {
    throw Error("--rho is only read with --data ar1");
  }
  if (!n_->count()) s.n = file ? 0 : (default_n_ > 0 ? default_n_ : n_elsewhere);
  if (n_elsewhere > 0) {
    if (n_->count() && s.n != n_elsewhere)
      throw Error("--n " + std::to_string(s.n) + " does not match n = " + std::to_string(n_elsewhere) +
                  " of the matrix");
    if (!file) s.n = n_elsewhere;
  }
  s.validate(frames_anywhere);
  return s;
}

theory::DataModel DataOptions::build(Index n_elsewhere) const { return resolved(n_elsewhere).theory_model(); }

nlohmann::json DataOptions::describe(const learn::DataSource& s) {
  nlohmann::json j{{"data", theory::to_string(s.kind)}};
  if (s.kind == theory::DataKind::File) {
    if (!s.second_moment_file.empty()) j["second_moment"] = s.second_moment_file;
    if (!s.clean_file.empty()) j["clean"] = s.clean_file;
  } else {
    j["n"] = s.n;
    j["mu"] = s.mu;
    j["theta"] = s.theta;
    if (s.kind == theory::DataKind::Ar1) j["rho"] = s.rho;
  }
  return j;
}

// ---------------------------------------------------------------------------------------
// NoiseOptions, RankOption

void NoiseOptions::add(CLI::App* app, const std::string& note) {
  option_ = add_number(app, "--sigma", sigma,
                  "Noise standard deviation sigma > 0 (x = y + eps, eps ~ N(0, sigma^2 I))" +
                      (note.empty() ? "" : " " + note))
      ->capture_default_str();
}

double NoiseOptions::checked() const {
  theory::check_noise_std(sigma, "--sigma");
  return sigma;
}

void RankOption::add(CLI::App* app, const std::string& note) {
  option_ = add_number(app, "--k", k,
                       "Rank k of the regularizer R (k x n), 1 <= k <= n (default: k = n)" + (note.empty() ? "" : " " + note));
}

Index RankOption::resolve(Index n) const {
  if (!given()) return n;
  if (k < 1 || k > n)  // learn::resolve_rank's message; 0 is an error here, not n
    throw Error("--k must satisfy 1 <= k <= n = " + std::to_string(n) + " (got " + std::to_string(k) + ")");
  return Index(k);
}

Index RankOption::value() const {
  if (!given()) return 0;
  if (k < 1) throw Error("--k must satisfy 1 <= k <= n (got " + std::to_string(k) + ")");
  return Index(k);
}

// ---------------------------------------------------------------------------------------
// FamilyOptions

FamilyOptions::FamilyOptions(Config c)
    : method(c.method), depth(c.default_depth), stepsize(c.stepsize), config_(std::move(c)) {}

void FamilyOptions::add(CLI::App* app) {
  const Config& c = config_;
  if (!c.methods.empty()) {
    std::string help;
    for (const std::string& m : c.methods) {
      if (!help.empty()) help += ", ";
      if (m == "linear") help += "linear (best linear denoiser, no constraint)";
      else if (m == "bilevel") help += "bilevel (T = (I + R^T R)^-1)";
      else help += "unrolled (N gradient steps with stepsize omega from z^0 = 0)";
    }
    method_opt_ = app->add_option("--method", method, help)->check(CLI::IsMember(c.methods))->capture_default_str();
  }
  if (c.depth)
    depth_opt_ = add_number(app, "--depth", depth,
                            "Unrolling depth N, 1 <= N <= " + std::to_string(c.max_depth) +
                                (c.depth_note.empty() ? "" : " " + c.depth_note))
                     ->check(number_range(1, c.max_depth, "1 <= N <= " + std::to_string(c.max_depth)))
                     ->capture_default_str();
  if (!c.stepsize.empty()) {
    std::string help = "Stepsize omega > 0";
    if (c.learned) help += c.per_iteration ? ", 'learned'" : ", or 'learned'";
    if (c.per_iteration) help += ", or 'per-iteration' (one learned omega per iteration)";
    stepsize_opt_ = app->add_option("--stepsize", stepsize, help + (c.stepsize_note.empty() ? "" : " " + c.stepsize_note))
                        ->check(CLI::Validator(
                            [c](std::string& t) -> std::string {
                              if ((c.learned && t == "learned") || (c.per_iteration && t == "per-iteration")) return "";
                              std::string why = number_problem<double>(t);
                              if (!why.empty() && c.learned)
                                why += c.per_iteration ? " (nor 'learned' or 'per-iteration')" : " (nor 'learned')";
                              return why;
                            },
                            ""))
                        ->capture_default_str();
  }
}

double FamilyOptions::stepsize_number() const {
  if (learned() || stepsize == "per-iteration")
    throw Error("--stepsize " + stepsize + " is not allowed here: give a number");
  return parse_number<double>(stepsize, "--stepsize");
}

double FamilyOptions::omega() const {
  const double w = stepsize_number();
  if (!(w > 0)) throw Error("--stepsize: omega = " + stepsize + " out of range (omega > 0)");
  return w;
}

theory::Family FamilyOptions::family() const {
  refuse_unused();
  if (method == "bilevel") return theory::Family::bilevel();
  if (learned()) throw Error("--stepsize learned is not allowed here: give a number");
  return theory::Family::unrolled(depth, omega());
}

void FamilyOptions::refuse_unused(const std::string& method_override) const {
  const std::string& m = method_override.empty() ? method : method_override;
  const bool unrolled = m == "unrolled";
  refuse_if_given(depth_opt_, !unrolled, "--method " + m, "the depth of unrolled methods only");
  refuse_if_given(stepsize_opt_, !unrolled, "--method " + m, "the stepsize of unrolled methods only");
}

// ---------------------------------------------------------------------------------------
// OutputOptions, TrainingOptions

void CorpusOptions::add(CLI::App* app) {
  corpus_ = app->add_option("--corpus", corpus,
                            "clean speech: codec2 (Debian codec2-examples, about 70 s, split by file) or asterisk "
                            "(Debian asterisk-core-sounds-{en,fr,es,it,ru}-wav, about two hours of prompts, split by "
                            "language: train en, fr, es, it, test ru, an unseen speaker and language; codec2's test "
                            "files as a second test set where the study uses one)")
                ->check(CLI::IsMember({"codec2", "asterisk"}))
                ->capture_default_str();
  app->add_option("--train", train,
                  "training audio files (WAV/FLAC/... or codec2 .raw at 8 kHz); default: the --corpus split");
  app->add_option("--test", test,
                  "test audio files (split by file: none may also be a training file); default: the --corpus split");
}

audio::CorpusSpec CorpusOptions::resolve(bool quick, bool extra_tests) const {
  const auto paths = [](const std::vector<std::string>& v) { return std::vector<std::filesystem::path>(v.begin(), v.end()); };
  if (!train.empty() && !test.empty()) {
    if (corpus_given())
      throw Error("--corpus " + corpus + " does not apply with both --train and --test given (they replace its "
                  "split; give one of them to replace that side only)");
    return audio::CorpusSpec(paths(train), paths(test));
  }
  audio::CorpusSpec spec = audio::corpus_spec(kind(), quick, extra_tests);
  if (!train.empty()) spec.train = paths(train);
  if (!test.empty()) {
    spec.test = paths(test);
    spec.test_name.clear();
    spec.extra_tests.clear();
  }
  return spec;
}

audio::CorpusSpec CorpusOptions::study_files(bool quick) const {
  if (kind() == audio::CorpusKind::Codec2) {
    if (corpus_given() && !train.empty() && !test.empty()) resolve(quick);  // the same refusal
    return audio::CorpusSpec(std::vector<std::filesystem::path>(train.begin(), train.end()),
                             std::vector<std::filesystem::path>(test.begin(), test.end()));
  }
  return resolve(quick, false);
}

void CorpusOptions::check_given(bool mixdown) const {
  check_audio_files(train, mixdown);
  check_audio_files(test, mixdown);
}

void OutputOptions::add(CLI::App* app, const std::string& out_help) {
  if (!out_help.empty()) app->add_option("--out", out, out_help);
  app->add_flag("--json", json, "Print one JSON object instead of aligned key: value lines (and no progress line)");
}

void TrainingOptions::add(CLI::App* app, learn::TrainExperiment& e) {
  app->add_option("--objective", objective,
                  "empirical (B noisy/clean pairs), expected (exact expectation over the noise: the population "
                  "risk itself), sampled (fresh noise for every minibatch, Adam)")
      ->check(CLI::IsMember({"empirical", "expected", "sampled"}))->capture_default_str();
  samples_ = add_number(app, "--samples", e.samples, "Training samples B (frames) >= 1 (not used by --objective expected)")
                 ->check(number_range(1, 1e18, "B >= 1"))
                 ->capture_default_str();
  optimizer_ = app->add_option("--optimizer", e.optimizer, "lbfgs, adam, or auto (lbfgs; adam for sampled/minibatches)")
                   ->check(CLI::IsMember({"auto", "lbfgs", "adam"}))->capture_default_str();
  add_number(app, "--iterations", e.iterations, "Optimizer iterations; 0 = auto (lbfgs 1000, adam 3000; general model: lbfgs 100, adam 500)")
      ->check(number_range(0, std::numeric_limits<int>::max(), "iterations >= 0"))
      ->capture_default_str();
  lr_ = add_number(app, "--lr", e.learning_rate, "Adam learning rate eta > 0 (Adam only)")
            ->check(number_range(std::numeric_limits<double>::min(), 1e6, "0 < eta <= 1e6"))
            ->capture_default_str();
  batch_ = add_number(app, "--batch", e.batch, "Minibatch size (Adam, frame objectives; 0 = full batch)")
               ->check(number_range(0, 1e18, "batch >= 0"))
               ->capture_default_str();
  validation_ = add_number(app, "--validation", e.validation,
                           "Fraction of frames held out for validation, in [0, 0.9] (general model: default 0.2)")
                    ->check(number_range(0, 0.9, "0 <= fraction <= 0.9"))
                    ->capture_default_str();
  patience_ = add_number(app, "--patience", e.patience,
                         "Early stopping: validations without improvement (0 = off; needs --validation)")
                  ->check(number_range(0, std::numeric_limits<int>::max(), "patience >= 0"))
                  ->capture_default_str();
  app->add_option("--precision", precision, "Arithmetic of training: float64 or float32")
      ->check(CLI::IsMember({"float64", "float32"}))->capture_default_str();
  app->add_option("--init", e.init,
                  "random (R = scale G / sqrt(n)), theory (the theory optimum's R and omega), or a checkpoint "
                  "FILE to resume from")
      ->capture_default_str();
  init_scale_ = add_number(app, "--init-scale", e.init_scale, "Scale of the random R (--init random; general model: of the random R, K or foe filters)")->capture_default_str();
  init_stepsize_ =
      add_number(app, "--init-stepsize", e.init_stepsize, "Initial stepsize omega (--init random, unrolled, stepsize trained; general model: default 0.9 / (|A|^2 + L_R))")
          ->capture_default_str();
  add_number(app, "--seed", e.seed, "Seed of every random draw (data, noise, init, shuffles), 0 <= seed < 2^64")
      ->capture_default_str();
  app->add_option("--save", e.save,
                  "Write the trained model and its training state to this checkpoint (JSON, atomic; "
                  "eval and --init read it as a model, --resume continues the run)");
  add_number(app, "--checkpoint-every", e.checkpoint_every,
             "Also write --save every K iterations, so a killed run loses at most K (0 = at the end only)")
      ->capture_default_str();
  app->add_option("--resume", e.resume,
                  "Continue the run saved in this checkpoint with the same flags (--iterations may grow): "
                  "ends with the same numbers as an uninterrupted run; checkpoints go on into --save, "
                  "else into this file");
  app->add_flag("--hessian", e.hessian,
                "Also report the extreme eigenvalues of the Hessian of the expected risk at the trained "
                "model (finite differences; sharp vs flat minima; parameters <= " +
                    std::to_string(kMaxDenseDimension) + ")");
}

void TrainingOptions::refuse_unused(const learn::TrainExperiment& e, const FamilyOptions& family,
                                    const DataOptions& data) const {
  family.refuse_unused();
  const bool expected = e.objective == learn::TrainObjective::Expected;
  const bool file = e.data.kind == theory::DataKind::File;
  refuse_if_given(samples_, expected, "--objective expected", "it trains on the exact expectation, no frames");
  refuse_if_given(samples_, file, "--data file", "the frames come from --clean");
  refuse_if_given(batch_, expected, "--objective expected", "no frames to batch");
  refuse_if_given(validation_, expected, "--objective expected", "no frames to hold out");
  refuse_if_given(patience_, e.validation <= 0, "--validation 0", "early stopping watches the validation loss");
  const bool adam = e.optimizer == "adam" ||
                    (e.optimizer == "auto" && (e.objective == learn::TrainObjective::Sampled || e.batch > 0));
  refuse_if_given(lr_, !adam, "--optimizer " + std::string(e.optimizer == "auto" ? "auto (here: lbfgs)" : e.optimizer),
                  "the learning rate of Adam");
  if (e.optimizer == "lbfgs") refuse_if_given(batch_, e.batch > 0, "--optimizer lbfgs", "minibatches need Adam");
  if (e.optimizer == "lbfgs")
    refuse_if_given(optimizer_, e.objective == learn::TrainObjective::Sampled, "--objective sampled",
                    "fresh noise per step needs Adam");
  refuse_if_given(init_scale_, e.init != "random", "--init " + e.init, "the scale of a random start");
  refuse_if_given(init_stepsize_, e.init != "random", "--init " + e.init, "the stepsize of a random start");
  refuse_if_given(init_stepsize_, e.method != learn::Method::Unrolled, "--method bilevel", "no stepsize");
  refuse_if_given(init_stepsize_, e.stepsize != "learned" && e.stepsize != "per-iteration",
                  "--stepsize " + e.stepsize, "a fixed stepsize is the start");
  refuse_if_given(data.noisy_option(), e.objective != learn::TrainObjective::Empirical,
                  "--objective " + std::string(learn::to_string(e.objective)),
                  "only the empirical objective trains on given noisy frames");
}

void TrainingOptions::apply(learn::TrainExperiment& e) const {
  e.objective = learn::parse_train_objective(objective);
  e.precision = precision == "float32" ? learn::Precision::Float32 : learn::Precision::Float64;
}

// ---------------------------------------------------------------------------------------
// GeneralModelOptions

void GeneralModelOptions::add(CLI::App* app) {
  op_ = app->add_option("--operator", op,
                        "General model: forward operator A of g = A f + sigma eps: identity (denoising), mask:P (each "
                        "sample missing with probability P in [0, 1), a fresh mask per minibatch), burst:P:L (bursts "
                        "of L missing samples, fraction P), conv:FILE (centered FIR convolution with the taps in FILE)")
            ->capture_default_str();
  reg_ = app->add_option("--regularizer", regularizer.kind,
                         "General model: quadratic (1/2 |R f|^2, R k x n: --k), tv (a sum_i phi(f_{i+1} - f_i), one "
                         "weight), analysis (sum_j a_j phi((K f)_j), dense K learned: --filters rows, DCT start), foe "
                         "(fields of experts: --filters J zero-mean convolution filters of --filter-length L)")
             ->check(CLI::IsMember({"quadratic", "tv", "analysis", "foe"}))
             ->capture_default_str();
  filters_ = add_number(app, "--filters", regularizer.filters,
                        "Rows J of K (analysis, default n) or filters J (foe, default " +
                            std::to_string(general::kDefaultFoeFilters) + "), J >= 1")
                 ->check(number_range(1, 1e9, "J >= 1"));
  length_ = add_number(app, "--filter-length", regularizer.filter_length,
                       "Taps L of each foe filter, L >= 1 (default " + std::to_string(general::kDefaultFoeLength) + ")")
                ->check(number_range(1, 1e9, "L >= 1"));
  potential_ = app->add_option("--potential", regularizer.potential,
                               "Potential phi of analysis, foe and tv: huber (smoothed |u|, C1 convex), charbonnier "
                               "sqrt(u^2 + eps^2) (smooth convex), student log(1 + u^2/eps^2) (nonconvex)")
                   ->check(CLI::IsMember({"huber", "charbonnier", "student"}))
                   ->capture_default_str();
  epsilon_ = add_number(app, "--epsilon", regularizer.epsilon,
                        "Scale eps > 0 of the potential (default " + format_general(general::kDefaultRelativeEpsilon, 3) +
                            " x the RMS of the clean training frames)")
                 ->check(number_range(std::numeric_limits<double>::min(), 1e300, "eps > 0"));
  learn_eps_ = app->add_flag("--learn-epsilon", regularizer.learn_epsilon,
                             "Also learn eps = softplus(eta) of the potential");
  start_ = app->add_option("--start", start,
                           "Start f^0 of the unrolled solver (and of the bilevel lower-level solver): zero (the "
                           "talk's) or adjoint (A^T g)")
               ->check(CLI::IsMember({"zero", "adjoint"}))
               ->capture_default_str();
  momentum_ = app->add_flag("--momentum", momentum,
                            "Unrolled: Nesterov momentum, y^t = f^t + t/(t+3) (f^t - f^(t-1)), f^(t+1) = y^t - "
                            "omega_t grad E(y^t)");
  lower_ = add_number(app, "--lower-tolerance", lower_tolerance,
                      "Bilevel: solve the lower level to |grad E(f*)|_F <= tol (> 0); the hypergradient's error "
                      "is O(tol)")
               ->check(number_range(std::numeric_limits<double>::min(), 1e300, "tol > 0"))
               ->capture_default_str();
  lower_solver_ = app->add_option("--lower-solver", lower_solver,
                                  "Bilevel: the lower-level solver, newton-cg (Hessian-vector products, few iterations) "
                                  "or lbfgs (gradients only; for energies where Newton-CG struggles, e.g. flat "
                                  "directions); both stop at the certified --lower-tolerance")
                      ->check(CLI::IsMember({"newton-cg", "lbfgs"}))
                      ->capture_default_str();
  table_ = app->add_option("--tolerance-table", tolerance_table,
                           "Bilevel: instead of training, print the hypergradient's relative error against the "
                           "lower-level tolerance (a list, e.g. 1e-2,1e-4,1e-6,1e-8,1e-10,1e-12; the tightest is the "
                           "reference, itself checked against central differences) at the initial parameters on the "
                           "training frames, with the cost of each (iterations, Hessian-vector products): how to "
                           "choose --lower-tolerance");
  test_ = app->add_option("--test", test,
                          "General model: clean test frames (text n x B, one frame per column, or an audio file cut "
                          "into frames of n samples) for test_mse; generated data draws its own test frames");
  shards_ = add_number(app, "--shards", shards,
                       "Split every batch into S shards whose loss and gradient sums are added in shard order "
                       "(0 = one per MPI rank under mpirun, the whole batch in one process); the numbers depend on "
                       "S only, so one process with --shards S reproduces S ranks (docs/scale-out.md)")
                ->check(number_range(0, double(general::kMaxShards), "0 <= S <= 4096"))
                ->capture_default_str();
  options_ = {op_,      reg_,   filters_, length_,       potential_, epsilon_, learn_eps_,
              start_,   momentum_, lower_, lower_solver_, table_,     test_, shards_};
}

std::vector<double> GeneralModelOptions::tolerances() const {
  return table_->count() > 0 ? parse_list(tolerance_table, "--tolerance-table") : std::vector<double>{};
}

bool GeneralModelOptions::active() const { return op_->count() > 0 || reg_->count() > 0; }

void GeneralModelOptions::refuse_without_model() const {
  for (const CLI::Option* o : options_)
    if (o->count() > 0)
      throw Error(o->get_name() + " applies to the general model only: give --operator or --regularizer (without "
                                  "them train learns the quadratic model)");
}

general::GeneralTrainExperiment GeneralModelOptions::experiment(const learn::TrainExperiment& q, const DataOptions& data,
                                                                const FamilyOptions& family,
                                                                const TrainingOptions& training,
                                                                const RankOption& rank) const {
  general::GeneralTrainExperiment e;
  const std::string mode = "the general model (--operator/--regularizer)";
  refuse_if_given(data.noisy_option(), true, mode, "it draws its own observations g = A f + sigma eps");
  if (!data.source.second_moment_file.empty())
    throw Error("--second-moment does not apply with " + mode + " (it trains on frames: --clean)");
  if (q.objective == learn::TrainObjective::Expected)
    throw Error("--objective expected does not apply with " + mode + " (no closed-form expectation; use sampled)");
  if (q.hessian) throw Error("--hessian does not apply with " + mode + " (the quadratic engine's expected risk)");
  if (q.init != "random")
    throw Error("--init " + q.init + " does not apply with " + mode + " (it starts from the regularizer's "
                "initialization; --resume continues a run)");
  refuse_if_given(rank.option(), regularizer.kind != "quadratic", "--regularizer " + regularizer.kind,
                  "--k is the rank of the quadratic R; analysis and foe take --filters");
  refuse_if_given(filters_, regularizer.kind == "quadratic" || regularizer.kind == "tv",
                  "--regularizer " + regularizer.kind,
                  regularizer.kind == "tv" ? "tv has the fixed first differences" : "the rows of R are --k");
  refuse_if_given(length_, regularizer.kind != "foe", "--regularizer " + regularizer.kind, "fields of experts only");
  for (const CLI::Option* o : {potential_, epsilon_, learn_eps_})
    refuse_if_given(o, regularizer.kind == "quadratic", "--regularizer quadratic", "it has no potential");
  const bool unrolled = family.method == "unrolled";
  family.refuse_unused();
  refuse_if_given(momentum_, !unrolled, "--method " + family.method, "momentum of the unrolled solver");
  refuse_if_given(lower_, unrolled, "--method unrolled", "the tolerance of the bilevel lower level");
  refuse_if_given(lower_solver_, unrolled, "--method unrolled", "the solver of the bilevel lower level");
  refuse_if_given(table_, unrolled, "--method unrolled", "the bilevel hypergradient's error vs the lower-level tolerance");
  if (!unrolled && q.precision == learn::Precision::Float32)
    throw Error("--precision float32 does not apply with --method bilevel (its lower level is certified in float64)");

  e.data = data.resolved();
  e.test_file = test;
  e.operator_spec = op;
  e.regularizer = regularizer;
  if (regularizer.kind == "quadratic") e.regularizer.filters = rank.value();
  e.regularizer.scale = q.init_scale;
  e.method = general::parse_learning_method(family.method);
  e.depth = family.depth;
  e.stepsize = family.stepsize;
  e.start = start;
  e.momentum = momentum;
  e.lower_tolerance = lower_tolerance;
  e.shards = shards;
  e.lower_solver = general::parse_lower_solver(lower_solver);
  e.float32 = q.precision == learn::Precision::Float32;
  e.noise_std = q.noise_std;
  e.samples = q.samples;
  e.optimizer = q.optimizer;
  e.sampled = q.objective == learn::TrainObjective::Sampled;
  e.iterations = q.iterations;
  e.learning_rate = q.learning_rate;
  e.batch = q.batch;
  if (training.validation_->count() > 0) e.validation = q.validation;
  e.patience = q.patience;
  if (training.init_stepsize_->count() > 0) {
    check_range(q.init_stepsize, 1e-300, 1e6, "--init-stepsize", "initial stepsize omega", "1e-300 <= omega <= 1e6");
    e.init_stepsize = q.init_stepsize;
  }
  e.seed = q.seed;
  e.save = q.save;
  e.checkpoint_every = q.checkpoint_every;
  e.resume = q.resume;

  // The shared training flags' rules, for this model.
  refuse_if_given(training.samples_, e.data.kind == theory::DataKind::File, "--data file", "the frames come from --clean");
  refuse_if_given(training.patience_, e.validation <= 0, "--validation 0", "early stopping watches the validation loss");
  const general::GeneralTrainOptions o = e.train_options();
  const bool adam = o.optimizer == general::Optimizer::Adam;
  refuse_if_given(training.lr_, !adam, "--optimizer " + std::string(e.optimizer == "auto" ? "auto (here: lbfgs)" : e.optimizer),
                  "the learning rate of Adam");
  refuse_if_given(training.batch_, !adam && e.batch > 0, "--optimizer lbfgs", "minibatches need Adam");
  if (e.sampled && e.optimizer == "lbfgs")
    throw Error("--objective sampled does not apply with --optimizer lbfgs (fresh noise per step needs Adam)");
  refuse_if_given(training.init_stepsize_, !unrolled, "--method " + family.method, "no stepsize");
  refuse_if_given(training.init_stepsize_, e.stepsize != "learned" && e.stepsize != "per-iteration",
                  "--stepsize " + e.stepsize, "a fixed stepsize is the start");
  refuse_if_given(training.init_scale_, regularizer.kind == "tv", "--regularizer tv", "tv has no random start");
  return e;
}

// ---------------------------------------------------------------------------------------

void check_output_path(const std::string& flag, const std::string& path, bool optional) {
  if (path.empty() && optional) return;
  try {
    io::check_output_name(path);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      throw Error(std::string("output ") + quote_for_message(path) + " is a folder, not a file or prefix");
    io::check_writable_prefix(path);
  } catch (const Error& e) {
    throw Error(flag + ": " + e.what());
  }
}

void check_audio_files(const std::vector<std::string>& files, bool mixdown) {
  audio::ReadOptions r;
  r.mixdown = mixdown;
  for (const std::string& f : files) audio::read_audio(f, r);
}

namespace {
thread_local const Embedding* current_embedding = nullptr;
}  // namespace

const Embedding* embedding() { return current_embedding; }

EmbeddingScope::EmbeddingScope(const Embedding* e) : previous_(current_embedding) { current_embedding = e; }

EmbeddingScope::~EmbeddingScope() { current_embedding = previous_; }

void print_result(const nlohmann::json& j, bool json) {
  if (const Embedding* e = embedding(); e && e->result) return e->result(j);
  if (json) {
    std::cout << j.dump(2) << '\n';
    return;
  }
  size_t width = 0;
  for (auto it = j.begin(); it != j.end(); ++it) width = std::max(width, it.key().size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::cout << it.key() << std::string(width - it.key().size(), ' ') << "  ";
    if (it->is_string()) std::cout << it->get<std::string>();
    else std::cout << it->dump();
    std::cout << '\n';
  }
}

std::vector<double> parse_list(const std::string& s, const std::string& flag) {
  std::vector<double> out;
  std::string cur;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ',') {
      out.push_back(parse_number<double>(cur, flag));
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  return out;
}

std::vector<int> parse_int_list(const std::string& s, const std::string& flag) {
  std::vector<int> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    out.push_back(parse_number<int>(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start), flag));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace varlearn::cli
