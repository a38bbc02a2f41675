// Optimal risks: the talk's closed forms, an independent brute-force reference, realizing R,
// random R never beating the optimum, and structured paths equal to the dense path.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <functional>
#include <random>

#include "varlearn/core/error.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/risk.hpp"

using namespace varlearn;
using namespace varlearn::theory;

namespace {

// ---- Independent reference (no ranges, no clamps, no greedy savings) -------------------
// Per direction: min over s >= 0 of gamma (f(s)-1)^2 + sigma^2 f(s)^2 by a log scan plus golden
// section; subsets of free directions by enumeration; omega by a fine scan plus golden section.
double golden_min(const std::function<double(double)>& fn, double a, double b) {
  const double r = 0.5 * (std::sqrt(5.0) - 1);
  double c = b - r * (b - a), d = a + r * (b - a), fc = fn(c), fd = fn(d);
  for (int i = 0; i < 64; ++i) {  // bracket shrinks by 0.618^64 ~ 1e-13
    if (fc <= fd) b = d, d = c, fd = fc, c = b - r * (b - a), fc = fn(c);
    else a = c, c = d, fc = fd, d = a + r * (b - a), fd = fn(d);
  }
  return std::min({fc, fd, fn(a), fn(b)});
}

double direction_min(const Family& f, double gamma, double s2) {
  auto cost = [&](double s) { const double t = f(s); return gamma * (t - 1) * (t - 1) + s2 * t * t; };
  // scan s on a log grid, then refine every grid-local minimum (f can be steep: narrow minima)
  std::vector<double> grid{0.0};
  for (double e = -10; e <= 14; e += 0.05) grid.push_back(std::pow(10.0, e));
  std::vector<double> c(grid.size());
  for (size_t i = 0; i < grid.size(); ++i) c[i] = cost(grid[i]);
  double v = *std::min_element(c.begin(), c.end());
  for (size_t i = 0; i < grid.size(); ++i) {
    const bool left = i == 0 || c[i] <= c[i - 1], right = i + 1 == grid.size() || c[i] <= c[i + 1];
    if (left && right && i > 0 && i + 1 < grid.size()) v = std::min(v, golden_min(cost, grid[i - 1], grid[i + 1]));
  }
  return v;
}

double reference_fixed(const std::vector<double>& gammas, double s2, int k, const Family& f) {
  const int n = int(gammas.size());
  const double b = f.at_zero();
  std::vector<double> forced(n), free(n);
  for (int i = 0; i < n; ++i) {
    forced[i] = gammas[i] * (b - 1) * (b - 1) + s2 * b * b;
    free[i] = direction_min(f, gammas[i], s2);
  }
  double best = 1e300;
  for (unsigned mask = 0; mask < (1u << n); ++mask) {
    if (__builtin_popcount(mask) > k) continue;
    double total = 0;
    for (int i = 0; i < n; ++i) total += (mask >> i & 1) ? free[i] : forced[i];
    best = std::min(best, 0.5 * total);
  }
  return best;
}

double reference_learned(const std::vector<double>& gammas, double s2, int k, int N) {
  // omega on a grid of (0, 1], every grid-local minimum refined, plus omega -> 0+ from above
  auto at = [&](double omega) { return reference_fixed(gammas, s2, k, Family::unrolled(N, omega)); };
  const int M = 150;
  std::vector<double> v(M + 1);
  for (int i = 1; i <= M; ++i) v[i] = at(double(i) / M);
  double best = 1e300;
  for (int i = 1; i <= M; ++i) {
    best = std::min(best, v[i]);
    const bool left = i == 1 || v[i] <= v[i - 1], right = i == M || v[i] <= v[i + 1];
    if (left && right) best = std::min(best, golden_min(at, std::max(i - 1, 0) / double(M) + 1e-12, std::min(i + 1, M) / double(M)));
  }
  for (double w = 1e-9; w < 2.5e-3; w *= 3) best = std::min(best, at(w));
  return best;
}

std::vector<double> expand(const DataModel& d) {
  std::vector<double> g;
  for (const auto& e : d.spectrum())
    for (Index j = 0; j < e.multiplicity; ++j) g.push_back(e.gamma);
  return g;
}

Matrix random_psd(int n, std::mt19937& rng) {
  std::normal_distribution<double> z;
  Matrix a(n, n + 2);
  for (Index i = 0; i < a.size(); ++i) a.data()[i] = z(rng);
  return a * a.transpose() / double(n);
}

}  // namespace

