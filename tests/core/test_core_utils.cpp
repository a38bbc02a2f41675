// core utilities: the 1-D minimizer against closed forms, the formatter against printf's
// contract and round trips, the stopwatch's monotonicity, the output-folder checks.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/limits.hpp"
#include "varlearn/core/minimize.hpp"
#include "varlearn/core/timer.hpp"

using namespace varlearn;
namespace fs = std::filesystem;

// (x - 0.3)^2 + 2: argmin 0.3, value 2. Brent resolves x to ~sqrt(eps) of the bracket and
// the value to rounding (quadratic flatness).
TEST(MinimizeScalar, QuadraticClosedForm) {
  int calls = 0;
  const auto m = minimize_scalar([&](double x) { ++calls; return (x - 0.3) * (x - 0.3) + 2; }, -1.0, 2.0);
  EXPECT_NEAR(m.x, 0.3, 1e-7);
  EXPECT_NEAR(m.value, 2.0, 1e-14);
  EXPECT_LT(calls, 60);  // parabolic steps: far fewer than golden section's ~75 at this tolerance
  EXPECT_GT(m.iterations, 0);
}

// x - log x on (0, 3]: argmin 1, value 1; cosh(x - e) + 1 shifted: argmin e, value 2.
TEST(MinimizeScalar, SmoothNonQuadraticClosedForms) {
  const auto a = minimize_scalar([](double x) { return x - std::log(x); }, 0.01, 3.0);
  EXPECT_NEAR(a.x, 1.0, 1e-7);
  EXPECT_NEAR(a.value, 1.0, 1e-14);
  const double e = std::exp(1.0);
  const auto b = minimize_scalar([&](double x) { return std::cosh(x - e) + 1; }, -5.0, 5.0);
  EXPECT_NEAR(b.x, e, 1e-7);
  EXPECT_NEAR(b.value, 2.0, 1e-14);
}

// A kink (|x - 1/3|): no parabola fits, golden-section steps must still converge.
TEST(MinimizeScalar, KinkMinimum) {
  const auto m = minimize_scalar([](double x) { return std::abs(x - 1.0 / 3.0); }, 0.0, 1.0);
  EXPECT_NEAR(m.x, 1.0 / 3.0, 1e-7);
  EXPECT_LT(m.value, 1e-7);
}

// Minimum on the boundary: f increasing on [2, 5], argmin lo. With include_ends the end point
// itself is returned; without, Brent only approaches it.
TEST(MinimizeScalar, BoundaryMinimum) {
  auto f = [](double x) { return x * x; };
  const auto m = minimize_scalar(f, 2.0, 5.0);
  EXPECT_EQ(m.x, 2.0);
  EXPECT_EQ(m.value, 4.0);
  ScalarMinimizeOptions o;
  o.include_ends = false;
  const auto inner = minimize_scalar(f, 2.0, 5.0, o);
  EXPECT_GT(inner.x, 2.0);
  EXPECT_NEAR(inner.x, 2.0, 1e-6);
  // and at the upper end
  EXPECT_EQ(minimize_scalar([](double x) { return -x; }, -1.0, 4.0).x, 4.0);
}

// A bracket near zero far narrower than Brent's absolute floor (tol/4 ~ 7e-9): the search
// works relative to the bracket, so it still finds the minimum at 1.5e-10.
TEST(MinimizeScalar, TinyBracketNearZero) {
  const double c = 1.5e-10;
  const auto m = minimize_scalar([&](double x) { return (x - c) * (x - c); }, 1e-10, 2e-10);
  EXPECT_NEAR(m.x, c, 1e-17);
}

TEST(MinimizeScalar, DegenerateAndBadInput) {
  const auto m = minimize_scalar([](double x) { return x + 1; }, 0.5, 0.5);
  EXPECT_EQ(m.x, 0.5);
  EXPECT_EQ(m.value, 1.5);
  auto f = [](double x) { return x; };
  EXPECT_THROW(minimize_scalar(f, 1.0, 0.0), Error);
  EXPECT_THROW(minimize_scalar(f, 0.0, std::numeric_limits<double>::infinity()), Error);
  ScalarMinimizeOptions o;
  o.max_iterations = 0;
  EXPECT_THROW(minimize_scalar(f, 0.0, 1.0, o), Error);
  o = {};
  o.bits = 60;
  EXPECT_THROW(o.validate(), Error);
}

