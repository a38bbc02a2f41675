// The k = n = 1 landscape: R = r scalar, T = f(r^2),
// E(r) = 1/2 [gamma (t-1)^2 + sigma^2 t^2], gamma = mu^2 + theta^2. Every local minimum in r is
// located, refined and measured (risk, curvature E''(r), basin width at a relative level), to
// test the conjecture "good denoisers for odd depth hide in sharp local minima".
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "../report/figure.hpp"
#include "plot.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/parallel.hpp"
#include "varlearn/core/minimize.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/study/theory_study.hpp"
#include "varlearn/theory/family.hpp"
#include "varlearn/theory/optimal.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

constexpr double kMinRMax = 1e-100, kMaxRMax = 1e100;  ///< accepted --r-max (besides 0)

void LandscapeOptions::validate() const {
  auto bad = [](const std::string& m) { throw Error("theory landscape: " + m); };
  if (!(sigma > 0) || !std::isfinite(sigma)) bad("--sigma must be > 0");
  if (!(theta >= 0) || !std::isfinite(theta) || !std::isfinite(mu)) bad("--theta must be >= 0 and mu finite");
  if (mu * mu + theta * theta == 0) bad("mu = theta = 0: the signal is zero");
  if (!(stepsize > 0) || !std::isfinite(stepsize)) bad("--stepsize omega must be > 0");
  if (depths.empty()) bad("no depths");
  for (int d : depths)
    if (d < 1 || d > kMaxDepth)
      bad("depths must be in 1.." + std::to_string(kMaxDepth) + " (got " + std::to_string(d) + ")");
  // r enters as s = r^2 and through f(s) = (1 - (1 - omega(1 + s))^N)/(1 + s): below 1e-100 every
  // curve is flat to rounding (s underflows next to 1), above 1e100 s overflows.
  if (r_max != 0 && !(r_max >= kMinRMax && r_max <= kMaxRMax))
    bad("--r-max = " + format_general(r_max, 10) + " out of range (0 = automatic, or " + format_general(kMinRMax, 3) +
        " <= r-max <= " + format_general(kMaxRMax, 3) + ")");
  if (r_count < 11 || r_count > kMaxCurvePoints) bad("--r-count must be in 11.." + std::to_string(kMaxCurvePoints));
  if (!(basin_level > 0) || !std::isfinite(basin_level)) bad("--basin-level must be > 0");
  if (!(omega_min > 0) || !(omega_max > omega_min) || !std::isfinite(omega_max))
    bad("need 0 < --omega-min < --omega-max");
  if (omega_count < 2 || heat_r_count < 2 || omega_count * heat_r_count > kMaxHeatmapPoints)
    bad("heatmap grid must have 2.." + std::to_string(kMaxHeatmapPoints) + " points");
}

double LandscapeOptions::r_upper() const { return r_max > 0 ? r_max : 1.5 * std::sqrt(2.5 / stepsize); }

double landscape_risk(double gamma, double sigma, int depth, double omega, double r) {
  const theory::Family f = theory::Family::unrolled(depth, omega);
  const double t = f(r * r);
  return 0.5 * (gamma * (t - 1) * (t - 1) + sigma * sigma * t * t);
}

namespace {
/// Bisection halvings locating a basin edge; the loop stops when the interval collapses.
constexpr int kEdgeBisections = 100;
/// Valleys are searched on at least this many r points (4x the heatmap's r grid otherwise):
/// enough to separate the two minima of odd depths.
constexpr Index kMinValleyGrid = 401;

struct Landscape {
  double gamma, sigma;
  theory::Family f;
  double operator()(double r) const {
    const double t = f(r * r);
    return 0.5 * (gamma * (t - 1) * (t - 1) + sigma * sigma * t * t);
  }
  /// E''(r) = g''(t) (dt/dr)^2 + g'(t) d2t/dr2, t = f(r^2); f'' by a central difference of f'.
  double curvature(double r) const {
    const double s = r * r, t = f(s);
    const double g1 = gamma * (t - 1) + sigma * sigma * t, g2 = gamma + sigma * sigma;
    const double f1 = f.derivative(s);
    const double h = 1e-5 * (1 + s);
    const double f2 = s >= h ? (f.derivative(s + h) - f.derivative(s - h)) / (2 * h)
                             : (f.derivative(s + h) - f1) / h;
    const double dt = 2 * r * f1, d2t = 2 * f1 + 4 * s * f2;
    return g2 * dt * dt + g1 * d2t;
  }
};

}  // namespace

