#pragma once
/// \file framing.hpp
/// Frames of n samples with a hop, as the columns of an n x B matrix (design: batch work
/// is GEMM), and weighted overlap-add back to a signal:
///   \f$x[t] = \sum_b w[j] F[j,b] / \sum_b w[j]\f$, j = t - b*hop,
/// which reconstructs exactly for every hop <= n when the frames are unchanged, because
/// the weights w > 0 are normalized by their sum at each sample.
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::audio {

/// What happens to the samples after the last full frame.
enum class Tail {
  Drop,    ///< only full frames (for statistics: no zero padding enters S)
  ZeroPad  ///< a last zero-padded frame so every sample is covered (for reconstruction)
};

/// Overlap-add weights.
enum class Window {
  Rectangular,  ///< w = 1 (plain averaging of the overlapping frames)
  Hann          ///< w[j] = sin^2(pi (j + 1/2) / n) > 0: tapered, smooth joins (default)
};

/// Number of frames framing a signal of `length` samples gives.
Index frame_count(Index length, Index n, Index hop, Tail tail);

/// Frames of `x` as columns: F(:, b) = x[b*hop .. b*hop + n - 1]. Throws Error unless
/// n >= 1, 1 <= hop <= n, and (for Tail::Drop) length >= n; ZeroPad needs length >= 1.
Matrix frame(const Vector& x, Index n, Index hop, Tail tail = Tail::Drop);

/// Frames of several signals side by side (each framed alone; no frame crosses files).
/// Signals shorter than n are skipped under Tail::Drop; throws if no frame results.
Matrix frame_all(const std::vector<Vector>& xs, Index n, Index hop, Tail tail = Tail::Drop);

/// The weights w (length n).
Vector window_weights(Index n, Window window);

/// Weighted overlap-add of frames (n x B, hop) into a signal of `length` samples (length
/// <= (B-1)*hop + n; samples covered by no frame are 0). Inverse of frame() for any tail.
Vector overlap_add(const Matrix& frames, Index hop, Index length, Window window = Window::Hann);

}  // namespace varlearn::audio
