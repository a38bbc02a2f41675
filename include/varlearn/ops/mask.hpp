#pragma once
/// \file mask.hpp
/// Sample masks (missing samples, packet loss, inpainting): \f$A = \mathrm{diag}(m)\f$ with
/// \f$m \in \{0,1\}^n\f$ per frame (1 = observed). The output is n x B with exact zeros at
/// the missing samples, so A is self-adjoint and idempotent (\f$A^TA = A\f$, \f$\|A\|^2 = 1\f$
/// unless every sample is missing). One pattern for every frame (n x 1) or one per frame
/// (n x B). Random masks are drawn per batch: `draw_mask(n, B, options, rng)` returns the
/// fixed Mask of that batch (training draws fresh ones, tests fix them).
#include <string>

#include "varlearn/core/random.hpp"
#include "varlearn/core/types.hpp"

namespace varlearn::ops {

/// Observed (true) / missing (false) samples: n x 1 (every frame) or n x B (frame j: column j).
using MaskPattern = Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>;

class Mask {
public:
  /// Throws Error for an empty pattern.
  explicit Mask(MaskPattern observed);
  /// From a 0/1 matrix (1 = observed), e.g. read with io::read_matrix; Error names the first
  /// entry that is neither 0 nor 1.
  static Mask from_matrix(const Matrix& zero_one);

  /// \f$(A f)_{ij} = m_{ij} f_{ij}\f$ (missing samples exactly 0, observed ones copied).
  template <class T>
  MatrixT<T> apply(const MatrixT<T>& f) const;
  /// \f$A^T = A\f$.
  template <class T>
  MatrixT<T> adjoint(const MatrixT<T>& g) const { return apply(g); }
  Index input_size() const { return observed_.rows(); }
  Index output_size() const { return observed_.rows(); }
  /// 0 for a pattern shared by every frame (any B), else its number of columns.
  Index batch_size() const { return observed_.cols() == 1 ? 0 : observed_.cols(); }
  /// 1 (0 when every sample is missing): exact.
  double norm_squared_bound() const;
  std::string describe() const;  ///< "mask (n = 7, B = 5, 12 of 35 samples missing)"

  /// The mask of frames [begin, begin + count) (a shared pattern: itself); Error when out of range.
  Mask columns(Index begin, Index count) const;
  const MaskPattern& observed() const { return observed_; }
  Index missing_count() const;

private:
  MaskPattern observed_;
};

/// How random masks are drawn.
enum class MaskKind {
  Random,  ///< each sample missing independently with probability p (Bernoulli)
  Burst,   ///< bursts of exactly L missing samples, separated by observed ones, fraction p on average
};
const char* to_string(MaskKind kind);  ///< "random", "burst"

struct MaskOptions {
  MaskKind kind = MaskKind::Random;
  /// \f$p \in [0, 1)\f$: expected fraction of missing samples. Default 0.1.
  double missing_probability = 0.1;
  /// L >= 1: length of a burst (Burst only; Random ignores it). Default 1.
  Index burst_length = 1;
  /// Throws Error naming the bad field; with n, also that bursts fit in a frame
  /// (\f$\lceil pn/L\rceil (L+1) \le n+1\f$, so that they stay separated).
  void validate(Index n) const;
  std::string describe() const;  ///< "random p = 0.1", "burst p = 0.2 L = 4"
};

/// The n x B pattern of one batch, drawn with rng (column-major, frame by frame):
/// - Random: sample (i, j) missing iff a std::bernoulli_distribution(p) draw is true.
/// - Burst: frame by frame, k bursts with \f$k = \lfloor pn/L\rfloor + \mathrm{Bernoulli}(pn/L -
///   \lfloor pn/L\rfloor)\f$ (so \f$E[k]L/n = p\f$), placed uniformly among the arrangements of
///   k runs of exactly L missing samples with at least one observed sample between runs
///   (k distinct slots of n + 1 - kL, Floyd's sampling). Bursts stay inside their frame.
MaskPattern draw_mask_pattern(Index n, Index batch, const MaskOptions& options, Rng& rng);

/// Mask(draw_mask_pattern(n, batch, options, rng)).
Mask draw_mask(Index n, Index batch, const MaskOptions& options, Rng& rng);

}  // namespace varlearn::ops
