#pragma once
// Generated speech-like test frames (no corpus needed): sums of a few decaying sinusoids
// plus a little noise, amplitude within [-0.9, 0.9], seeded.
#include <cmath>
#include <numbers>
#include <random>

#include "varlearn/audio/quantizer.hpp"
#include "varlearn/core/types.hpp"

namespace test_data {

inline varlearn::Vector speechlike(varlearn::Index length, unsigned seed, double rate = 8000.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> f(80.0, 1500.0), ph(0.0, 2 * std::numbers::pi), a(0.2, 1.0);
  std::normal_distribution<double> g(0.0, 0.01);
  varlearn::Vector x = varlearn::Vector::Zero(length);
  for (int k = 0; k < 6; ++k) {
    const double fk = f(rng), pk = ph(rng), ak = a(rng) / (1 + k);
    for (varlearn::Index t = 0; t < length; ++t) x(t) += ak * std::sin(2 * std::numbers::pi * fk * t / rate + pk);
  }
  // slow amplitude envelope, like syllables
  for (varlearn::Index t = 0; t < length; ++t) x(t) *= 0.6 + 0.4 * std::sin(2 * std::numbers::pi * 3.0 * t / rate);
  for (varlearn::Index t = 0; t < length; ++t) x(t) += g(rng);
  return x * (0.9 / x.cwiseAbs().maxCoeff());
}

inline varlearn::Matrix frames(varlearn::Index n, varlearn::Index b, unsigned seed) {
  varlearn::Vector x = speechlike(n * b, seed);
  return varlearn::Matrix(Eigen::Map<varlearn::Matrix>(x.data(), n, b));
}

struct Quantized {
  varlearn::Matrix clean, quantized, lower, upper;
};

inline Quantized quantize(const varlearn::Matrix& clean, int bits) {
  varlearn::audio::Quantizer q(bits);
  Quantized out;
  out.clean = clean;
  out.quantized = q.quantize(clean);
  auto cell = q.cell(out.quantized);
  out.lower = cell.lower;
  out.upper = cell.upper;
  return out;
}

}  // namespace test_data
