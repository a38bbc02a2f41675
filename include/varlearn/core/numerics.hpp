#pragma once
/// \file numerics.hpp
/// Small numerical utilities used by several concerns: a flush-to-zero guard and softplus.

namespace varlearn {

/// Sets flush-to-zero (FTZ) and denormals-are-zero (DAZ) in the calling thread and in every
/// OpenMP worker for its lifetime, and restores each thread's previous modes afterwards.
/// Why: float32 reverse-mode passes through long unrolled iterations decay into denormals,
/// which this CPU handles 4-10x slower; flushing them to 0 changes results only below
/// \f$\approx 10^{-38}\f$ (float) / \f$10^{-308}\f$ (double). Nested guards are fine (the
/// inner one restores "flushing"). On targets without SSE control registers it does nothing.
class FlushDenormals {
public:
  explicit FlushDenormals(bool active = true);
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

  /// True when the calling thread flushes denormals (FTZ and DAZ both set); false where the
  /// target has no such mode.
  static bool enabled_in_this_thread();
  /// True when this build can set the modes (x86 with SSE2).
  static bool supported();

private:
  bool active_;
  int threads_ = 0;             ///< OpenMP team size when the modes were set
  unsigned saved_caller_ = 0;   ///< the calling thread's control word before
  unsigned* saved_workers_ = nullptr;  ///< each worker's control word before (threads_ entries)
};

/// \f$\mathrm{softplus}(\alpha) = \log(1+e^\alpha) > 0\f$, evaluated stably
/// (\f$\alpha + \log(1+e^{-\alpha})\f$ for \f$\alpha > 0\f$). Maps an unconstrained
/// parameter to a positive stepsize.
double softplus(double alpha);
/// \f$\mathrm{softplus}'(\alpha) = \sigma(\alpha) = 1/(1+e^{-\alpha})\f$ (the logistic function).
double softplus_derivative(double alpha);
/// \f$\alpha = \mathrm{softplus}^{-1}(\omega) = \log(e^\omega - 1)\f$ for \f$\omega > 0\f$
/// (\f$\omega + \log(1 - e^{-\omega})\f$ above 30); throws Error unless omega > 0 finite.
double softplus_inverse(double omega);

}  // namespace varlearn
