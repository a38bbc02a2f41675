#pragma once
/// \file trainer.hpp
/// Training the quadratic model (empirical or expected risk minimization) with L-BFGS or Adam,
/// in float32 or float64, with early stopping on a validation split and divergence guard.
/// Typical calls:
///   auto m0 = QuadraticModel::random({n, k, Method::Unrolled, 4, StepsizeMode::Learned});
///   auto r  = train_expected(m0, S, sigma, opts);            // exact expectation (theory risk)
///   auto r2 = train_frames(m0, X, Y, opts);                  // frames (direct or structured)
///   auto r3 = train_sampled_noise(m0, Y, sigma, opts);       // fresh noise each minibatch
///   Matrix T = r.model.denoiser();  Matrix Xhat = r.model.apply(X);
/// Checkpoint and resume (kill -9 loses at most K iterations; same numbers as one run):
///   opts.checkpoint_every = K;
///   train_frames(m0, X, Y, opts, {}, {nullptr, checkpoint_writer("run.ckpt")});
///   auto c = load_training_checkpoint("run.ckpt");
///   train_frames(c.model, X, Y, opts, {}, {&c, checkpoint_writer("run.ckpt")});
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/learn/objective.hpp"
#include "varlearn/optim/adam.hpp"
#include "varlearn/optim/lbfgs.hpp"
#include "varlearn/optim/progress.hpp"
#include "varlearn/optim/state.hpp"

namespace varlearn::learn {

enum class OptimizerKind { Lbfgs, Adam };
enum class Precision { Float64, Float32 };
enum class DataPath {
  Auto,        ///< structured when full-batch (B > n), direct for minibatches
  Direct,      ///< through the frames (GEMMs on n x B)
  Structured,  ///< through the moments (O(n^3), full batch only)
};
OptimizerKind parse_optimizer(const std::string& s);  ///< "lbfgs" | "adam"
const char* to_string(OptimizerKind k);

struct TrainOptions {
  OptimizerKind optimizer = OptimizerKind::Lbfgs;  ///< L-BFGS for full batch, Adam for minibatches
  optim::LbfgsOptions lbfgs;         ///< used when optimizer == Lbfgs (max_iterations = iterations)
  optim::AdamOptions adam;           ///< used when optimizer == Adam (max_iterations = steps)
  Precision precision = Precision::Float64;
  DataPath path = DataPath::Auto;
  UnrollOptions unroll;        ///< direct path memory policy
  /// Minibatch size for Adam on frames (0 = full batch). Minibatches are drawn by a seeded
  /// shuffle per epoch.
  Index batch_size = 0;
  /// Fraction of frames held out for validation (frames only), in [0, 0.9]. Default 0.
  double validation_fraction = 0;
  /// Validate every this many iterations; stop when the validation loss has not improved for
  /// `patience` validations, and return the best-validation model. 0 = no early stopping.
  int patience = 0;
  int validate_every = 10;
  std::uint64_t seed = 1;      ///< shuffles, splits, fresh noise
  /// K: hand a TrainingCheckpoint to TrainCheckpointing::sink after every K-th iteration
  /// (and at the end of the run). 0 = at the end only (when a sink is given). Default 0.
  /// Changes no number of the run.
  int checkpoint_every = 0;
  void validate() const;       ///< throws Error naming the bad field
};

/// Everything a training run carries from one iteration to the next, so that a run resumed
/// from it ends with the same numbers as a run never interrupted (docs/learning.md). Written
/// and read by save_training_checkpoint / load_training_checkpoint (checkpoint.hpp).
struct TrainingCheckpoint {
  /// What run this is (entry point, model shape, data size and checksum, noise std, seed,
  /// optimizer and its options except the iteration budget, precision, path, batch size,
  /// validation split, early stopping): name -> value as text. A resume into a run whose
  /// fingerprint differs is refused with an Error naming each difference.
  std::map<std::string, std::string> run;
  QuadraticModel model;      ///< the current iterate as a model (what load_model reads)
  optim::State optimizer;    ///< iteration, iterate, Adam moments / L-BFGS memory, history
  /// Minibatch order: the shuffler's generator (std::mt19937_64 as text), the current
  /// epoch's permutation and the position in it. Empty rng = full batch.
  std::string batch_rng;
  std::vector<Index> batch_order;
  Index batch_position = 0;
  std::string noise_rng;     ///< fresh-noise generator (train_sampled_noise), else empty
  /// Early stopping: best validation loss so far (+inf before the first validation), the
  /// parameters there, validations without improvement, and whether it already stopped.
  double best_validation = 0;
  std::vector<double> best_parameters;
  int bad_validations = 0;
  bool stopped_early = false;
  int iteration() const { return optimizer.iteration; }
};

/// Checkpoint hooks of a training run (default: none; nothing changes then).
struct TrainCheckpointing {
  /// Continue this run from a checkpoint it wrote (init then gives only the model shape
  /// and fixed stepsizes; the parameters come from the checkpoint). nullptr = fresh start.
  const TrainingCheckpoint* resume = nullptr;
  /// Receives the checkpoint after every TrainOptions::checkpoint_every-th iteration and at
  /// the end, e.g. checkpoint_writer(path) (checkpoint.hpp): atomic JSON files.
  std::function<void(const TrainingCheckpoint&)> sink;
};

struct TrainResult {
  QuadraticModel model;       ///< the trained model (last good / best-validation)
  optim::Result optim;         ///< optimizer outcome (status, iterations, time, history)
  double train_loss = 0;      ///< final full training loss (float64 evaluation)
  double validation_loss = -1;  ///< final validation loss (-1 when no validation split)
  std::string message;        ///< one line summary
};

/// Frames X (noisy), Y (clean), n x B, float64 or float32 storage (computation in
/// options.precision). Throws Error on shape mismatch, B = 0, NaN/inf, or n != model n.
template <class T>
TrainResult train_frames(const QuadraticModel& init, const MatrixT<T>& noisy, const MatrixT<T>& clean,
                         const TrainOptions& options = {}, const optim::Observer& observer = {},
                         const TrainCheckpointing& checkpointing = {});

/// Exact expected loss over Gaussian noise of std sigma given the clean second moment S
/// (structured path; deterministic). Its value is the population risk of the model.
TrainResult train_expected(const QuadraticModel& init, const Matrix& clean_second_moment,
                           double noise_std, const TrainOptions& options = {},
                           const optim::Observer& observer = {}, const TrainCheckpointing& checkpointing = {});

/// Fresh Gaussian noise for every minibatch of the clean frames (n x B) (Adam; direct path
/// or the minibatch moments). options.batch_size = 0 means all frames each step.
TrainResult train_sampled_noise(const QuadraticModel& init, const Matrix& clean, double noise_std,
                                const TrainOptions& options = {}, const optim::Observer& observer = {},
                                const TrainCheckpointing& checkpointing = {});

}  // namespace varlearn::learn
