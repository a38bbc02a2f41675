#pragma once
/// \file ranges.hpp
/// The accepted ranges of the theory engine's numeric inputs (docs/theory.md, "Ranges"). Inside
/// them every result is finite and computed without overflow; outside, the functions throw an
/// Error "... out of range (...)". The bounds keep every square and sum the engine forms
/// (sigma^2, mu^2 + theta^2, gamma + sigma^2, |b|, 1/omega) inside the normal double range.
namespace varlearn::theory {

/// Noise standard deviation sigma: sigma^2 is a normal double (>= 1e-300) and sigma^2 plus an
/// eigenvalue of Sigma stays finite. Below, the risk (O(sigma^2)) is not representable anyway.
inline constexpr double kMinNoiseStd = 1e-150;
inline constexpr double kMaxNoiseStd = 1e150;
/// Mean and standard deviation of the structured data models: |mu|, theta <= 1e150.
inline constexpr double kMaxSignalScale = 1e150;
/// Eigenvalues gamma of Sigma (e.g. n (mu^2 + theta^2) for the constant model) and the entries
/// of a given Sigma: <= 1e300, so gamma + sigma^2 and gamma (t - 1)^2 with |t| <= 1 are finite.
inline constexpr double kMaxEigenvalue = 1e300;
/// Unrolled stepsize omega >= 1e-300: the odd-N minimizer s* = (1 - q*)/omega - 1 is finite.
inline constexpr double kMinStepsize = 1e-300;
/// |1 - omega|^N <= 1e300: b = f(0) = 1 - (1 - omega)^N is finite (every omega in (0, 2] passes).
inline constexpr double kMaxStepsizePower = 1e300;
/// Relative gap of a realized infimum: below 1e-15 it is under double resolution.
inline constexpr double kMinGap = 1e-15;
inline constexpr double kMaxGap = 1.0;

}  // namespace varlearn::theory
