#pragma once
/// \file restore_study.hpp
/// Speech restoration with learned nonlinear regularizers (`varlearn study restore`): the
/// talk's questions — bilevel or unrolled, does unrolling converge to bilevel — answered on
/// real speech for two inverse problems,
///  - denoise: \f$g = f + \sigma\varepsilon\f$ (\f$\sigma = 0.1\f$),
///  - inpaint (packet loss): \f$g = M f + \sigma\varepsilon\f$, bursts of L = 40 missing
///    samples covering 20 % of the samples, \f$\sigma = 0.01\f$; masks fresh per training
///    batch, fixed (seeded) for the test files,
/// against the exact linear estimators from the training second moment (general/linear.hpp).
/// docs/restoration-study.md says what every number means.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "varlearn/audio/corpus.hpp"
#include "varlearn/core/types.hpp"
#include "varlearn/general/model.hpp"
#include "varlearn/study/journal.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::study {

/// Settings of the study; every field has its CLI flag in parentheses.
struct RestoreOptions {
  static constexpr Index kDefaultFrameLength = 320;   ///< n without --n
  static constexpr Index kQuickFrameLength = 64;      ///< n with --quick
  static constexpr double kDenoiseSigma = 0.1;        ///< sigma of denoise
  static constexpr double kInpaintSigma = 0.01;       ///< sigma of inpaint
  static constexpr int kDefaultSteps = 600;           ///< Adam steps per configuration
  static constexpr int kQuickSteps = 100;             ///< Adam steps with --quick
  static constexpr Index kBatch = 256;                ///< frames per Adam step (unrolled)
  static constexpr Index kBilevelBatch = 64;          ///< frames per Adam step (bilevel: a lower-level solve each)
  static constexpr double kLearningRate = 5e-4;       ///< Adam (K's entries are ~n^-1/2: larger rates make it noisy)
  static constexpr int kValidateEvery = 25;           ///< Adam steps between validations
  static constexpr int kPatience = 20;                ///< validations without improvement before stopping
  static constexpr double kValidationFraction = 0.2;  ///< training frames held out (the last ones)
  static constexpr Index kMaxValidationFrames = 1024; ///< early stopping uses at most this many (evenly spaced)
  static constexpr Index kMaxTrainLossFrames = 4096;  ///< train_loss on at most this many (evenly spaced)
  static constexpr Index kConvergenceFrames = 256;    ///< test frames of question 2(b)
  static constexpr int kMaxDepth = 200;
  static constexpr int kFixedControlMaxDepth = 10;    ///< the fixed-stepsize control runs at depths <= this
  /// Bilevel lower level: ||grad E||_F over the batch (a residual of ~sigma sqrt(nB), so ~1e-4
  /// relative: far below Adam's minibatch noise) while training / when evaluating (2(c), test).
  static constexpr double kTrainTolerance = 1e-3;
  /// Evaluation: ||grad E||_F <= this x sqrt(n B) (an RMS gradient of 1e-6 per sample).
  static constexpr double kEvaluationTolerance = 1e-6;
  /// Test sets longer than this (seconds) are cut to about it by keeping evenly spaced files
  /// (--test-seconds): the asterisk test language has ~25 min, and every model, its exact
  /// minimizer (2(c)) included, is evaluated on each test set.
  static constexpr double kMaxTestSeconds = 120;

