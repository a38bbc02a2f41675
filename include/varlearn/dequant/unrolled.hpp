#pragma once
/// \file unrolled.hpp
/// Learned dequantization (Brauer, Zhao, Lorenz, Fingscheidt 2019): N Chambolle–Pock
/// iterations for \f$\min\|x\|_1\ \text{s.t.}\ \ell \le Kx \le u\f$ unrolled into a network whose
/// matrix K (initialized at \f$DCT^{-1} = C^T\f$) and positive step sizes
/// \f$\tau_k = \mathrm{softplus}(a_k)\f$, \f$\sigma_k = \mathrm{softplus}(b_k)\f$ (shared or one pair per
/// iteration) are learned by minimizing the MSE of the output to the clean frame.
///
/// Network (all frames at once, columns of n x B matrices; s = quantized frame):
///   \f$x^0 = K^T s,\ \bar x^0 = x^0,\ y^0 = 0\f$; for k = 1..N:
///   \f$v = y^{k-1} + \sigma_k K\bar x^{k-1}\f$, \f$y^k = v - \mathrm{clamp}(v, \sigma_k\ell, \sigma_k u)\f$,
///   \f$z = x^{k-1} - \tau_k K^T y^k\f$, \f$x^k = \mathrm{soft}_{\tau_k}(z)\f$, \f$\bar x^k = 2x^k - x^{k-1}\f$;
///   output \f$\hat s = Kx^N\f$ or, with projection, \f$\mathrm{clamp}(Kx^N, \ell, u)\f$.
/// With K = C^T and fixed steps this is exactly solve_l1_dequant() with a budget of N.
/// Reverse mode uses the subgradients of the kinks: soft' = [|z| > τ], clamp' = [ℓ < · < u].
///
/// Parameters θ (flat, for the optimizers and the gradient checker):
///   [vec(K) column-major (n²), a_1..a_m, b_1..b_m], m = 1 (shared) or N (per iteration).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/optim/adam.hpp"
#include "varlearn/optim/progress.hpp"

