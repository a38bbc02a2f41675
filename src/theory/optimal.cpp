#include "varlearn/theory/optimal.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/minimize.hpp"
#include "varlearn/core/range.hpp"
#include "varlearn/theory/ranges.hpp"
#include "varlearn/theory/risk.hpp"

namespace varlearn::theory {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
/// Bisection halvings locating an end of an optimal-stepsize interval in (0, 1]: the loop stops
/// when the interval collapses (~55 halvings), the cap only bounds a NaN-fed loop.
constexpr int kIntervalBisections = 100;

/// Cost of one eigen-direction with Sigma-eigenvalue gamma when T has eigenvalue t there.
inline double cost(double gamma, double s2, double t) { return gamma * (t - 1) * (t - 1) + s2 * t * t; }

/// The optimum for fixed b = f(0) and range F: per group, how many directions are free
/// (s > 0) and the eigenvalue t they take.
struct Allocation {
  double risk = 0;
  bool attained = true;
  Index free_total = 0;
  std::vector<Index> free;   // per group
  std::vector<double> t;     // per group, value on its free directions
};

Allocation allocate(const std::vector<EigenGroup>& groups, double s2, Index rank, double b, const Interval& range,
                    bool want_detail) {
  const size_t G = groups.size();
  Allocation a;
  thread_local std::vector<double> forced, freec, savings, tfree;
  thread_local std::vector<Index> nfree;
  thread_local std::vector<size_t> order;
  forced.resize(G), freec.resize(G), savings.resize(G), tfree.resize(G), nfree.assign(G, 0);
  Index n = 0;
  for (size_t i = 0; i < G; ++i) {
    const double g = groups[i].gamma;
    forced[i] = cost(g, s2, b);                  // forced: s = 0, t = b
    tfree[i] = range.clamp(g / (g + s2));        // free: best t in F
    freec[i] = cost(g, s2, tfree[i]);
    // h - g >= 0; both infinite (|b| beyond the double range) saves nothing representable.
    savings[i] = forced[i] == freec[i] ? 0.0 : std::max(forced[i] - freec[i], 0.0);
    n += groups[i].multiplicity;
  }
  if (rank >= n) {
    for (size_t i = 0; i < G; ++i) nfree[i] = groups[i].multiplicity;
  } else {
    order.resize(G);
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [](size_t x, size_t y) {
      return savings[x] > savings[y] || (savings[x] == savings[y] && x < y);
    });
    Index left = rank;
    for (size_t j = 0; j < G && left > 0; ++j) {
      const size_t i = order[j];
      nfree[i] = std::min(left, groups[i].multiplicity);
      left -= nfree[i];
    }
  }
  // Sum the chosen costs directly (no total-minus-savings cancellation): every term is >= 0.
  double total = 0;
  for (size_t i = 0; i < G; ++i) {
    if (savings[i] <= 0) nfree[i] = 0;  // t = b needs no s > 0
    // No forced direction: skip its cost (it may be infinite, |b| large, and 0 * inf is NaN).
    if (groups[i].multiplicity > nfree[i]) total += double(groups[i].multiplicity - nfree[i]) * forced[i];
    if (nfree[i] == 0) continue;
    total += double(nfree[i]) * freec[i];
    a.free_total += nfree[i];
    // An open end of F (bilevel t -> 0) is approached by no finite R.
    if ((tfree[i] == range.lo && !range.lo_closed) || (tfree[i] == range.hi && !range.hi_closed)) a.attained = false;
  }
  if (want_detail) {
    a.free.assign(nfree.begin(), nfree.begin() + long(G));
    a.t.assign(tfree.begin(), tfree.begin() + long(G));
  }
  a.risk = 0.5 * total;
  return a;
}

/// Throws when a risk left the double range: n sigma^2 or tr(Sigma) beyond it, or (unrolled,
/// omega > 2) gamma (b - 1)^2 with |b| large.
double finite_risk(double risk, const std::string& method, const char* where, const Family* family = nullptr) {
  if (!std::isfinite(risk)) {
    std::ostringstream m;
    m << where << ": risk out of range (exceeds the double range, 1.8e308) for "
      << (method.empty() && family ? family->describe() : method);
    if (family && !family->is_bilevel() && family->stepsize() > 2)
      m << " (b = 1 - (1 - omega)^N = " << family->at_zero() << "): use 0 < omega <= 2, a smaller depth,";
    else
      m << ":";
    m << " reduce n, sigma or the signal (|mu|, theta, Sigma)";
    throw Error(m.str());
  }
  return risk;
}

void check_rank(const DataModel& data, Index rank, const char* where) {
  if (rank < 1 || rank > data.n())
    throw Error(std::string(where) + ": rank k = " + std::to_string(rank) + " must satisfy 1 <= k <= n = " +
                std::to_string(data.n()));
}

