// Extreme inputs of the theory engine: inside the accepted ranges (theory/ranges.hpp) results are
// finite and obey the closed forms and the scaling law; outside, an Error says "out of range".
// Never NaN, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "varlearn/core/error.hpp"
#include "varlearn/theory/expressivity.hpp"
#include "varlearn/theory/optimal.hpp"
#include "varlearn/theory/ranges.hpp"
#include "varlearn/theory/risk.hpp"

using namespace varlearn;
using namespace varlearn::theory;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNan = std::numeric_limits<double>::quiet_NaN();

void expect_out_of_range(const std::function<void()>& fn, const std::string& what, const std::string& name = "") {
  try {
    fn();
    ADD_FAILURE() << what << ": no exception";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("out of range ("), std::string::npos) << what << ": " << m;
    if (!name.empty()) {
      EXPECT_NE(m.find(name), std::string::npos) << what << ": " << m;
    }
  }
}

/// All four best risks at (data, sigma, k, N).
std::vector<double> best_risks(const DataModel& d, double sigma, Index k, int depth) {
  return {best_linear(d, sigma).risk, best_bilevel(d, sigma, k).risk, best_unrolled(d, sigma, k, depth, 0.5).risk,
          best_unrolled_learned(d, sigma, k, depth).risk};
}

}  // namespace

// Risk is homogeneous of degree 2 in (mu, theta, sigma): scaling all three by c scales every best
// risk by c^2. Powers of two keep the inputs exact; 1e+-100 tests the decimal case.
TEST(Ranges, RiskScalesAsSigmaSquared) {
  const Index n = 12, k = 4;
  for (int depth : {2, 3}) {
    const std::vector<double> base = best_risks(DataModel::iid(n, 1.0, 0.5), 0.9, k, depth);
    for (double c : {std::ldexp(1.0, 480), std::ldexp(1.0, -480), 1e100, 1e-100, 1e140, 1e-140}) {
      const std::vector<double> scaled = best_risks(DataModel::iid(n, c, 0.5 * c), 0.9 * c, k, depth);
      for (size_t i = 0; i < base.size(); ++i) {
        ASSERT_TRUE(std::isfinite(scaled[i])) << "c " << c << " method " << i;
        EXPECT_NEAR(scaled[i] / (c * c), base[i], 1e-9 * base[i]) << "c " << c << " method " << i << " N " << depth;
      }
    }
  }
}

// Bilevel, constant model: sigma^2 (n - k)/2 for k < n (talk), at the ends of the sigma range.
TEST(Ranges, BilevelClosedFormAtExtremeSigma) {
  for (double sigma : {kMinNoiseStd, 1e-100, 1e100, kMaxNoiseStd})
    for (Index k : {1, 5, 9}) {
      const double mu = 0.1 * sigma;  // gamma = n mu^2 = sigma^2 / 10
      const OptimalRisk r = best_bilevel(DataModel::constant(10, mu, 0), sigma, k);
      EXPECT_NEAR(r.risk, sigma * sigma * double(10 - k) / 2, 1e-12 * sigma * sigma * double(10 - k))
          << "sigma " << sigma << " k " << k;
    }
}

// Best linear risk 1/2 sum sigma^2 gamma/(gamma + sigma^2): sigma^2 gamma overflows at sigma,
// sqrt(gamma) ~ 1e150 while the risk (~ min(gamma, sigma^2)) does not.
TEST(Ranges, BestLinearNoOverflowOfSigmaSquaredTimesGamma) {
  const double s = 1e150;
  const DataModel d = DataModel::constant(1, 1e150, 0);  // gamma = 1e300 = sigma^2
  const double r = best_linear(d, s).risk;
  EXPECT_NEAR(r, 0.25 * 1e300, 1e-12 * 1e300);
}