  std::string task = "denoise";       ///< denoise | inpaint (--task)
  double sigma = 0;                   ///< (--sigma); 0 = 0.1 (denoise) or 0.01 (inpaint)
  double missing = 0.2;               ///< inpaint: fraction of missing samples (--missing)
  Index burst = 40;                   ///< inpaint: burst length L (--burst)
  /// (--regularizers) quadratic, tv, analysis, analysis-student, foe; empty = the default list
  /// (all five; --quick: tv, analysis)
  std::vector<std::string> regularizers;
  std::vector<std::string> methods{"bilevel", "unrolled"};  ///< (--methods)
  std::vector<int> depths;            ///< unrolled N (--depths); empty = 1,2,3,5,10,20,50 (--quick: 1,3,10)
  std::vector<std::filesystem::path> train_files, test_files;  ///< (--train, --test); empty: codec2 default split
  /// Further test sets, scored like the test files (--corpus asterisk: codec2's test files).
  std::vector<audio::TestSet> extra_tests;
  std::string test_name;              ///< what the test files are (e.g. "ru (...)"); "" = not known
  std::string corpus;                 ///< "codec2", "asterisk" or "" (the caller's files): for the record
  int rate = 0;                       ///< read every file at this rate f_s (0: their own; codec2 default split: 8000)
  double test_seconds = kMaxTestSeconds;  ///< cap per test set (--test-seconds; 0 = no cap)
  Index n = 0, hop = 0;               ///< (--n, --hop); 0 = 320 (64 with --quick), n/2
  int steps = 0;                      ///< Adam steps per configuration (--steps); 0 = default
  std::uint64_t seed = 1;             ///< (--seed)
  double learning_rate = kLearningRate;  ///< Adam (--lr)
  int patience = kPatience;           ///< validations without improvement before stopping (--patience; 0 = off)
  bool quick = false;                 ///< (--quick) 3 corpus files, n = 64, few regularizers/depths/steps
  /// The regularizer of the fixed-stepsize control (unrolled at every depth with omega fixed
  /// at its safe start); "" = analysis when listed, else none.
  std::string fixed_control;

  /// Throws Error naming the flag of a bad field.
  void validate() const;
  /// A copy with the automatic values filled in (sigma, n, hop, steps, regularizers, depths).
  RestoreOptions resolved() const;
  bool inpaint() const { return task == "inpaint"; }
};

/// The options of `varlearn reproduce`'s restore runs: trained on the asterisk prompts, tested
/// on the unseen language (cut to 60 s) with codec2's test files as a further set; analysis and
/// analysis-student, bilevel and unrolled N in {1, 3, 10} (full: the study's default grid;
/// quick: its quick grid on the corpus' quick subsets). Throws Error when a corpus is missing.
RestoreOptions report_restore_options(const std::string& task, double sigma, bool quick, bool full);

/// The regularizer names of the study.
const std::vector<std::string>& restore_regularizer_names();
/// Initial weight a of the potentials (analysis, tv, foe) and epsilon relative to the RMS of the
/// clean training frames (the prototype's a = 0.05, eps = 0.02 on speech of RMS ~0.08).
inline constexpr double kRestoreWeight = 0.05;
inline constexpr double kRestoreRelativeEpsilon = 0.25;
/// epsilon of the student potential relative to the RMS (its curvature at 0 is 2a/eps^2).
inline constexpr double kRestoreStudentRelativeEpsilon = 1.0;
/// The general engine's spec of a study regularizer name (Error for an unknown name):
/// quadratic (R n x n from first differences), tv (charbonnier), analysis (dense K = DCT,
/// huber), analysis-student (the same K, student), foe (J = 8 filters of L = 7, charbonnier);
/// weight kRestoreWeight, epsilon = kRestoreRelativeEpsilon x signal_rms (signal_rms > 0).
general::RegularizerSpec restore_regularizer_spec(const std::string& name, double signal_rms = 0);

/// One trained configuration (a row of results.csv).
struct RestoreConfig {
  std::string regularizer;
  std::string method;                 ///< bilevel | unrolled
  int depth = 0;                      ///< N (0 for bilevel: JSON null)
  std::string stepsize_mode;          ///< learned | fixed | "" (bilevel: JSON null)
  double stepsize = 0;                ///< final omega (unrolled)
  std::optional<double> train_loss;   ///< per-sample MSE on the training frames' fixed draw
  std::optional<double> validation_mse;  ///< per-sample MSE on the held-out frames (best)
  std::optional<double> test_mse;     ///< per-sample MSE of the restored (overlap-added) test signals
  std::optional<double> test_snr_db;  ///< pooled SNR of the same
  /// 2(c): test MSE of the exact lower-level minimizer of this theta (unrolled, learned)
  std::optional<double> exact_test_mse;
  /// Scores on the further test sets, in the order of RestoreOptions::extra_tests.
  struct ExtraScore {
    std::string name;
    std::optional<double> test_mse, test_snr_db;
  };
  std::vector<ExtraScore> extra_tests;
  int iterations = 0;
  double seconds = 0;
  std::string status;                 ///< converged | max_iterations | stopped | diverged | failed
  std::string message;
  Vector theta;                       ///< trained regularizer parameters (not in results.json)
  Vector alpha;                       ///< step parameters (unrolled learned; not in results.json)
  Vector demo;                        ///< restoration of the first test file (the WAV)
  /// "analysis_unrolled_N10", "analysis_bilevel", "analysis_unrolled_N10_fixed".
  std::string name() const;
};

