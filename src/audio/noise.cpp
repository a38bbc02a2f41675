#include "varlearn/audio/noise.hpp"

#include <cmath>

#include "varlearn/core/error.hpp"

namespace varlearn::audio {

Matrix add_gaussian_noise(const Matrix& clean, double noise_std, Rng& rng) {
  require(std::isfinite(noise_std) && noise_std >= 0, "audio::add_gaussian_noise",
          "noise std sigma must be finite and >= 0");
  Matrix x = clean;
  add_gaussian_noise_inplace(x, noise_std, rng);  // column-major: same seed and shape, same draw
  return x;
}

Vector add_gaussian_noise(const Vector& clean, double noise_std, Rng& rng) {
  Matrix m = clean;
  return add_gaussian_noise(m, noise_std, rng).col(0);
}

}  // namespace varlearn::audio