void check_gap(const OptimalOptions& opt, const char* where) {
  check_range(opt.gap, kMinGap, kMaxGap, where, "gap", "1e-15 <= gap <= 1");
}

/// Builds R (k x n) and T from an allocation; t_zero replaces an unattainable t = 0
/// (bilevel free direction with gamma = 0).
void realize_allocation(OptimalRisk& out, const DataModel& data, double noise_std, Index rank, const Family& family,
                        const Allocation& a, double t_zero) {
  const Index n = data.n();
  const Matrix v = data.eigenvectors();
  const double b = family.at_zero();
  Vector t = Vector::Constant(n, b);
  Matrix r = Matrix::Zero(rank, n);
  Index col = 0, row = 0;
  const auto& groups = data.spectrum();
  for (size_t i = 0; i < groups.size(); ++i) {
    for (Index j = 0; j < a.free[i]; ++j) {
      double ti = a.t[i];
      if (family.is_bilevel() && ti <= 0) ti = t_zero;
      const double s = family.inverse(ti);
      t(col + j) = family(s);
      r.row(row++) = std::sqrt(s) * v.col(col + j).transpose();
    }
    col += groups[i].multiplicity;
  }
  out.regularizer = std::move(r);
  out.denoiser = v * t.asDiagonal() * v.transpose();
  out.regularizer_risk = risk_of_regularizer(data, noise_std, family, out.regularizer).total();
}

OptimalRisk from_family(const DataModel& data, double noise_std, Index rank, const Family& family,
                        const OptimalOptions& opt) {
  const double s2 = noise_std * noise_std;
  const Allocation a = allocate(data.spectrum(), s2, rank, family.at_zero(), family.range(), opt.with_regularizer);
  OptimalRisk out;
  out.risk = finite_risk(a.risk, {}, "theory::optimal", &family);
  out.attained = a.attained;
  out.stepsize = family.stepsize();
  out.free_directions = a.free_total;
  if (opt.with_regularizer) {
    // Free directions with gamma = 0 want t -> 0 (cost s2 t^2 each): pick t so that their
    // excess 1/2 c0 s2 t^2 stays within half the allowed gap.
    Index c0 = 0;
    for (size_t i = 0; i < a.free.size(); ++i)
      if (a.t[i] <= 0) c0 += a.free[i];
    const double t_zero = c0 ? std::sqrt(opt.gap * (1 + a.risk) / (double(c0) * s2)) : 0.0;
    realize_allocation(out, data, noise_std, rank, family, a, std::min(t_zero, 0.5));
  }
  return out;
}

/// Learned stepsize: the risk as a function of one variable x in (0, 1] (x = b for even N,
/// where the risk depends on omega only through b; x = omega otherwise), and its limit x -> 0+.
struct LearnedSearch {
  const std::vector<EigenGroup>& groups;
  double s2;
  Index rank;
  int depth;
  double m = 0;  // m_N for odd N >= 3

  double omega_of(double x) const { return depth % 2 == 0 ? -std::expm1(std::log1p(-x) / depth) : x; }
  Allocation at(double x, bool detail = false) const {
    Interval F;
    double b;
    if (depth % 2 == 0) {
      b = x;
      F.hi = b;
      F.hi_closed = true;
    } else if (depth == 1) {
      b = x;
      F.lo = F.hi = x;
      F.lo_closed = F.hi_closed = true;
    } else {
      b = -std::expm1(depth * std::log1p(-x));  // 1 - (1 - omega)^N
      F.lo = x * m;                              // c = omega m_N since omega <= 1 < 1 - q*_N
      F.lo_closed = true;
    }
    return allocate(groups, s2, rank, b, F, detail);
  }
  double risk(double x) const { return at(x).risk; }
  /// omega -> 0+: b -> 0, F -> (-inf, 0] (even), [0, inf) (odd >= 3), {0} (N = 1).
  double limit() const {
    Interval F;
    if (depth % 2 == 0) {
      F.hi = 0;
      F.hi_closed = true;
    } else if (depth == 1) {
      F.lo = F.hi = 0;
      F.lo_closed = F.hi_closed = true;
    } else {
      F.lo = 0;
      F.lo_closed = true;
    }
    return allocate(groups, s2, rank, 0.0, F, false).risk;
  }
};

std::vector<double> search_grid() {
  std::vector<double> x;
  // ~460 points: every grid-local minimum is refined by Brent's method afterwards, so the grid
  // only has to separate the basins (checked against an independent reference in the tests).
  for (int i = 0; i <= 64; ++i) x.push_back(std::pow(10.0, -10.0 + 0.125 * i));  // 1e-10 .. 1e-2
  for (int i = 5; i <= 400; ++i) x.push_back(i / 400.0);                          // 0.0125 .. 1
  return x;
}

}  // namespace