TEST(Format, MatchesPrintfAndOstreamContracts) {
  EXPECT_EQ(format_general(0.1234567, 4), "0.1235");
  EXPECT_EQ(format_general(1234567.0, 4), "1.235e+06");
  EXPECT_EQ(format_general(2.0), "2");
  EXPECT_EQ(format_fixed(2.0, 2), "2.00");
  EXPECT_EQ(format_fixed(0.25, 1), "0.2");  // an exact tie rounds to even, like printf
  EXPECT_EQ(format_fixed(1e300, 0).size(), 301u);  // longer than the small buffer
  EXPECT_EQ(format_percent(0.1234), "12.3 %");
  EXPECT_EQ(format_percent(0.1234, 2, true), "+12.34 %");
  EXPECT_EQ(format_percent(-0.05, 1, true), "-5.0 %");
  EXPECT_EQ(format_general(std::numeric_limits<double>::infinity()), "inf");
}

// format_exact round-trips every double, including awkward ones.
TEST(Format, ExactRoundTrips) {
  for (double v : {0.1, 1.0 / 3.0, std::nextafter(1.0, 2.0), 5e-324, 1.7976931348623157e308, -2.5e-17,
                   std::exp(1.0) * 1e12}) {
    EXPECT_EQ(std::strtod(format_exact(v).c_str(), nullptr), v) << format_exact(v);
  }
}

TEST(Stopwatch, MeasuresElapsedTimeAndRestarts) {
  Stopwatch w;
  const double t0 = w.seconds();
  EXPECT_GE(t0, 0.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double t1 = w.seconds();
  EXPECT_GE(t1, 0.015);
  EXPECT_LT(t1, 5.0);
  w.restart();
  EXPECT_LT(w.seconds(), t1);
}

TEST(Io, CheckWritableDirCreatesNothing) {
  const fs::path dir = fs::temp_directory_path() / ("varlearn_core_chk_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "afile") << "x";
  EXPECT_NO_THROW(io::check_writable_dir(dir));
  EXPECT_NO_THROW(io::check_writable_dir(dir / "new" / "deeper"));
  EXPECT_FALSE(fs::exists(dir / "new"));
  EXPECT_THROW(io::check_writable_dir(dir / "afile"), Error);
  EXPECT_THROW(io::check_writable_dir(dir / "afile" / "out"), Error);
  EXPECT_THROW(io::check_writable_dir("/proc/varlearn_no_such_dir/out"), Error);
  // prefixes: a file stem in a writable (or creatable) folder
  EXPECT_NO_THROW(io::check_writable_prefix(dir / "sub" / "map"));
  EXPECT_FALSE(fs::exists(dir / "sub"));
  EXPECT_THROW(io::check_writable_prefix(""), Error);
  EXPECT_THROW(io::check_writable_prefix(dir / "sub" / ""), Error);
  EXPECT_THROW(io::check_writable_prefix(dir / "afile" / "m"), Error);
  // ensure_writable_dir creates
  io::ensure_writable_dir(dir / "made" / "here");
  EXPECT_TRUE(fs::is_directory(dir / "made" / "here"));
  size_t entries = 0;
  for (auto& e : fs::directory_iterator(dir)) (void)e, ++entries;
  EXPECT_EQ(entries, 2u);  // afile, made: no probe left behind
  fs::remove_all(dir);
}

TEST(Limits, DenseDimension) { static_assert(kMaxDenseDimension == 5000); }

// One name table per enum: to_string and parse agree, and an unknown name lists the valid ones.
#include "varlearn/core/names.hpp"
namespace {
enum class Colour { Red, Green, Blue };
constexpr varlearn::NameTable<Colour, 3> kColourNames{{{Colour::Red, "red"}, {Colour::Green, "green"}, {Colour::Blue, "blue"}}};
}  // namespace

TEST(Names, RoundTripAndOneErrorShape) {
  for (Colour c : {Colour::Red, Colour::Green, Colour::Blue})
    EXPECT_EQ(varlearn::parse_name(kColourNames, varlearn::name_of(kColourNames, c), "colour"), c);
  EXPECT_EQ(varlearn::names_list(kColourNames), "red, green or blue");
  try {
    varlearn::parse_name(kColourNames, "mauve", "colour");
    FAIL() << "expected Error";
  } catch (const varlearn::Error& e) {
    EXPECT_STREQ(e.what(), "unknown colour 'mauve' (expected red, green or blue)");
  }
}