std::vector<LocalMinimum> landscape_minima(double gamma, double sigma, int depth, double omega, double r_max,
                                           Index count, double basin_level) {
  const Landscape e{gamma, sigma, theory::Family::unrolled(depth, omega)};
  const double h = r_max / double(count - 1);
  std::vector<double> r(static_cast<size_t>(count)), v(static_cast<size_t>(count));
  for (Index i = 0; i < count; ++i) r[size_t(i)] = h * double(i), v[size_t(i)] = e(r[size_t(i)]);
  const double vmin = *std::min_element(v.begin(), v.end()), vmax = *std::max_element(v.begin(), v.end());
  std::vector<LocalMinimum> out;
  if (vmax - vmin <= 1e-13 * std::max(std::abs(vmax), 1e-300)) {  // N = 1: T = omega, whatever r
    LocalMinimum m;
    m.depth = depth, m.stepsize = omega, m.r = 0, m.risk = vmin, m.flat = true, m.global = true;
    m.basin_width = std::numeric_limits<double>::infinity(), m.basin_open = true;
    out.push_back(m);
    return out;
  }
  const size_t last = size_t(count - 1);
  for (size_t i = 0; i < last; ++i) {
    const bool left = i == 0 || v[i - 1] > v[i];
    if (!(left && v[i] <= v[i + 1])) continue;
    LocalMinimum m;
    m.depth = depth;
    m.stepsize = omega;
    if (i == 0) {
      m.r = 0, m.risk = v[0];  // E is even in r: r = 0 is stationary
    } else {
      const auto [x, fx, evaluations] = minimize_scalar(e, r[i - 1], r[i + 1]);
      m.r = x, m.risk = std::min(fx, v[i]);
      if (v[i] < fx) m.r = r[i];
    }
    m.curvature = e.curvature(m.r);
    // Basin: the connected interval around r* with E <= E*(1 + level), over the real line.
    const double level = m.risk + basin_level * std::abs(m.risk);
    auto edge = [&](double in, double outside) {
      for (int it = 0; it < kEdgeBisections; ++it) {
        const double mid = 0.5 * (in + outside);
        if (mid == in || mid == outside) break;
        (e(mid) <= level ? in : outside) = mid;
      }
      return in;
    };
    size_t j = i;
    while (j < last && v[j + 1] <= level) ++j;
    double right;
    if (j == last) right = r[last], m.basin_open = true;
    else right = edge(std::max(r[j], m.r), r[j + 1]);
    size_t l = i;
    while (l > 0 && v[l - 1] <= level) --l;
    if (l == 0 && v[0] <= level) m.basin_width = 2 * right;  // joins its mirror image at -r
    else m.basin_width = right - edge(std::min(r[l], m.r), r[l - 1]);
    out.push_back(m);
  }
  double best = std::numeric_limits<double>::infinity();
  for (const auto& m : out) best = std::min(best, m.risk);
  for (auto& m : out) m.global = m.risk <= best + 1e-12 * std::abs(best);
  return out;
}

