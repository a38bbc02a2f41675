#pragma once
/// \file theory_study.hpp
/// Theory studies on top of the exact theory engine: risk (ratio) maps over any two
/// of the talk's parameters \f$k, \theta, \sigma, \mu, N, \omega, n\f$; best risk against depth
/// N; and the k = n = 1 landscape \f$E(r)\f$ (R = r scalar) with every local minimum measured
/// (location, risk, curvature, basin width). Computations return result objects; writing CSV,
/// JSON and figures is separate. Grid points run in parallel (OpenMP).
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "varlearn/core/io.hpp"
#include "varlearn/core/types.hpp"
#include "varlearn/study/report.hpp"
#include "varlearn/theory/data_model.hpp"

namespace varlearn::study {

// ---------------------------------------------------------------------------------------------
// Parameters and grids

/// A parameter of the toy model. CSV/CLI names: k, theta, sigma, mu, N, omega, n.
enum class Param { K, Theta, Sigma, Mu, Depth, Stepsize, Dim };
inline constexpr Param kAllParams[] = {Param::K,     Param::Theta,    Param::Sigma, Param::Mu,
                                       Param::Depth, Param::Stepsize, Param::Dim};

const char* param_name(Param p);    ///< "k", "theta", "sigma", "mu", "N", "omega", "n"
const char* param_symbol(Param p);  ///< talk symbol, UTF-8: "k", "θ", "σ", "μ", "N", "ω", "n"
bool param_is_integer(Param p);     ///< k, N, n (grid values rounded to the nearest integer)
/// Parses a name (exact, as above); throws Error listing the valid names.
Param parse_param(const std::string& name, const std::string& where = "parameter");

/// One point of parameter space. Integer parameters are held as doubles with integral values.
struct ModelPoint {
  double k = 0;        ///< rank k of R (k x n); 0 = n
  double theta = 0;    ///< signal standard deviation \f$\theta \ge 0\f$
  double sigma = 0.9;  ///< noise standard deviation \f$\sigma > 0\f$
  double mu = 1;       ///< signal mean \f$\mu\f$
  double depth = 2;    ///< unrolling depth N >= 1 (used by methods that say "N")
  double stepsize = 0.5;  ///< stepsize \f$\omega > 0\f$ (used by methods that say "omega")
  double n = 500;      ///< signal dimension n
  double get(Param p) const;
  void set(Param p, double v);
};

/// A grid axis: `NAME=START:STOP:COUNT[:log]`, COUNT >= 2 points from START to STOP
/// (inclusive), equally spaced or (log) geometrically spaced. Integer parameters are rounded.
struct Axis {
  Param param = Param::Theta;
  double start = 0, stop = 1;
  Index count = 2;
  bool log = false;
  /// Parses the spec; throws Error (unknown name, malformed numbers, empty or reversed range,
  /// COUNT < 2, log with START <= 0).
  static Axis parse(const std::string& spec);
  void validate() const;
  double nominal(Index i) const;  ///< exact grid coordinate
  double value(Index i) const;    ///< parameter value (nominal, rounded for k, N, n)
  std::string describe() const;   ///< back to the spec form
};

/// Where the data model comes from: constant, iid, ar1 (rho) or a second-moment file (then n,
/// mu and theta are fixed by the matrix and cannot be swept).
struct DataSpec {
  theory::DataKind kind = theory::DataKind::Constant;
  double rho = 0.5;               ///< AR(1) correlation (ar1 only)
  std::shared_ptr<const theory::DataModel> file_model;  ///< kind == File
  std::string file_name;          ///< for titles
  /// The model at this point (n, mu, theta from it unless kind == File): theory::make_data_model.
  theory::DataModel build(const ModelPoint& p) const;
  bool depends_on(Param p) const;  ///< n, mu, theta (not for file)
};

// ---------------------------------------------------------------------------------------------
// Methods and map values

/// A denoiser class whose best risk is a map value.
///  - `linear`: best linear denoiser; `bilevel`: bilevel infimum at rank k;
///  - `unrolled[:D[:W]]`: best unrolled risk at rank k. D is an integer depth or the
///    placeholder `N` (take depth from the parameter N: the axis or --depth), optionally with an
///    offset `N+1`, `N-1`; default `N`. W is a stepsize, `learned` (default) or the placeholder
///    `omega` (take it from the parameter omega: the axis or --stepsize).
struct Method {
  enum class Kind { Linear, Bilevel, Unrolled };
  enum class Step { Learned, Fixed, FromParam };
  Kind kind = Kind::Linear;
  bool depth_from_param = true;  ///< D = N + depth_offset
  int depth = 0;                 ///< fixed D, or the offset when depth_from_param
  Step step = Step::Learned;
  double stepsize = 0;           ///< Step::Fixed
  static Method parse(const std::string& spec);
  std::string describe() const;  ///< canonical spec ("unrolled:N:learned" -> "unrolled:N")
  bool uses(Param p) const;      ///< depends on the parameter p (k, N, omega; data always)
  int depth_at(const ModelPoint& p) const;
  /// Best (infimal) risk of this class at the point, by the theory engine's point queries.
  double risk(const theory::DataModel& data, const ModelPoint& p) const;
};

/// `A` or `A/B` (a ratio of best risks).
struct MapValue {
  Method a;
  std::optional<Method> b;
  static MapValue parse(const std::string& spec);
  std::string describe() const;
  bool uses(Param p) const;
  double evaluate(const theory::DataModel& data, const ModelPoint& p) const;
};

// ---------------------------------------------------------------------------------------------
// Map

/// Settings of `varlearn theory map`.
struct MapOptions {
  DataSpec data;
  ModelPoint fixed;           ///< values of the parameters that are not axes
  Axis x;
  std::optional<Axis> y;      ///< absent: a one-dimensional sweep
  MapValue value;
  bool force = false;         ///< allow more than kMaxPoints grid points
  static constexpr Index kMaxPoints = 10000000;
  /// Throws Error on: an axis repeated, an axis over a parameter no method uses (N, omega),
  /// data parameters swept with a file model, too many points without force, and any grid
  /// point with invalid values (k > n, k < 1, N < 1, sigma <= 0, theta < 0, omega <= 0, n < 1).
  void validate() const;
  Index points() const { return x.count * (y ? y->count : 1); }
};

struct MapResult {
  MapOptions options;
  Index nx = 0, ny = 1;
  std::vector<ModelPoint> points;  ///< row-major: index = iy * nx + ix
  std::vector<double> values;
  double seconds = 0;
  Index argmin() const;
  Index argmax() const;
};

/// Computes every grid point (validate() first; OpenMP over points, dynamic schedule).
MapResult compute_map(const MapOptions& options);

/// CSV: header `k,theta,sigma,mu,N,omega,n,value`, one row per grid point (round-trip precision).
std::string map_csv(const MapResult& result);

/// A parsed CSV (header and numeric rows); throws Error on malformed text.
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  Index column(const std::string& name) const;  ///< throws when missing
};
Csv parse_csv(const std::string& text);

