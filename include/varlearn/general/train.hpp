#pragma once
/// \file train.hpp
/// Training a general model (operator A, regularizer \f$R_\theta\f$, unrolled or bilevel) through
/// the optim layer (docs/general.md, "Training and the command line"):
///  - Adam: minibatches of clean frames, each with fresh noise \f$\sigma\varepsilon\f$ and a
///    fresh operator draw (ops::OperatorModel::draw: new masks for a random mask);
///  - L-BFGS: the whole training set with one fixed, seeded draw of noise and operator;
///  - a validation set with its own fixed, seeded draw; early stopping returns the
///    best-validation parameters;
///  - checkpoints (optimizer State + generator states + early-stopping state) after every K-th
///    iteration; a run resumed from one ends with the same numbers as one never interrupted;
///  - a non-finite loss or a failed lower level stops the run with status `diverged` and the
///    reason in the message (the last good parameters are kept), never a silent NaN.
///
///   general::GeneralTrainOptions o;  o.depth = 10;  o.optimizer = general::Optimizer::Adam;
///   auto r = general::train_general(ops::parse_operator("mask:0.2", n), *make_regularizer(s, n, 1),
///                                   clean, validation_clean, o);
///   r.model.output(a, g);            // the trained reconstruction of observations g
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "varlearn/core/types.hpp"
#include "varlearn/general/bilevel.hpp"
#include "varlearn/general/energy.hpp"
#include "varlearn/general/unrolled.hpp"
#include "varlearn/ops/model.hpp"
#include "varlearn/optim/adam.hpp"
#include "varlearn/optim/lbfgs.hpp"
#include "varlearn/optim/progress.hpp"
#include "varlearn/optim/state.hpp"
#include "varlearn/reg/regularizer.hpp"

