#pragma once
/// \file objective.hpp
/// Loss and exact gradient of the quadratic model with respect to its flat parameters
/// \f$\theta\f$ (model.hpp), in float32 or float64. Two paths:
///  - direct: frames X (noisy), Y (clean), n x B:
///    \f$L = \tfrac{1}{2B}\|T_R X - Y\|_F^2\f$; bilevel by Cholesky + one adjoint solve,
///    unrolled by reverse mode through the N iterations (stores the iterates, or only every
///    c-th with recomputation: UnrollOptions);
///  - structured: the same loss through per-frame moments \f$A = XX^T/B\f$, \f$C = XY^T/B\f$,
///    \f$c = \mathrm{tr}(YY^T)/B\f$: \f$L = \tfrac12[\mathrm{tr}(TAT^T) - 2\mathrm{tr}(TC) + c]\f$,
///    O(n^3) independent of B. With \f$A = S + \sigma^2 I,\ C = S,\ c = \mathrm{tr}\,S\f$
///    (S the clean second moment) it is the exact expected loss over Gaussian noise,
///    \f$\tfrac12[\mathrm{tr}((T-I)S(T-I)^T) + \sigma^2\|T\|_F^2]\f$, i.e. the theory risk.
#include <memory>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/learn/model.hpp"

namespace varlearn::learn {

/// Per-frame moments of a data set (or their expectation). Symmetric A.
template <class T>
struct Moments {
  MatrixT<T> xx;   ///< \f$A = XX^T/B\f$ (n x n)
  MatrixT<T> xy;   ///< \f$C = XY^T/B\f$ (n x n)
  double yy = 0;   ///< \f$c = \mathrm{tr}(YY^T)/B\f$
  Index frames = 0;  ///< B (0 for an expectation)

  /// From frames (n x B each; throws Error on shape mismatch, B = 0, non-finite entries).
  static Moments from_frames(const MatrixT<T>& noisy, const MatrixT<T>& clean);
  /// Expectation over \f$x = y + \varepsilon,\ \varepsilon\sim N(0,\sigma^2 I)\f$ given
  /// \f$S = E[yy^T]\f$ (throws unless S square symmetric finite and sigma > 0 finite).
  static Moments expected(const Matrix& clean_second_moment, double noise_std);
  Index n() const { return xx.rows(); }
};

/// Memory policy of the unrolled reverse mode (direct path).
struct UnrollOptions {
  /// Store every c-th iterate and recompute the others during the backward pass:
  /// memory \f$\approx (N/c + c)\cdot nB\f$ scalars instead of \f$N\cdot nB\f$; cost +1 forward.
  /// 0 = automatic: c = 1 (store all) when \f$N n B\f$ scalars fit in memory_budget_bytes,
  /// else \f$c = \lceil\sqrt N\rceil\f$. Default 0.
  int checkpoint_every = 0;
  double memory_budget_bytes = 2e9;  ///< for the automatic choice
  /// Use the Gram matrix \f$M = R^TR\f$ (n x n) instead of R and R^T: 2n^2B instead of 4nkB
  /// flops per step. 0 = automatic (when 2k > n), 1 = always, -1 = never. Default 0.
  int use_gram = 0;
  void validate() const;
};

/// Columns per block of the direct unrolled path: it runs the frames through the N steps
/// block by block (a block's iterates stay in cache; blocks run in parallel on the OpenMP
/// threads and their sums are added in block order, so the result does not depend on the
/// thread count). A function of n and the frame count only: at least 128 columns, about 40k
/// scalars per iterate; all frames when fewer.
Index direct_block_columns(Index n, Index frames);

/// Direct path: returns \f$L(\theta)\f$, writes \f$\nabla_\theta L\f$ into *grad when non-null.
/// theta has spec.num_parameters() entries; for a fixed stepsize pass it in `fixed_stepsizes`
/// (ignored otherwise). Throws Error on shape mismatch.
template <class T>
T loss_direct(const ModelSpec& spec, const VectorT<T>& theta, const std::vector<double>& fixed_stepsizes,
              const MatrixT<T>& noisy, const MatrixT<T>& clean, VectorT<T>* grad,
              const UnrollOptions& options = {});

/// Structured path through the moments: same value and gradient as loss_direct on the frames
/// the moments came from, O(n^3) per call.
template <class T>
T loss_structured(const ModelSpec& spec, const VectorT<T>& theta,
                  const std::vector<double>& fixed_stepsizes, const Moments<T>& moments,
                  VectorT<T>* grad);

/// loss_direct as an optim objective (optim::DifferentiableFunction) bound to a model shape,
/// fixed stepsizes and frames. Holds pointers to the frames: they must outlive it.
template <class T>
class DirectLoss {
public:
  DirectLoss(const ModelSpec& spec, std::vector<double> fixed_stepsizes, const MatrixT<T>& noisy,
             const MatrixT<T>& clean, const UnrollOptions& options = {})
      : spec_(spec), fixed_(std::move(fixed_stepsizes)), x_(&noisy), y_(&clean), options_(options) {}
  T evaluate_with_gradient(const VectorT<T>& theta, VectorT<T>& grad) const {
    return loss_direct<T>(spec_, theta, fixed_, *x_, *y_, &grad, options_);
  }
  T evaluate(const VectorT<T>& theta) const { return loss_direct<T>(spec_, theta, fixed_, *x_, *y_, nullptr, options_); }

private:
  ModelSpec spec_;
  std::vector<double> fixed_;
  const MatrixT<T>* x_;
  const MatrixT<T>* y_;
  UnrollOptions options_;
};

/// loss_structured as an optim objective bound to a model shape, fixed stepsizes and moments
/// (shared, so copies are cheap).
template <class T>
class StructuredLoss {
public:
  StructuredLoss(const ModelSpec& spec, std::vector<double> fixed_stepsizes, Moments<T> moments)
      : spec_(spec), fixed_(std::move(fixed_stepsizes)),
        moments_(std::make_shared<const Moments<T>>(std::move(moments))) {}
  T evaluate_with_gradient(const VectorT<T>& theta, VectorT<T>& grad) const {
    return loss_structured<T>(spec_, theta, fixed_, *moments_, &grad);
  }
  T evaluate(const VectorT<T>& theta) const { return loss_structured<T>(spec_, theta, fixed_, *moments_, nullptr); }
  const Moments<T>& moments() const { return *moments_; }

private:
  ModelSpec spec_;
  std::vector<double> fixed_;
  std::shared_ptr<const Moments<T>> moments_;
};

/// Convenience: loss of a model (float64) on frames or moments, no gradient.
double loss(const QuadraticModel& model, const Matrix& noisy, const Matrix& clean);
double loss(const QuadraticModel& model, const Moments<double>& moments);

}  // namespace varlearn::learn