namespace varlearn::dequant {

enum class StepsizeSharing { Shared, PerIteration };

struct UnrolledSpec {
  Index n = 64;   ///< frame length n (>= 1)
  int depth = 5;  ///< N, unrolled iterations (>= 1)
  StepsizeSharing sharing = StepsizeSharing::PerIteration;  ///< one (τ,σ) or one per iteration
  bool project_output = false;  ///< output \f$\Pi_{[\ell,u]}(Kx^N)\f$
  void validate() const;        ///< throws Error naming the bad field
  Index num_stepsizes() const { return sharing == StepsizeSharing::Shared ? 1 : depth; }
  Index num_parameters() const { return n * n + 2 * num_stepsizes(); }
};

/// θ at K = C^T and every \f$\tau_k = \tau, \sigma_k = \sigma\f$ (both > 0).
template <class T> VectorT<T> initial_parameters(const UnrolledSpec& spec, double tau = 1.0, double sigma = 1.0);

/// Step size \f$\tau\f$ of an added iteration that is a no-op: with \f$\tau \to 0\f$ an iteration
/// leaves x unchanged (\f$z = x - \tau K^Ty \to x\f$, \f$\mathrm{soft}_\tau(z) \to z\f$), whatever its
/// \f$\sigma\f$ and dual variable, so the output \f$Kx^N\f$ is the shallower network's. At this value
/// (softplus parameter about -30) the output moves by at most
/// \f$2\tau(\|K^Ty\|_\infty + 1)\f$ per frame and sample: a relative loss change near 1e-13.
inline constexpr double kNoOpStepsize = 1e-13;

/// Warm start of a deeper network from a trained shallower one: θ for `deep` with K and the
/// first shallow.depth step pairs copied from `theta`, and the added iterations
/// shallow.depth+1 .. deep.depth at \f$\tau = \f$ tau_added, \f$\sigma = \f$ sigma_added (both > 0).
/// With tau_added = kNoOpStepsize the deeper network computes the shallower one's output (to
/// the bound above), so training it can only improve on the shallower network. Both specs
/// must have per-iteration step sizes, the same n and projection, and deep.depth > shallow.depth;
/// throws Error otherwise.
template <class T>
VectorT<T> extend_parameters(const UnrolledSpec& shallow, const VectorT<T>& theta, const UnrolledSpec& deep,
                             double tau_added, double sigma_added);

/// The learned matrix K (n x n) and step sizes read out of θ.
struct UnrolledParameters {
  Matrix k;
  std::vector<double> tau, sigma;  ///< per iteration (repeated when shared)
};
template <class T> UnrolledParameters unpack(const UnrolledSpec& spec, const VectorT<T>& theta);

/// Network output \f$\hat s\f$ (n x B). Throws Error on shape mismatch.
template <class T>
MatrixT<T> unrolled_forward(const UnrolledSpec& spec, const VectorT<T>& theta, const MatrixT<T>& quantized,
                            const MatrixT<T>& lower, const MatrixT<T>& upper);

/// Frames per column block of UnrolledLoss for a batch of B = `frames` frames of `scalar_bytes`
/// (4: float32, 8: float64): a block's reverse-mode tape (6 N + 8 matrices of n x columns) at
/// most about 1.5 MB, so that it stays in a core's L2 cache, but at least 64 columns; the blocks
/// as even as multiples of 16 allow. The whole batch when it is one block. A function of the
/// shape only: the loss does not depend on the thread count.
Index unrolled_block_columns(const UnrolledSpec& spec, Index frames, std::size_t scalar_bytes);

/// The network's training loss as an optim objective (optim::DifferentiableFunction) bound to
/// its frames: the MSE (mean over all samples) \f$L(\theta) = \frac{1}{nB}\|\hat s(\theta) - \bar s\|_F^2\f$
/// of the output to the clean frames \f$\bar s\f$; the gradient by reverse mode through the N
/// iterations. Holds pointers to the frames (n x B each): they must outlive the objective. A
/// batch of two column blocks or more (unrolled_block_columns) runs block by block, the blocks
/// on the OpenMP threads, their sums added in block order; a batch of one block runs its products
/// on one thread when they are small (core/threads.hpp's threads_for_flops).
/// Keeps reverse mode's tape from call to call (copies share it; concurrent calls are safe, the
/// second one then uses a tape of its own).
template <class T>
class UnrolledLoss {
public:
  UnrolledLoss(const UnrolledSpec& spec, const MatrixT<T>& quantized, const MatrixT<T>& lower,
               const MatrixT<T>& upper, const MatrixT<T>& clean);
  /// \f$L(\theta)\f$; writes \f$\nabla_\theta L\f$ into grad (resized). Throws Error on shape mismatch.
  T evaluate_with_gradient(const VectorT<T>& theta, VectorT<T>& grad) const;
  /// \f$L(\theta)\f$ (forward only).
  T evaluate(const VectorT<T>& theta) const;

private:
  UnrolledSpec spec_;
  const MatrixT<T>* s_;
  const MatrixT<T>* l_;
  const MatrixT<T>* u_;
  const MatrixT<T>* c_;
  struct Workspace;
  std::shared_ptr<Workspace> work_;
};

/// Training frames: all n x B, columns are frames.
struct DequantFrames {
  Matrix clean, quantized, lower, upper;
  Index size() const { return clean.cols(); }
};

struct UnrolledTrainOptions {
  /// Learning rate, decay schedule, iterations (= minibatch steps). A non-finite or exploding
  /// minibatch loss (AdamOptions::divergence_factor) ends the run; the best monitored
  /// parameters are returned all the same.
  optim::AdamOptions adam{};
  Index batch_size = 512;     ///< frames per Adam step (0 or >= B: full batch)
  std::uint64_t seed = 1;     ///< minibatch order
  bool float32 = true;        ///< train in float32 (float64 otherwise)
  int threads = 1;            ///< GEMM threads while training (0 = leave Eigen's setting); see CpOptions::threads
  /// Keep the best iterate: every `monitor_every` steps (0 = steps/20) the MSE on a fixed,
  /// seeded subset of `monitor_frames` training frames (0 = all) is measured, starting at
  /// theta0, and the parameters with the lowest value are returned. A deep network whose
  /// Adam run goes astray thus never ends worse (on training data) than where it started.
  int monitor_every = 0;
  Index monitor_frames = 2048;
  void validate() const;
};

struct UnrolledTrainResult {
  Vector theta;          ///< trained parameters (float64): the best monitored ones
  /// Adam's outcome: status, steps (iterations), minibatch loss per step (history); seconds
  /// is the whole training time (monitoring and the final loss included).
  optim::Result optim;
  double final_loss = 0; ///< full training-set MSE at the returned parameters
  int best_step = 0;     ///< step of the returned parameters (0 = theta0)
};

/// optim::Adam on UnrolledLoss over minibatches of `data` (a seeded shuffle per epoch),
/// starting from theta0. The observer sees every step (Progress::loss = minibatch MSE) and
/// may stop the run. Sets flush-to-zero in the worker threads (denormals in long unrolled
/// backward passes).
UnrolledTrainResult train_unrolled(const UnrolledSpec& spec, const Vector& theta0, const DequantFrames& data,
                                   const UnrolledTrainOptions& options = {}, const optim::Observer& observer = {});

}  // namespace varlearn::dequant
