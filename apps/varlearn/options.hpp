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
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/learn/data.hpp"
#include "varlearn/learn/experiment.hpp"
#include "varlearn/study/theory_study.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/family.hpp"

namespace varlearn::cli {

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

private:
  Index default_n_;
  CLI::Option *n_ = nullptr, *mu_ = nullptr, *theta_ = nullptr, *rho_ = nullptr;
};

/// --sigma: noise standard deviation sigma > 0 (x = y + eps, eps ~ N(0, sigma^2 I)).
struct NoiseOptions {
  explicit NoiseOptions(double default_sigma) : sigma(default_sigma) {}
  double sigma;
  /// `note`: what is special here, e.g. "(fixed unless an axis)"; "" for none.
  void add(CLI::App* app, const std::string& note = "");
  /// sigma after theory::check_noise_std (the one sigma check).
  double checked() const;
};

/// --k: rank k of the regularizer R (k x n); 0 = n.
struct RankOption {
  long long k = 0;
  void add(CLI::App* app, const std::string& note = "");
  /// learn::resolve_rank(k, n): 0 -> n, else 1 <= k <= n.
  Index resolve(Index n) const;
};

/// --method --depth --stepsize: the family of T_R = f(R^T R). Which parts a subcommand takes
/// and which values it allows is its Config.
struct FamilyOptions {
  struct Config {
    std::vector<std::string> methods;  ///< --method choices; empty = no --method flag
    std::string method;                ///< default --method
    bool depth = true;                 ///< register --depth
    int default_depth = 2;
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

private:
  Config config_;
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
};

/// Prints `j` as one JSON object (json = true) or as aligned "key: value" lines.
void print_result(const nlohmann::json& j, bool json);

/// "0.1,0.5,1" -> numbers; throws Error naming `flag` on a bad item.
std::vector<double> parse_list(const std::string& s, const std::string& flag);

}  // namespace varlearn::cli
