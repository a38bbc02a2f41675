// Theory maps: every entry equals the theory engine's point query, the CSV parses
// back to the same numbers, bad input fails clearly and leaves no files, depth curves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/study/theory_study.hpp"
#include "varlearn/theory/data_model.hpp"
#include "varlearn/theory/optimal.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace varlearn;
using namespace varlearn::study;

namespace {

using varlearn::testing::TempDir;

/// Independent point query: the engine called directly from the CSV's parameters.
double engine_risk(const std::string& data, const std::string& method, double k, double theta, double sigma, double mu,
                   double N, double omega, double n, double rho = 0.5) {
  const Index nn = Index(n);
  const theory::DataModel d = data == "constant" ? theory::DataModel::constant(nn, mu, theta)
                              : data == "iid"    ? theory::DataModel::iid(nn, mu, theta)
                                                 : theory::DataModel::ar1(nn, mu, theta, rho);
  const Index kk = Index(k);
  if (method == "linear") return theory::best_linear(d, sigma).risk;
  if (method == "bilevel") return theory::best_bilevel(d, sigma, kk).risk;
  if (method == "learned") return theory::best_unrolled_learned(d, sigma, kk, int(N)).risk;
  if (method == "learned+1") return theory::best_unrolled_learned(d, sigma, kk, int(N) + 1).risk;
  if (method == "fixed") return theory::best_unrolled(d, sigma, kk, int(N), omega).risk;
  ADD_FAILURE() << method;
  return 0;
}

MapOptions options(const std::string& x, const std::string& y, const std::string& value) {
  MapOptions o;
  o.x = Axis::parse(x);
  if (!y.empty()) o.y = Axis::parse(y);
  o.value = MapValue::parse(value);
  return o;
}

void expect_rel(double a, double b, double tol) { EXPECT_LE(std::abs(a - b), tol * std::max(std::abs(b), 1e-300)) << a << " vs " << b; }

}  // namespace

TEST(TheoryMap, AxisGrids) {
  const Axis a = Axis::parse("theta=0:1:11");
  EXPECT_EQ(a.param, Param::Theta);
  EXPECT_DOUBLE_EQ(a.value(3), 0.3);
  EXPECT_EQ(a.value(10), 1.0);
  const Axis l = Axis::parse("sigma=0.01:10:4:log");
  EXPECT_TRUE(l.log);
  EXPECT_NEAR(l.value(1), 0.1, 1e-15);
  EXPECT_NEAR(l.value(2), 1.0, 1e-14);
  const Axis k = Axis::parse("k=1:500:7");
  for (Index i = 0; i < k.count; ++i) EXPECT_EQ(k.value(i), std::round(k.value(i)));
  EXPECT_EQ(k.value(0), 1);
  EXPECT_EQ(k.value(6), 500);
  EXPECT_EQ(Axis::parse("N=1:8:8").value(3), 4);
}

TEST(TheoryMap, EntriesEqualPointQueriesKTheta) {
  MapOptions o = options("k=1:37:37", "theta=0:2:9", "bilevel/unrolled:3");
  o.fixed.n = 37;
  const MapResult r = compute_map(o);
  ASSERT_EQ(r.values.size(), 37u * 9u);
  for (size_t i = 0; i < r.values.size(); ++i) {
    const ModelPoint& p = r.points[i];
    EXPECT_EQ(p.k, double(i % 37 + 1));
    EXPECT_NEAR(p.theta, 2.0 * double(i / 37) / 8, 1e-15);
    const double a = engine_risk("constant", "bilevel", p.k, p.theta, 0.9, 1, 3, 0.5, 37);
    const double b = theory::best_unrolled_learned(theory::DataModel::constant(37, 1, p.theta), 0.9, Index(p.k), 3).risk;
    expect_rel(r.values[i], a / b, 1e-14);
  }
}