/// The files a theory sweep may write under its prefix (figures or not): map and depth
/// ".csv", ".png", ".svg"; landscape also "_minima.csv", ".json", "_valleys.csv",
/// "_heatmap.png", "_heatmap.svg". Check them before the work with io::check_output_files.
extern const std::vector<std::string> kMapSuffixes, kDepthSuffixes, kLandscapeSuffixes;

/// Writes prefix.csv and (figures) prefix.png + prefix.svg all-or-nothing (io::StagedFiles:
/// written under a temporary folder, then renamed into place; missing folders created). An
/// existing file of the set (kMapSuffixes) is refused unless `existing` is Replace, which also
/// removes the set's files this run does not write. Returns the files written.
std::vector<std::filesystem::path> write_map(const MapResult& result, const std::filesystem::path& prefix,
                                             bool figures = true, io::Existing existing = io::Existing::Refuse);

/// Title stating the fixed parameters (UTF-8 symbols), e.g. "constant data, n = 500, μ = 1, σ = 0.9".
std::string fixed_parameters_text(const MapOptions& options);

// ---------------------------------------------------------------------------------------------
// Depth curves

struct DepthOptions {
  DataSpec data;
  ModelPoint fixed;                       ///< k (0 = n), theta, sigma, mu, n; depth/stepsize unused
  int max_depth = 20;                     ///< N = 1..max_depth (--nmax)
  /// Largest --nmax: each depth is one learned-stepsize search per fixed omega (~1 ms each).
  static constexpr int kMaxDepth = 10000;
  std::vector<double> stepsizes{0.1, 0.5, 1.0};  ///< fixed omegas (--stepsizes)
  void validate() const;
};

struct DepthRow {
  int depth = 0;
  double learned = 0;           ///< best risk, stepsize learned
  double learned_stepsize = 0;  ///< optimal omega (0: only approached as omega -> 0+)
  bool learned_attained = true;
  std::vector<double> fixed;    ///< best risk at each fixed stepsize
};

