#pragma once
// Independent reference for the classic dequantization LP, by a dense tableau simplex
// (Bland's rule, so it terminates). For one frame with cells [l, u] and orthonormal DCT C:
//   min ||x||_1 s.t. l <= C^T x <= u
// <=> with w = C^T x = l + t, x = p - q:
//   min 1'p + 1'q  s.t.  p - q - C t = C l,  t + r = u - l,  p, q, t, r >= 0,
// which has the feasible starting basis {p_i or q_i (by the sign of (Cl)_i), r_i}: no phase 1.
#include <cmath>
#include <stdexcept>
#include <vector>

#include "varlearn/core/types.hpp"

namespace lp_reference {

inline double l1_dequant_lp(const varlearn::Matrix& c, const varlearn::Vector& l, const varlearn::Vector& u) {
  using varlearn::Index;
  const Index n = l.size(), rows = 2 * n, cols = 4 * n;  // p: 0..n-1, q: n..2n-1, t: 2n.., r: 3n..
  varlearn::Matrix tab = varlearn::Matrix::Zero(rows, cols + 1);
  std::vector<Index> basis(rows);
  const varlearn::Vector cl = c * l;
  for (Index i = 0; i < n; ++i) {
    const double sgn = cl(i) >= 0 ? 1.0 : -1.0;
    tab(i, i) = sgn;
    tab(i, n + i) = -sgn;
    for (Index j = 0; j < n; ++j) tab(i, 2 * n + j) = -sgn * c(i, j);
    tab(i, cols) = sgn * cl(i);
    basis[i] = cl(i) >= 0 ? i : n + i;
    tab(n + i, 2 * n + i) = 1.0;
    tab(n + i, 3 * n + i) = 1.0;
    tab(n + i, cols) = u(i) - l(i);
    basis[n + i] = 3 * n + i;
  }
  auto cost = [n](Index j) { return j < 2 * n ? 1.0 : 0.0; };
  const double eps = 1e-11;
  for (int pivots = 0; pivots < 100000; ++pivots) {
    Index enter = -1;
    for (Index j = 0; j < cols && enter < 0; ++j) {
      double rc = cost(j);
      for (Index i = 0; i < rows; ++i) rc -= cost(basis[i]) * tab(i, j);
      if (rc < -eps) enter = j;
    }
    if (enter < 0) {
      double obj = 0;
      for (Index i = 0; i < rows; ++i) obj += cost(basis[i]) * tab(i, cols);
      return obj;
    }
    Index leave = -1;
    double best = 0;
    for (Index i = 0; i < rows; ++i) {
      if (tab(i, enter) > eps) {
        const double ratio = tab(i, cols) / tab(i, enter);
        if (leave < 0 || ratio < best - 1e-14 || (std::abs(ratio - best) <= 1e-14 && basis[i] < basis[leave])) {
          leave = i;
          best = ratio;
        }
      }
    }
    if (leave < 0) throw std::runtime_error("lp_reference: unbounded (impossible for this LP)");
    tab.row(leave) /= tab(leave, enter);
    for (Index i = 0; i < rows; ++i)
      if (i != leave && tab(i, enter) != 0.0) tab.row(i) -= tab(i, enter) * tab.row(leave);
    basis[leave] = enter;
  }
  throw std::runtime_error("lp_reference: pivot limit");
}

}  // namespace lp_reference
