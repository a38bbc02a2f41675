#pragma once
/// \file restore_results.hpp
/// The restore section's view of one finished `study restore` folder: results.json parsed
/// into plain structs (missing optional keys and JSON nulls become NaN / empty), the model
/// names of its files, and the small fits the findings use. Private to src/study/report.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace varlearn::study::restore_report {

/// Statuses that mean a configuration has no usable result (the optimizer's words); any other
/// status with finite test numbers (converged, max_iterations, stopped) is used, and a status
/// other than "converged" is named beside it.
bool failed_status(const std::string& status);

/// One row of `configs`.
struct Config {
  std::string regularizer, method, stepsize_mode, status;  ///< stepsize_mode "" when null
  int depth = 0;                                           ///< N; 0 for bilevel
  double train_loss = 0, test_mse = 0, test_snr_db = 0, seconds = 0;  ///< NaN when missing/null
  /// (test MSE, test SNR) on each further test set, in the order of Run::extra_tests (NaN when missing).
  std::vector<std::pair<double, double>> extra;
  bool bilevel() const { return method == "bilevel"; }
  bool fixed() const { return stepsize_mode == "fixed"; }
  /// Finite test MSE and SNR and no failure status.
  bool usable() const;
  /// `<regularizer>_<method>[_N<depth>]` (+ `_fixed` for the fixed-stepsize control): the
  /// stem of its wav/ and filters/ files.
  std::string name() const;
  /// "huber unrolled N=10" / "huber bilevel" / "huber unrolled N=10 (fixed stepsize)".
  std::string label() const;
};

/// A value per (regularizer, depth): `convergence` (distance) and `bilevel_of_unrolled` (test MSE).
struct DepthValue {
  std::string regularizer;
  int depth = 0;
  double value = 0;
};

/// A reference estimator: no restoration / zero filling, the exact linear estimator, others.
struct Baseline {
  std::string key;    ///< "noisy", "zero_fill", "linear", "linear_local", ...
  std::string label;  ///< words for the report
  double mse = 0, snr_db = 0;
};

/// A further test set (results.json `extra_tests`): its name, file count and baselines.
struct ExtraTest {
  std::string name;
  std::size_t files = 0;
  std::vector<Baseline> baselines;
  const Baseline* baseline(const std::string& key) const;
};

struct Run {
  std::filesystem::path dir;
  std::string corpus, test_name;  ///< "asterisk" / "codec2" / ""; what the test files are ("" = not known)
  std::vector<ExtraTest> extra_tests;
  std::string task;  ///< "denoise" | "inpaint" (other words are reported as given)
  double sigma = 0;  ///< NaN when missing
  int n = 0, hop = 0;
  std::size_t train_files = 0, test_files = 0;
  bool quick = false;  ///< a --quick run (reduced corpus, frame length, steps)
  double missing = 0, burst = 0, steps = 0;  ///< inpaint's missing share and burst length, training steps; NaN when missing
  std::vector<Baseline> baselines;  ///< in report order; the linear one has key "linear"
  std::vector<Config> configs;
  std::vector<DepthValue> convergence, bilevel_of_unrolled;
  const Baseline* baseline(const std::string& key) const;
  /// "Denoising (sigma = 0.1)", "Inpainting (packet loss, sigma = 0.01)".
  std::string title() const;
  std::vector<std::string> regularizers() const;  ///< in order of first appearance
};

/// Reads `dir/results.json`. Throws Error when it is missing, not JSON, or lacks `task` or
/// `configs`; everything else is optional.
Run load_run(const std::filesystem::path& dir);

/// SNR gain of (snr_a, mse_a) over (snr_b, mse_b) in dB: snr_a - snr_b when both are finite,
/// else 10 log10(mse_b / mse_a).
double gain_db(double snr_a, double mse_a, double snr_b, double mse_b);

/// Least-squares fit of log y against x: y ~ C rho^x. `rho` = exp(slope); `rms` the RMS
/// residual of log y. Empty with fewer than two points of distinct x (y <= 0 or non-finite skipped).
struct LogFit {
  double rate = 0, log_c = 0, rms = 0;
  std::size_t points = 0;
};
std::optional<LogFit> fit_geometric(const std::vector<DepthValue>& v);  ///< y ~ C rho^N
std::optional<LogFit> fit_power(const std::vector<DepthValue>& v);      ///< y ~ C N^{-p}: rate = p

/// The rows of `v` for one regularizer, sorted by depth.
std::vector<DepthValue> series(const std::vector<DepthValue>& v, const std::string& regularizer);

}  // namespace varlearn::study::restore_report

namespace varlearn::study::restore_report {

/// Figures of one run, written into `run.dir / "figures"` (PNG + SVG, and the data each plots
/// as a .dat file beside it). A path is empty when its figure had nothing to draw.
struct Figures {
  std::filesystem::path snr_vs_depth;   ///< test SNR vs N per regularizer, bilevel and baselines as lines
  std::filesystem::path mse_vs_depth;   ///< unrolled test MSE and exact minimizer of theta_N vs N, bilevel lines
  std::filesystem::path convergence;    ///< ||f^N - f*|| vs N (log scale) with the fitted geometric rate
  std::filesystem::path spectrograms;   ///< clean, degraded, linear baseline, best model
  std::vector<std::pair<std::string, std::filesystem::path>> filters;  ///< (model label, heatmap) per regularizer
};
Figures write_figures(const Run& run);

/// The best usable configuration (lowest test MSE), or nullptr.
const Config* best_config(const std::vector<Config>& configs, const std::string& regularizer = "",
                          bool unrolled_only = false, bool bilevel_only = false);

}  // namespace varlearn::study::restore_report