LandscapeResult compute_landscape(const LandscapeOptions& o) {
  o.validate();
  const Stopwatch start;
  LandscapeResult res;
  res.options = o;
  res.gamma = o.mu * o.mu + o.theta * o.theta;
  const theory::DataModel data = theory::DataModel::constant(1, o.mu, o.theta);
  res.linear = theory::best_linear(data, o.sigma).risk;
  const double rmax = o.r_upper();
  const size_t nd = o.depths.size();
  res.r.resize(size_t(o.r_count));
  for (Index i = 0; i < o.r_count; ++i) res.r[size_t(i)] = rmax * double(i) / double(o.r_count - 1);
  res.curves.assign(nd, std::vector<double>(res.r.size()));
  res.engine_best.resize(nd);
  std::vector<std::vector<LocalMinimum>> minima(nd);
  res.heat_r.resize(size_t(o.heat_r_count));
  res.heat_omega.resize(size_t(o.omega_count));
  for (Index i = 0; i < o.heat_r_count; ++i) res.heat_r[size_t(i)] = rmax * double(i) / double(o.heat_r_count - 1);
  for (Index i = 0; i < o.omega_count; ++i)
    res.heat_omega[size_t(i)] = o.omega_min + (o.omega_max - o.omega_min) * double(i) / double(o.omega_count - 1);
  res.heat.assign(nd, std::vector<double>(size_t(o.omega_count * o.heat_r_count)));
  parallel_for(
      Index(nd),
      [&](Index di) {
        const size_t d = size_t(di);
        const int N = o.depths[d];
        for (size_t i = 0; i < res.r.size(); ++i)
          res.curves[d][i] = landscape_risk(res.gamma, o.sigma, N, o.stepsize, res.r[i]);
        minima[d] = landscape_minima(res.gamma, o.sigma, N, o.stepsize, rmax, o.r_count, o.basin_level);
        res.engine_best[d] = theory::best_unrolled(data, o.sigma, 1, N, o.stepsize).risk;
      },
      Schedule::Dynamic);
  const Index nh = o.omega_count * o.heat_r_count;
  parallel_for(
      Index(nd) * nh,
      [&](Index q) {
        const size_t d = size_t(q / nh);
        const Index rest = q % nh, iw = rest / o.heat_r_count, ir = rest % o.heat_r_count;
        res.heat[d][size_t(rest)] = landscape_risk(res.gamma, o.sigma, o.depths[d], res.heat_omega[size_t(iw)],
                                                   res.heat_r[size_t(ir)]);
      },
      Schedule::Dynamic, 64);
  for (auto& m : minima) res.minima.insert(res.minima.end(), m.begin(), m.end());
  // Valleys: the minima in r at every heatmap omega.
  std::vector<std::vector<LocalMinimum>> valleys(nd * res.heat_omega.size());
  parallel_for(
      Index(valleys.size()),
      [&](Index qi) {
        const size_t q = size_t(qi), d = q / res.heat_omega.size(), iw = q % res.heat_omega.size();
        valleys[q] = landscape_minima(res.gamma, o.sigma, o.depths[d], res.heat_omega[iw], rmax,
                                      std::max<Index>(o.heat_r_count * 4, kMinValleyGrid), o.basin_level);
      },
      Schedule::Dynamic);
  for (auto& v : valleys)
    for (auto& m : v)
      if (!m.flat) res.heat_minima.push_back(m);
  res.seconds = start.seconds();
  return res;
}

std::string landscape_csv(const LandscapeResult& r) {
  std::string out = "r";
  for (int d : r.options.depths) out += ",E_N" + std::to_string(d);
  out += "\n";
  char buf[40];
  for (size_t i = 0; i < r.r.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%.17g", r.r[i]);
    out += buf;
    for (const auto& c : r.curves) {
      std::snprintf(buf, sizeof buf, ",%.17g", c[i]);
      out += buf;
    }
    out += "\n";
  }
  return out;
}

std::string landscape_minima_csv(const LandscapeResult& r) {
  std::string out = "N,parity,r,risk,curvature,basin_width,basin_open,global,flat\n";
  char buf[160];
  for (const auto& m : r.minima) {
    std::snprintf(buf, sizeof buf, "%d,%s,%.17g,%.17g,%.17g,%.17g,%s,%s,%s\n", m.depth, m.depth % 2 ? "odd" : "even", m.r,
                  m.risk, m.curvature, m.basin_width, m.basin_open ? "true" : "false", m.global ? "true" : "false",
                  m.flat ? "true" : "false");
    out += buf;
  }
  return out;
}

std::string landscape_json(const LandscapeResult& r) {
  using nlohmann::json;
  const LandscapeOptions& o = r.options;
  json j{{"k", 1}, {"n", 1}, {"mu", o.mu}, {"theta", o.theta}, {"sigma", o.sigma}, {"omega", o.stepsize},
         {"gamma", r.gamma}, {"r_max", o.r_upper()}, {"r_count", o.r_count}, {"basin_level", o.basin_level},
         {"basin_definition", "connected r-interval (over the real line, E even in r) with E <= E*(1 + basin_level)"},
         {"linear_risk", r.linear}};
  json depths = json::array();
  for (size_t d = 0; d < o.depths.size(); ++d) {
    json jd{{"N", o.depths[d]}, {"parity", o.depths[d] % 2 ? "odd" : "even"}, {"engine_best_risk", r.engine_best[d]}};
    json ms = json::array();
    double best = std::numeric_limits<double>::infinity();
    for (const auto& m : r.minima) {
      if (m.depth != o.depths[d]) continue;
      best = std::min(best, m.risk);
      json jm{{"r", m.r}, {"risk", m.risk}, {"global", m.global}};
      if (m.flat) jm["flat"] = true;
      else {
        jm["curvature"] = m.curvature;
        jm["basin_width"] = m.basin_width;
        jm["basin_open"] = m.basin_open;
      }
      ms.push_back(jm);
    }
    jd["minima"] = ms;
    jd["landscape_best_risk"] = best;
    jd["gap_to_engine"] = best - r.engine_best[d];
    jd["ratio_linear_to_best"] = r.linear / best;
    depths.push_back(jd);
  }
  j["depths"] = depths;
  j["seconds"] = r.seconds;
  return j.dump(2) + "\n";
}

