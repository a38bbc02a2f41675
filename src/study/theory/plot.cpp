// gnuplot bodies for the theory studies (heatmaps with colour bar, line plots).
#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <fstream>
#include <unistd.h>

#include "../report/figure.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"

namespace varlearn::study {

std::string fmt_num(double v) {
  char buf[64];
  if (std::isfinite(v) && v == std::round(v) && std::abs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string gp_dq(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out + "\"";
}

std::vector<double> log_tics(double lo, double hi) {
  std::vector<double> out;
  if (!(lo > 0) || !(hi > lo)) return out;
  for (const std::vector<double>& mant : {std::vector<double>{1}, std::vector<double>{1, 2, 5},
                                          std::vector<double>{1, 2, 3, 5, 7}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
    out.clear();
    for (int d = int(std::floor(std::log10(lo))) - 1; d <= int(std::ceil(std::log10(hi))) + 1; ++d)
      for (double m : mant) {
        const double v = m * std::pow(10.0, d);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push_back(v);
      }
    if (out.size() >= 4 && out.size() <= 12) return out;
    if (out.size() > 12 && mant.size() == 1) return out;
  }
  if (out.size() > 12) {  // thin out evenly
    std::vector<double> thin;
    const size_t step = (out.size() + 9) / 10;
    for (size_t i = 0; i < out.size(); i += step) thin.push_back(out[i]);
    out = thin;
  }
  if (out.size() < 2) out = {lo, hi};
  return out;
}

std::string log10_tic_list(double lo, double hi) {
  std::ostringstream s;
  s << "(";
  const auto t = log_tics(lo, hi);
  for (size_t i = 0; i < t.size(); ++i) s << (i ? ", " : "") << gp_dq(fmt_num(t[i])) << " " << std::log10(t[i]);
  s << ")";
  return s.str();
}

std::string axis_label(Param p) {
  switch (p) {
    case Param::K: return "k (rank of R)";
    case Param::Theta: return "θ (signal standard deviation)";
    case Param::Sigma: return "σ (noise standard deviation)";
    case Param::Mu: return "μ (signal mean)";
    case Param::Depth: return "N (unrolling depth)";
    case Param::Stepsize: return "ω (stepsize)";
    case Param::Dim: return "n (signal dimension)";
  }
  return "";
}

std::string colour_scale(const std::vector<double>& values, bool ratio) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  std::ostringstream s;
  const char* viridis = "set palette defined (0 '#440154', 1 '#3b528b', 2 '#21908d', 3 '#5dc963', 4 '#fde725')\n";
  if (!std::isfinite(lo)) return std::string(viridis) + "set cbrange [0:1]\n";
  if (hi - lo <= 1e-6 * std::max(std::abs(lo), std::abs(hi))) {  // constant up to rounding
    const double c = 0.5 * (lo + hi), d = std::max(1e-3 * std::abs(c), 1e-12);
    s << viridis << "set cbrange [" << c - d << ":" << c + d << "]\nset format cb '%.5g'\n";
    return s.str();
  }
  if (ratio && lo > 0 && lo < 1 - 1e-6 && hi > 1 + 1e-6) {  // both sides of 1, beyond rounding
    const double m = std::max(hi, 1 / lo);
    s << "set palette defined (0 '#2166ac', 0.25 '#92c5de', 0.5 '#f7f7f7', 0.75 '#f4a582', 1 '#b2182b')\n"
      << "set logscale cb\nset cbrange [" << 1 / m << ":" << m << "]\nset cbtics (";
    const auto tics = log_tics(1 / m, m);
    for (size_t i = 0; i < tics.size(); ++i) s << (i ? ", " : "") << gp_dq(fmt_num(tics[i])) << " " << tics[i];
    s << ")\n";
    return s.str();
  }
  s << viridis;
  if (lo > 0 && hi / lo > 50) {
    s << "set logscale cb\nset cbrange [" << lo << ":" << hi << "]\nset cbtics (";
    const auto tics = log_tics(lo, hi);
    for (size_t i = 0; i < tics.size(); ++i) s << (i ? ", " : "") << gp_dq(fmt_num(tics[i])) << " " << tics[i];
    s << ")\n";
  } else {
    if (hi == lo) {
      const double d = std::max(std::abs(lo) * 1e-6, 1e-12);
      lo -= d, hi += d;
    }
    // Enough significant digits that neighbouring tic labels differ.
    const double mag = std::max(std::abs(lo), std::abs(hi));
    const int digits = std::clamp(int(std::ceil(std::log10(mag / (hi - lo)))) + 2, 3, 10);
    s << "set cbrange [" << lo << ":" << hi << "]\nset format cb '%." << digits << "g'\n";
  }
  return s.str();
}

namespace {

std::string common_style() {
  return "set termoption noenhanced\n"
         "set border lw 1.2\n"
         "set tics out nomirror\n";
}

/// Range and tics of one heatmap axis; plotted coordinate c(v) = v or log10(v).
void heat_axis(std::ostringstream& s, const char* ax, const Axis& a, const std::vector<double>& vs) {
  auto c = [&](double v) { return a.log ? std::log10(v) : v; };
  const double half = 0.5 * (c(vs.back()) - c(vs.front())) / double(vs.size() - 1);
  s << "set " << ax << "range [" << c(vs.front()) - half << ":" << c(vs.back()) + half << "]\n";
  if (a.log) s << "set " << ax << "tics " << log10_tic_list(vs.front(), vs.back()) << "\n";
  else s << "set " << ax << "tics autofreq\n";
  s << "set " << ax << "label " << gp_dq(axis_label(a.param)) << "\n";
}

}  // namespace

std::string heatmap_body(const std::vector<double>& xs, const std::vector<double>& ys,
                         const std::vector<double>& values, const Axis& x, const Axis& y,
                         const std::string& value_label, const std::string& title, bool ratio) {
  std::ostringstream s;
  s.precision(10);
  s << "$D << EOD\n";
  for (size_t iy = 0; iy < ys.size(); ++iy) {
    for (size_t ix = 0; ix < xs.size(); ++ix) {
      const double v = values[iy * xs.size() + ix];
      s << (x.log ? std::log10(xs[ix]) : xs[ix]) << ' ' << (y.log ? std::log10(ys[iy]) : ys[iy]) << ' ';
      if (std::isfinite(v)) s << v;
      else s << "NaN";
      s << '\n';
    }
    s << '\n';
  }
  s << "EOD\n" << common_style();
  s << "set title " << gp_dq(title) << "\n";
  heat_axis(s, "x", x, xs);
  heat_axis(s, "y", y, ys);
  s << colour_scale(values, ratio);
  s << "set cblabel " << gp_dq(value_label) << " offset 1,0\n"
    << "set colorbox vertical user origin screen 0.84, screen 0.14 size screen 0.025, screen 0.70\n"
    << "set lmargin at screen 0.11\nset rmargin at screen 0.80\nset bmargin at screen 0.12\nset tmargin at screen 0.86\n"
    << "plot $D using 1:2:3 with image notitle\n";
  return s.str();
}

std::string line_plot_body(const std::vector<double>& xs, const std::vector<double>& values, const Axis& x,
                           const std::string& value_label, const std::string& title, bool ratio) {
  std::ostringstream s;
  s.precision(12);
  s << "$D << EOD\n";
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (size_t i = 0; i < xs.size(); ++i) {
    s << xs[i] << ' ' << values[i] << '\n';
    if (std::isfinite(values[i])) lo = std::min(lo, values[i]), hi = std::max(hi, values[i]);
  }
  s << "EOD\n" << common_style();
  s << "set title " << gp_dq(title) << "\n"
    << "set xlabel " << gp_dq(axis_label(x.param)) << "\nset ylabel " << gp_dq(value_label) << "\n"
    << "set grid lc rgb '#dddddd'\nset key off\n";
  if (x.log) s << "set logscale x\nset xtics " << [&] {
      std::ostringstream t;
      t << "(";
      const auto tics = log_tics(xs.front(), xs.back());
      for (size_t i = 0; i < tics.size(); ++i) t << (i ? ", " : "") << gp_dq(fmt_num(tics[i])) << " " << tics[i];
      t << ")";
      return t.str();
    }() << "\n";
  s << "set xrange [" << xs.front() << ":" << xs.back() << "]\n";
  const bool logy = lo > 0 && hi / lo > 50;
  if (logy) s << "set logscale y\nset format y '%g'\n";
  else if (hi > lo) {
    const double mag = std::max(std::abs(lo), std::abs(hi));
    const int digits = std::clamp(int(std::ceil(std::log10(mag / (hi - lo)))) + 2, 3, 10);
    s << "set format y '%." << digits << "g'\n";
  }
  s << "set lmargin 14\n";
  s << "plot $D using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc rgb '#21608d' notitle";
  if (ratio && lo <= 1 && hi >= 1) s << ", 1 with lines dt 2 lc rgb '#888888' notitle";
  s << "\n";
  return s.str();
}

}  // namespace varlearn::study
