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
  /// Parses "constant" | "iid" | "ar1" (throws Error otherwise).
  static SampleModel from_name(const std::string& name, Index n, double mu, double theta, double rho);

  void validate() const;
  /// The matching theory model (same \f$\Sigma = E[yy^T]\f$).
  theory::DataModel to_theory() const;
  /// \f$\Sigma = E[yy^T]\f$, n x n.
  Matrix second_moment() const;
  /// B clean frames as columns (n x B). Throws Error for B < 1.
  Matrix sample(Index frames, Rng& rng) const;
};

/// \f$X = Y + \sigma E\f$, E standard Gaussian (seeded). Throws unless sigma >= 0 finite.
Matrix add_noise(const Matrix& clean, double noise_std, Rng& rng);

/// Frames from a text matrix file (io::read_matrix): one frame per column (n x B). Throws
/// Error on unreadable files, NaN/inf, or rows != expected_n when expected_n > 0.
Matrix read_frames(const std::filesystem::path& path, Index expected_n = 0);

/// Second moment \f$YY^T/B\f$ of frames.
Matrix empirical_second_moment(const Matrix& frames);

}  // namespace varlearn::learn