TEST(Optimal, BestLinearClosedFormConstantModel) {
  const int n = 7;
  const double mu = 1.0, theta = 0.6, sigma = 0.9, c2 = mu * mu + theta * theta;
  const DataModel d = DataModel::constant(n, mu, theta);
  OptimalOptions opt;
  opt.with_regularizer = true;
  const OptimalRisk r = best_linear(d, sigma, opt);
  const double risk = sigma * sigma / 2 * n * c2 / (n * c2 + sigma * sigma);
  EXPECT_NEAR(r.risk, risk, 1e-14);
  const Matrix tstar = Matrix::Constant(n, n, c2 / (n * c2 + sigma * sigma));
  EXPECT_LT((r.denoiser - tstar).cwiseAbs().maxCoeff(), 1e-14);
  EXPECT_NEAR(theory::risk(d, sigma, tstar).total(), risk, 1e-14);
  // n = 10^6 costs nothing on the structured path.
  EXPECT_NEAR(best_linear(DataModel::constant(1000000, mu, theta), sigma).risk,
              sigma * sigma / 2 * 1e6 * c2 / (1e6 * c2 + sigma * sigma), 1e-9);
}

TEST(Optimal, BilevelInfimumClosedForm) {
  const int n = 7;
  const double mu = 1.0, theta = 0.3, sigma = 0.9, c2 = mu * mu + theta * theta;
  const DataModel d = DataModel::constant(n, mu, theta);
  for (int k = 1; k < n; ++k) {
    const OptimalRisk r = best_bilevel(d, sigma, k);
    EXPECT_NEAR(r.risk, sigma * sigma * (n - k) / 2, 1e-14) << k;
    EXPECT_FALSE(r.attained);  // t -> 0 on the zero eigen-directions
  }
  const OptimalRisk full = best_bilevel(d, sigma, n);
  EXPECT_NEAR(full.risk, sigma * sigma / 2 * n * c2 / (n * c2 + sigma * sigma), 1e-14);
  EXPECT_FALSE(full.attained);  // T* = c 11^T is singular: 0 < T fails, again an infimum
  EXPECT_TRUE(best_bilevel(DataModel::iid(n, mu, 0.4), sigma, n).attained);  // T* > 0 there
  EXPECT_NEAR(best_bilevel(DataModel::constant(1000000, mu, theta), sigma, 10).risk, sigma * sigma * 999990 / 2,
              1e-6);
}

TEST(Optimal, DepthOneIsOmegaIdentity) {
  // N = 1: T = omega I for every R, so the best risk at fixed omega is E(omega I) for every k,
  // and the learned omega is the scalar Wiener gain tr(S)/(tr(S) + n sigma^2).
  const DataModel d = DataModel::iid(7, 0.8, 0.5);
  const double sigma = 0.4, omega = 0.3;
  const double direct = theory::risk(d, sigma, omega * Matrix::Identity(7, 7)).total();
  for (int k = 1; k <= 7; ++k) EXPECT_NEAR(best_unrolled(d, sigma, k, 1, omega).risk, direct, 1e-14);
  const OptimalRisk l = best_unrolled_learned(d, sigma, 3, 1);
  const double w = d.trace() / (d.trace() + 7 * sigma * sigma);
  EXPECT_NEAR(l.stepsize, w, 1e-7);
  EXPECT_NEAR(l.risk, theory::risk(d, sigma, w * Matrix::Identity(7, 7)).total(), 1e-12);
  EXPECT_TRUE(l.attained);
}

