// STFT magnitude with a periodic Hann window; the DFT of all frames at once as two GEMMs
// (cosine and sine matrices, (W/2 + 1) x W) — W is small (a few hundred), so this is exact
// and fast enough without an FFT library in this concern.
#include "varlearn/audio/spectrogram.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "varlearn/audio/framing.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::audio {

void SpectrogramOptions::validate() const {
  require(window >= 2 && window % 2 == 0, "spectrogram", "window must be even and >= 2 (got " + std::to_string(window) + ")");
  require(hop >= 1 && hop <= window, "spectrogram", "hop must be in [1, window] (got " + std::to_string(hop) + ")");
  require(std::isfinite(floor_db), "spectrogram", "floor_db must be finite");
}

Matrix stft_magnitude(const Vector& x, const SpectrogramOptions& options) {
  options.validate();
  require(x.size() > 0, "spectrogram", "empty signal");
  const Index w = options.window, bins = w / 2 + 1;
  Matrix frames = frame(x, w, options.hop, Tail::ZeroPad);
  for (Index j = 0; j < w; ++j)
    frames.row(j) *= 0.5 * (1.0 - std::cos(2 * std::numbers::pi * double(j) / double(w)));
  Matrix c(bins, w), s(bins, w);
  for (Index k = 0; k < bins; ++k)
    for (Index j = 0; j < w; ++j) {
      const double phase = 2 * std::numbers::pi * double((j * k) % w) / double(w);  // reduced: exact twiddles
      c(k, j) = std::cos(phase);
      s(k, j) = std::sin(phase);
    }
  const Matrix re = c * frames, im = s * frames;
  return (re.array().square() + im.array().square()).sqrt().matrix();
}

Spectrogram spectrogram(const Vector& x, double rate, const SpectrogramOptions& options) {
  require(std::isfinite(rate) && rate > 0, "spectrogram", "sample rate must be > 0");
  Spectrogram s;
  s.rate = rate;
  s.window = options.window;
  s.hop = options.hop;
  const double floor_mag = std::pow(10.0, options.floor_db / 20.0);
  s.db = stft_magnitude(x, options).unaryExpr([&](double m) { return 20.0 * std::log10(std::max(m, floor_mag)); });
  return s;
}

}  // namespace varlearn::audio
