#pragma once
// The CLI's option groups. Each flag is registered in exactly one place (a group's add()) and
// every subcommand that takes it uses that group, so a flag has one meaning, one help text and
// one error everywhere. Defaults come from the library's Options structs (passed to the
// group's constructor where two subcommands legitimately differ, e.g. n = 500 for the theory,
// 50 for train); range checks are the library's (validate(), resolve_rank, check_noise_std),
// and the CLI reports the library's message.
//
//   group            flags                                              subcommands
//   DataOptions      --data --n --mu --theta --rho --second-moment      theory optimal|risk|map|depth,
//                    --clean [--noisy]                                  train, eval
//   NoiseOptions     --sigma                                            theory optimal|risk|map|depth|landscape,
//                                                                       train, eval, study denoise
//   RankOption       --k                                                theory optimal|expressivity|map|depth, train
//   FamilyOptions    --method --depth --stepsize                        theory optimal|risk|expressivity|cmin|
//                                                                       map|landscape (parts), train
//   OutputOptions    --json [--out]                                     theory *, train, eval
//   TrainingOptions  --objective --samples --optimizer --iterations     train
//                    --lr --batch --validation --patience --precision
//                    --init --init-scale --init-stepsize --seed --save --hessian
//   CorpusOptions    --corpus --train --test                            study denoise, study dequant
//   GeneralModelOptions --operator --regularizer --filters --filter-length  train (the general model:
//                    --potential --epsilon --learn-epsilon --start       given --operator or --regularizer)
//                    --momentum --lower-tolerance --test --shards
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "varlearn/audio/corpus.hpp"
#include "varlearn/core/parse.hpp"
#include "varlearn/core/types.hpp"
#include "varlearn/general/experiment.hpp"
#include "varlearn/learn/data.hpp"
#include "varlearn/learn/experiment.hpp"
#include "varlearn/optim/progress.hpp"
#include "varlearn/study/theory_study.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/family.hpp"

