#pragma once
/// \file denoise_pipeline.hpp
/// The stages of the speech denoising study (run_denoise_study calls them in this order):
///
///   corpus → frames → baselines → jobs (with the theory prediction of each) → training →
///   odd-depth strategy → sharpness → rank analysis (with a list of ranks) → demo audio
///
/// Each stage is a function of small structs; all take the *resolved* DenoiseOptions
/// (DenoiseOptions::resolved()). The writers (results.json/csv, findings, figures, WAVs) are
/// write_denoise_outputs in denoise_study.hpp.
#include <string>
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/learn/model.hpp"
#include "varlearn/learn/trainer.hpp"
#include "varlearn/optim/progress.hpp"
#include "varlearn/study/denoise_study.hpp"
#include "varlearn/study/journal.hpp"
#include "varlearn/theory/data_model.hpp"

namespace varlearn::study::denoise {

/// Stage 1: the speech files, read and checked (every input before any work).
struct Corpus {
  int rate = 0;
  std::vector<std::string> train_files, test_files;
  double train_seconds = 0, test_seconds = 0;  ///< audio duration
  std::vector<Vector> train, test;             ///< clean signals
};
Corpus load_corpus(const DenoiseOptions& options, const Log& log = {});

/// Stage 2: frames (columns, length n, hop), one seeded noise draw on the test signals, and
/// the clean second moments \f$S = YY^T/B\f$.
struct Frames {
  Index n = 0, hop = 0;
  double noise_std = 0;
  int rate = 0;
  std::vector<Vector> test_clean, test_noisy;  ///< whole test signals (noisy: x = y + sigma e)
  Matrix train_clean;                          ///< Y_train (n x B)
  Matrix test_clean_frames, test_noisy_frames; ///< Y_test, X_test (n x B')
  Matrix train_moment, test_moment;            ///< S_train, S_test
};
Frames make_frames(const Corpus& corpus, const DenoiseOptions& options);

/// A linear denoiser T on the test set: exact noise expectation (exact_mse with S_test),
/// the seeded draw on frames, and the SNR of the overlap-added test signals.
struct TestMetrics {
  double mse = 0, mse_sampled = 0, snr_db = 0;
};
TestMetrics test_metrics(const Frames& frames, const Matrix& t);
/// T applied to the frames of noisy test signal i, overlap-added back to a signal.
Vector denoise_test_signal(const Frames& frames, const Matrix& t, size_t i);

/// Stage 3: no denoising (T = I) and the Wiener filter \f$T^* = S(S+\sigma^2 I)^{-1}\f$ from S_train.
struct Baselines {
  double noisy_mse = 0, noisy_mse_sampled = 0, noisy_snr_db = 0;
  double wiener_train_mse = 0, wiener_mse = 0, wiener_snr_db = 0;
  Matrix wiener;  ///< T*
};
Baselines baselines(const Frames& frames);

/// The theory engine's best per-sample training MSE (2 risk / n) for one configuration.
struct Prediction {
  double mse = 0;
  bool attained = true;  ///< false: an infimum only
};
Prediction predict(const theory::DataModel& data, double noise_std, Index rank, learn::Method method,
                   learn::StepsizeMode mode, int depth, double stepsize);

/// One training run: the model shape, its start, the configuration (row of the results, with
/// its theory prediction) and, once trained, the model.
struct Job {
  learn::ModelSpec spec;
  Matrix r0;                ///< starting R
  double omega0 = 0.5;      ///< starting (or fixed) omega
  DenoiseConfig config;     ///< method, depth, mode, init, theory_mse filled by make_jobs
  learn::QuadraticModel model;  ///< after training
  optim::Result optim;
  double seconds = 0;
};

/// Stage 4: bilevel, then unrolled with learned stepsize at every depth, then fixed stepsize
/// at every depth; each from DenoiseInit::Shrink at omega = options.fixed_stepsize.
std::vector<Job> make_jobs(const DenoiseOptions& options, const theory::DataModel& data);


/// The optimizer settings of the study (L-BFGS on the exact objective, Adam on sampled noise).
learn::TrainOptions train_options(const DenoiseOptions& options);
/// Trains one job from (r0, omega0) for `iterations`; fills model, optim and seconds.
void train(Job& job, const Frames& frames, const DenoiseOptions& options, int iterations);
/// Fills the job's configuration from its trained model: train/test MSE, SNR, shortfall, ||R||.
void evaluate(Job& job, const Frames& frames);

/// Stage 5: trains and evaluates the jobs in parallel (deepest first), one line per job. With
/// an enabled journal, jobs recorded there are reloaded (configuration row and model, exact)
/// instead of trained, and each newly finished job is recorded ("train-<config>").
void train_all(std::vector<Job>& jobs, const Frames& frames, const DenoiseOptions& options, const Log& log,
               const Journal& journal = {}, const std::string& prefix = "train");

/// Rank analysis, jobs at rank k: bilevel, then unrolled with learned stepsize at each of
/// `depths`, from DenoiseInit::Shrink (R0 = sqrt(1/omega - 1) [I_k 0]), with the theory
/// prediction at k.
std::vector<Job> make_rank_jobs(const DenoiseOptions& options, const theory::DataModel& data, Index rank,
                                const std::vector<int>& depths);
/// The rank grid of the theory lines: the analysis's ranks, 1, n and about 4 per octave between.
std::vector<Index> rank_grid(Index n, const std::vector<Index>& ranks);
/// Theory at each k of `grid`: bilevel and learned-stepsize unrolled at each depth (per sample).
std::vector<DenoiseRankTheory> rank_theory(const theory::DataModel& data, double noise_std,
                                           const std::vector<Index>& grid, const std::vector<int>& depths);
/// Stage 7b (with options.ranks; after the main study): at each k, the rank jobs trained
/// (journal prefix "rank-k<k>"); the main study's runs `main` (configurations and strategy,
/// trained at options.rank) are reused at that k.
/// With the odd-depth strategy on (exact objective), odd N >= 3 are also trained from the
/// theory engine's realizing R (DenoiseInit::Theory, as make_strategy_jobs). Rows: bilevel,
/// then by depth, default start before theory start.
std::vector<DenoiseRankConfig> run_ranks(const DenoiseOptions& options, const theory::DataModel& data,
                                         const Frames& frames, const std::vector<DenoiseConfig>& main,
                                         const Log& log, const Journal& journal = {});

/// The journal key of a job: "<prefix>-bilevel" or "<prefix>-N<N>-<learned|fixed>-<init>".
std::string job_key(const Job& job, const std::string& prefix);
/// Records a finished job (its DenoiseConfig and its model) / reloads it into `job` (false
/// when the journal does not hold it).
void record_job(const Journal& journal, const std::string& key, const Job& job);
bool load_job(const Journal& journal, const std::string& key, Job& job);

/// Odd depths N >= 3 among the options' depths (where the learned-stepsize minimum is sharp).
std::vector<int> odd_depths(const std::vector<int>& depths);

/// The largest omega of the strategy ladder whose fixed-omega optimum is within
/// kStrategyRiskSlack of the learned-stepsize infimum at depth N (smaller omega: larger ||R||,
/// sharper minimum).
double strategy_stepsize(const theory::DataModel& data, double noise_std, Index rank, int depth);

/// Stage 6 (jobs): per odd depth, a Theory and a Continuation run with learned stepsize,
/// both at strategy_stepsize, theory_mse = the learned-stepsize infimum.
std::vector<Job> make_strategy_jobs(const DenoiseOptions& options, const theory::DataModel& data,
                                    const std::vector<int>& odd);

/// Continuation: omega goes from options.fixed_stepsize down to job.omega0 geometrically in
/// kContinuationStages fixed-omega trainings, R remapped and warm-started at each; sets job.r0
/// and returns the iterations spent.
int continuation(Job& job, const Frames& frames, const DenoiseOptions& options, const theory::DataModel& data,
                 const Log& log);

/// Stage 6 (training): the strategy jobs in parallel (continuation first where asked), then
/// trained with learned stepsize like the default runs; journaled like train_all ("strategy-...").
void run_strategy(std::vector<Job>& jobs, const Frames& frames, const DenoiseOptions& options,
                  const theory::DataModel& data, const Log& log, const Journal& journal = {});

/// Stage 7: which minima to measure: at the smallest and largest odd depth, the default
/// learned-stepsize runs at N and N - 1 and the Theory strategy run at N.
struct SharpnessTarget {
  const learn::QuadraticModel* model = nullptr;
  DenoiseInit init = DenoiseInit::Shrink;
};
std::vector<SharpnessTarget> sharpness_targets(const std::vector<Job>& jobs, const std::vector<Job>& strategy,
                                               const std::vector<int>& odd);
/// Curvature and basin width of the per-sample training MSE at a trained model.
Sharpness measure_sharpness(const learn::QuadraticModel& model, DenoiseInit init, const Matrix& train_moment,
                            double noise_std);
/// All targets in parallel.
std::vector<Sharpness> measure_all(const std::vector<SharpnessTarget>& targets, const Frames& frames, const Log& log);

/// Stage 8: the first test file clean / noisy / bilevel / learned N = 1 and N = max / Wiener.
struct Demo {
  std::string file;
  Vector clean, noisy;
  std::vector<std::pair<std::string, Vector>> denoised;  ///< (wav name, signal)
};
Demo demo_audio(const Corpus& corpus, const Frames& frames, const std::vector<Job>& jobs, const Baselines& base,
                const DenoiseOptions& options);

}  // namespace varlearn::study::denoise
