// Spectrogram (STFT magnitude, periodic Hann): a sinusoid on a bin gives the window's three
// closed-form coefficients, energy per frame obeys Parseval, the dB floor and the axes.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "varlearn/audio/framing.hpp"
#include "varlearn/audio/spectrogram.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/random.hpp"

using namespace varlearn;
using namespace varlearn::audio;

namespace {

Vector sinusoid(Index len, double amplitude, double cycles_per_sample, double phase) {
  Vector x(len);
  for (Index t = 0; t < len; ++t) x[t] = amplitude * std::cos(2 * std::numbers::pi * cycles_per_sample * double(t) + phase);
  return x;
}

}  // namespace

// x = A cos(2 pi k0 t / W + phi): full frames have |X[k0]| = A W / 4, |X[k0 +- 1]| = A W / 8 and
// nothing elsewhere (periodic Hann = 1/2 - e^{+i..}/4 - e^{-i..}/4). Tolerance 1e-9 relative.
TEST(Spectrogram, SinusoidOnABinPeaksThereWithTheHannCoefficients) {
  SpectrogramOptions o;
  o.window = 64;
  o.hop = 16;
  const Index k0 = 9;
  const double a = 0.7;
  const Vector x = sinusoid(64 * 8, a, double(k0) / 64, 0.4);
  const Matrix m = stft_magnitude(x, o);
  ASSERT_EQ(m.rows(), 33);
  ASSERT_EQ(m.cols(), frame_count(x.size(), 64, 16, Tail::ZeroPad));
  const Index full = (x.size() - 64) / 16 + 1;  // frames without zero padding
  for (Index t = 0; t < full; ++t) {
    Index arg = 0;
    m.col(t).maxCoeff(&arg);
    EXPECT_EQ(arg, k0) << "frame " << t;
    EXPECT_NEAR(m(k0, t), a * 64 / 4, 1e-9 * a * 64);
    EXPECT_NEAR(m(k0 - 1, t), a * 64 / 8, 1e-9 * a * 64);
    EXPECT_NEAR(m(k0 + 1, t), a * 64 / 8, 1e-9 * a * 64);
    for (Index k = 0; k < m.rows(); ++k) {
      if (std::abs(k - k0) <= 1) continue;
      EXPECT_NEAR(m(k, t), 0.0, 1e-9 * a * 64) << "bin " << k;
    }
  }
}

// Off-bin frequency: the peak is at the nearest bin (leakage stays around it).
TEST(Spectrogram, OffBinSinusoidPeaksAtTheNearestBin) {
  SpectrogramOptions o;
  o.window = 128;
  o.hop = 32;
  const double f_hz = 1234.0, rate = 8000.0;
  const Spectrogram s = spectrogram(sinusoid(4000, 0.5, f_hz / rate, 0.0), rate, o);
  const Index nearest = Index(std::lround(f_hz / rate * 128));
  for (Index t = 0; t < 4000 / 32 - 4; ++t) {
    Index arg = 0;
    s.db.col(t).maxCoeff(&arg);
    EXPECT_EQ(arg, nearest);
  }
  EXPECT_NEAR(s.bin_hz(nearest), 1250.0, 1e-12);
  EXPECT_NEAR(s.frame_seconds(10), 10 * 32 / 8000.0, 1e-15);
}

// Parseval per frame on noise: sum (w x)^2 = (|X0|^2 + |X_{W/2}|^2 + 2 sum_{0<k<W/2} |Xk|^2) / W.
TEST(Spectrogram, ParsevalPerFrame) {
  SpectrogramOptions o;
  o.window = 100;
  o.hop = 37;
  Rng rng(7);
  const Vector x = gaussian_matrix(1000, 1, 1.0, rng).col(0);
  const Matrix m = stft_magnitude(x, o);
  const Matrix f = frame(x, 100, 37, Tail::ZeroPad);
  for (Index t = 0; t < m.cols(); ++t) {
    double time_energy = 0;
    for (Index j = 0; j < 100; ++j) {
      const double w = 0.5 * (1 - std::cos(2 * std::numbers::pi * double(j) / 100));
      time_energy += std::pow(w * f(j, t), 2);
    }
    double freq = m(0, t) * m(0, t) + m(50, t) * m(50, t);
    for (Index k = 1; k < 50; ++k) freq += 2 * m(k, t) * m(k, t);
    EXPECT_NEAR(freq / 100, time_energy, 1e-10 * time_energy) << "frame " << t;
  }
}

TEST(Spectrogram, FloorAndBadInput) {
  SpectrogramOptions o;
  o.window = 16;
  o.hop = 8;
  o.floor_db = -90;
  const Spectrogram s = spectrogram(Vector::Zero(40), 8000, o);
  EXPECT_DOUBLE_EQ(s.db.maxCoeff(), -90.0);
  EXPECT_DOUBLE_EQ(s.db.minCoeff(), -90.0);
  EXPECT_EQ(spectrogram(Vector::Ones(3), 8000, o).db.cols(), 1);  // shorter than W: one padded frame
  o.window = 15;
  EXPECT_THROW(stft_magnitude(Vector::Ones(40), o), Error);
  o.window = 16;
  o.hop = 17;
  EXPECT_THROW(stft_magnitude(Vector::Ones(40), o), Error);
  o.hop = 8;
  EXPECT_THROW(stft_magnitude(Vector(), o), Error);
  EXPECT_THROW(spectrogram(Vector::Ones(40), 0, o), Error);
}