namespace {

/// Points per curve in the figure's data block (the CSV keeps all of them).
constexpr size_t kPlottedPoints = 2000;
const char* const kLandscapeColours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                         "#66a61e", "#e6ab02", "#a6761d", "#666666"};

// E(r) per depth with its minima (filled: global, open: local).
std::string landscape_curve_plot(const LandscapeResult& r, const std::string& setting, double cap) {
  const LandscapeOptions& o = r.options;
  const auto& colours = kLandscapeColours;
  std::ostringstream s;
  s.precision(12);
  s << "$C << EOD\n";
  const size_t stride = std::max<size_t>(1, r.r.size() / kPlottedPoints);
  for (size_t i = 0; i < r.r.size(); i += stride) {
    s << r.r[i];
    for (const auto& c : r.curves) s << ' ' << c[i];
    s << '\n';
  }
  s << "EOD\n$M << EOD\n";
  for (const auto& m : r.minima)
    if (!m.flat) s << m.depth << ' ' << m.r << ' ' << m.risk << ' ' << (m.global ? 1 : 0) << '\n';
  s << "EOD\n";
  s << "set termoption noenhanced\nset border lw 1.2\nset tics out nomirror\n"
    << "set title " << gp_dq("Risk landscape E(r), " + setting + ", ω = " + fmt_num(o.stepsize) +
                             "\nfilled circles: global minima, open circles: other local minima") << "\n"
    << "set xlabel 'r (the regularizer R = r)'\nset ylabel 'risk E(r)'\n"
    << "set grid lc rgb '#dddddd'\nset key outside right top box opaque\n"
    << "set xrange [0:" << o.r_upper() << "]\nset yrange [" << r.linear * 0.9 << ":" << cap << "]\n"
    << "set format y '%.3g'\n";
  s << "plot " << r.linear << " with lines lw 2 dt 2 lc rgb 'black' title 'best linear'";
  for (size_t d = 0; d < o.depths.size(); ++d)
    s << ", $C using 1:" << d + 2 << " with lines lw 2.2 lc rgb '" << colours[d % 8] << "' title "
      << gp_dq("N = " + std::to_string(o.depths[d]));
  for (size_t d = 0; d < o.depths.size(); ++d) {
    s << ", $M using ($1==" << o.depths[d] << " && $4==1 ? $2 : 1/0):3 with points pt 7 ps 1.8 lc rgb '"
      << colours[d % 8] << "' notitle";
    s << ", $M using ($1==" << o.depths[d] << " && $4==0 ? $2 : 1/0):3 with points pt 6 ps 1.8 lw 2 lc rgb '"
      << colours[d % 8] << "' notitle";
  }
  s << "\n";
  return s.str();
}

