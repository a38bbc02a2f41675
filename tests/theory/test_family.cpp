// Spectral families: closed forms, stability, the talk's bounds on c_{N,omega}, inverses.
#include <gtest/gtest.h>

#include <cmath>

#include "varlearn/core/error.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/family.hpp"

using namespace varlearn;
using namespace varlearn::theory;

namespace {
// Naive f(s) = omega * sum_{j<N} (1 - omega(1+s))^j: the definition, no algebra.
double naive_f(int N, double omega, double s) {
  const double q = 1 - omega * (1 + s);
  double sum = 0, p = 1;
  for (int j = 0; j < N; ++j) sum += p, p *= q;
  return omega * sum;
}
}  // namespace

TEST(Family, BilevelIsResolvent) {
  const Family f = Family::bilevel();
  for (double s : {0.0, 0.5, 3.0, 1e6}) EXPECT_DOUBLE_EQ(f(s), 1 / (1 + s));
  EXPECT_EQ(f.at_zero(), 1.0);
  EXPECT_NEAR(f(f.inverse(0.3)), 0.3, 1e-15);
}

TEST(Family, UnrolledMatchesDefinition) {
  for (int N : {1, 2, 3, 4, 5, 8, 13})
    for (double omega : {0.05, 0.3, 0.5, 1.0, 1.4})
      for (double s : {0.0, 0.01, 0.7, 2.0, 9.0}) {
        const double ref = naive_f(N, omega, s);
        EXPECT_NEAR(Family::unrolled(N, omega)(s), ref, 1e-12 * std::max(1.0, std::abs(ref)))
            << "N=" << N << " omega=" << omega << " s=" << s;
      }
}

TEST(Family, DepthOneIsOmegaWhateverR) {
  const Family f = Family::unrolled(1, 0.37);
  for (double s : {0.0, 1.0, 1e3, 1e12}) EXPECT_DOUBLE_EQ(f(s), 0.37);
  const Interval r = f.range();
  EXPECT_EQ(r.lo, 0.37);
  EXPECT_EQ(r.hi, 0.37);
}

TEST(Family, NeverNaNUpToHugeArguments) {
  for (int N : {2, 3, 50, 999, 1000})
    for (double omega : {1e-9, 0.5, 1.0, 1.9})
      for (double s = 0; s <= 1e12; s = s == 0 ? 1e-6 : s * 10) {
        const double v = Family::unrolled(N, omega)(s);
        EXPECT_FALSE(std::isnan(v)) << N << " " << omega << " " << s;
        // Sign of the limit: even N -> -inf, odd N -> +inf (or finite).
        if (std::isinf(v)) { EXPECT_EQ(v > 0, N % 2 == 1); }
      }
  // Accuracy where q is close to 1 (tiny omega, large N): f ~ omega N.
  const double v = Family::unrolled(1000, 1e-12)(0.0);
  EXPECT_NEAR(v, -std::expm1(1000 * std::log1p(-1e-12)), 1e-25);
  EXPECT_NEAR(v / 1e-9, 1.0, 1e-6);
}

TEST(Family, PminValuesFromTheoryNotes) {
  EXPECT_NEAR(pmin_argmin(3), -0.5, 1e-14);
  EXPECT_NEAR(pmin_value(3), 0.75, 1e-14);
  EXPECT_NEAR(pmin_value(5), 0.673553, 1e-6);
  EXPECT_NEAR(pmin_value(7), 0.635094, 1e-6);
  EXPECT_NEAR(pmin_value(51), 0.527777, 1e-6);
  EXPECT_THROW(pmin_value(4), Error);
}

TEST(Family, CminIsTheMinimumByBruteForce) {
  for (int N : {3, 5, 7, 9})
    for (double omega : {0.1, 0.5, 0.9, 1.0, 1.3, 1.8}) {
      const Family f = Family::unrolled(N, omega);
      double brute = f(0.0);
      for (double s = 0; s < 60 / omega; s += 1e-4 / omega) brute = std::min(brute, f(s));
      EXPECT_NEAR(cmin(N, omega), brute, 1e-7) << "N=" << N << " omega=" << omega;
      EXPECT_LE(cmin(N, omega), brute + 1e-15);
    }
  EXPECT_THROW(cmin(4, 0.5), Error);
}

