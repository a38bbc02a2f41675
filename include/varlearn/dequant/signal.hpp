#pragma once
/// \file signal.hpp
/// Whole signals: quantize, cut into frames (non-overlapping, or half-overlapping), run a
/// frame reconstructor (classic or learned), and put the frames back by overlap-add.
/// With half overlap the frames are joined with normalized Hann weights
/// \f$\hat s[t] = \sum_b w_j \hat F_{jb} / \sum_b w_j\f$ (audio::overlap_add): a convex combination
/// of frame estimates, so when every frame estimate lies in its quantization cells (projected
/// output, or a converged classic solve) so does the joined signal — the cells are intervals.
#include <functional>

#include "varlearn/audio/quantizer.hpp"
#include "varlearn/core/types.hpp"
#include "varlearn/dequant/unrolled.hpp"

namespace varlearn::dequant {

struct FramingOptions {
  Index n = 64;               ///< frame length n (samples)
  bool half_overlap = false;  ///< hop n/2 with Hann weights (n >= 2); else hop n, no overlap
  Index hop() const { return half_overlap ? n / 2 : n; }
  void validate() const;      ///< throws Error naming the bad field
};

/// A quantized signal and its cells, sample by sample.
struct QuantizedSignal {
  Vector quantized, lower, upper;
};

/// \f$s = Q_\Delta(\bar s)\f$ and its cells. Throws Error for samples outside [-1, 1] (clip first
/// with audio::clip_to_unit to accept them) or an empty signal.
QuantizedSignal quantize_signal(const Vector& clean, const audio::Quantizer& quantizer);

/// Training/evaluation frames of one or more signals, full frames only (Tail::Drop).
/// Signals shorter than n contribute nothing; throws Error when no frame results.
DequantFrames make_frames(const std::vector<Vector>& clean, const audio::Quantizer& quantizer,
                          const FramingOptions& framing);

/// Frame reconstructor: (quantized, lower, upper) frames, n x B each -> estimate, n x B.
using FrameMethod = std::function<Matrix(const Matrix& quantized, const Matrix& lower, const Matrix& upper)>;

/// Reconstructs a whole signal: frames with a zero-padded tail (so every sample is covered),
/// `method` on all frames in one batch, overlap-add back to the signal's length.
/// Throws Error when the frame length exceeds the signal length.
Vector dequantize_signal(const QuantizedSignal& signal, const FramingOptions& framing, const FrameMethod& method);

}  // namespace varlearn::dequant
