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

}  // namespace varlearn::learn::detail
