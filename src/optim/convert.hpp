#pragma once
// Private: vectors of the optimizers (float or double) <-> the double vectors of optim::State.
#include <vector>

#include "varlearn/core/types.hpp"

namespace varlearn::optim::detail {
template <class T>
std::vector<double> to_doubles(const VectorT<T>& v) {
  std::vector<double> out(static_cast<size_t>(v.size()));
  for (Index i = 0; i < v.size(); ++i) out[static_cast<size_t>(i)] = static_cast<double>(v(i));
  return out;
}
/// Exact for states validated as float32 when T = float.
template <class T>
VectorT<T> from_doubles(const std::vector<double>& v) {
  VectorT<T> out(static_cast<Index>(v.size()));
  for (Index i = 0; i < out.size(); ++i) out(i) = static_cast<T>(v[static_cast<size_t>(i)]);
  return out;
}
}  // namespace varlearn::optim::detail
