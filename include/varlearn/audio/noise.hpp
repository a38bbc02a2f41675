#pragma once
/// \file noise.hpp
/// Additive white Gaussian noise x = y + eps, eps ~ N(0, sigma^2 I), from a seeded
/// generator passed in (the same seed gives the same numbers).
#include "varlearn/core/random.hpp"
#include "varlearn/core/types.hpp"

namespace varlearn::audio {

using varlearn::Rng;  ///< the library's one generator (core/random.hpp)

/// y + sigma * N(0, 1) elementwise (sigma >= 0, finite; Error otherwise).
Matrix add_gaussian_noise(const Matrix& clean, double noise_std, Rng& rng);
Vector add_gaussian_noise(const Vector& clean, double noise_std, Rng& rng);

}  // namespace varlearn::audio