TEST(Ranges, OutOfRangeInputsThrowNamingTheParameter) {
  const DataModel d = DataModel::constant(10, 1, 0);
  for (double sigma : {1e-200, 1e-300, 1e-320, 1e300, 1e308, 0.0, -1.0, kInf, kNan}) {
    expect_out_of_range([&] { best_linear(d, sigma); }, "linear sigma", "sigma");
    expect_out_of_range([&] { best_bilevel(d, sigma, 3); }, "bilevel sigma", "sigma");
    expect_out_of_range([&] { best_unrolled(d, sigma, 3, 3, 0.5); }, "unrolled sigma", "sigma");
    expect_out_of_range([&] { best_unrolled_learned(d, sigma, 3, 2); }, "learned sigma (was a segfault)", "sigma");
  }
  for (double mu : {1e160, -1e160, 1e300, kInf, kNan})
    expect_out_of_range([&] { DataModel::constant(10, mu, 0); }, "mu", "mu");
  for (double theta : {1e160, -1.0, kInf, kNan}) expect_out_of_range([&] { DataModel::iid(10, 0, theta); }, "theta", "theta");
  // gamma = n (mu^2 + theta^2) above 1e300 although mu is in range.
  expect_out_of_range([&] { DataModel::constant(Index(1) << 40, 1e145, 0); }, "gamma", "eigenvalue");
  expect_out_of_range([&] { DataModel::ar1(5, 1, 1, 1.0); }, "rho", "rho");
  Matrix big = Matrix::Identity(3, 3) * 1e305;
  expect_out_of_range([&] { DataModel::dense(big); }, "dense entries", "entry");
  for (double omega : {1e-320, 1e-301, 1e308, 1e200, 0.0, -0.5, kInf, kNan}) {
    expect_out_of_range([&] { Family::unrolled(3, omega); }, "omega", "omega");
    expect_out_of_range([&] { cmin(3, omega); }, "cmin omega (was null)", "omega");
  }
  expect_out_of_range([&] { Family::unrolled(0, 0.5); }, "depth", "depth");
  OptimalOptions opt;
  opt.with_regularizer = true;
  for (double gap : {1e-320, 1e-16, 2.0, 1e308}) {
    opt.gap = gap;
    expect_out_of_range([&] { best_bilevel(d, 0.9, 3, opt); }, "gap", "gap");
  }
  expect_out_of_range([&] { membership(Family::bilevel(), Matrix::Identity(2, 2), 2, kInf); }, "tol", "tolerance");
  // The risk of a given T beyond the double range.
  expect_out_of_range([&] { risk(d, 0.9, Matrix::Constant(10, 10, 1e160)); }, "risk of huge T", "risk");
  // n sigma^2 / 2 beyond the double range (bilevel: n - k forced directions at t = 1).
  expect_out_of_range([&] { best_bilevel(DataModel::constant(Index(1) << 60, 1, 0), 1e150, 1); }, "n sigma^2", "risk");
}

// Omega up to the power bound stays finite; b = 1 - (1 - omega)^N.
TEST(Ranges, LargeStepsizeInsideTheBoundIsFinite) {
  const Family f = Family::unrolled(3, 1e99);  // |1 - omega|^3 = 1e297
  EXPECT_TRUE(std::isfinite(f.at_zero()));
  EXPECT_NEAR(f.at_zero(), 1e297, 1e-12 * 1e297);
  EXPECT_NEAR(cmin(3, 1e99), 1e297, 1e-12 * 1e297);  // omega > 1 - q*: c = b
  const Family tiny = Family::unrolled(3, kMinStepsize);
  EXPECT_NEAR(cmin(3, kMinStepsize), 0.75 * kMinStepsize, 1e-12 * kMinStepsize);
  EXPECT_NEAR(tiny.at_zero(), 3 * kMinStepsize, 1e-12 * kMinStepsize);
}

