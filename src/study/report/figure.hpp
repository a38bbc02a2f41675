#pragma once
/// \file figure.hpp
/// Figures through gnuplot: PNG (pngcairo) and SVG from one script body, written
/// atomically (gnuplot renders to temporary names, then they are renamed).
#include <filesystem>
#include <string>

namespace varlearn::study {

/// How the SVG is drawn after the PNG: `replot` the last plot (enough for one plot), or
/// `reset` and run the whole body again (needed for multiplot figures, which replot loses).
enum class SvgPass { Replot, Replay };

/// Renders `body` (gnuplot commands after `set terminal`/`set output`) to
/// `prefix.png` (1000x700 unless `size` is given as "W,H") and `prefix.svg`.
/// Throws Error when gnuplot is missing, fails (its stderr is in the message) or runs past
/// gnuplot_timeout_seconds() (then it is killed).
void write_figure(const std::filesystem::path& prefix, const std::string& body,
                  const std::string& size = "1000,700", SvgPass svg = SvgPass::Replot);

/// How long one gnuplot run may take before it is killed: 120 s, or the environment variable
/// VARLEARN_GNUPLOT_TIMEOUT (seconds; an Error when it is not a number in (0, 86400]).
inline constexpr double kGnuplotTimeoutSeconds = 120;
double gnuplot_timeout_seconds();

/// Quotes a string for a gnuplot script ('...' with embedded quotes doubled).
std::string gp_quote(const std::string& s);

}  // namespace varlearn::study
