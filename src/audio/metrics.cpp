#include "varlearn/audio/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "varlearn/core/error.hpp"

namespace varlearn::audio {

namespace {
double ratio_db(double signal, double error) {
  if (error <= 0) return std::numeric_limits<double>::infinity();
  if (signal <= 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / error);
}

template <class V>
void check_pair(const V& clean, const V& estimate, const char* where) {
  require(clean.size() == estimate.size(), where,
          "clean has " + std::to_string(clean.size()) + " samples, estimate " +
              std::to_string(estimate.size()));
}
}  // namespace

SnrAccumulator::SnrAccumulator(double sample_rate) {
  require(sample_rate > 0 && std::isfinite(sample_rate), "audio::SnrAccumulator",
          "sample rate must be positive");
  segment_length_ = std::max<Index>(1, static_cast<Index>(std::lround(kSegmentSeconds * sample_rate)));
}

template <class V> static void accumulate(const V& clean, const V& est, Index seg, double& sig,
                                          double& err, double& segsum, Index& nseg) {
  const Index n = clean.size();
  if (n == 0) return;
  for (Index i = 0; i < n; ++i) {
    const double c = clean[i], d = static_cast<double>(est[i]) - c;
    sig += c * c;
    err += d * d;
  }
  const Index len = std::min(seg, n);
  for (Index start = 0; start + len <= n; start += len) {
    double s = 0, e = 0;
    for (Index i = start; i < start + len; ++i) {
      const double c = clean[i], d = static_cast<double>(est[i]) - c;
      s += c * c;
      e += d * d;
    }
    segsum += std::clamp(ratio_db(s, e), kSegSnrMinDb, kSegSnrMaxDb);
    ++nseg;
  }
}

void SnrAccumulator::add(const Eigen::Ref<const Eigen::VectorXd>& clean,
                         const Eigen::Ref<const Eigen::VectorXd>& estimate) {
  check_pair(clean, estimate, "audio::SnrAccumulator::add");
  accumulate(clean, estimate, segment_length_, signal_energy_, error_energy_, segsnr_sum_, segments_);
}

void SnrAccumulator::add(const Eigen::Ref<const Eigen::VectorXf>& clean,
                         const Eigen::Ref<const Eigen::VectorXf>& estimate) {
  check_pair(clean, estimate, "audio::SnrAccumulator::add");
  accumulate(clean, estimate, segment_length_, signal_energy_, error_energy_, segsnr_sum_, segments_);
}

double SnrAccumulator::snr_db() const { return ratio_db(signal_energy_, error_energy_); }

double SnrAccumulator::segsnr_db() const {
  require(segments_ > 0, "audio::SnrAccumulator::segsnr_db", "no samples added");
  return segsnr_sum_ / static_cast<double>(segments_);
}

double snr_db(const Eigen::Ref<const Eigen::VectorXd>& clean, const Eigen::Ref<const Eigen::VectorXd>& estimate) {
  check_pair(clean, estimate, "audio::snr_db");
  return ratio_db(clean.squaredNorm(), (estimate - clean).squaredNorm());
}
double snr_db(const Eigen::Ref<const Eigen::VectorXf>& clean, const Eigen::Ref<const Eigen::VectorXf>& estimate) {
  return snr_db(Eigen::VectorXd(clean.cast<double>()), Eigen::VectorXd(estimate.cast<double>()));
}

double segsnr_db(const Eigen::Ref<const Eigen::VectorXd>& clean, const Eigen::Ref<const Eigen::VectorXd>& estimate,
                 double sample_rate) {
  SnrAccumulator acc(sample_rate);
  acc.add(clean, estimate);
  return acc.segsnr_db();
}
double segsnr_db(const Eigen::Ref<const Eigen::VectorXf>& clean, const Eigen::Ref<const Eigen::VectorXf>& estimate,
                 double sample_rate) {
  SnrAccumulator acc(sample_rate);
  acc.add(clean, estimate);
  return acc.segsnr_db();
}

template <class V> static double set_snr(const std::vector<V>& clean, const std::vector<V>& estimate) {
  require(clean.size() == estimate.size(), "audio::snr_db",
          "set sizes differ: " + std::to_string(clean.size()) + " vs " + std::to_string(estimate.size()));
  double s = 0, e = 0;
  for (size_t k = 0; k < clean.size(); ++k) {
    check_pair(clean[k], estimate[k], "audio::snr_db");
    s += clean[k].template cast<double>().squaredNorm();
    e += (estimate[k].template cast<double>() - clean[k].template cast<double>()).squaredNorm();
  }
  return ratio_db(s, e);
}
double snr_db(const std::vector<Eigen::VectorXd>& clean, const std::vector<Eigen::VectorXd>& estimate) {
  return set_snr(clean, estimate);
}
double snr_db(const std::vector<Eigen::VectorXf>& clean, const std::vector<Eigen::VectorXf>& estimate) {
  return set_snr(clean, estimate);
}

}  // namespace varlearn::audio