// f and f' never return NaN: they saturate to +-inf beyond the double range (f(inf) was NaN).
TEST(Ranges, FamilyValuesNeverNaN) {
  const double big = std::numeric_limits<double>::max();
  for (int depth : {1, 2, 3, 4, 51, 1001})
    for (double omega : {kMinStepsize, 1e-10, 0.5, 1.0, 2.0, 3.0})
      for (double s : {0.0, 1e-300, 1.0, 1e100, 1e300, big, kInf}) {
        if (omega > 2 && depth > 600) continue;  // |1 - omega|^N above 1e300: refused (tested above)
        const Family f = Family::unrolled(depth, omega);
        EXPECT_FALSE(std::isnan(f(s))) << f.describe() << " s " << s;
        EXPECT_FALSE(std::isnan(f.derivative(s))) << f.describe() << " s " << s;
      }
  EXPECT_EQ(Family::unrolled(2, 0.5)(kInf), -kInf);
  EXPECT_EQ(Family::unrolled(3, 0.5)(kInf), kInf);
  // f'(s) = 2 omega^3 s + O(1) at large s (f ~ omega^3 s^2); at 1e200, q^2 overflows: log domain.
  const Family f3 = Family::unrolled(3, 0.5);
  for (double s : {1e100, 1e200}) EXPECT_NEAR(f3.derivative(s), 2 * 0.125 * s, 1e-9 * s) << s;
  const Family f1001 = Family::unrolled(501, 3.0);
  EXPECT_EQ(f1001.derivative(1e10), kInf);  // |q|^500 (1 + 1000 u)/(1+s)^2 beyond the double range
}

// A realization whose preimage s is beyond the double range throws (it returned a wrong R).
TEST(Ranges, RealizeOutsideTheDoubleRangeThrows) {
  const Family f = Family::unrolled(3, 1e-300);  // t = 0.3 needs s ~ t^{1/2} omega^{-3/2} = 1e450
  expect_out_of_range([&] { f.inverse(0.3); }, "inverse", "t");
  expect_out_of_range([&] { realize(f, Matrix::Identity(2, 2) * 0.3, 2); }, "realize", "t");
}

// Property: over a grid of extreme values, every call gives a finite result or an Error saying
// "out of range"; never NaN/inf and never another failure.
TEST(Ranges, PropertyFiniteOrOutOfRange) {
  const std::vector<double> values{0.0, 1e-320, -1e-320, 1e-300, -1e-300, 1e-200, 1e-150, 1e-20, 0.9, 1.0,
                                   1e20, 1e150, 1e160, 1e300, 1e308, -1e308, kInf, -kInf, kNan};
  int finite = 0, refused = 0;
  auto check = [&](const std::function<double()>& fn, const std::string& what) {
    try {
      const double v = fn();
      EXPECT_TRUE(std::isfinite(v)) << what << " gave " << v;
      ++finite;
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("out of range"), std::string::npos) << what << ": " << m;
      ++refused;
    }
  };
  for (double sigma : values)
    for (double mu : values)
      for (double theta : {0.0, 1e-300, 0.5, 1e150, 1e160, -1.0}) {
        const std::string at = "sigma " + std::to_string(sigma) + " mu " + std::to_string(mu) + " theta " +
                               std::to_string(theta);
        auto data = [&](bool iid) { return iid ? DataModel::iid(7, mu, theta) : DataModel::constant(7, mu, theta); };
        for (bool iid : {false, true}) {
          check([&] { return best_linear(data(iid), sigma).risk; }, "linear " + at);
          check([&] { return best_bilevel(data(iid), sigma, 3).risk; }, "bilevel " + at);
          check([&] { return best_unrolled(data(iid), sigma, 3, 4, 0.5).risk; }, "unrolled " + at);
        }
        if (theta == 0.5 && (mu == 1.0 || mu == 1e150 || mu == 1e-300))
          for (int depth : {1, 2, 3, 5})
            check([&] { return best_unrolled_learned(data(true), sigma, 3, depth).risk; }, "learned " + at);
      }
  for (double omega : values)
    for (int depth : {1, 2, 3, 7, 1000001}) {
      const std::string at = "omega " + std::to_string(omega) + " N " + std::to_string(depth);
      check([&] { return Family::unrolled(depth, omega).at_zero(); }, "b " + at);
      if (depth % 2 == 1) check([&] { return cmin(depth, omega); }, "cmin " + at);
      check([&] { return best_unrolled(DataModel::iid(5, 1, 0.5), 0.9, 2, depth, omega).risk; }, "unrolled " + at);
    }
  EXPECT_GT(finite, 1000);
  EXPECT_GT(refused, 1000);
}