// Heatmaps over (r, omega), one panel per depth; cols x rows panels.
std::string landscape_heatmap_plot(const LandscapeResult& r, const std::string& setting, double cap, int& cols,
                                   int& rows) {
  const LandscapeOptions& o = r.options;
  // Heatmaps over (r, omega), one panel per depth, shared colour scale clipped at `cap`.
  std::ostringstream h;
  h.precision(8);
  for (size_t d = 0; d < o.depths.size(); ++d) {
    h << "$H" << d << " << EOD\n";
    for (size_t iw = 0; iw < r.heat_omega.size(); ++iw) {
      for (size_t ir = 0; ir < r.heat_r.size(); ++ir)
        h << r.heat_r[ir] << ' ' << r.heat_omega[iw] << ' ' << std::min(r.heat[d][iw * r.heat_r.size() + ir], cap) << '\n';
      h << '\n';
    }
    h << "EOD\n";
  }
  const size_t nd = o.depths.size();
  cols = nd <= 3 ? int(nd) : 3, rows = int((nd + 2) / 3);
  const double dr = 0.5 * r.heat_r.back() / double(r.heat_r.size() - 1);
  const double dw = 0.5 * (r.heat_omega.back() - r.heat_omega.front()) / double(r.heat_omega.size() - 1);
  h << "set termoption noenhanced\nset tics out nomirror\n"
    << "set palette defined (0 '#440154', 1 '#3b528b', 2 '#21908d', 3 '#5dc963', 4 '#fde725')\n"
    << "set cbrange [" << r.linear << ":" << cap << "]\nset format cb '%.2g'\n"
    << "set xrange [" << -dr << ":" << r.heat_r.back() + dr << "]\n"
    << "set yrange [" << r.heat_omega.front() - dw << ":" << r.heat_omega.back() + dw << "]\n"
    << "set xlabel 'r'\nset ylabel 'ω'\nunset key\n"
    << "set multiplot layout " << rows << "," << cols << " title "
    << gp_dq("Risk E(r, ω), " + setting + " (colour clipped at " + fmt_num(cap) +
             "; orange dots: minima in r for each ω; dashed: ω = " + fmt_num(o.stepsize) + ", circles: its minima)")
    << "\n";
  for (size_t d = 0; d < nd; ++d) {
    h << "set title " << gp_dq("N = " + std::to_string(o.depths[d])) << "\n"
      << "plot $H" << d << " using 1:2:3 with image, " << o.stepsize << " with lines dt 2 lw 1.5 lc rgb 'white'"
      << ", $V using ($1==" << o.depths[d] << " ? $3 : 1/0):2 with points pt 7 ps 0.35 lc rgb '#ff7f00'"
      << ", $M using ($1==" << o.depths[d] << " ? $2 : 1/0):(" << o.stepsize
      << ") with points pt 6 ps 1.6 lw 2 lc rgb 'white'\n";
  }
  h << "unset multiplot\n";
  // The minima data block is shared with the first figure's script: repeat it here.
  std::ostringstream mblock;
  mblock.precision(12);
  mblock << "$M << EOD\n";
  for (const auto& m : r.minima)
    if (!m.flat) mblock << m.depth << ' ' << m.r << ' ' << m.risk << ' ' << (m.global ? 1 : 0) << '\n';
  mblock << "EOD\n$V << EOD\n";
  for (const auto& m : r.heat_minima) mblock << m.depth << ' ' << m.stepsize << ' ' << m.r << '\n';
  mblock << "EOD\n";
  return mblock.str() + h.str();
}

std::string landscape_valleys_csv(const LandscapeResult& r) {
  std::string v = "N,omega,r,risk,curvature,basin_width,basin_open\n";
  char buf[200];
  for (const auto& m : r.heat_minima) {
    std::snprintf(buf, sizeof buf, "%d,%.17g,%.17g,%.17g,%.17g,%.17g,%s\n", m.depth, m.stepsize, m.r, m.risk,
                  m.curvature, m.basin_width, m.basin_open ? "true" : "false");
    v += buf;
  }
  return v;
}

}  // namespace

const std::vector<std::string> kLandscapeSuffixes{".csv",         "_minima.csv",  ".json", "_valleys.csv",
                                                  ".png",         ".svg",         "_heatmap.png", "_heatmap.svg"};

std::vector<fs::path> write_landscape(const LandscapeResult& r, const fs::path& target, bool figures,
                                      io::Existing existing) {
  io::StagedFiles staged(target, kLandscapeSuffixes, existing);
  const fs::path prefix = staged.prefix();
  const LandscapeOptions& o = r.options;
  const double cap = std::max(r.gamma, o.sigma * o.sigma);  // twice the risk of T = 0 or T = I
  const std::string setting = "k = n = 1 (R = r), μ = " + fmt_num(o.mu) + ", θ = " + fmt_num(o.theta) +
                              ", σ = " + fmt_num(o.sigma);
  if (figures) {
    write_figure(prefix, landscape_curve_plot(r, setting, cap), "1200,750");
    int cols = 1, rows = 1;
    const std::string heat = landscape_heatmap_plot(r, setting, cap, cols, rows);
    write_figure(prefix.string() + "_heatmap", heat,
                 std::to_string(460 * cols + 80) + "," + std::to_string(400 * rows + 80), SvgPass::Replay);
  }
  io::write_atomic(prefix.string() + ".csv", landscape_csv(r));
  io::write_atomic(prefix.string() + "_minima.csv", landscape_minima_csv(r));
  io::write_atomic(prefix.string() + ".json", landscape_json(r));
  io::write_atomic(prefix.string() + "_valleys.csv", landscape_valleys_csv(r));
  staged.commit();
  std::vector<fs::path> files{staged.target(".csv"), staged.target("_minima.csv"), staged.target(".json"),
                              staged.target("_valleys.csv")};
  if (figures)
    for (const char* s : {".png", ".svg", "_heatmap.png", "_heatmap.svg"}) files.push_back(staged.target(s));
  return files;
}

}  // namespace varlearn::study
