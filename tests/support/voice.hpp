#pragma once
// Generated speech-like audio for tests that must run without the speech corpora: a few
// harmonics of a slowly gliding pitch, amplitude-modulated syllables, a little broadband
// noise, on the 16-bit grid (seeded).
#include <cmath>
#include <numbers>
#include <random>

#include "varlearn/core/types.hpp"

namespace varlearn::testing {

inline Vector voice(Index len, int rate, double f0, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  Vector x(len);
  double phase = 0;
  for (Index t = 0; t < len; ++t) {
    const double time = double(t) / rate;
    const double f = f0 * (1 + 0.1 * std::sin(2 * std::numbers::pi * 0.7 * time));
    phase += 2 * std::numbers::pi * f / rate;
    const double env = std::pow(std::sin(std::numbers::pi * 3.0 * time), 2);
    double v = 0;
    for (int h = 1; h <= 6; ++h) v += std::sin(h * phase) / h;
    x[t] = std::nearbyint((0.25 * env * v + 0.003 * g(rng)) * 32768.0) / 32768.0;
  }
  return x;
}

}  // namespace varlearn::testing