TEST(Optimal, AgreesWithIndependentReference) {
  std::mt19937 rng(7);
  std::vector<std::pair<std::string, DataModel>> models{
      {"constant", DataModel::constant(5, 1.0, 0.5)},
      {"iid", DataModel::iid(5, 1.0, 0.4)},
      {"ar1", DataModel::ar1(5, 0.3, 1.0, 0.7)},
      {"dense", DataModel::dense(random_psd(5, rng))}};
  for (const auto& [name, d] : models)
    for (double sigma : {0.3, 0.9}) {
      const auto g = expand(d);
      const double s2 = sigma * sigma;
      for (int k : {1, 2, 5}) {
        const double bil = best_bilevel(d, sigma, k).risk;
        EXPECT_NEAR(bil, reference_fixed(g, s2, k, Family::bilevel()), 1e-6 * bil) << name << " k=" << k;
        for (int N : {2, 3, 4, 5})
          for (double omega : {0.25, 0.8, 1.5}) {
            const double ours = best_unrolled(d, sigma, k, N, omega).risk;
            const double ref = reference_fixed(g, s2, k, Family::unrolled(N, omega));
            EXPECT_NEAR(ours, ref, 1e-6 * ref) << name << " sigma=" << sigma << " k=" << k << " N=" << N
                                               << " omega=" << omega;
          }
      }
    }
}

TEST(Optimal, LearnedStepsizeAgreesWithIndependentReference) {
  std::mt19937 rng(11);
  std::vector<std::pair<std::string, DataModel>> models{
      {"constant", DataModel::constant(4, 1.0, 0.5)},
      {"iid", DataModel::iid(4, 0.5, 0.8)},
      {"dense", DataModel::dense(random_psd(4, rng))}};
  for (const auto& [name, d] : models)
    for (int k : {1, 2, 4})
      for (int N : {1, 2, 3, 4, 5}) {
        const double sigma = 0.6;
        const OptimalRisk ours = best_unrolled_learned(d, sigma, k, N);
        const double ref = reference_learned(expand(d), sigma * sigma, k, N);
        // the reference only approaches an infimum from above
        EXPECT_LE(ours.risk, ref * (1 + 1e-9)) << name << " k=" << k << " N=" << N;
        EXPECT_NEAR(ours.risk, ref, 1e-6 * ref) << name << " k=" << k << " N=" << N;
      }
}

TEST(Optimal, TheoryConsequences) {
  // Even N, learned omega: the best risk does not depend on N (any Sigma). Odd N >= 3 never
  // increases with N; for constant and iid models it equals the best linear risk (k >= 1).
  std::mt19937 rng(3);
  const DataModel dense = DataModel::dense(random_psd(6, rng));
  for (int k : {1, 3, 6}) {
    const double e2 = best_unrolled_learned(dense, 0.5, k, 2).risk;
    for (int N : {4, 6, 10}) EXPECT_NEAR(best_unrolled_learned(dense, 0.5, k, N).risk, e2, 1e-9 * e2);
    double prev = 1e300;
    for (int N : {3, 5, 7, 9}) {
      const double e = best_unrolled_learned(dense, 0.5, k, N).risk;
      EXPECT_LE(e, prev * (1 + 1e-9));
      prev = e;
    }
  }
  for (const DataModel& d : {DataModel::constant(500, 1.0, 0.5), DataModel::iid(500, 1.0, 0.5)})
    for (int k : {1, 10, 500})
      for (int N : {3, 5, 11}) {
        const double lin = best_linear(d, 0.9).risk;
        const OptimalRisk r = best_unrolled_learned(d, 0.9, k, N);
        EXPECT_NEAR(r.risk, lin, 1e-9 * lin) << d.name() << " k=" << k << " N=" << N;
      }
  // Constant model, odd N: only approached as omega -> 0+.
  const OptimalRisk c = best_unrolled_learned(DataModel::constant(500, 1.0, 0.5), 0.9, 10, 3);
  EXPECT_FALSE(c.attained);
  EXPECT_EQ(c.stepsize, 0.0);
}

TEST(Optimal, WholeIntervalOfOptimalStepsizes) {
  // k = n, even N: any b >= max_i gamma_i/(gamma_i+sigma^2) is optimal, an interval of omega
  // reaching 1; the risk is the best linear one.
  const DataModel d = DataModel::constant(5, 1.0, 0.0);
  const double sigma = 0.9, g = 5.0, tmax = g / (g + sigma * sigma);
  const OptimalRisk r = best_unrolled_learned(d, sigma, 5, 2);
  ASSERT_TRUE(r.stepsize_interval.has_value());
  // interval ends are located where the risk departs quadratically from its level: ~1e-7
  EXPECT_NEAR(r.stepsize_interval->first, 1 - std::sqrt(1 - tmax), 1e-6);
  EXPECT_NEAR(r.stepsize_interval->second, 1.0, 1e-12);
  EXPECT_NEAR(r.risk, best_linear(d, sigma).risk, 1e-12);
  EXPECT_TRUE(r.attained);
  // iid, odd N, k = n: every omega <= min_i t_i / m_N is optimal: the interval (0, hi].
  const DataModel iid = DataModel::iid(5, 1.0, 0.7);
  const OptimalRisk o = best_unrolled_learned(iid, sigma, 5, 3);
  ASSERT_TRUE(o.stepsize_interval.has_value());
  const double tmin = 0.49 / (0.49 + 0.81);
  EXPECT_EQ(o.stepsize_interval->first, 0.0);
  EXPECT_NEAR(o.stepsize_interval->second, tmin / 0.75, 1e-6);
  EXPECT_TRUE(o.attained);
  // A smooth interior optimum is not mistaken for an interval.
  EXPECT_FALSE(best_unrolled_learned(iid, sigma, 2, 2).stepsize_interval.has_value());
}