TEST(Family, TalkBoundsOnCmin) {
  // Lower bound omega (1/2 + 1/(N+1)) always (tight at N = 3); the upper bound
  // omega (1/2 + (1/N)(1 + log(N)/2)/(2 - log(N)/N)) only while omega < 1 - q*_N.
  for (int N = 3; N <= 201; N += 2) {
    const double qstar = pmin_argmin(N);
    const double upper_factor = 0.5 + (1.0 / N) * (1 + std::log(double(N)) / 2) / (2 - std::log(double(N)) / N);
    for (double omega : {0.01, 0.3, 0.7, 1.0, 1.2, 1.6, 1.95}) {
      const double c = cmin(N, omega);
      EXPECT_GE(c, omega * (0.5 + 1.0 / (N + 1)) - 1e-14) << N << " " << omega;
      if (omega < 1 - qstar) { EXPECT_LE(c, omega * upper_factor + 1e-14) << N << " " << omega; }
    }
    if (N == 3) { EXPECT_NEAR(cmin(3, 0.6), 0.6 * (0.5 + 0.25), 1e-15); }
  }
  // Beyond 1 - q*_N the upper bound fails: e.g. N = 3, omega = 1.9 gives c = b = 1 - (-0.9)^3.
  EXPECT_NEAR(cmin(3, 1.9), 1 + 0.729, 1e-14);
  EXPECT_GT(cmin(3, 1.9), 1.9 * (0.5 + (1.0 / 3) * (1 + std::log(3.0) / 2) / (2 - std::log(3.0) / 3)));
}

TEST(Family, InverseRoundTrips) {
  for (int N : {2, 3, 4, 5, 10, 11})
    for (double omega : {0.02, 0.5, 1.0}) {
      const Family f = Family::unrolled(N, omega);
      for (double s : {0.0, 1e-3, 0.5, 3.0, 40.0}) {
        const double t = f(s);
        const double s2 = f.inverse(t);
        EXPECT_NEAR(f(s2), t, 1e-12 * std::max(1.0, std::abs(t))) << f.describe() << " s=" << s;
      }
      EXPECT_THROW(f.inverse(N % 2 ? f.range().lo - 0.1 : f.at_zero() + 0.1), Error);
    }
}

TEST(Family, RangeByBruteForce) {
  for (int N : {2, 4, 3, 5})
    for (double omega : {0.2, 0.9}) {
      const Family f = Family::unrolled(N, omega);
      const Interval r = f.range();
      for (double s = 0; s < 1e3; s = s * 1.01 + 1e-4) {
        EXPECT_TRUE(r.contains(f(s)) || std::abs(f(s) - r.lo) < 1e-12) << f.describe() << " s=" << s;
      }
    }
}

TEST(Family, RejectsBadParameters) {
  EXPECT_THROW(Family::unrolled(0, 0.5), Error);
  EXPECT_THROW(Family::unrolled(3, 0.0), Error);
  EXPECT_THROW(Family::unrolled(3, -1.0), Error);
  EXPECT_THROW(Family::unrolled(3, std::nan("")), Error);
}

// The one data-kind factory: names round-trip, each kind builds its model, the limits hold.
TEST(DataKind, ParseRoundTripAndFactory) {
  using theory::DataKind;
  for (DataKind k : {DataKind::Constant, DataKind::Iid, DataKind::Ar1, DataKind::File})
    EXPECT_EQ(theory::parse_data_kind(theory::to_string(k)), k);
  EXPECT_THROW(theory::parse_data_kind("gauss"), Error);
  const auto c = theory::make_data_model(DataKind::Constant, 7, 1.0, 0.5, 0.3);
  EXPECT_EQ(c.kind(), theory::DataModel::Kind::Constant);
  EXPECT_NEAR(c.trace(), 7 * (1.0 + 0.25), 1e-12);  // tr = n (mu^2 + theta^2)
  const auto i = theory::make_data_model(DataKind::Iid, 7, 1.0, 0.5, 0.3);
  EXPECT_NEAR(i.trace(), 7 * (1.0 + 0.25), 1e-12);
  EXPECT_EQ(i.kind(), theory::DataModel::Kind::Iid);
  const auto a = theory::make_data_model(DataKind::Ar1, 6, 0.0, 1.0, 0.6);
  EXPECT_NEAR(a.second_moment()(0, 2), 0.36, 1e-12);  // theta^2 rho^|i-j|
  EXPECT_THROW(theory::make_data_model(DataKind::Ar1, kMaxDenseDimension + 1, 0.0, 1.0, 0.5), Error);
  EXPECT_THROW(theory::make_data_model(DataKind::Iid, 0, 0.0, 1.0, 0.5), Error);
  EXPECT_THROW(theory::make_data_model(DataKind::File, 5, 0.0, 1.0, 0.5), Error);
  const auto f = theory::make_data_model(DataKind::File, 99, 0.0, 1.0, 0.5, &a);
  EXPECT_EQ(f.n(), 6);  // n from the file's matrix, not the argument
}