namespace varlearn::cli {

// ---------------------------------------------------------------------------------------
// Numbers: the one parser behind every numeric flag.
//
// Strict: the whole text must be a decimal number of the flag's type. Refused, as one line
// "error: --flag: ..." (exit 2): an empty string, trailing or leading garbage ("5x", " 5",
// "+5"), hexadecimal and octal forms, inf and nan, a double outside the normal double range
// ("1e400", "1e-400": overflow and underflow are not silently inf or 0), and an integer
// outside its type ("--seed -1" is not 2^64 - 1, "--n 1e20" is not an integer).

/// The strict parse itself is varlearn::parse_number / number_problem (core/parse.hpp), used
/// here for every numeric flag and every number inside a flag's text (--stepsizes 0.1,0.5).
using varlearn::number_problem;
using varlearn::parse_number;

/// `--flag` bound to `value` (a number or a std::vector of numbers) with the strict parse.
/// Every numeric flag of every subcommand is registered through this function.
template <class T>
CLI::Option* add_number(CLI::App* app, const std::string& flag, T& value, const std::string& help);

/// A CLI11 check: lo <= value <= hi, message "V out of range (ACCEPTED)" where ACCEPTED is
/// `accepted` or "lo <= x <= hi".
CLI::Validator number_range(double lo, double hi, const std::string& accepted = "");

/// Safety net run once over the whole command tree: every option whose CLI11 type is a number
/// (INT, UINT, FLOAT) and that was not registered through add_number gets the strict parse of
/// the widest type of its kind, so no numeric flag is ever read leniently; and no text flag
/// (a file, a path, a choice) accepts an empty value.
void enforce_strict_numbers(CLI::App& app);

/// An option that does not apply to the chosen mode is an error naming both:
/// "--lr does not apply with --optimizer lbfgs (...)". Does nothing unless `option` was given.
void refuse_if_given(const CLI::Option* option, bool does_not_apply, const std::string& mode,
                     const std::string& why = "");

// ---------------------------------------------------------------------------------------
// Budget before work (--max-memory).

/// --max-memory SIZE: the most memory a command may plan to use ("8G", "512M", "1.5G", bytes).
/// Default: 75 % of the physical memory (sysconf). Every command estimates its memory from its
/// arguments before allocating and refuses with exit 2 above the limit, saying the estimate.
struct BudgetOptions {
  std::string max_memory;  ///< "" = default
  void add(CLI::App* app);
  /// The limit in bytes.
  double limit_bytes() const;
  /// Throws Error("WHAT needs about X of memory (...), over the limit of Y (--max-memory)")
  /// when `estimate_bytes` exceeds the limit.
  void check(double estimate_bytes, const std::string& what) const;
};

/// 75 % of the physical memory, in bytes (the default of --max-memory).
double default_memory_limit();

/// "8G" / "512M" / "1.5g" / "1000000" -> bytes; throws Error naming --max-memory.
double parse_memory_size(const std::string& text);

/// Bytes as "1.5 GB" / "320 MB" (decimal units, as --max-memory reads them).
std::string format_bytes(double bytes);

/// Defaults of the theory subcommands (n = 500, sigma = 0.9, depth 2, omega = 0.5): those of a
/// theory sweep's fixed point, study::ModelPoint.
inline const study::ModelPoint& theory_defaults() {
  static const study::ModelPoint p{};
  return p;
}

/// Where the clean signal comes from: --data constant|iid|ar1|file with the model's parameters
/// (--n --mu --theta --rho) or, for --data file, the files (--second-moment SIGMA and/or
/// --clean FRAMES; see learn::DataSource). A parameter that the chosen kind does not use is an
/// error, never silently ignored.
struct DataOptions {
  /// `default_n`: the subcommand's default n (theory: 500, train: 50); 0 = n comes from
  /// elsewhere (the checkpoint in eval, the matrix in theory risk) unless --n is given.
  explicit DataOptions(Index default_n);
  /// The options that were given (nullptr before add()).
  const CLI::Option* n_option() const { return n_; }
  learn::DataSource source;  ///< bound to the flags (kind set by resolve())
  std::string name = "constant";
  /// `frames`: the subcommand also reads --clean as frames (train, eval) and takes --noisy.
  void add(CLI::App* app, bool frames = false);
  /// The parsed source: kind from --data, n = 0 for --data file without --n, parameters the
  /// kind does not use rejected. `n_elsewhere` (> 0) is the n of the matrix or checkpoint the
  /// subcommand has: --n must then agree with it. `frames_anywhere`: --clean may also come
  /// with a structured model (eval: the frames of the frame loss).
  learn::DataSource resolved(Index n_elsewhere = 0, bool frames_anywhere = false) const;
  /// The theory data model of resolved(n_elsewhere).
  theory::DataModel build(Index n_elsewhere = 0) const;
  /// The data part of a theory subcommand's JSON (data, n, mu, theta, rho, second_moment, clean).
  static nlohmann::json describe(const learn::DataSource& s);
  std::string noisy;  ///< --noisy (frames subcommands)
  const CLI::Option* noisy_option() const { return noisy_; }
  const CLI::Option* mu_option() const { return mu_; }
  const CLI::Option* theta_option() const { return theta_; }

private:
  Index default_n_;
  CLI::Option *noisy_ = nullptr, *n_ = nullptr, *mu_ = nullptr, *theta_ = nullptr, *rho_ = nullptr;
};

/// --sigma: noise standard deviation sigma > 0 (x = y + eps, eps ~ N(0, sigma^2 I)).
struct NoiseOptions {
  explicit NoiseOptions(double default_sigma) : sigma(default_sigma) {}
  double sigma;
  const CLI::Option* option() const { return option_; }
  /// `note`: what is special here, e.g. "(fixed unless an axis)"; "" for none.
  void add(CLI::App* app, const std::string& note = "");
  /// sigma after theory::check_noise_std (the one sigma check).
  double checked() const;

private:
  CLI::Option* option_ = nullptr;
};

/// --k: rank k of the regularizer R (k x n), 1 <= k <= n; omitted = n. (0 and negative values
/// are errors: they never mean n.)
struct RankOption {
  long long k = 0;
  void add(CLI::App* app, const std::string& note = "");
  bool given() const { return option_ && option_->count() > 0; }
  /// k checked against n: n when omitted, else 1 <= k <= n (learn::resolve_rank's message).
  Index resolve(Index n) const;
  /// k when given (checked >= 1), 0 when omitted (the library's "k = n").
  Index value() const;
  const CLI::Option* option() const { return option_; }

private:
  CLI::Option* option_ = nullptr;
};

/// --method --depth --stepsize: the family of T_R = f(R^T R). Which parts a subcommand takes
/// and which values it allows is its Config.
struct FamilyOptions {
  struct Config {
    std::vector<std::string> methods;  ///< --method choices; empty = no --method flag
    std::string method;                ///< default --method
    bool depth = true;                 ///< register --depth
    int default_depth = 2;
    int max_depth = std::numeric_limits<int>::max();  ///< largest --depth accepted
    std::string depth_note;            ///< e.g. "(unrolled only)"
    std::string stepsize = "learned";  ///< default --stepsize ("" = no --stepsize flag)
    bool learned = false;              ///< 'learned' allowed
    bool per_iteration = false;        ///< 'per-iteration' allowed
    std::string stepsize_note;
  };
  explicit FamilyOptions(Config c);
  std::string method;
  int depth;
  std::string stepsize;
  void add(CLI::App* app);
  bool learned() const { return stepsize == "learned"; }
  /// --stepsize as a number (any sign; the library checks where it is used).
  double stepsize_number() const;
  /// --stepsize as omega > 0.
  double omega() const;
  /// bilevel, or unrolled(depth, omega) (a fixed omega: 'learned' is refused here).
  theory::Family family() const;
  /// --depth and --stepsize given with a method other than unrolled are errors (they would be
  /// ignored); `method_override`: the method the subcommand actually uses ("" = --method).
  void refuse_unused(const std::string& method_override = "") const;
  const CLI::Option* method_option() const { return method_opt_; }
  const CLI::Option* depth_option() const { return depth_opt_; }
  const CLI::Option* stepsize_option() const { return stepsize_opt_; }

private:
  Config config_;
  CLI::Option *method_opt_ = nullptr, *depth_opt_ = nullptr, *stepsize_opt_ = nullptr;
};

/// --corpus codec2|asterisk, --train FILES, --test FILES: the clean speech of a speech study
/// (docs/audio.md). codec2 (the default): about 70 s, split by file. asterisk: about two hours
/// of telephony prompts split by language (train en, fr, es, it; test ru: a speaker and a
/// language never heard in training), with codec2's test files as a second test set. Explicit
/// --train / --test win over the corpus' split, each for its side; giving both with --corpus is
/// an error (the corpus would not be used).
struct CorpusOptions {
  std::string corpus = "codec2";
  std::vector<std::string> train, test;
  void add(CLI::App* app);
  bool corpus_given() const { return corpus_ && corpus_->count() > 0; }
  audio::CorpusKind kind() const { return audio::parse_corpus_kind(corpus); }
  /// The whole spec: the chosen corpus' split (quick: its small subset; rate 8000) with --train /
  /// --test replacing their side (a given --test also replaces the extra test sets); both given:
  /// those files alone (name "", rate 0). `extra_tests`: include the second test set (asterisk:
  /// codec2's test files). Throws Error naming the Debian package when a corpus is not installed.
  audio::CorpusSpec resolve(bool quick, bool extra_tests = true) const;
  /// The lists for the studies that read the codec2 corpus themselves when given none and use no
  /// second test set (study denoise, study dequant): codec2 -> --train / --test as given (empty:
  /// the study's own codec2 default, exactly as before); asterisk -> resolve(quick, false).
  audio::CorpusSpec study_files(bool quick) const;
  /// Reads every file given with --train / --test once (check_audio_files): a bad file is one
  /// error before any work. The corpus' own files are read by the study.
  void check_given(bool mixdown) const;

private:
  CLI::Option* corpus_ = nullptr;
};

/// --json, and --out where a subcommand writes files.
struct OutputOptions {
  bool json = false;
  std::string out;
  /// `out_help`: "" = no --out flag.
  void add(CLI::App* app, const std::string& out_help = "");
};

/// The training flags of `train`, bound to a learn::TrainExperiment (its defaults).
struct TrainingOptions {
  std::string objective = "empirical", precision = "float64";
  void add(CLI::App* app, learn::TrainExperiment& e);
  /// Copies the string-valued choices into `e`.
  void apply(learn::TrainExperiment& e) const;
  /// Options given that the chosen mode ignores are errors (--lr with L-BFGS, --batch or
  /// --samples with --objective expected, --patience without --validation, ...).
  void refuse_unused(const learn::TrainExperiment& e, const FamilyOptions& family, const DataOptions& data) const;

private:
  friend struct GeneralModelOptions;  // the general model reuses these flags with its own rules
  CLI::Option *samples_ = nullptr, *lr_ = nullptr, *batch_ = nullptr, *validation_ = nullptr, *patience_ = nullptr,
              *init_scale_ = nullptr, *init_stepsize_ = nullptr, *optimizer_ = nullptr;
};

/// The general model of `train` (docs/general.md): an operator, a regularizer and its potential,
/// learned by unrolling or bilevel optimization. Active when --operator or --regularizer is
/// given; without them every flag of this group is an error (train then runs the quadratic
/// engine exactly as before). The shared flags (--method --depth --stepsize, data, noise,
/// training) keep their meaning; the quadratic engine's own ones (--k except for the quadratic
/// regularizer, --objective expected, --noisy, --second-moment, --hessian, --init theory|FILE)
/// are errors with the general model.
struct GeneralModelOptions {
  std::string op = general::GeneralTrainExperiment{}.operator_spec;
  general::RegularizerSpec regularizer;
  std::string start = general::GeneralTrainExperiment{}.start;
  std::string test;
  bool momentum = false;
  double lower_tolerance = general::GeneralTrainExperiment{}.lower_tolerance;
  std::string lower_solver = "newton-cg";
  std::string tolerance_table;  ///< --tolerance-table LIST ("" = train)
  Index shards = 0;             ///< --shards S (0 = one per MPI rank)
  void add(CLI::App* app);
  /// --tolerance-table as numbers (empty when not given).
  std::vector<double> tolerances() const;
  /// --operator or --regularizer given.
  bool active() const;
  /// Without the general model: every flag of this group given is an error naming it.
  void refuse_without_model() const;
  /// The general experiment from every group's flags, with the modes' refusals (an option
  /// that does not apply is an error naming both).
  general::GeneralTrainExperiment experiment(const learn::TrainExperiment& shared, const DataOptions& data,
                                             const FamilyOptions& family, const TrainingOptions& training,
                                             const RankOption& rank) const;

private:
  std::vector<CLI::Option*> options_;
  CLI::Option *op_ = nullptr, *reg_ = nullptr, *filters_ = nullptr, *length_ = nullptr, *potential_ = nullptr,
              *epsilon_ = nullptr, *learn_eps_ = nullptr, *start_ = nullptr, *momentum_ = nullptr, *lower_ = nullptr,
              *test_ = nullptr, *lower_solver_ = nullptr, *table_ = nullptr, *shards_ = nullptr;
};

/// An output file or prefix given by `flag`, checked before any work: not empty, not a device
/// (/dev/null would become /dev/null.csv, or be replaced by a rename), not a folder, in an
/// existing writable folder. Does nothing for "" when `optional`.
void check_output_path(const std::string& flag, const std::string& path, bool optional = true);

/// Reads every audio file given on the command line once, before a study starts (and before it
/// prints its first progress line): a missing, empty, truncated or non-audio file is one error.
void check_audio_files(const std::vector<std::string>& files, bool mixdown);

/// Prints `j` as one JSON object (json = true) or as aligned "key: value" lines; with an
/// embedding that takes results (below), hands `j` to it instead and prints nothing.
void print_result(const nlohmann::json& j, bool json);

/// The commands run inside another program (the Python module runs them in-process with the
/// same parsing, checks and library calls as the command line): where their results go and
/// what watches a training run. Set per thread for the duration of one command (EmbeddingScope).
struct Embedding {
  std::function<void(const nlohmann::json&)> result;  ///< each result object, instead of stdout
  optim::Observer observer;  ///< sees every training iteration (and may stop the run)
  std::function<void(const learn::TrainReport&)> trained;                   ///< the trained quadratic model
  std::function<void(const general::GeneralTrainReport&)> trained_general;  ///< the trained general model
  bool arrays = false;  ///< sweeps also return their grids (theory map: "grid")
};
/// This thread's embedding, or nullptr (the command line).
const Embedding* embedding();
/// Installs `e` for this thread while in scope.
class EmbeddingScope {
public:
  explicit EmbeddingScope(const Embedding* e);
  ~EmbeddingScope();
  EmbeddingScope(const EmbeddingScope&) = delete;
  EmbeddingScope& operator=(const EmbeddingScope&) = delete;

private:
  const Embedding* previous_;
};

/// "0.1,0.5,1" -> numbers; throws Error naming `flag` on a bad item.
std::vector<double> parse_list(const std::string& s, const std::string& flag);
/// "1,2,3" -> integers (each strict, as parse_number<int>).
std::vector<int> parse_int_list(const std::string& s, const std::string& flag);

}  // namespace varlearn::cli
