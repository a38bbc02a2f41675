#pragma once
/// \file metrics.hpp
/// Signal-to-noise ratios of an estimate against the clean signal, in dB.
///
/// Conventions (also in docs/dequantization.md):
/// - SNR over a set: pooled energies over every sample of every signal,
///   \f$10\log_{10}\big(\sum \bar s^2 / \sum (\hat s - \bar s)^2\big)\f$ — not a mean of per-file
///   SNRs. A perfect estimate gives +inf.
/// - Segmental SNR: non-overlapping segments of 20 ms (round(0.02 fs) samples; a trailing
///   partial segment is dropped, a signal shorter than one segment contributes one segment of
///   its full length), per-segment SNR clipped to [-10, 35] dB (a silent clean segment with
///   nonzero error gives -10, a segment with zero error gives 35), then the mean over all
///   segments of all signals of the set.
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::audio {

constexpr double kSegSnrMinDb = -10.0;
constexpr double kSegSnrMaxDb = 35.0;
constexpr double kSegmentSeconds = 0.020;

/// Accumulates SNR and segmental SNR over a set of (clean, estimate) signal pairs.
class SnrAccumulator {
public:
  /// \param sample_rate fs in Hz (> 0), sets the 20 ms segment length.
  explicit SnrAccumulator(double sample_rate);
  /// Adds one signal pair (same length, throws Error otherwise).
  void add(const Eigen::Ref<const Eigen::VectorXd>& clean,
           const Eigen::Ref<const Eigen::VectorXd>& estimate);
  void add(const Eigen::Ref<const Eigen::VectorXf>& clean,
           const Eigen::Ref<const Eigen::VectorXf>& estimate);
  double snr_db() const;     ///< pooled SNR over everything added
  double segsnr_db() const;  ///< mean clipped segment SNR over everything added
  double signal_energy() const { return signal_energy_; }
  double error_energy() const { return error_energy_; }
  Index segments() const { return segments_; }
  Index segment_length() const { return segment_length_; }

private:
  Index segment_length_;
  double signal_energy_ = 0, error_energy_ = 0, segsnr_sum_ = 0;
  Index segments_ = 0;
};

/// SNR of one signal (or of all samples of a matrix), dB.
double snr_db(const Eigen::Ref<const Eigen::VectorXd>& clean,
              const Eigen::Ref<const Eigen::VectorXd>& estimate);
double snr_db(const Eigen::Ref<const Eigen::VectorXf>& clean,
              const Eigen::Ref<const Eigen::VectorXf>& estimate);
/// Segmental SNR of one signal at sample rate fs, dB.
double segsnr_db(const Eigen::Ref<const Eigen::VectorXd>& clean,
                 const Eigen::Ref<const Eigen::VectorXd>& estimate, double sample_rate);
double segsnr_db(const Eigen::Ref<const Eigen::VectorXf>& clean,
                 const Eigen::Ref<const Eigen::VectorXf>& estimate, double sample_rate);
/// SNR over a set of signals (pooled energies), dB.
double snr_db(const std::vector<Eigen::VectorXd>& clean, const std::vector<Eigen::VectorXd>& estimate);
double snr_db(const std::vector<Eigen::VectorXf>& clean, const std::vector<Eigen::VectorXf>& estimate);

}  // namespace varlearn::audio