double best_risk_for_family(const DataModel& data, double noise_std, Index rank, const Family& family) {
  check_noise_std(noise_std, "theory::best_risk_for_family");
  check_rank(data, rank, "theory::best_risk_for_family");
  return finite_risk(allocate(data.spectrum(), noise_std * noise_std, rank, family.at_zero(), family.range(), false).risk,
                     {}, "theory::best_risk_for_family", &family);
}

OptimalRisk best_linear(const DataModel& data, double noise_std, const OptimalOptions& opt) {
  check_noise_std(noise_std, "theory::best_linear");
  const double s2 = noise_std * noise_std;
  OptimalRisk out;
  double total = 0;
  for (const auto& g : data.spectrum()) {
    // sigma^2 gamma can overflow or underflow where the term does not: then evaluate it as
    // sigma^2 (gamma/(gamma + sigma^2)) (ordinary inputs keep the first form, bit for bit).
    const double num = double(g.multiplicity) * s2 * g.gamma;
    const bool normal = std::isfinite(num) && (num >= std::numeric_limits<double>::min() || g.gamma == 0);
    total += normal ? num / (g.gamma + s2) : double(g.multiplicity) * (s2 * (g.gamma / (g.gamma + s2)));
  }
  out.risk = finite_risk(0.5 * total, "the best linear denoiser", "theory::best_linear");
  out.free_directions = data.n();
  if (opt.with_regularizer) {
    // T* = Sigma (Sigma + sigma^2 I)^{-1} = V diag(gamma/(gamma+sigma^2)) V^T.
    const Matrix v = data.eigenvectors();
    Vector t(data.n());
    Index col = 0;
    for (const auto& g : data.spectrum())
      for (Index j = 0; j < g.multiplicity; ++j) t(col++) = g.gamma / (g.gamma + s2);
    out.denoiser = v * t.asDiagonal() * v.transpose();
    out.regularizer_risk = risk(data, noise_std, out.denoiser).total();
  }
  return out;
}

OptimalRisk best_bilevel(const DataModel& data, double noise_std, Index rank, const OptimalOptions& opt) {
  check_noise_std(noise_std, "theory::best_bilevel");
  check_rank(data, rank, "theory::best_bilevel");
  check_gap(opt, "theory::best_bilevel");
  return from_family(data, noise_std, rank, Family::bilevel(), opt);
}

OptimalRisk best_unrolled(const DataModel& data, double noise_std, Index rank, int depth, double stepsize,
                          const OptimalOptions& opt) {
  check_noise_std(noise_std, "theory::best_unrolled");
  check_rank(data, rank, "theory::best_unrolled");
  check_gap(opt, "theory::best_unrolled");
  return from_family(data, noise_std, rank, Family::unrolled(depth, stepsize), opt);
}

