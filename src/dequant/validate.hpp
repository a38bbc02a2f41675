#pragma once
/// \file validate.hpp
/// Shared input checks of the dequantization solvers.
#include <string>

#include "varlearn/core/threads.hpp"
#include "varlearn/core/types.hpp"

namespace varlearn::dequant {

/// Throws Error (prefixed by `where`) unless quantized, lower, upper are n x B with n, B >= 1,
/// finite, and lower <= quantized <= upper elementwise.
void check_cells(const std::string& where, const Matrix& quantized, const Matrix& lower, const Matrix& upper);

/// \f$\max_i \mathrm{dist}(v_i, [\ell_i, u_i])\f$.
double max_cell_violation(const Matrix& values, const Matrix& lower, const Matrix& upper);

}  // namespace varlearn::dequant
