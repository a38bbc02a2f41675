#pragma once
/// \file denoise_study.hpp
/// The talk's "reality check": learn the quadratic regularizer on clean speech
/// frames with Gaussian noise, bilevel against unrolled gradient descent at every depth N
/// with a learned and with a fixed stepsize, each next to the theory engine's prediction
/// (best achievable risk for the training second moment S).
///
/// Per-sample MSE of a linear denoiser T on frames with second moment S (exact expectation
/// over the noise): \f$\mathrm{mse}(T;S) = \tfrac1n[\mathrm{tr}((T-I)S(T-I)^T) + \sigma^2\|T\|_F^2]\f$,
/// i.e. 2/n times the per-frame loss \f$\tfrac12\|Tx-y\|^2\f$ of the learning engine.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/study/journal.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::study {

/// Settings of the study; every field has its CLI flag in parentheses.
struct DenoiseOptions {
  static constexpr Index kDefaultFrameLength = 320;       ///< n when --n is not given
  static constexpr Index kQuickFrameLength = 80;          ///< n with --quick
  static constexpr int kMaxDepth = 200;                   ///< largest depth N accepted
  static constexpr int kDefaultCorpusRate = 8000;         ///< Hz of the codec2 corpus
  static constexpr int kExactIterations = 150;            ///< L-BFGS iterations (exact objective)
  static constexpr int kQuickIterations = 300;            ///< either optimizer with --quick
  static constexpr int kSampledIterations = 2000;         ///< Adam steps (sampled objective)
  static constexpr double kSampledLearningRate = 1e-3;    ///< Adam eta (sampled objective)
  static constexpr Index kSampledBatchSize = 256;         ///< frames per Adam step (sampled objective)