namespace varlearn::general {

/// The two ways of learning the regularizer.
enum class LearningMethod { Unrolled, Bilevel };
const char* to_string(LearningMethod m);           ///< "unrolled" | "bilevel"
LearningMethod parse_learning_method(const std::string& s);

enum class Optimizer { Lbfgs, Adam };
const char* to_string(Optimizer o);                 ///< "lbfgs" | "adam"

/// The unrolled stepsizes \f$\omega_t\f$.
enum class StepsizeKind {
  Learned,       ///< one \f$\omega = \mathrm{softplus}(\alpha)\f$, trained
  PerIteration,  ///< N values \f$\omega_t = \mathrm{softplus}(\alpha_t)\f$, trained
  Fixed,         ///< \f$\omega_t = \f$ stepsize for all t, not trained
};

/// The most shards of a batch (GeneralTrainOptions::shards).
inline constexpr Index kMaxShards = 4096;

struct GeneralTrainOptions {
  LearningMethod method = LearningMethod::Unrolled;
  int depth = 10;                                ///< N >= 1 (unrolled)
  UnrolledInit start = UnrolledInit::Zero;       ///< \f$f^0\f$ (unrolled); bilevel: the lower level's start
  StepsizeKind stepsize_kind = StepsizeKind::Learned;
  /// Fixed: \f$\omega > 0\f$. Learned / per iteration: the initial \f$\omega\f$; 0 = the safe
  /// \f$0.9/(L_A + L_R)\f$ (operator and regularizer bounds at the initial \f$\theta\f$).
  double stepsize = 0;
  bool momentum = false;                         ///< Nesterov momentum in the unrolled steps
  /// Unrolled memory: store every this-many iterates (1 = all; 0 = ceil(sqrt N), O(sqrt N) batches).
  int unrolled_checkpoint_every = 1;
  /// Unrolled in float32: the same regularizer in float (make_regularizer_as<float> of the same
  /// spec); the forward and reverse passes run in float, $	heta$, the optimizer and the
  /// reported losses stay float64. Null = float64. Bilevel refuses it (its certified lower-level
  /// tolerance needs float64).
  std::shared_ptr<const reg::Regularizer<float>> single_precision;
  BilevelOptions bilevel;                        ///< lower level (tolerance = --lower-tolerance)
  double noise_std = 0.1;                        ///< \f$\sigma > 0\f$ of \f$g = Af + \sigma\varepsilon\f$
  Optimizer optimizer = Optimizer::Lbfgs;
  optim::AdamOptions adam;                       ///< max_iterations = Adam steps
  optim::LbfgsOptions lbfgs;                     ///< max_iterations = L-BFGS iterations
  Index batch_size = 0;                          ///< Adam: frames per step (0 = all training frames)
  /// Adam: train_loss on at most this many evenly spaced training frames (0 = all): on a large
  /// corpus (10^5 frames) the final pass and its fixed noise draw would cost more than training.
  Index loss_frames = 0;
  int patience = 0;                              ///< early stopping: validations without improvement (0 = off)
  int validate_every = 10;                       ///< iterations between validations (>= 1)
  std::uint64_t seed = 1;                        ///< minibatch order, noise and operator draws
  int checkpoint_every = 0;                      ///< K: a checkpoint after every K-th iteration (0 = end only)
  /// S: every loss and gradient is the in-order sum of S contiguous shards of the batch's frames
  /// (dist::sum_parts), spread over the MPI ranks; 0 = one shard per rank (the whole batch in one
  /// process). The numbers depend on S, not on the number of ranks: `--shards S` in one process
  /// gives the bits of S ranks (docs/scale-out.md). Not part of the run's fingerprint.
  Index shards = 0;
  /// True: this process trains alone, whatever the MPI ranks (a study's configuration given to
  /// one rank); `shards` then splits the sums within the process. Not part of the fingerprint.
  bool alone = false;
  /// Throws Error naming the field (or its flag).
  void validate() const;
};

/// The UnrolledOptions of a run: the one place where the run's stepsize kind, momentum and
/// memory checkpointing become fields of the unrolled engine.
UnrolledOptions unrolled_options(const GeneralTrainOptions& o);

/// A trained general model: the regularizer (\f$\theta\f$ set), the method and, for
/// unrolled, the stepsizes. output() reconstructs frames from observations.
struct GeneralModel {
  std::shared_ptr<const reg::Regularizer<double>> regularizer;
  LearningMethod method = LearningMethod::Unrolled;
  UnrolledOptions unrolled;
  Vector alpha;                 ///< step parameters (unrolled; \f$\omega = \mathrm{softplus}(\alpha)\f$)
  double fixed_stepsize = 0;    ///< \f$\omega\f$ of a fixed stepsize without step parameters (alpha empty)
  BilevelOptions bilevel;
  /// \f$\omega_t\f$, t = 0..N-1 (empty for bilevel).
  std::vector<double> stepsizes() const;
  /// \f$f^N\f$ (unrolled) or \f$f^*\f$ (bilevel) for observations g of operator a.
  Matrix output(const ops::Operator& a, const Matrix& g) const;
};

/// Everything a run carries from one iteration to the next (a resumed run ends with the same
/// numbers as an uninterrupted one): the run's fingerprint, the optimizer State, the minibatch
/// order and the noise / operator generators (mt19937_64 as text; empty for L-BFGS), and the
/// early-stopping state.
struct GeneralCheckpoint {
  std::map<std::string, std::string> run;
  optim::State optimizer;
  std::string batch_rng;
  std::vector<Index> batch_order;
  Index batch_position = 0;
  std::string noise_rng, operator_rng;
  double best_validation = 0;   ///< +inf before the first validation
  std::vector<double> best_parameters;
  int bad_validations = 0;
  bool stopped_early = false;
  int iteration() const { return optimizer.iteration; }
};

/// {"run":{...},"optimizer":{optim::State},"batches":{"rng","order","position"},"noise_rng",
///  "operator_rng","early_stopping":{"best_validation"|null,"best_parameters","bad_validations","stopped"}}
nlohmann::json checkpoint_to_json(const GeneralCheckpoint& c);
/// Throws Error naming the field on anything malformed.
GeneralCheckpoint checkpoint_from_json(const nlohmann::json& j, const std::string& where = "checkpoint");
/// Writes {"format":"varlearn-general-checkpoint","version":1,"training_state":...,"report":report}
/// atomically (io::write_atomic).
void save_general_checkpoint(const std::filesystem::path& path, const GeneralCheckpoint& c,
                             const nlohmann::json& report = nlohmann::json());
/// Reads one; Error naming the file and field when malformed or not a general checkpoint.
GeneralCheckpoint load_general_checkpoint(const std::filesystem::path& path);

struct GeneralCheckpointing {
  const GeneralCheckpoint* resume = nullptr;  ///< continue this run (its fingerprint must match)
  std::function<void(const GeneralCheckpoint&)> sink;  ///< every checkpoint_every-th iteration and at the end
};

struct GeneralTrainResult {
  GeneralModel model;            ///< the returned (best-validation or last good) model
  Vector parameters;             ///< the optimizer's x: \f$[\theta, \alpha]\f$ (learned steps) or \f$\theta\f$
  optim::Result optim;           ///< status, iterations, history
  double train_loss = 0;         ///< \f$\ell\f$ on the training frames' fixed draw
  double validation_loss = -1;   ///< best validation loss (-1: no validation frames)
  std::vector<std::pair<int, double>> validations;  ///< (iteration, validation loss) of every validation
  bool stopped_early = false;
  /// Bilevel: of the last hypergradient of training (and its lower level).
  double lower_gradient_norm = 0, cg_residual = 0;
  int lower_iterations = 0, cg_iterations = 0;
  std::string message;           ///< why it stopped (non-finite loss: what failed)
};

/// Trains from the regularizer `init` (its \f$\theta\f$ is the start) on clean frames (n x B)
/// with validation frames (n x V, may be empty). Throws Error for bad shapes or options;
/// failures of the lower level during training end the run (status diverged), not throw.
GeneralTrainResult train_general(const ops::OperatorModel& op, const reg::Regularizer<double>& init,
                                 const Matrix& clean, const Matrix& validation_clean, const GeneralTrainOptions& o,
                                 const optim::Observer& observer = {}, const GeneralCheckpointing& checkpointing = {});

/// The seeded observation of a frame set: one operator draw of B frames and the noise,
/// \f$g = Af + \sigma\varepsilon\f$ (validation, test, and the L-BFGS training set).
struct Observation {
  ops::Operator a;
  Matrix g;
};
Observation observe_fixed(const ops::OperatorModel& op, const Matrix& clean, double noise_std, std::uint64_t seed);

/// The fixed draws of a run with seed s: the training set's (L-BFGS, train_loss) and the
/// validation set's; observe_fixed(op, frames, sigma, draw_seed(s, set)) reproduces them.
enum class DrawSet { Training, Validation };
std::uint64_t draw_seed(std::uint64_t seed, DrawSet set);

/// \f$\ell = \tfrac12\|F - F^\dagger\|_F^2 / B\f$ of the model's output on an observation.
double model_loss(const GeneralModel& model, const Observation& obs, const Matrix& target);

/// Mean squared error per sample \f$\|F - F^\dagger\|_F^2/(nB)\f$.
double mse(const Matrix& f, const Matrix& target);

}  // namespace varlearn::general
