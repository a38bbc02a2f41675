#pragma once
/// \file dequant_study.hpp
/// Speech dequantization study: at each bit depth b, the quantized test speech,
/// the classic l1 reconstruction (Chambolle–Pock, converged with a certified gap, and
/// stopped after N iterations with the step size and projection tuned on the training set),
/// and the learned unrolled network of depth N (K and step sizes trained with Adam,
/// initialized at the tuned classic configuration of the same N). Test SNR and segmental
/// SNR of whole signals (overlap-add of the frame estimates).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "varlearn/audio/quantizer.hpp"
#include "varlearn/core/types.hpp"
#include "varlearn/study/journal.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::study {

/// A reconstruction method of the study.
enum class DequantMethod {
  Quantized,  ///< the quantized signal itself (cell midpoints)
  Classic,    ///< l1 by Chambolle–Pock: N tuned iterations, and converged to a certified gap
  Learned,    ///< unrolled primal–dual network of depth N trained with Adam
};
const char* to_string(DequantMethod m);  ///< "quantized" | "classic" | "learned"
/// Parses "quantized", "classic" or "learned"; throws Error listing them otherwise.
DequantMethod parse_dequant_method(const std::string& name);

/// Settings; every field's CLI flag in parentheses.
struct DequantOptions {
  /// The headline compares the learned network of this depth with the best classic result.
  static constexpr int kHeadlineDepth = 5;

  std::vector<int> bits{3, 4, 5, 6};           ///< bit depths b (--bits), each in [1, 24]
  Index frame_length = 64;                     ///< n (--n)
  bool half_overlap = false;                   ///< frames with hop n/2 and Hann weights (--half-overlap)
  std::vector<int> depths{1, 2, 5, 10, 20};    ///< N (--depths), each >= 1
  std::vector<DequantMethod> methods{DequantMethod::Quantized, DequantMethod::Classic,
                                     DequantMethod::Learned};  ///< (--methods)
  audio::QuantizerKind quantizer = audio::QuantizerKind::MidRise;      ///< (--quantizer)
  std::vector<std::filesystem::path> train_files, test_files;  ///< (--train/--test); empty: codec2 corpus
  /// Scale each file to this peak amplitude before quantizing (--peak); 0 = keep the level
  /// (samples outside [-1, 1] are then clipped and counted). Default 0.99.
  double peak = 0.99;
  bool quick = false;                          ///< small corpus, b = 4, N in {1, 5}, fewer steps (--quick)
  // classic
  double converged_rel_gap = 1e-4;             ///< relative gap tolerance of the converged solve (--gap)
  int converged_max_iter = 200000;             ///< its iteration cap (--max-iter)
  /// Grid of tau for the fixed-N classic runs (sigma = 1/tau); tuned on the training frames.
  std::vector<double> tau_grid{0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0};
  // learned
  int train_steps = 2000;                      ///< Adam steps per network (--steps)
  Index batch_size = 256;                      ///< frames per step (--batch)
  double learning_rate = 3e-3;                 ///< Adam eta (--lr) at N <= 5, times 5/N beyond; halved every steps/4
  bool per_iteration_stepsizes = true;         ///< one (tau, sigma) per iteration (--shared-stepsizes: one)
  bool project_learned = true;                 ///< project the learned output onto the cells (--no-project-learned: off)
  Index max_train_frames = 20000;              ///< subsample the training frames (seeded) beyond this
  // depth analysis (why deeper unrolling does not help): see dequant_depth.hpp
  /// Also train the warm chain (--warm-start): at every b, the learned network of each depth
  /// (ascending) starts from the trained next shallower one (cold or warm, whichever has the
  /// higher training SNR; the shallowest depth has only the cold one),
  /// its added iterations near the identity (see added_tau_grid), so it starts at the
  /// shallower network's training loss and training can only improve on it.
  bool warm_start = false;
  /// Adam steps of the warm-started networks = budget x steps (--budget; needs --warm-start).
  double budget = 1.0;
  /// Initial tau of the added iterations, as multiples of the last trained iteration's tau
  /// (sigma: its sigma); 0 = dequant::kNoOpStepsize, the identity. The grid point with the
  /// lowest loss on (a subsample of) the training frames is the start, so the start is never
  /// worse than the identity one beyond that subsample's noise.
  std::vector<double> added_tau_grid{0, 0.01, 0.1, 0.3, 1.0};
  std::uint64_t seed = 1;                      ///< (--seed)
  int example_bits = 4;                        ///< bit depth of the example WAVs (if run)
  bool write_audio = true;
  void validate() const;                       ///< throws Error naming the bad field
  DequantOptions resolved() const;             ///< quick defaults filled in
};