OptimalRisk best_unrolled_learned(const DataModel& data, double noise_std, Index rank, int depth,
                                  const OptimalOptions& opt) {
  check_noise_std(noise_std, "theory::best_unrolled_learned");
  check_rank(data, rank, "theory::best_unrolled_learned");
  check_gap(opt, "theory::best_unrolled_learned");
  if (depth < 1) throw Error("theory::best_unrolled_learned: depth N = " + std::to_string(depth) + " must be >= 1");
  LearnedSearch search{data.spectrum(), noise_std * noise_std, rank, depth};
  if (depth >= 3 && depth % 2 == 1) search.m = pmin_value(depth);

  // 1. Global scan of (0, 1] on a log grid near 0 and a uniform grid beyond.
  static const std::vector<double> grid = search_grid();
  std::vector<double> values(grid.size());
  const std::string method = "unrolled N=" + std::to_string(depth) + ", learned omega";
  for (size_t i = 0; i < grid.size(); ++i)
    values[i] = finite_risk(search.risk(grid[i]), method, "theory::best_unrolled_learned");

  // 2. Refine the best few grid-local minima by Brent's method between their neighbours.
  std::vector<size_t> minima;
  for (size_t i = 0; i < grid.size(); ++i) {
    const bool left_ok = i == 0 || values[i] <= values[i - 1];
    const bool right_ok = i + 1 == grid.size() || values[i] <= values[i + 1];
    if (left_ok && right_ok) minima.push_back(i);
  }
  std::sort(minima.begin(), minima.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  if (minima.size() > 4) minima.resize(4);
  double best_x = grid[minima.front()], best = values[minima.front()];
  for (size_t i : minima) {
    const double lo = i == 0 ? grid[0] * 0.5 : grid[i - 1];
    const double hi = i + 1 == grid.size() ? 1.0 : grid[i + 1];
    const ScalarMinimum m = minimize_scalar([&](double z) { return search.risk(z); }, lo, hi);
    if (m.value < best) best = m.value, best_x = m.x;
  }

  // 3. The limit omega -> 0+. It is the optimum, approached only, when it beats every omega in
  //    (0, 1], or when it ties only with omegas so small that the tie is rounding (near 0 the
  //    risk differs from its limit by O(omega^2), below double resolution for omega < ~1e-6).
  //    A tie at some omega >= 1e-5 means that omega attains it (e.g. a flat interval (0, hi]).
  const double limit = finite_risk(search.limit(), method, "theory::best_unrolled_learned");
  const double tol = 1e-12 * std::max(std::abs(best), 1e-300);
  constexpr double kResolvable = 1e-5;
  if (best_x < kResolvable && best <= limit + tol) {
    for (size_t i = 0; i < grid.size(); ++i)
      if (grid[i] >= kResolvable && values[i] <= best + tol) {
        best_x = grid[i];
        break;
      }
  }
  OptimalRisk out;
  if (limit < best - tol || (best_x < kResolvable && limit <= best + tol)) {
    out.risk = std::min(limit, best);
    out.attained = false;
    out.stepsize = 0;
  } else {
    out.risk = std::min(best, limit);
    out.attained = true;
    // 4. A whole interval of optimal x: grow from the grid neighbours of best_x while the grid
    //    stays optimal, then bisect each boundary. A smooth minimum's 1e-12 band is far narrower
    //    than the grid spacing, so it takes two optimal grid points to call it an interval.
    // Boundaries: the risk leaves its optimal level quadratically, so a relative level of 1e-14
    // (above summation rounding) places each end to about 1e-7 relative.
    const double level = out.risk + tol;
    const double fine_level = out.risk + 1e-14 * std::max(std::abs(out.risk), 1e-300);
    auto optimal = [&](double x) { return search.risk(x) <= fine_level; };
    size_t i = size_t(std::lower_bound(grid.begin(), grid.end(), best_x) - grid.begin());
    if (i == grid.size()) i = grid.size() - 1;
    size_t lo_i = i, hi_i = i;
    if (values[i] > level && i > 0 && values[i - 1] <= level) lo_i = hi_i = i - 1;
    if (values[lo_i] <= level) {
      while (lo_i > 0 && values[lo_i - 1] <= level) --lo_i;
      while (hi_i + 1 < grid.size() && values[hi_i + 1] <= level) ++hi_i;
    }
    if (values[lo_i] <= level && hi_i > lo_i) {
      auto boundary = [&](double in, double outside) {
        for (int it = 0; it < kIntervalBisections; ++it) {
          const double mid = 0.5 * (in + outside);
          if (mid == in || mid == outside) break;
          (optimal(mid) ? in : outside) = mid;
        }
        return in;
      };
      double lo_x = lo_i == 0 ? (limit <= level ? 0.0 : boundary(grid[0], 0.0)) : boundary(grid[lo_i], grid[lo_i - 1]);
      double hi_x = hi_i + 1 == grid.size() ? 1.0 : boundary(grid[hi_i], grid[hi_i + 1]);
      out.stepsize_interval = std::make_pair(search.omega_of(lo_x), search.omega_of(hi_x));
      best_x = 0.5 * (lo_x + hi_x);
    }
    out.stepsize = search.omega_of(best_x);
  }

  if (opt.with_regularizer) {
    // Realize at the optimal omega; for an infimum, at an omega small enough that the risk
    // is within half the gap of the limit.
    double omega = out.stepsize;
    if (!out.attained) {
      const double allowed = 0.5 * opt.gap * (1 + out.risk);
      double x = 1e-3;
      while (search.risk(x) - out.risk > allowed && x > 1e-250) x *= 0.1;
      omega = search.omega_of(x);
    }
    OptimalRisk fixed = best_unrolled(data, noise_std, rank, depth, omega, opt);
    out.regularizer = std::move(fixed.regularizer);
    out.denoiser = std::move(fixed.denoiser);
    out.regularizer_risk = fixed.regularizer_risk;
    out.free_directions = fixed.free_directions;
    if (!out.attained) out.stepsize = 0;
    else out.risk = std::min(out.risk, fixed.risk);
  } else {
    out.free_directions = search.at(out.attained ? (depth % 2 == 0 ? -std::expm1(depth * std::log1p(-out.stepsize))
                                                                    : out.stepsize)
                                                 : 1e-12,
                                    false)
                              .free_total;
  }
  return out;
}

}  // namespace varlearn::theory