  Index n = 0;                 ///< frame length n (--n); 0 = 320 (80 with quick)
  Index hop = 0;               ///< hop between frames (--hop); 0 = n/2
  double noise_std = 0.1;      ///< sigma (--sigma)
  Index rank = 0;              ///< k, rows of R; 0 = n, or the largest of `ranks` (--k)
  /// Rank analysis (--k LIST with two or more ranks): bilevel and unrolled with learned
  /// stepsize at every depth of `rank_depths`, trained at each k, beside the theory engine's
  /// optimum at that k. Empty: none (a single --k is `rank` alone: today's study). The main
  /// study runs at `rank` (default: the largest k of the list) and its configurations are
  /// reused for that k.
  std::vector<Index> ranks;
  std::vector<int> rank_depths;  ///< depths N of the rank analysis (--rank-depths); empty = `depths`
  std::vector<int> depths{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  ///< N (--depths)
  /// omega of the fixed-stepsize runs (--fixed-stepsize). Every model starts from
  /// \f$R_0 = \sqrt{\max(1/\omega-1, 0)}\,[I_k\ 0]\f$ and (learned) \f$\omega_0 = \omega\f$: then
  /// \f$(I+R_0^TR_0)\omega = I\f$, one gradient step lands on the lower-level minimizer and
  /// every method and depth starts as the same denoiser \f$T = \omega I\f$ (k = n).
  double fixed_stepsize = 0.5;
  enum class Objective { Exact, Sampled };
  /// Exact expectation over the noise (structured path, L-BFGS; default) or fresh noise
  /// draws per minibatch (Adam, as the talk did) (--objective exact|sampled).
  Objective objective = Objective::Exact;
  std::vector<std::filesystem::path> train_files, test_files;  ///< (--train, --test); empty: codec2 corpus
  int rate = 0;                ///< Hz (--rate); 0: the files' common rate (8000 for the default corpus)
  bool mixdown = false;        ///< average channels of multi-channel files (--mixdown)
  bool quick = false;          ///< small corpus, n = 80 unless given, fewer iterations (--quick)
  /// L-BFGS iterations (Adam steps for sampled); 0 = default: 150 exact, 2000 sampled, 300
  /// either way with quick (--iterations)
  int iterations = 0;
  std::uint64_t seed = 1;      ///< noise draws (--seed)
  bool odd_strategy = true;    ///< also run the odd-depth strategy and the sharpness measurement
  bool write_audio = true;     ///< WAVs of one test file
  /// Throws Error naming the bad field (n < 2, hop not in 1..n, sigma <= 0, k not in 1..n,
  /// a rank of the list outside 1..n or repeated, depths outside 1..200 or repeated, stepsize
  /// not in (0, 2), iterations < 0).
  void validate() const;
  /// A copy with the automatic values (n, hop, rank, iterations, rank_depths) filled in,
  /// depths and ranks sorted.
  DenoiseOptions resolved() const;
};

/// Where a run's \f$(R, \omega)\f$ starts.
enum class DenoiseInit {
  Shrink,        ///< \f$R_0 = \sqrt{\max(1/\omega-1,0)}\,[I_k\ 0]\f$, \f$\omega_0 = \omega\f$: T = omega I
  Theory,        ///< the theory engine's realizing R at a small omega (odd-depth strategy)
  Continuation,  ///< fixed-omega training down an omega ladder from Shrink, then omega released
};
const char* to_string(DenoiseInit init);  ///< "shrink" | "theory" | "continuation"

/// One trained configuration.
struct DenoiseConfig {
  learn::Method method = learn::Method::Unrolled;
  int depth = 0;               ///< N (0 for bilevel: JSON null)
  /// Learned or Fixed (bilevel: Fixed, stepsize 0)
  learn::StepsizeMode stepsize_mode = learn::StepsizeMode::Fixed;
  DenoiseInit init = DenoiseInit::Shrink;
  double stepsize = 0;         ///< final omega
  double train_mse = 0;        ///< exact noise expectation on the training frames
  double test_mse = 0;         ///< exact noise expectation on the test frames
  double test_mse_sampled = 0; ///< one seeded noise draw on the test signals
  double test_snr_db = 0;      ///< SNR of the denoised test signals (overlap-add), that draw
  double theory_mse = 0;       ///< theory engine's best training MSE for this configuration
  bool theory_attained = true; ///< false: theory_mse is an infimum only
  double shortfall = 0;        ///< train_mse / theory_mse - 1
  double regularizer_norm = 0; ///< \f$\|R\|_2\f$ (largest singular value)
  int iterations = 0;
  double seconds = 0;
  std::string status;          ///< optimizer's stop reason
};

/// Curvature and basin width of the training loss (per-sample MSE) at a trained model.
struct Sharpness {
  int depth = 0;
  DenoiseInit init = DenoiseInit::Shrink;  ///< which run
  double mse = 0;              ///< train MSE there
  double stepsize = 0;
  double regularizer_norm = 0;
  /// Largest Hessian eigenvalue w.r.t. (vec R, alpha): power iteration on central-difference
  /// Hessian-vector products
  double hessian_max = 0;
  double hessian_max_alpha = 0;///< second derivative along alpha alone (omega = softplus(alpha))
  /// Median over random unit directions of the radius r at which the MSE rises by 1 %,
  /// relative to \f$\|\theta\|\f$ (larger = wider basin).
  double basin_width = 0;
};

/// One configuration of the rank analysis: rank k and the trained configuration at k
/// (bilevel, or unrolled with learned stepsize; theory_mse = the theory engine's optimum at k).
struct DenoiseRankConfig {
  Index rank = 0;
  DenoiseConfig config;
};

/// The theory engine's best training MSE (per sample) at rank k: bilevel and unrolled with
/// learned stepsize at each depth of the rank analysis (the figure's lines).
struct DenoiseRankTheory {
  Index rank = 0;
  double bilevel = 0;
  std::vector<std::pair<int, double>> unrolled;  ///< (N, MSE)
};

struct DenoiseResults {
  DenoiseOptions options;      ///< as run (quick defaults filled in)
  int rate = 0;
  std::vector<std::string> train_files, test_files;
  Index train_frames = 0, test_frames = 0;
  double train_seconds_audio = 0, test_seconds_audio = 0;
  double noisy_mse = 0;        ///< sigma^2 (T = I)
  double noisy_mse_sampled = 0;///< the test draw without denoising
  double wiener_mse = 0;       ///< test MSE of T* = S(S + sigma^2 I)^{-1}, S from training
  double wiener_train_mse = 0; ///< same on training (= theory's best linear)
  double wiener_snr_db = 0;
  double noisy_snr_db = 0;
  std::vector<DenoiseConfig> configs;   ///< bilevel, then unrolled learned N..., fixed N...
  std::vector<DenoiseConfig> strategy;  ///< odd-depth learned-stepsize strategy runs
  std::vector<Sharpness> sharpness;
  std::vector<DenoiseRankConfig> ranks;        ///< rank analysis (options.ranks; empty without)
  std::vector<DenoiseRankTheory> rank_theory;  ///< theory on a grid of k from 1 to n (with ranks)
  double rank_seconds = 0;                     ///< wall time of the rank analysis's training
  double seconds = 0;
  // For the WAVs: the demo test file and the denoisers used on it.
  std::string demo_file;
  Vector demo_clean, demo_noisy;
  std::vector<std::pair<std::string, Vector>> demo_denoised;  ///< (wav name, signal)
};

/// Runs the study (reads and checks every input before any work): the stages of
/// denoise_pipeline.hpp in order. One line per step through `log`. Throws Error on bad input.
/// With an enabled `journal` (--resume), each trained configuration ("train-..."), strategy
/// run ("strategy-...") and the sharpness measurements ("sharpness") are recorded when done,
/// and reloaded instead of recomputed when the journal holds them: the results equal an
/// uninterrupted run's (every run is seeded with the options' seed, whatever the order).
DenoiseResults run_denoise_study(const DenoiseOptions& options, const Log& log = {}, const Journal& journal = {});

/// The denoising study's options in `reproduce`'s report (the `--quick` grid, and the rank
/// analysis at k = 1, n/10 and n for depths 1, 2, 3, 4 and 10).
DenoiseOptions report_denoise_options(bool quick);

/// What determines the results (resolved options and input files): the journal's fingerprint.
nlohmann::json denoise_fingerprint(const DenoiseOptions& options);

/// Writes results.json, results.csv, findings.md, figures (mse_vs_depth, train_vs_theory;
/// with a rank analysis also mse_vs_rank and ranks.csv) and the WAVs into `dir` (created),
/// each atomically. Returns the files written.
std::vector<std::filesystem::path> write_denoise_outputs(const DenoiseResults& results,
                                                         const std::filesystem::path& dir);

/// The findings in numbers (markdown), as in the report section.
std::string denoise_findings(const DenoiseResults& results);
/// The results table (markdown).
std::string denoise_table(const DenoiseResults& results);
/// The rank analysis's finding (markdown bullet, computed from the numbers; empty without a
/// rank analysis): where unrolling beats bilevel and by how much, theory and trained, and
/// where they coincide (k = n: bilevel = Wiener). Part of denoise_findings.
std::string denoise_rank_findings(const DenoiseResults& results);
/// The rank analysis's table (markdown; empty without one).
std::string denoise_rank_table(const DenoiseResults& results);

/// Per-sample MSE of T under second moment S (exact noise expectation; see file comment).
double exact_mse(const Matrix& t, const Matrix& second_moment, double noise_std);

}  // namespace varlearn::study
