#pragma once
/// \file figure.hpp
/// Figures through gnuplot: PNG (pngcairo) and SVG from one script body, written
/// atomically (gnuplot renders to temporary names, then they are renamed).
#include <filesystem>
#include <string>

namespace varlearn::study {

/// Renders `body` (gnuplot commands after `set terminal`/`set output`) to
/// `prefix.png` (1000x700 unless `size` is given as "W,H") and `prefix.svg`.
/// Throws Error when gnuplot is missing or fails (its stderr is in the message).
void write_figure(const std::filesystem::path& prefix, const std::string& body,
                  const std::string& size = "1000,700");

/// Quotes a string for a gnuplot script ('...' with embedded quotes doubled).
std::string gp_quote(const std::string& s);

}  // namespace varlearn::study