TEST(Optimal, RealizingRegularizerReproducesRisk) {
  std::mt19937 rng(5);
  OptimalOptions opt;
  opt.with_regularizer = true;
  opt.gap = 1e-9;
  for (int n : {1, 2, 7}) {
    std::vector<DataModel> models{DataModel::constant(n, 1.0, 0.5), DataModel::iid(n, 0.5, 0.8),
                                  DataModel::dense(random_psd(n, rng))};
    if (n > 1) models.push_back(DataModel::ar1(n, 0.2, 1.0, 0.6));
    for (const DataModel& d : models)
      for (int k = 1; k <= n; k += (n > 2 ? 3 : 1)) {
        const double sigma = 0.7;
        auto check = [&](const OptimalRisk& r, const Family& f, const std::string& what) {
          ASSERT_EQ(r.regularizer.rows(), k);
          ASSERT_EQ(r.regularizer.cols(), n);
          const double re = risk_of_regularizer(d, sigma, f, r.regularizer).total();
          if (r.attained) EXPECT_NEAR(re, r.risk, 1e-10 * r.risk) << what;
          else {
            EXPECT_GE(re, r.risk * (1 - 1e-12)) << what;
            EXPECT_LE(re - r.risk, opt.gap * (1 + r.risk)) << what;
          }
        };
        check(best_bilevel(d, sigma, k, opt), Family::bilevel(), d.name() + " bilevel k=" + std::to_string(k));
        for (int N : {1, 2, 3, 4, 5}) {
          check(best_unrolled(d, sigma, k, N, 0.6, opt), Family::unrolled(N, 0.6), d.name() + " fixed N=" + std::to_string(N));
          const OptimalRisk l = best_unrolled_learned(d, sigma, k, N, opt);
          if (l.attained) check(l, Family::unrolled(N, l.stepsize), d.name() + " learned N=" + std::to_string(N));
          else {
            EXPECT_GE(l.regularizer_risk, l.risk * (1 - 1e-12));
            EXPECT_LE(l.regularizer_risk - l.risk, opt.gap * (1 + l.risk));
          }
        }
      }
  }
}

TEST(Optimal, RandomRegularizersNeverBeatTheOptimum) {
  std::mt19937 rng(2024);
  std::normal_distribution<double> z;
  std::uniform_real_distribution<double> u(-3, 2), w(0.01, 1.99);
  for (int n : {1, 2, 7}) {
    const DataModel d = n == 7 ? DataModel::dense(random_psd(7, rng)) : DataModel::iid(n, 0.7, 0.5);
    const double sigma = 0.6;
    for (int k : {1, n}) {
      const double bil = best_bilevel(d, sigma, k).risk;
      const double lin = best_linear(d, sigma).risk;
      for (int N : {2, 3}) {
        const double learned = best_unrolled_learned(d, sigma, k, N).risk;
        for (int trial = 0; trial < 1000; ++trial) {
          Matrix r(k, n);
          const double scale = std::pow(10.0, u(rng));
          for (Index i = 0; i < r.size(); ++i) r.data()[i] = scale * z(rng);
          const double omega = w(rng);
          const double eb = risk_of_regularizer(d, sigma, Family::bilevel(), r).total();
          const double eu = risk_of_regularizer(d, sigma, Family::unrolled(N, omega), r).total();
          const double fixed = best_unrolled(d, sigma, k, N, omega).risk;
          EXPECT_GE(eb, bil * (1 - 1e-12));
          EXPECT_GE(eb, lin * (1 - 1e-12));
          EXPECT_GE(eu, fixed * (1 - 1e-12));
          if (omega <= 1) { EXPECT_GE(eu, learned * (1 - 1e-12)); }
        }
      }
    }
  }
}