TEST(TheoryMap, EntriesEqualPointQueriesPlaceholders) {
  // N and omega from the axes: unrolled:N:omega on the i.i.d. model.
  MapOptions o = options("N=1:6:6", "omega=0.05:1.5:7:log", "unrolled:N:omega");
  o.data.kind = theory::DataKind::Iid;
  o.fixed.n = 7, o.fixed.k = 3, o.fixed.theta = 0.7, o.fixed.mu = 0.5, o.fixed.sigma = 0.3;
  const MapResult r = compute_map(o);
  for (size_t i = 0; i < r.values.size(); ++i) {
    const ModelPoint& p = r.points[i];
    EXPECT_EQ(p.k, 3);
    expect_rel(r.values[i], engine_risk("iid", "fixed", 3, 0.7, 0.3, 0.5, p.depth, p.stepsize, 7), 1e-14);
  }
  // Odd / even depth: unrolled:N / unrolled:N+1 over (N, sigma log).
  MapOptions q = options("N=1:5:5", "sigma=0.05:2:5:log", "unrolled:N/unrolled:N+1");
  q.fixed.n = 20, q.fixed.k = 4, q.fixed.theta = 0.5;
  const MapResult rq = compute_map(q);
  for (size_t i = 0; i < rq.values.size(); ++i) {
    const ModelPoint& p = rq.points[i];
    const double a = engine_risk("constant", "learned", 4, 0.5, p.sigma, 1, p.depth, 0, 20);
    const double b = engine_risk("constant", "learned+1", 4, 0.5, p.sigma, 1, p.depth, 0, 20);
    expect_rel(rq.values[i], a / b, 1e-14);
  }
  // n as an axis on the dense AR(1) path; k fixed; a one-dimensional sweep with a fixed stepsize.
  MapOptions d = options("n=2:12:6", "", "linear/unrolled:4:0.7");
  d.data.kind = theory::DataKind::Ar1;
  d.data.rho = 0.6;
  d.fixed.k = 2, d.fixed.theta = 1.1;
  const MapResult rd = compute_map(d);
  for (size_t i = 0; i < rd.values.size(); ++i) {
    const ModelPoint& p = rd.points[i];
    const double a = engine_risk("ar1", "linear", 2, 1.1, 0.9, 1, 4, 0.7, p.n, 0.6);
    const double b = engine_risk("ar1", "fixed", 2, 1.1, 0.9, 1, 4, 0.7, p.n, 0.6);
    expect_rel(rd.values[i], a / b, 1e-14);
  }
  // k defaults to n when n is swept.
  MapOptions kn = options("n=1:9:5", "mu=0:2:3", "bilevel");
  const MapResult rkn = compute_map(kn);
  for (const auto& p : rkn.points) EXPECT_EQ(p.k, p.n);
}

TEST(TheoryMap, CsvParsesBackToTheSameNumbers) {
  MapOptions o = options("sigma=0.01:3:13:log", "theta=0:1.7:5", "linear/bilevel");
  o.fixed.n = 11, o.fixed.k = 4;
  const MapResult r = compute_map(o);
  TempDir tmp;
  const auto files = write_map(r, tmp.path / "sub" / "m", false);
  ASSERT_EQ(files.size(), 1u);
  const Csv csv = parse_csv(io::read_text(tmp.path / "sub" / "m.csv"));
  const std::vector<std::string> header{"k", "theta", "sigma", "mu", "N", "omega", "n", "value"};
  EXPECT_EQ(csv.header, header);
  ASSERT_EQ(csv.rows.size(), r.values.size());
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    for (size_t c = 0; c < 7; ++c) EXPECT_EQ(csv.rows[i][c], r.points[i].get(kAllParams[c])) << i << "," << c;
    EXPECT_EQ(csv.rows[i][7], r.values[i]);
    // and the parsed parameters give the same value through the engine
    const auto& row = csv.rows[i];
    const double v = engine_risk("constant", "linear", row[0], row[1], row[2], row[3], row[4], row[5], row[6]) /
                     engine_risk("constant", "bilevel", row[0], row[1], row[2], row[3], row[4], row[5], row[6]);
    expect_rel(row[7], v, 1e-14);
  }
}

TEST(TheoryMap, FiguresWritten) {
  TempDir tmp;
  MapOptions o = options("k=1:20:20", "theta=0:1:6", "bilevel/unrolled:2");
  o.fixed.n = 20;
  const auto files = write_map(compute_map(o), tmp.path / "heat");
  EXPECT_EQ(files.size(), 3u);
  for (const auto& f : files) EXPECT_GT(fs::file_size(f), 100u) << f;
  MapOptions l = options("sigma=0.01:1:9:log", "", "linear/unrolled:3");
  l.fixed.n = 20;
  write_map(compute_map(l), tmp.path / "line");
  EXPECT_TRUE(fs::exists(tmp.path / "line.png"));
  EXPECT_TRUE(fs::exists(tmp.path / "line.svg"));
  EXPECT_EQ(tmp.count(), 6u);  // heat + line: csv, png, svg each; no temporaries
}

