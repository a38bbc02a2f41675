// The k = n = 1 landscape: minima found by the study are confirmed by an independent
// dense brute-force scan (own formula for f, no theory::Family), curvature by finite
// differences, basin edges at the chosen level, and the global minimum by the theory engine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/study/theory_study.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/optimal.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::study;

namespace {

/// E(r) from the talk's closed form, written out independently.
double brute_risk(double gamma, double sigma, int N, double omega, double r) {
  const double s = r * r;
  const double t = (1 - std::pow(1 - omega * (1 + s), N)) / (1 + s);
  return 0.5 * (gamma * (t - 1) * (t - 1) + sigma * sigma * t * t);
}

struct Case {
  double mu, theta, sigma, omega;
};

}  // namespace

class Landscape : public ::testing::TestWithParam<Case> {};

TEST_P(Landscape, MinimaConfirmedByDenseScan) {
  const Case c = GetParam();
  LandscapeOptions o;
  o.mu = c.mu, o.theta = c.theta, o.sigma = c.sigma, o.stepsize = c.omega;
  o.omega_count = 4, o.heat_r_count = 4;  // heatmap not under test here
  const LandscapeResult res = compute_landscape(o);
  const double gamma = c.mu * c.mu + c.theta * c.theta, rmax = o.r_upper();
  for (size_t di = 0; di < o.depths.size(); ++di) {
    const int N = o.depths[di];
    std::vector<LocalMinimum> found;
    for (const auto& m : res.minima)
      if (m.depth == N) found.push_back(m);
    // Dense scan: 10^6 points, strict grid-local minima (r = 0 counts when E(0) <= E(h)).
    const int M = 1000000;
    const double h = rmax / M;
    std::vector<double> e(M + 1);
    for (int i = 0; i <= M; ++i) e[size_t(i)] = brute_risk(gamma, c.sigma, N, c.omega, h * i);
    const double lo = *std::min_element(e.begin(), e.end()), hi = *std::max_element(e.begin(), e.end());
    if (hi - lo <= 1e-13 * hi) {  // N = 1: flat
      ASSERT_EQ(found.size(), 1u);
      EXPECT_TRUE(found[0].flat);
      EXPECT_EQ(N, 1);
      continue;
    }
    std::vector<double> scan;
    for (int i = 0; i < M; ++i)
      if ((i == 0 || e[size_t(i - 1)] > e[size_t(i)]) && e[size_t(i)] <= e[size_t(i + 1)]) scan.push_back(h * i);
    ASSERT_EQ(found.size(), scan.size()) << "N = " << N;
    double best = 1e300;
    for (size_t j = 0; j < scan.size(); ++j) {
      const LocalMinimum& m = found[j];
      EXPECT_NEAR(m.r, scan[j], 2 * h + 1e-6 * m.r) << "N = " << N;
      const double brute = brute_risk(gamma, c.sigma, N, c.omega, scan[j]);
      EXPECT_LE(m.risk, brute + 1e-14);             // refined is at least as good as the scan
      EXPECT_GE(m.risk, brute - 1e-8 * brute);      // and the scan is close to it
      EXPECT_NEAR(m.risk, brute_risk(gamma, c.sigma, N, c.omega, m.r), 1e-14);
      // Curvature: central second difference of the independent formula.
      const double d = 1e-4 * std::max(m.r, 1.0);
      const double fd = (brute_risk(gamma, c.sigma, N, c.omega, m.r + d) - 2 * m.risk +
                         brute_risk(gamma, c.sigma, N, c.omega, std::abs(m.r - d))) / (d * d);
      EXPECT_NEAR(m.curvature, fd, 1e-4 * std::abs(fd) + 1e-6) << "N = " << N << " r = " << m.r;
      EXPECT_GE(m.curvature, -1e-8);
      EXPECT_GT(m.basin_width, 0);
      best = std::min(best, m.risk);
    }
    for (const auto& m : found) EXPECT_EQ(m.global, m.risk <= best + 1e-12 * best);
    // The global minimum over r is the theory engine's best unrolled risk at this omega.
    EXPECT_NEAR(best, res.engine_best[di], 1e-9 * best) << "N = " << N;
  }
}

INSTANTIATE_TEST_SUITE_P(Settings, Landscape,
                         ::testing::Values(Case{1, 0, 0.9, 0.5}, Case{1, 0, 0.1, 0.5}, Case{1, 0.5, 0.9, 0.2},
                                           Case{0.3, 0, 0.9, 1.3}));

TEST(LandscapeBasin, EdgesSitAtTheLevel) {
  const double gamma = 1, sigma = 0.9, omega = 0.5, level = 0.05;
  for (int N : {2, 3, 5}) {
    const auto ms = landscape_minima(gamma, sigma, N, omega, 4.0, 4001, level);
    for (const auto& m : ms) {
      if (m.basin_open) continue;
      const double target = m.risk * (1 + level);
      // Right edge: find it by a fine scan from the minimum.
      double r = m.r;
      while (brute_risk(gamma, sigma, N, omega, r) <= target) r += 1e-5;
      double l = m.r;
      while (l > 0 && brute_risk(gamma, sigma, N, omega, l) <= target) l -= 1e-5;
      const double width = l <= 0 ? 2 * r : r - l;
      EXPECT_NEAR(m.basin_width, width, 4e-5) << "N = " << N << " r = " << m.r;
    }
  }
}

TEST(LandscapeOutputs, FilesAndJson) {
  const fs::path dir = fs::temp_directory_path() / ("varlearn_landscape_" + std::to_string(::getpid()));
  LandscapeOptions o;
  o.r_count = 2001, o.omega_count = 30, o.heat_r_count = 40;
  const auto res = compute_landscape(o);
  const auto files = write_landscape(res, dir / "land");
  EXPECT_EQ(files.size(), 8u);
  for (const auto& f : files) EXPECT_TRUE(fs::exists(f)) << f;
  const auto j = nlohmann::json::parse(io::read_text(dir / "land.json"));
  EXPECT_EQ(j["depths"].size(), 6u);
  const Csv mins = parse_csv(io::read_text(dir / "land_minima.csv"));
  EXPECT_EQ(mins.rows.size(), res.minima.size());
  std::error_code ec;
  fs::remove_all(dir, ec);
  o.stepsize = 0;
  EXPECT_THROW(compute_landscape(o), Error);
}