struct ConvergencePoint {
  std::string regularizer;
  int depth = 0;
  double distance = 0;   ///< \f$\|f^N - f^*\|_F / \|f^*\|_F\f$ on the test frames
};
struct BilevelOfUnrolled {
  std::string regularizer;
  int depth = 0;
  std::optional<double> test_mse;
};

/// A further test set: its files and the baselines on it (the linear ones from the same
/// training second moment; inpaint: the taper width chosen once, on the held-out frames).
struct RestoreExtraTest {
  std::string name;
  std::vector<std::string> files;
  Index frames = 0;
  double noisy_mse = 0, noisy_snr_db = 0, linear_mse = 0, linear_snr_db = 0;
  std::optional<double> zero_fill_mse, zero_fill_snr_db, linear_local_mse, linear_local_snr_db;
};

struct RestoreResults {
  RestoreOptions options;             ///< resolved
  int rate = 0;
  std::vector<std::string> train_files, test_files;
  Index train_frames = 0, validation_frames = 0, test_frames = 0;
  double signal_rms = 0;              ///< of the clean training frames (sets epsilon)
  double noisy_mse = 0, noisy_snr_db = 0;           ///< the degraded test signals (inpaint: zeros at the gaps)
  double linear_mse = 0, linear_snr_db = 0;         ///< Wiener (denoise) / exact per-frame LMMSE (inpaint)
  std::optional<double> zero_fill_mse, zero_fill_snr_db;        ///< inpaint
  std::optional<double> linear_local_mse, linear_local_snr_db;  ///< inpaint: tapered LMMSE
  std::optional<double> linear_local_width;                     ///< its w (chosen on held-out training frames)
  std::vector<RestoreExtraTest> extra_tests;  ///< further test sets (RestoreConfig::extra_tests has the models' scores)
  std::vector<RestoreConfig> configs;
  std::vector<ConvergencePoint> convergence;
  std::vector<BilevelOfUnrolled> bilevel_of_unrolled;
  double seconds = 0;
  // The WAVs: the first test file.
  std::string demo_file;
  Vector demo_clean, demo_degraded;
  std::vector<std::pair<std::string, Vector>> demo_linear;  ///< (wav name, signal)
  /// Filters / rows of K of each configuration: (file stem, matrix whose rows are written).
  std::vector<std::pair<std::string, Matrix>> filters;
};

/// Runs the study: corpus → frames and test degradations → linear baselines → every
/// configuration (journaled with an enabled journal: a resumed run skips finished ones and
/// ends with the same numbers) → 2(b) convergence of the bilevel models. Progress through
/// `log`. Throws Error on bad input, before any work. Under mpirun every rank calls it: the
/// configurations are spread over the ranks (docs/scale-out.md); every rank returns the
/// numbers and theta of every configuration, rank 0 alone the demo signals and the
/// convergence measurements (rank 0 alone writes the journal and the outputs).
RestoreResults run_restore_study(const RestoreOptions& options, const Log& log = {}, const Journal& journal = {});

/// What determines the results (resolved options, input files): the journal's fingerprint.
nlohmann::json restore_fingerprint(const RestoreOptions& options);

/// results.json (the agreed keys).
nlohmann::json restore_results_json(const RestoreResults& results);
/// results.csv, one row per configuration.
std::string restore_results_csv(const RestoreResults& results);
/// Writes results.json, results.csv, wav/*.wav and filters/*.csv into dir; returns the files.
std::vector<std::filesystem::path> write_restore_outputs(const RestoreResults& results,
                                                         const std::filesystem::path& dir);
/// The summary table (markdown): baselines and every configuration.
std::string restore_table(const RestoreResults& results);

}  // namespace varlearn::study
