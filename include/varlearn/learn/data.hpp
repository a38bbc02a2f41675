#pragma once
/// \file data.hpp
/// Training data: samples of the theory engine's data models plus Gaussian noise, and frames
/// read from files. Randomness only through the seeded generator passed in.
#include <filesystem>
#include <string>

#include "varlearn/core/random.hpp"
#include "varlearn/core/types.hpp"
#include "varlearn/theory/data_model.hpp"

namespace varlearn::learn {

using varlearn::Rng;  ///< the library's one generator (core/random.hpp)

/// A sampleable clean-signal model with the same second moment as the theory DataModel.
struct SampleModel {
  enum class Kind { Constant, Iid, Ar1, Gaussian };
  Kind kind = Kind::Iid;
  Index n = 0;
  double mu = 0;     ///< \f$\mu\f$: mean
  double theta = 1;  ///< \f$\theta\f$: standard deviation
  double rho = 0;    ///< \f$\rho\f$: AR(1) correlation, |rho| < 1
  Matrix sigma;      ///< \f$\Sigma\f$ (Gaussian kind only; zero mean)

  /// y = lambda*1, lambda ~ N(mu, theta^2).
  static SampleModel constant(Index n, double mu, double theta);
  /// y_j ~ N(mu, theta^2) i.i.d.
  static SampleModel iid(Index n, double mu, double theta);
  /// y_j = mu + theta*u_j, u a stationary unit-variance AR(1) with correlation rho.
  static SampleModel ar1(Index n, double mu, double theta, double rho);
  /// y ~ N(0, Sigma) (Sigma symmetric PSD).
  static SampleModel gaussian(const Matrix& sigma);
  /// The sampleable twin of theory::make_data_model: Constant, Iid or Ar1 with (n, mu, theta[,
  /// rho]). DataKind::File has no parameters to sample from: throws Error (use gaussian()).
  static SampleModel make(theory::DataKind kind, Index n, double mu, double theta, double rho);
  /// make(theory::parse_data_kind(name), ...): "constant" | "iid" | "ar1" (throws Error otherwise).
  static SampleModel from_name(const std::string& name, Index n, double mu, double theta, double rho);

  void validate() const;
  /// The matching theory model (same \f$\Sigma = E[yy^T]\f$).
  theory::DataModel to_theory() const;
  /// \f$\Sigma = E[yy^T]\f$, n x n.
  Matrix second_moment() const;
  /// B clean frames as columns (n x B). Throws Error for B < 1.
  Matrix sample(Index frames, Rng& rng) const;
};

/// Where the clean signal y comes from: the `--data` flags shared by every subcommand.
///
/// A structured model (Constant, Iid, Ar1) is given by its parameters (n, mu, theta, rho).
/// DataKind::File means the clean signal comes from files:
///   - `second_moment_file`: \f$\Sigma = E[yy^T]\f$ itself (n x n, symmetric PSD), and/or
///   - `clean_file`: clean frames Y (n x B, one frame per column); their second moment
///     \f$YY^T/B\f$ is \f$\Sigma\f$ when no `second_moment_file` is given.
/// Wherever frames are used (training on frames, the loss on frames), they are `clean_file`'s.
struct DataSource {
  theory::DataKind kind = theory::DataKind::Constant;
  /// Signal dimension n >= 1 of a structured model. 0 = taken from elsewhere (the files for
  /// DataKind::File, the checkpoint in eval); a nonzero n must agree with the files.
  Index n = 0;
  double mu = 1.0;    ///< \f$\mu\f$: mean (structured models)
  double theta = 0;   ///< \f$\theta \ge 0\f$: standard deviation (structured models)
  double rho = 0.5;   ///< \f$\rho\f$, |rho| < 1: AR(1) correlation (Ar1 only)
  std::string second_moment_file;  ///< File: \f$\Sigma\f$ (n x n)
  std::string clean_file;          ///< File: clean frames (n x B); see above

  /// The default source (constant model) with dimension n.
  static DataSource with_n(Index n) {
    DataSource s;
    s.n = n;
    return s;
  }

  /// Throws Error for a File source without files, a second-moment file with a structured
  /// model, and (unless `frames_anywhere`, for commands that also evaluate on frames) clean
  /// frames with a structured model.
  void validate(bool frames_anywhere = false) const;
  /// The theory data model (reads the files; n = 0 for a structured model uses `default_n`).
  theory::DataModel theory_model(Index default_n = 0) const;
  /// Clean frames from `clean_file` (rows must equal n when n > 0); empty when none is given.
  Matrix clean_frames() const;
};

/// \f$X = Y + \sigma E\f$, E standard Gaussian (seeded). Throws unless sigma >= 0 finite.
Matrix add_noise(const Matrix& clean, double noise_std, Rng& rng);

/// Frames from a text matrix file (io::read_matrix): one frame per column (n x B). Throws
/// Error on unreadable files, NaN/inf, or rows != expected_n when expected_n > 0.
Matrix read_frames(const std::filesystem::path& path, Index expected_n = 0);

/// Second moment \f$YY^T/B\f$ of frames.
Matrix empirical_second_moment(const Matrix& frames);

}  // namespace varlearn::learn