TEST(Optimal, StructuredModelsEqualDensePath) {
  for (const DataModel& fast : {DataModel::constant(7, 1.0, 0.5), DataModel::iid(7, 0.6, 0.9)}) {
    const DataModel dense = DataModel::dense(fast.second_moment());
    const double sigma = 0.8;
    EXPECT_NEAR(best_linear(fast, sigma).risk, best_linear(dense, sigma).risk, 1e-12);
    for (int k : {1, 3, 7}) {
      EXPECT_NEAR(best_bilevel(fast, sigma, k).risk, best_bilevel(dense, sigma, k).risk, 1e-12);
      for (int N : {1, 2, 3, 6, 7}) {
        EXPECT_NEAR(best_unrolled(fast, sigma, k, N, 0.4).risk, best_unrolled(dense, sigma, k, N, 0.4).risk, 1e-12);
        EXPECT_NEAR(best_unrolled_learned(fast, sigma, k, N).risk, best_unrolled_learned(dense, sigma, k, N).risk, 1e-10);
      }
    }
    Matrix t = Matrix::Random(7, 7);
    EXPECT_NEAR(theory::risk(fast, sigma, t).total(), theory::risk(dense, sigma, t).total(), 1e-12);
  }
}

TEST(Optimal, RiskBiasVarianceSplitMatchesTalk) {
  // i.i.d. model: mu^2/2 ||(T-I)1||^2 + theta^2/2 ||T-I||_F^2 + sigma^2/2 ||T||_F^2.
  const int n = 5;
  const double mu = 0.7, theta = 0.4, sigma = 0.3;
  Matrix t = Matrix::Random(n, n);
  const Matrix a = t - Matrix::Identity(n, n);
  const RiskSplit r = theory::risk(DataModel::iid(n, mu, theta), sigma, t);
  EXPECT_NEAR(r.bias, mu * mu / 2 * (a * Vector::Ones(n)).squaredNorm() + theta * theta / 2 * a.squaredNorm(), 1e-13);
  EXPECT_NEAR(r.variance, sigma * sigma / 2 * t.squaredNorm(), 1e-13);
}

TEST(Optimal, RejectsBadInput) {
  const DataModel d = DataModel::constant(5, 1.0, 0.5);
  EXPECT_THROW(best_bilevel(d, 0.5, 6), Error);
  EXPECT_THROW(best_bilevel(d, 0.5, 0), Error);
  EXPECT_THROW(best_unrolled(d, 0.5, 2, 0, 0.5), Error);
  EXPECT_THROW(best_unrolled(d, 0.0, 2, 2, 0.5), Error);
  EXPECT_THROW(best_unrolled(d, 0.5, 2, 2, 0.0), Error);
  EXPECT_THROW(best_unrolled_learned(d, std::nan(""), 2, 2), Error);
  EXPECT_THROW(DataModel::constant(5, 1.0, -0.1), Error);
  // omega > 2 at depth 999: b = 1 - (1 - omega)^N leaves the double range -> a clear error, no NaN.
  EXPECT_THROW(best_unrolled(d, 0.9, 2, 999, 5.0), Error);
  // Sigma = 0, tiny noise: every risk is >= 0 (no cancellation below zero).
  const DataModel zero = DataModel::constant(500, 0.0, 0.0);
  for (int N : {1, 2, 3, 1000}) {
    EXPECT_GE(best_unrolled_learned(zero, 1e-8, 500, N).risk, 0.0);
    EXPECT_GE(best_unrolled(zero, 1e-8, 7, N, 1.99).risk, 0.0);
  }
  EXPECT_THROW(DataModel::ar1(5, 1.0, 0.5, 1.0), Error);
  Matrix nonsym = Matrix::Identity(3, 3);
  nonsym(0, 1) = 0.5;
  EXPECT_THROW(DataModel::dense(nonsym), Error);
  Matrix indefinite = Matrix::Identity(3, 3);
  indefinite(2, 2) = -1;
  EXPECT_THROW(DataModel::dense(indefinite), Error);
}
