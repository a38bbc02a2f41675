#pragma once
/// \file experiment.hpp
/// `varlearn train` with the general model (an operator, a regularizer, unrolled or bilevel)
/// as a library function: the flags with their defaults (GeneralTrainExperiment, validate()),
/// one function, and a report whose fields are the keys of the command's JSON.
///
///   general::GeneralTrainExperiment e;              // defaults = the CLI defaults
///   e.operator_spec = "mask:0.2";  e.regularizer.kind = "tv";  e.method = general::LearningMethod::Bilevel;
///   const general::GeneralTrainReport r = general::run_general_train(e);
///   r.test_mse;                                     // on an independent seeded draw of test frames
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "varlearn/general/model.hpp"
#include "varlearn/general/train.hpp"
#include "varlearn/learn/data.hpp"
#include "varlearn/optim/progress.hpp"

namespace varlearn::general {

/// Default fraction of the training frames held out for validation with the general model.
inline constexpr double kDefaultValidationFraction = 0.2;

struct GeneralTrainExperiment {
  /// Clean frames: generated (constant | iid | ar1 with n, mu, theta, rho; `samples` frames) or
  /// from a file (DataKind::File, clean_file: a text matrix n x B, or an audio file cut into
  /// frames of n samples, hop n). n = 50 by default.
  learn::DataSource data = learn::DataSource::with_n(50);
  /// Test frames (text n x B or audio); "" = generated data draws `samples` test frames with
  /// its own seed, file data has no test set.
  std::string test_file;
  std::string operator_spec = "identity";  ///< ops::parse_operator: identity, mask:P, burst:P:L, conv:FILE
  RegularizerSpec regularizer;              ///< kind, filters, potential, epsilon, init
  LearningMethod method = LearningMethod::Unrolled;
  int depth = 2;                            ///< N (unrolled)
  std::string stepsize = "learned";         ///< a fixed omega > 0, "learned" or "per-iteration"
  std::string start = "zero";               ///< f^0: "zero" or "adjoint" (A^T g)
  bool momentum = false;                    ///< Nesterov momentum (unrolled)
  bool float32 = false;                     ///< unrolled passes in float32 (--precision float32)
  LowerSolver lower_solver = LowerSolver::NewtonCg;  ///< bilevel: newton-cg | lbfgs (--lower-solver)
  double lower_tolerance = 1e-8;            ///< bilevel: \f$\|\nabla E(f^*)\|_F \le\f$ tol
  double noise_std = 0.9;                   ///< \f$\sigma > 0\f$
  Index samples = 1000;                     ///< generated training frames B (and test frames)
  std::string optimizer = "auto";           ///< auto (lbfgs; adam with --batch or --objective sampled), lbfgs, adam
  bool sampled = false;                     ///< --objective sampled: Adam (fresh noise per step)
  int iterations = 0;                       ///< 0 = lbfgs 100, adam 500
  double learning_rate = 1e-2;              ///< Adam
  Index batch = 0;                          ///< Adam minibatch (0 = all training frames)
  double validation = kDefaultValidationFraction;  ///< held-out fraction in [0, 0.9]
  int patience = 0;                         ///< early stopping (0 = off)
  double init_scale = 1.0;                  ///< scale of random initial R / K / filters
  double init_stepsize = 0;                 ///< initial learned omega; 0 = 0.9/(L_A + L_R)
  std::uint64_t seed = 1;
  std::string save;                         ///< checkpoint file ("" = none)
  int checkpoint_every = 0;                 ///< also write `save` every K iterations
  std::string resume;                       ///< continue this checkpoint's run
  Index shards = 0;                         ///< S shards of every batch (0 = one per MPI rank; docs/scale-out.md)

  /// Throws Error naming the flag for values out of range (files are checked when read).
  void validate() const;
  /// The training options this experiment runs with.
  GeneralTrainOptions train_options() const;
};

/// Bytes a run will need (frames, iterates of the unrolled solver or the lower level's
/// vectors, parameters), from the options and the file sizes, before anything is allocated.
double estimate_memory(const GeneralTrainExperiment& e);

/// The result of run_general_train; the fields are the keys of `train --json`.
struct GeneralTrainReport {
  std::string data;
  Index n = 0;
  Index samples = 0, validation_frames = 0;
  std::optional<Index> test_frames;
  double sigma = 0;
  std::string op, regularizer, method;
  Index parameters = 0;                     ///< \f$\theta\f$ (+ step parameters)
  std::optional<int> depth;
  std::optional<std::string> stepsize_mode, start;
  std::optional<bool> momentum;
  std::optional<double> stepsize;                 ///< shared or fixed omega
  std::optional<std::vector<double>> stepsizes;   ///< per iteration
  std::optional<double> lower_tolerance;
  std::optional<std::string> lower_solver;
  std::string precision;
  std::string optimizer;
  std::uint64_t seed = 0;
  double train_loss = 0;
  std::optional<double> validation_loss;
  std::optional<double> test_mse;
  std::optional<double> test_mse_observed;  ///< MSE of A^T g itself (the untrained baseline)
  std::optional<double> lower_gradient_norm, cg_residual;  ///< bilevel
  std::optional<int> lower_iterations, cg_iterations;      ///< bilevel
  std::string status;
  int iterations = 0;
  double seconds = 0;
  std::string message;
  std::optional<std::string> saved;
  GeneralModel model;                       ///< the trained model (not a JSON key)
  Vector final_parameters;                  ///< (not a JSON key)
  bool diverged = false;                    ///< (not a JSON key)
};

/// Reads or draws the frames, builds operator and regularizer, trains, evaluates on the test
/// frames, writes e.save. Throws Error on bad input.
GeneralTrainReport run_general_train(const GeneralTrainExperiment& e, const optim::Observer& observer = {});
nlohmann::json to_json(const GeneralTrainReport& r);

/// The inexact-bilevel trade-off of a run's problem: the hypergradient error vs the lower-level
/// tolerance (tolerance_table) at the initial \f$\theta\f$ on the training frames' fixed draw,
/// and the reference's own error against central differences of the solved lower level.
struct ToleranceReport {
  Index n = 0, frames = 0, parameters = 0;
  std::string op, regularizer, lower_solver;
  std::vector<ToleranceRow> rows;   ///< relative_error against the tightest tolerance
  double reference_fd_error = 0;    ///< on at most 20 coordinates of theta (h = 1e-4)
  double seconds = 0;
};

/// `varlearn train --method bilevel --tolerance-table LIST`: builds e's frames, operator and
/// initial regularizer as run_general_train does, and tabulates instead of training. Throws
/// Error unless e.method is bilevel and every tolerance > 0.
ToleranceReport run_tolerance_table(const GeneralTrainExperiment& e, const std::vector<double>& tolerances);
nlohmann::json to_json(const ToleranceReport& r);

}  // namespace varlearn::general
