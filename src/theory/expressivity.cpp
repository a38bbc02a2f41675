#include "varlearn/theory/expressivity.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/range.hpp"

namespace varlearn::theory {
namespace {


struct Checked {
  Membership m;
  Eigen::SelfAdjointEigenSolver<Matrix> eig;
};

Checked check(const Family& family, const Matrix& t, Index rank, double tol) {
  if (t.rows() != t.cols() || t.rows() == 0)
    throw Error("theory::membership: matrix must be square and non-empty, got " + std::to_string(t.rows()) + " x " +
                std::to_string(t.cols()));
  if (!t.allFinite()) throw Error("theory::membership: matrix has a NaN or infinite entry");
  if (rank < 1 || rank > t.rows())
    throw Error("theory::membership: rank k = " + std::to_string(rank) + " must satisfy 1 <= k <= n = " +
                std::to_string(t.rows()));
  check_range(tol, 0.0, std::numeric_limits<double>::max(), "theory::membership", "tolerance",
              "0 <= tolerance, finite");
  Checked c;
  Membership& m = c.m;
  const Index n = t.rows();
  const double asym = (t - t.transpose()).cwiseAbs().maxCoeff();
  c.eig.compute(0.5 * (t + t.transpose()));
  const Vector& lam = c.eig.eigenvalues();
  m.min_eigenvalue = lam.minCoeff();
  m.max_eigenvalue = lam.maxCoeff();
  const double b = family.at_zero();
  for (Index i = 0; i < n; ++i)
    if (std::abs(lam(i) - b) <= tol) ++m.eigen_b_count;
  const Interval range = family.range();
  auto fail = [&](const std::string& why) {
    if (m.reason.empty()) m.reason = why;
  };
  if (asym > tol) fail("not symmetric (max |T - T^T| = " + format_general(asym, 10) + ")");
  if (m.eigen_b_count < n - rank)
    fail("eigenvalue b = " + format_general(b, 10) + " has multiplicity " + std::to_string(m.eigen_b_count) + " < n - k = " +
         std::to_string(n - rank));
  if (!family.is_bilevel() && family.depth() == 1) {
    if (std::abs(m.min_eigenvalue - b) > tol || std::abs(m.max_eigenvalue - b) > tol)
      fail("depth N = 1 expresses only omega I (eigenvalues in [" + format_general(m.min_eigenvalue, 10) + ", " +
           format_general(m.max_eigenvalue, 10) + "])");
  }
  // Range conditions: bilevel 0 < T <= I; even N: T <= b I; odd N: T >= c I.
  if (range.lo > -std::numeric_limits<double>::infinity()) {
    // An open end (bilevel 0 < T) must be cleared by more than the tolerance.
    const bool ok = range.lo_closed ? m.min_eigenvalue >= range.lo - tol : m.min_eigenvalue > range.lo + tol;
    if (!ok)
      fail("smallest eigenvalue " + format_general(m.min_eigenvalue, 10) + (range.lo_closed ? " is below " : " is not above ") +
           format_general(range.lo, 10));
  }
  if (range.hi < std::numeric_limits<double>::infinity() && m.max_eigenvalue > range.hi + tol)
    fail("largest eigenvalue " + format_general(m.max_eigenvalue, 10) + " exceeds " + format_general(range.hi, 10));
  m.member = m.reason.empty();
  return c;
}

}  // namespace

Membership membership(const Family& family, const Matrix& t, Index rank, double tol) {
  return check(family, t, rank, tol).m;
}

Matrix realize(const Family& family, const Matrix& t, Index rank, double tol) {
  Checked c = check(family, t, rank, tol);
  if (!c.m.member) throw Error("theory::realize: matrix is not in the set of " + family.describe() +
                               " denoisers of rank k = " + std::to_string(rank) + ": " + c.m.reason);
  const Index n = t.rows();
  const Vector& lam = c.eig.eigenvalues();
  const double b = family.at_zero();
  const Interval range = family.range();
  // The k eigenvalues farthest from b get s = f^{-1}(lambda) > 0; the rest s = 0.
  std::vector<Index> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  std::sort(order.begin(), order.end(),
            [&](Index a, Index bb) { return std::abs(lam(a) - b) > std::abs(lam(bb) - b); });
  Matrix r = Matrix::Zero(rank, n);
  for (Index j = 0; j < rank; ++j) {
    const Index i = order[size_t(j)];
    if (std::abs(lam(i) - b) <= tol) break;
    const double s = family.inverse(range.clamp(lam(i)));
    r.row(j) = std::sqrt(s) * c.eig.eigenvectors().col(i).transpose();
  }
  return r;
}

}  // namespace varlearn::theory
