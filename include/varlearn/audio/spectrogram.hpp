#pragma once
/// \file spectrogram.hpp
/// Short-time Fourier transform magnitude of a signal (a spectrogram): frames of W samples
/// with a hop (audio::frame, the last frame zero-padded so every sample is covered), each
/// multiplied by the periodic Hann window \f$w[j] = \tfrac12(1 - \cos(2\pi j / W))\f$, then
///   \f$X_t[k] = \sum_{j=0}^{W-1} w[j]\, x[t h + j]\, e^{-2\pi i jk/W}\f$, k = 0 .. W/2
/// (the non-negative frequencies of a real signal; bin k is at k f_s / W Hz).
/// A sinusoid of amplitude A on bin k0 gives |X[k0]| = A W / 4 and |X[k0 +- 1]| = A W / 8
/// (the Hann window's three nonzero DFT coefficients); Parseval per frame:
///   \f$\sum_j (w[j] x[j])^2 = \tfrac1W \big(|X_0|^2 + |X_{W/2}|^2 + 2\sum_{0<k<W/2} |X_k|^2\big)\f$ (W even).
#include "varlearn/core/types.hpp"

namespace varlearn::audio {

/// How a spectrogram is computed.
struct SpectrogramOptions {
  Index window = 256;        ///< W: samples per frame (even, >= 2); 32 ms at 8 kHz
  Index hop = 64;            ///< h: samples between frame starts, 1 <= h <= W
  double floor_db = -120.0;  ///< dB values are clipped below at this level (silence is finite)
  void validate() const;     ///< throws Error for odd or too small W, or a hop outside [1, W]
};

/// |X_t[k]|: a (W/2 + 1) x T matrix, row k = frequency bin, column t = frame (T = number of
/// zero-padded frames, audio::frame_count with Tail::ZeroPad). Throws Error for an empty signal.
Matrix stft_magnitude(const Vector& x, const SpectrogramOptions& options = {});

/// A spectrogram in dB, with its axes.
struct Spectrogram {
  Matrix db;              ///< 20 log10 |X_t[k]| clipped below at floor_db, (W/2 + 1) x T
  double rate = 0;        ///< f_s in Hz
  Index window = 0, hop = 0;
  double bin_hz(Index k) const { return double(k) * rate / double(window); }  ///< k f_s / W
  double frame_seconds(Index t) const { return double(t * hop) / rate; }      ///< start of frame t
};

/// The spectrogram of `x` sampled at `rate` Hz (> 0). Throws Error on bad options or rate.
Spectrogram spectrogram(const Vector& x, double rate, const SpectrogramOptions& options = {});

}  // namespace varlearn::audio