TEST(TheoryMap, BadInputIsRejectedClearly) {
  auto throws_with = [](auto&& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error, expected '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  throws_with([] { Axis::parse("k=5:1:3"); }, "reversed range");
  throws_with([] { Axis::parse("theta=0.5:0.5:3"); }, "empty range");
  throws_with([] { Axis::parse("k=1:5:1"); }, "COUNT must be >= 2");
  throws_with([] { Axis::parse("kappa=1:5:3"); }, "unknown parameter 'kappa'");
  throws_with([] { Axis::parse("theta=0:1:5:log"); }, "START > 0");
  throws_with([] { Axis::parse("theta=0:x:5"); }, "not a number");
  throws_with([] { Axis::parse("theta0:1:5"); }, "NAME=START:STOP:COUNT");
  throws_with([] { Method::parse("unrolled:0"); }, "depth must be an integer >= 1");
  throws_with([] { Method::parse("unrolled:3:-1"); }, "stepsize must be > 0");
  throws_with([] { Method::parse("unrolling:3"); }, "unknown method");
  throws_with([] { Method::parse("linear:3"); }, "takes no depth");
  throws_with([] { MapValue::parse("linear/bilevel/bilevel"); }, "at most one '/'");
  throws_with([] { compute_map(options("N=1:5:5", "", "unrolled:3")); }, "axis N is not used");
  throws_with([] { compute_map(options("omega=0.1:1:5", "", "unrolled:3")); }, "axis omega is not used");
  throws_with([] { compute_map(options("k=1:10:10", "k=1:10:10", "bilevel")); }, "same parameter");
  throws_with([] {
    MapOptions o = options("k=1:600:10", "", "bilevel");
    compute_map(o);
  }, "1 <= k <= n");
  throws_with([] { compute_map(options("sigma=-1:1:5", "", "bilevel")); }, "sigma must be > 0");
  throws_with([] { compute_map(options("N=-2:3:6", "", "unrolled:N")); }, "depth N must be >= 1");
  // More than 10^7 points: refused without force, before any work.
  MapOptions big = options("k=1:500:5000", "theta=0:1:2001", "bilevel");
  throws_with([&] { big.validate(); }, "pass --force");
  big.force = true;
  EXPECT_NO_THROW(big.validate());
  // Unwritable output: a path below a regular file. Nothing is written.
  TempDir tmp;
  io::write_atomic(tmp.path / "plain", "x");
  const MapResult r = compute_map(options("theta=0:1:3", "", "linear"));
  throws_with([&] { write_map(r, tmp.path / "plain" / "sub" / "m"); }, "cannot write");
  throws_with([&] { io::check_writable_prefix(tmp.path / "plain" / "m"); }, "not a folder");
  EXPECT_EQ(tmp.count(), 1u);
  // A failure after the figures (the CSV's name is taken by a folder) removes the figures too.
  fs::create_directories(tmp.path / "m.csv");
  EXPECT_THROW(write_map(r, tmp.path / "m"), Error);
  EXPECT_FALSE(fs::exists(tmp.path / "m.png"));
  EXPECT_FALSE(fs::exists(tmp.path / "m.svg"));
  EXPECT_EQ(tmp.count(), 2u);  // plain, m.csv/
}

TEST(TheoryDepth, RowsEqualEngineAndEvenDepthsAgree) {
  DepthOptions o;
  o.fixed.n = 50, o.fixed.k = 10, o.fixed.theta = 0.5;
  o.max_depth = 8;
  o.stepsizes = {0.3, 1.0};
  const DepthResult r = compute_depth(o);
  const auto d = theory::DataModel::constant(50, 1, 0.5);
  EXPECT_EQ(r.linear, theory::best_linear(d, 0.9).risk);
  EXPECT_EQ(r.bilevel, theory::best_bilevel(d, 0.9, 10).risk);
  ASSERT_EQ(r.rows.size(), 8u);
  for (const auto& row : r.rows) {
    EXPECT_EQ(row.learned, theory::best_unrolled_learned(d, 0.9, 10, row.depth).risk);
    EXPECT_EQ(row.fixed[1], theory::best_unrolled(d, 0.9, 10, row.depth, 1.0).risk);
    if (row.depth % 2 == 0) expect_rel(row.learned, r.rows[1].learned, 1e-9);  // theory.md: even N all equal
    EXPECT_GE(row.learned, r.linear * (1 - 1e-12));
  }
  const Csv csv = parse_csv(depth_csv(r));
  EXPECT_EQ(csv.header.front(), "N");
  EXPECT_EQ(csv.rows.size(), 8u);
  EXPECT_EQ(csv.rows[2][csv.column("learned")], r.rows[2].learned);
  EXPECT_EQ(csv.rows[2][csv.column("fixed_0.3")], r.rows[2].fixed[0]);
  o.max_depth = 0;
  EXPECT_THROW(compute_depth(o), Error);
}