struct DepthResult {
  DepthOptions options;
  double linear = 0, bilevel = 0;
  bool bilevel_attained = true;
  std::vector<DepthRow> rows;
  double seconds = 0;
};

DepthResult compute_depth(const DepthOptions& options);
/// Header: N,parity,learned,learned_stepsize,learned_attained,fixed_<omega>...,linear,bilevel.
std::string depth_csv(const DepthResult& result);
/// prefix.csv and (figures) prefix.png/svg, all-or-nothing like write_map.
std::vector<std::filesystem::path> write_depth(const DepthResult& result, const std::filesystem::path& prefix,
                                               bool figures = true, io::Existing existing = io::Existing::Refuse);

// ---------------------------------------------------------------------------------------------
// Landscape (k = n = 1, R = r)

/// \f$E(r) = \tfrac12[\gamma(t-1)^2 + \sigma^2 t^2]\f$, \f$t = f(r^2)\f$, \f$\gamma = \mu^2+\theta^2\f$.
struct LandscapeOptions {
  double mu = 1, theta = 0, sigma = 0.9;
  double stepsize = 0.5;                   ///< omega of the curves
  std::vector<int> depths{1, 2, 3, 4, 5, 6};
  double r_max = 0;                        ///< 0: automatic, 1.5 sqrt(2.5/omega)
  Index r_count = 4001;                    ///< grid of the curves and the minimum search
  static constexpr int kMaxDepth = 1000;              ///< largest N (one curve per depth)
  static constexpr Index kMaxCurvePoints = 10000000;  ///< largest r_count (80 MB per curve)
  static constexpr Index kMaxHeatmapPoints = 4000000; ///< largest omega_count * heat_r_count
  /// Basin: the connected r-interval around a minimum where \f$E \le E^*(1 + \text{level})\f$.
  double basin_level = 0.05;
  double omega_min = 0.05, omega_max = 1.0;  ///< heatmap stepsize range
  Index omega_count = 120, heat_r_count = 300;
  void validate() const;
  double r_upper() const;                  ///< r_max or the automatic value
};

struct LocalMinimum {
  int depth = 0;
  double stepsize = 0;     ///< omega of this landscape
  double r = 0;            ///< location (r >= 0; E is even in r)
  double risk = 0;
  double curvature = 0;    ///< \f$E''(r)\f$
  double basin_width = 0;  ///< width of the basin at the level (over the whole real line)
  bool basin_open = false; ///< basin reaches r_max: width is a lower bound
  bool global = false;     ///< lowest among this depth's minima (within 1e-12 relative)
  bool flat = false;       ///< E constant in r (N = 1): no isolated minimum
};

struct LandscapeResult {
  LandscapeOptions options;
  double gamma = 0;          ///< \f$\mu^2 + \theta^2\f$
  double linear = 0;         ///< best linear risk (n = 1)
  std::vector<double> r;     ///< curve grid
  std::vector<std::vector<double>> curves;   ///< per depth, E on r
  std::vector<double> engine_best;           ///< per depth: theory::best_unrolled(n=k=1, N, omega)
  std::vector<LocalMinimum> minima;          ///< all depths, increasing r within a depth
  std::vector<double> heat_r, heat_omega;    ///< heatmap grid
  std::vector<std::vector<double>> heat;     ///< per depth, row-major [iomega * r + ir]
  /// Local minima in r at every heatmap omega (the valleys of the heatmap; flat N = 1 omitted).
  std::vector<LocalMinimum> heat_minima;
  double seconds = 0;
};

/// E(r) for depth N and stepsize omega (through theory::Family).
double landscape_risk(double gamma, double sigma, int depth, double omega, double r);
/// Local minima of E on [0, r_max]: grid scan, golden-section refinement, curvature, basin.
std::vector<LocalMinimum> landscape_minima(double gamma, double sigma, int depth, double omega, double r_max,
                                           Index count, double basin_level);
LandscapeResult compute_landscape(const LandscapeOptions& options);
std::string landscape_csv(const LandscapeResult& result);      ///< r, then E_N1..E_N6
std::string landscape_minima_csv(const LandscapeResult& result);
std::string landscape_json(const LandscapeResult& result);     ///< the summary
/// prefix.csv, prefix_minima.csv, prefix.json, prefix.png/svg (curves), prefix_heatmap.png/svg
/// (valleys marked), prefix_valleys.csv (heat_minima); all-or-nothing like write_map.
std::vector<std::filesystem::path> write_landscape(const LandscapeResult& result,
                                                   const std::filesystem::path& prefix, bool figures = true,
                                                   io::Existing existing = io::Existing::Refuse);

}  // namespace varlearn::study
