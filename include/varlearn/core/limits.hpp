#pragma once
/// \file limits.hpp
/// Named limits shared by several layers (one definition each, with the reason).

#include <cstddef>

namespace varlearn {

/// Largest dimension n for which a dense n x n matrix is built on request (AR(1) second
/// moments, realized regularizers and denoisers, dense Hessians): 5000^2 doubles are 200 MB,
/// and a symmetric eigendecomposition of that size takes about a minute on two cores.
inline constexpr long kMaxDenseDimension = 5000;

}  // namespace varlearn
