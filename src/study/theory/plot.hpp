#pragma once
// Private helpers of the theory studies: number formatting and gnuplot bodies (heatmap with a
// colour bar, line plot). Not installed: include only from src/study/theory_*.cpp.
#include <filesystem>
#include <string>
#include <vector>

#include "varlearn/study/theory_study.hpp"

namespace varlearn::study {

/// Shortest round-trip-ish text of a number (%.6g, integers without exponent up to 1e15).
std::string fmt_num(double v);
/// A gnuplot double-quoted string (escapes \ and ", newline as \n).
std::string gp_dq(const std::string& s);
/// Nice tic values (1, 2, 5 x 10^d, or 1..9 x 10^d when few) inside [lo, hi], lo > 0.
std::vector<double> log_tics(double lo, double hi);
/// "set xtics (...)" style list for a log axis plotted in log10 coordinates.
std::string log10_tic_list(double lo, double hi);

/// Colour scale: sequential (viridis) or, for a ratio straddling 1, diverging around 1 on a
/// log scale; log scale also when positive values span more than a factor 50.
std::string colour_scale(const std::vector<double>& values, bool ratio);

/// Heatmap of values (row-major, y outer) on the nominal grids xs, ys of the axes.
std::string heatmap_body(const std::vector<double>& xs, const std::vector<double>& ys,
                         const std::vector<double>& values, const Axis& x, const Axis& y,
                         const std::string& value_label, const std::string& title, bool ratio);
/// Line plot of a one-dimensional sweep.
std::string line_plot_body(const std::vector<double>& xs, const std::vector<double>& values, const Axis& x,
                           const std::string& value_label, const std::string& title, bool ratio);

/// Axis label with the talk's symbol, e.g. "θ (signal std)".
std::string axis_label(Param p);

}  // namespace varlearn::study
