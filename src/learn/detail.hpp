#pragma once
// Private helpers of the learning engine (not installed API).
#include <vector>

#include "varlearn/core/types.hpp"
#include "varlearn/learn/model.hpp"

namespace varlearn::learn::detail {

/// theta split into R (k x n), the N stepsizes omega_j and d omega_j / d alpha.
template <class Real>
struct Unpacked {
  MatrixT<Real> r;
  std::vector<Real> omega;        ///< N entries (unrolled), empty (bilevel)
  std::vector<double> domega;     ///< softplus'(alpha) per alpha entry (0/1/N entries)
};

template <class Real>
Unpacked<Real> unpack(const ModelSpec& spec, const VectorT<Real>& theta,
                      const std::vector<double>& fixed_stepsizes, const char* where);

/// z^N of the unrolled iteration on the columns of x (no gradient).
template <class Real>
MatrixT<Real> unrolled_forward(const MatrixT<Real>& r, const std::vector<Real>& omega,
                               const MatrixT<Real>& x);

/// Sets flush-to-zero / denormals-are-zero in the calling thread and every OpenMP worker for
/// its lifetime (float32 backward passes run into denormals), restoring the modes after.
class DenormalGuard {
public:
  explicit DenormalGuard(bool active);
  ~DenormalGuard();
  DenormalGuard(const DenormalGuard&) = delete;
  DenormalGuard& operator=(const DenormalGuard&) = delete;

private:
  bool active_;
};

}  // namespace varlearn::learn::detail
