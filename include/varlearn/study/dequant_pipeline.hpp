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

#include <nlohmann/json.hpp>
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

/// The learned network of depth N as the options describe it.
dequant::UnrolledSpec learned_spec(const DequantOptions& options, int depth);

/// Stage 6: the learned network of depth N, started at the tuned classic configuration
/// ("cold"). Its trained parameters go to `theta` when given.
DequantEntry learned_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& options, int depth,
                           const dequant::CpOptions& start, const Log& log = {}, Evaluation* evaluation = nullptr,
                           Vector* theta = nullptr);

/// The warm start of depth N from the trained network of depth `shallow_depth` < N:
/// dequant::extend_parameters with the added iterations' tau chosen from
/// options.added_tau_grid (times the last trained tau; 0 = the identity) by the loss on a
/// seeded subsample of the training frames, sigma = the last trained sigma.
struct WarmStart {
  Vector theta;
  double added_tau = 0;
};
WarmStart warm_start(const BitDepth& b, const DequantOptions& options, int depth, int shallow_depth,
                     const Vector& shallow_theta);

/// Stage 7 (--warm-start): the learned network of depth N started at warm_start() and trained
/// for budget x steps Adam steps. Its trained parameters go to `theta` when given.
DequantEntry warm_entry(const Corpus& corpus, const BitDepth& b, const DequantOptions& options, int depth,
                        int shallow_depth, const Vector& shallow_theta, const Log& log = {},
                        Evaluation* evaluation = nullptr, Vector* theta = nullptr);

/// One results row as JSON (results.json's "entries" and the journal) and back; keys absent
/// in older journals take their defaults.
nlohmann::json entry_json(const DequantEntry& e);
DequantEntry entry_from_json(const nlohmann::json& j);

}  // namespace varlearn::study::dequantize
