#pragma once
/// \file dequant_pipeline.hpp
/// The stages of the speech dequantization study (run_dequant_study calls them in order):
///
///   corpus → per bit depth b: quantize → quantized entry → classic tuning (tau, projection per
///   N on training frames) → classic entries (N iterations; converged) → learned entries
///
/// All take the resolved DequantOptions (DequantOptions::resolved()). The writers are
/// write_dequant_outputs in dequant_study.hpp.
#include <map>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/signal.hpp"
#include "varlearn/dequant/unrolled.hpp"
#include "varlearn/study/dequant_study.hpp"

namespace varlearn::study::dequantize {

/// Stage 1: the speech files, scaled to the options' peak and clipped into [-1, 1].
struct Corpus {
  int rate = 0;
  std::vector<std::string> train_files, test_files;
  std::vector<Vector> train, test;  ///< signals
  Index clipped_samples = 0;        ///< clipped into [-1, 1] (only with peak = 0)
  Index test_samples = 0;
};
/// Throws Error on unreadable files or a test file shorter than one frame.
Corpus load_corpus(const DequantOptions& options, const Log& log = {});

/// Stage 2: everything at one bit depth b.
struct BitDepth {
  int bits = 0;
  std::vector<dequant::QuantizedSignal> test;  ///< quantized test signals with their cells
  dequant::DequantFrames train;                ///< training frames, subsampled to max_train_frames
  bool example = false;                        ///< the example WAVs come from this b
};
BitDepth quantize(const Corpus& corpus, const DequantOptions& options, int bits);

/// Test SNR, segmental SNR, cell violation and outputs of a frame method on the test signals.
struct Evaluation {
  double snr = 0, segsnr = 0, violation = 0;
  std::vector<Vector> outputs;
};
Evaluation evaluate(const Corpus& corpus, const BitDepth& b, const DequantOptions& options,
                    const dequant::FrameMethod& method);

/// Stage 3: the quantized signal itself.
DequantEntry quantized_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& options);

/// Best (tau, projection) for N Chambolle–Pock iterations, by training-frame SNR.
struct ClassicChoice {
  double tau = 1, train_snr = -1e300;
  bool project = false;
};
/// For each tau of the grid, runs max N iterations once on the frames and scores K x^N (with
/// and without projection) at each N of `depths`.
std::map<int, ClassicChoice> tune_classic(const dequant::DequantFrames& frames, const std::vector<int>& depths,
                                          const std::vector<double>& taus);
/// Stage 4: tune_classic on a seeded subsample of b's training frames, for the options' depths.
struct ClassicTuning {
  std::map<int, ClassicChoice> best;  ///< by depth N
  double seconds = 0;
};
ClassicTuning tune(const BitDepth& b, const DequantOptions& options);
/// Chambolle–Pock settings of the tuned N-iteration solver (also the learned network's start).
dequant::CpOptions fixed_budget(const ClassicChoice& choice, int depth);

/// Stage 5: classic with N tuned iterations, and converged to the certified gap (its
/// evaluation's outputs feed the example WAV).
DequantEntry classic_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& options, int depth,
                           const ClassicTuning& tuning);
DequantEntry converged_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& options,
                             Evaluation* evaluation = nullptr);

/// Stage 6: the learned network of depth N, started at the tuned classic configuration.
DequantEntry learned_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& options, int depth,
                           const dequant::CpOptions& start, const Log& log = {}, Evaluation* evaluation = nullptr);

}  // namespace varlearn::study::dequantize
