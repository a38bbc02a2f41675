#pragma once
/// \file restore_pipeline.hpp
/// The stages of the speech restoration study (run_restore_study calls them in this order):
///
///   corpus → data (frames, held-out frames, seeded test degradations) → linear baselines →
///   configurations (train, test, 2(c)) → convergence of the bilevel models (2(b))
///
/// Each stage is a function of small structs and the *resolved* RestoreOptions.
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/general/train.hpp"
#include "varlearn/ops/mask.hpp"
#include "varlearn/ops/operator.hpp"
#include "varlearn/study/restore_study.hpp"

namespace varlearn::study::restore {

/// Stage 1+2: frames and test degradations.
struct Data {
  Index n = 0, hop = 0;
  double sigma = 0;
  int rate = 0;
  bool inpaint = false;
  ops::MaskOptions mask;                        ///< bursts (inpaint)
  std::vector<std::string> train_files, test_files;
  Matrix fit, validation;                       ///< clean training frames: trained on / held out (the last 20 %)
  Matrix moment, moment_fit;                    ///< S of all training frames / of the fit frames
  double signal_rms = 0;                        ///< RMS of the clean training frames
  std::vector<Vector> test_clean, test_degraded;///< whole test signals; degraded: g (zeros at the gaps)
  std::vector<Vector> test_observed;            ///< inpaint: 1 observed, 0 missing (per sample)
  Matrix test_g;                                ///< frames of the degraded test signals (zero-padded tail)
  Matrix test_frames;                           ///< the same frames of the clean signals
  ops::MaskPattern test_pattern;                ///< inpaint: n x B, frames of test_observed (the pad missing)
  std::vector<Index> test_frame_counts;         ///< frames of each test file, in order
  std::string name;                             ///< the test set's name ("" = the main one)
  /// Further test sets: the same fields for their test part (fit / validation empty; moment,
  /// signal_rms, n, hop, sigma, mask copied), degraded with their own seeded draws.
  std::vector<Data> extra_tests;
};

/// Reads the corpus (default codec2 split, or the given files).
struct Signals {
  int rate = 0;
  std::vector<std::string> train_files, test_files;
  std::vector<Vector> train, test;
  struct Extra {
    std::string name;
    std::vector<std::string> files;
    std::vector<Vector> test;
  };
  std::vector<Extra> extra_tests;
};
/// Keeps evenly spaced signals (every s-th, from the first) so that their total duration is
/// about `seconds` at `rate` or less; all when they fit or seconds <= 0. Returns the kept indices.
std::vector<size_t> cap_duration(const std::vector<Vector>& signals, int rate, double seconds);
Signals load_signals(const RestoreOptions& resolved, const Log& log = {});

/// Frames, held-out split and the seeded test degradation (signal level: noise at every
/// sample; inpaint: bursts drawn on consecutive blocks of n samples, zeros at the gaps).
Data make_data(const Signals& signals, const RestoreOptions& resolved);

/// The operator of the test frames (identity, or the per-frame mask test_pattern).
ops::Operator test_operator(const Data& data);
/// Restored frames (n x B, columns as test_g) → one signal per test file (Hann overlap-add).
std::vector<Vector> to_signals(const Data& data, const Matrix& frames);
/// Per-sample MSE and pooled SNR of restored test signals.
struct Score {
  double mse = 0, snr_db = 0;
};
Score score(const Data& data, const std::vector<Vector>& restored);

/// Scores of a model's restored test frames (n x B, columns as data.test_g): per-sample MSE and SNR.
Score score_frames(const Data& data, const Matrix& frames);

/// Stage 3: the exact linear estimators and no restoration, each scored on the test signals.
struct Linear {
  Score noisy, linear;               ///< degraded itself; Wiener / exact LMMSE
  Score zero_fill, local;            ///< inpaint only
  double local_width = 0;            ///< taper w chosen on the held-out frames (inpaint)
  std::vector<Vector> linear_signals, local_signals;  ///< the restorations
};
/// Taper widths tried for the local LMMSE (infinity = the exact one).
std::vector<double> taper_grid();
Linear linear_baselines(const Data& data, std::uint64_t seed);
/// The same on a further test set, with the taper width chosen on the main run's held-out frames.
Linear linear_baselines_at(const Data& tests, double local_width);

/// One configuration to train.
struct Job {
  std::string regularizer;
  general::LearningMethod method = general::LearningMethod::Unrolled;
  int depth = 0;
  bool fixed = false;                ///< fixed-stepsize control
  std::string key() const;           ///< journal key, e.g. "cfg-analysis-unrolled-N10-learned"
};
std::vector<Job> make_jobs(const RestoreOptions& resolved);

/// The safe stepsize \f$0.9/(\|A\|^2 + L_R)\f$ at a regularizer's theta (L_R its hessian_bound).
double safe_stepsize(const general::RegularizerSpec& spec, const reg::Regularizer<double>& r, Index n,
                     double signal_rms);

/// The general engine's options of a job.
general::GeneralTrainOptions train_options(const Job& job, const RestoreOptions& resolved, const Data& data);

/// Rebuilds a trained model from a configuration's theta and alpha.
general::GeneralModel rebuild_model(const RestoreConfig& config, const Job& job, const RestoreOptions& resolved,
                                    const Data& data);

/// Stage 4: trains one job and scores it on the test signals (and 2(c) for unrolled learned).
RestoreConfig run_job(const Job& job, const RestoreOptions& resolved, const Data& data, const Log& log = {});

/// Stage 5 (2(b)): for a bilevel-trained model, \f$\|f^N - f^*\|/\|f^*\|\f$ at each depth on
/// (at most kConvergenceFrames evenly spaced) test frames, gradient steps at the safe stepsize
/// from the same start as training.
std::vector<ConvergencePoint> convergence(const RestoreConfig& bilevel, const Job& job, const RestoreOptions& resolved,
                                          const Data& data);

/// Filters of a trained configuration as the rows of a matrix (K, R, foe filters; tv: its weight).
Matrix filter_rows(const reg::Regularizer<double>& r);

}  // namespace varlearn::study::restore
