#pragma once
/// \file experiment.hpp
/// The two end-to-end runs behind `varlearn train` and `varlearn eval`, as library functions:
/// an options struct (the flags, with their defaults and validate()), one function, and a
/// result struct whose fields are the keys of the command's JSON output (to_json()).
///
///   learn::TrainExperiment e;            // defaults = the CLI defaults
///   e.data.kind = theory::DataKind::Iid; e.data.theta = 0.5; e.rank = 3;
///   const learn::TrainReport r = learn::run_train_experiment(e);
///   r.population_risk / r.optimal_risk;  // exact risk of the trained model vs the theory optimum
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "varlearn/learn/data.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/learn/trainer.hpp"
#include "varlearn/optim/progress.hpp"

namespace varlearn::learn {

/// Rank k of R (k x n) as given on the command line: 0 means n. Returns the resolved k;
/// throws Error "--k must satisfy 1 <= k <= n = .. (got ..)" otherwise (the one rank check).
Index resolve_rank(Index k, Index n);

/// What `train` minimizes.
enum class TrainObjective {
  Empirical,  ///< B noisy/clean frame pairs
  Expected,   ///< the exact expectation over the noise: the population risk itself
  Sampled,    ///< fresh noise for every minibatch (Adam)
};
TrainObjective parse_train_objective(const std::string& s);  ///< "empirical" | "expected" | "sampled"
const char* to_string(TrainObjective o);

/// `varlearn train`: learn R (k x n) and the stepsize, then compare the trained model's exact
/// population risk with the theory optimum of its class.
struct TrainExperiment {
  /// Clean data; n = 50 by default. File: Sigma from --second-moment or --clean, frames from --clean.
  DataSource data = DataSource::with_n(50);
  std::string noisy_file;     ///< noisy frames matching clean_file (default clean + N(0, sigma^2))
  double noise_std = 0.9;     ///< \f$\sigma > 0\f$
  Index samples = 1000;       ///< B frames drawn from a structured model (not used by Expected)
  Index rank = 0;             ///< k, 1 <= k <= n; 0 = n
  Method method = Method::Unrolled;
  int depth = 2;              ///< unrolling depth N >= 1
  std::string stepsize = "learned";  ///< a fixed omega > 0, "learned" or "per-iteration"
  TrainObjective objective = TrainObjective::Empirical;
  std::string optimizer = "auto";    ///< "auto" (lbfgs; adam for sampled/minibatches), "lbfgs", "adam"
  int iterations = 0;         ///< optimizer iterations; 0 = lbfgs 1000, adam 3000
  double learning_rate = 1e-2;  ///< Adam
  Index batch = 0;            ///< minibatch size (Adam; 0 = full batch)
  double validation = 0;      ///< held-out fraction of frames, in [0, 0.9]
  int patience = 0;           ///< early stopping (0 = off)
  Precision precision = Precision::Float64;
  std::string init = "random";  ///< "random", "theory" (the theory optimum), or a checkpoint file
  double init_scale = 1.0;    ///< random R = scale G / sqrt(n)
  double init_stepsize = 0.5; ///< initial omega (random init)
  std::uint64_t seed = 1;     ///< data, noise, init (seed + 1), shuffles
  bool hessian = false;       ///< extreme Hessian eigenvalues of the expected risk at the result
  std::string save;           ///< checkpoint file to write ("" = none): model + training state
  /// K: also write `save` every K iterations during training (atomically), so a killed run
  /// loses at most K iterations. 0 = only at the end. Needs save (or resume).
  int checkpoint_every = 0;
  /// Continue the run saved in this training checkpoint (same flags; --iterations may grow):
  /// the result equals an uninterrupted run's. Checkpoints go on into `save`, or into this
  /// file when save is empty. Excludes a non-random init.
  std::string resume;

  /// Throws Error naming the flag for values out of range (files are checked when read).
  void validate() const;
};

/// Bytes a run of `e` will need, estimated from the options (and the sizes of its files) before
/// anything is allocated: the frames (n x B, several copies), the dense n x n matrices, the
/// program. An upper estimate for ordinary runs; `train --max-memory` compares it to the limit.
double estimate_memory(const TrainExperiment& e);

/// The result of run_train_experiment; the fields are the keys of `train --json`.
struct TrainReport {
  std::string data;
  Index n = 0, k = 0;
  std::optional<double> mu, theta, rho;  ///< structured models (rho: ar1)
  double sigma = 0;
  Index samples = 0;
  std::string method;
  std::optional<int> depth;              ///< unrolled
  std::optional<std::string> stepsize_mode;  ///< unrolled
  std::string objective, optimizer, precision;
  std::uint64_t seed = 0;
  double train_loss = 0;
  std::optional<double> validation_loss;
  double population_risk = 0, optimal_risk = 0;
  bool optimal_attained = false;
  double risk_ratio = 1, linear_risk = 0;
  std::optional<double> stepsize;               ///< unrolled
  std::optional<std::vector<double>> stepsizes; ///< per-iteration
  std::optional<double> optimal_stepsize;       ///< unrolled
  double regularizer_norm = 0;
  std::optional<double> hessian_max_eig, hessian_min_eig;
  std::optional<Index> hessian_negative;
  std::string status;
  int iterations = 0;
  double seconds = 0;
  std::string message;
  std::optional<std::string> saved;
  QuadraticModel model;  ///< the trained model (not a JSON key)
  bool diverged = false; ///< optimizer diverged (message says why; not a JSON key)
};

/// Builds the data, the initial model and the options, trains, reports (and writes e.save).
/// `observer` sees the optimizer's progress. Throws Error on bad input.
TrainReport run_train_experiment(const TrainExperiment& e, const optim::Observer& observer = {});
nlohmann::json to_json(const TrainReport& r);

/// `varlearn eval`: a trained checkpoint's exact population risk on a data model (and the
/// theory optimum of its class), and/or its loss on frames.
struct EvalExperiment {
  std::string model_file;  ///< checkpoint (from train --save)
  /// n = 0: the checkpoint's n. File: Sigma from --second-moment or --clean. clean_file may
  /// also come with a structured model: then it only gives the frames of the frame loss.
  DataSource data;
  std::string noisy_file;  ///< noisy frames matching clean_file (default clean + N(0, sigma^2), seed)
  double noise_std = 0.9;
  std::uint64_t seed = 1;  ///< the noise draw on the frames
  std::string denoiser_out;  ///< write T_R (n x n) here ("" = no)
  void validate() const;
};

/// The result of run_eval_experiment; the fields are the keys of `eval --json`.
struct EvalReport {
  std::string model;
  nlohmann::json spec;
  Index n = 0, k = 0;
  std::optional<double> stepsize;
  std::string data;
  double sigma = 0, population_risk = 0;
  std::optional<double> optimal_risk, risk_ratio;
  double linear_risk = 0;
  std::optional<Index> frames;
  std::optional<double> frames_loss, frames_mse;
  std::optional<std::string> denoiser;
};

EvalReport run_eval_experiment(const EvalExperiment& e);
/// Bytes a run of `e` will need (checkpoint, dense n x n matrices, frames), from the options and
/// the sizes of its files, before anything is read.
double estimate_memory(const EvalExperiment& e);
nlohmann::json to_json(const EvalReport& r);

}  // namespace varlearn::learn