/// One row of results.json.
struct DequantEntry {
  DequantMethod method = DequantMethod::Quantized;
  int bits = 0;
  std::optional<int> depth;    ///< N; none for quantized and converged classic
  double snr_db = 0;           ///< test SNR (pooled over all test samples)
  double segsnr_db = 0;        ///< test segmental SNR
  double train_snr_db = 0;     ///< SNR on the training frames (selection / training objective)
  double tau = 0, sigma = 0;   ///< classic: the tuned steps; learned: mean of the learned ones
  bool projected = false;      ///< output projected onto the cells
  int iterations = 0;          ///< classic converged: CP iterations; learned: Adam steps
  double max_rel_gap = 0;      ///< classic converged: certified relative duality gap reached
  double max_cell_violation = 0;  ///< max distance of the test output to its cells
  double seconds = 0;          ///< time for this configuration (tuning/training + test)
  // learned only
  bool warm = false;           ///< warm-started from the next shallower learned network ("init": "warm"; else "cold")
  double budget = 1;           ///< Adam steps as a multiple of --steps
  double start_train_snr_db = 0;  ///< training SNR at the initial parameters (before Adam)
  double added_tau_init = 0;   ///< warm: initial tau of the added iterations (dequant::kNoOpStepsize: identity)
  double added_tau_learned = 0;  ///< warm: mean learned tau of the added iterations
  /// warm: started from the warm (true) or the cold (false) network of the next smaller N,
  /// whichever fits the training frames better ("warm_from")
  bool warm_from_warm = false;
};

struct DequantResults {
  DequantOptions options;
  int rate = 0;
  std::vector<std::string> train_files, test_files;
  Index train_frames = 0, test_samples = 0;
  Index clipped_samples = 0;   ///< samples clipped into [-1, 1] (only with peak = 0)
  std::vector<DequantEntry> entries;
  double seconds = 0;
  // Example audio (first test file, example_bits): (wav name, signal)
  std::string example_file;
  std::vector<std::pair<std::string, Vector>> examples;
  /// Best classic test SNR at b bits over all classic entries (fixed N and converged).
  std::optional<double> best_classic_snr(int bits) const;
  std::optional<double> snr(DequantMethod method, int bits, std::optional<int> depth) const;
};

/// Runs the study: the stages of dequant_pipeline.hpp, the rows of the results table side by
/// side (one thread each, largest first; under mpirun spread over the ranks, rank 0 gathering
/// them, docs/scale-out.md). One line per row through `log` (the library never prints). With an enabled `journal` (--resume), each finished
/// (bits, method, N) entry is recorded as "b<bits>-<method>[-N<N>|-converged]" (with its
/// example signal where it feeds a WAV), and entries found there are reused instead of
/// recomputed: the results equal an uninterrupted run's (every seed depends on the
/// configuration only: subsampling on seed + b, learned training on seed, b and N).
DequantResults run_dequant_study(const DequantOptions& options, const Log& log = {}, const Journal& journal = {});

/// The dequantization study's options in `reproduce`'s report (the study's defaults, or its
/// `--quick` grid); its depth analysis is depth_analysis_options() (dequant_depth.hpp).
DequantOptions report_dequant_options(bool quick);

/// What determines the results (resolved options and input files): the journal's fingerprint.
nlohmann::json dequant_fingerprint(const DequantOptions& options);

/// Writes results.json, results.csv, summary.md, figures (snr_vs_depth_<b>bit, snr_vs_bits)
/// and WAVs (example_clean/quantized/classic/learned.wav) into `dir` (created), atomically.
/// Returns the files written.
std::vector<std::filesystem::path> write_dequant_outputs(const DequantResults& results,
                                                         const std::filesystem::path& dir);

/// The markdown table and the headline (learned N = 5 vs best classic at 4 bits).
std::string dequant_summary_markdown(const DequantResults& results);

}  // namespace varlearn::study
