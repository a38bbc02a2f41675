#pragma once
/// \file random.hpp
/// The one random generator of the library, Gaussian noise, and seed derivation.
/// Randomness only through a seeded Rng passed in: the same seed gives the same numbers on
/// the same build.
#include <cstdint>
#include <random>

#include "varlearn/core/types.hpp"

namespace varlearn {

/// 64-bit Mersenne twister: every seeded stream of the library.
using Rng = std::mt19937_64;

/// Independent streams derived from one user seed, so that e.g. the validation split does
/// not reuse the numbers of the minibatch order.
enum class SeedStream {
  ValidationSplit,  ///< learn: which frames are held out, \f$s \oplus \texttt{0x5eed}\f$
  TrainingNoise,    ///< learn: fresh noise per minibatch, \f$s + \phi_{64}\f$ (mod \f$2^{64}\f$)
  MonitorSubset,    ///< dequant: frames of the best-iterate monitor, \f$s \oplus \phi_{64}\f$
};

/// Salts of derive_seed(). \f$\phi_{64} = \lfloor 2^{64}/\varphi \rfloor\f$ (golden ratio,
/// odd, well mixed bits). The combination (xor or add) is per stream and is kept as first
/// written so that every stream, and every reported number, stays the same.
inline constexpr std::uint64_t kValidationSplitSalt = 0x5eedULL;
inline constexpr std::uint64_t kGoldenRatioSalt = 0x9e3779b97f4a7c15ULL;

/// Seed of the stream `stream` derived from the user seed.
constexpr std::uint64_t derive_seed(std::uint64_t seed, SeedStream stream) {
  switch (stream) {
    case SeedStream::ValidationSplit: return seed ^ kValidationSplitSalt;
    case SeedStream::TrainingNoise: return seed + kGoldenRatioSalt;
    case SeedStream::MonitorSubset: return seed ^ kGoldenRatioSalt;
  }
  return seed;
}

/// \f$x \leftarrow x + \sigma\,\varepsilon\f$, \f$\varepsilon_i \sim N(0,1)\f$ i.i.d., drawn in
/// column-major order (float matrices draw in double and round). A fresh
/// std::normal_distribution per call: the same (seed, shape) gives the same noise.
template <class Derived>
void add_gaussian_noise_inplace(Eigen::MatrixBase<Derived>& x, typename Derived::Scalar noise_std, Rng& rng) {
  using Scalar = typename Derived::Scalar;
  std::normal_distribution<double> nd(0.0, 1.0);
  for (Index j = 0; j < x.cols(); ++j)
    for (Index i = 0; i < x.rows(); ++i) x(i, j) += noise_std * static_cast<Scalar>(nd(rng));
}

/// rows x cols matrix of \f$\texttt{scale}\cdot N(0,1)\f$ entries, column-major order.
inline Matrix gaussian_matrix(Index rows, Index cols, double scale, Rng& rng) {
  std::normal_distribution<double> nd(0.0, 1.0);
  Matrix m(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) m(i, j) = scale * nd(rng);
  return m;
}

}  // namespace varlearn
