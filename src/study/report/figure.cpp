#include "figure.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else out += c;
  }
  return out + "'";
}

void write_figure(const fs::path& prefix, const std::string& body, const std::string& size, SvgPass svg_pass) {
  const std::string tag = ".tmp." + std::to_string(::getpid());
  const fs::path png = prefix.string() + ".png", svg = prefix.string() + ".svg";
  const fs::path png_tmp = png.string() + tag, svg_tmp = svg.string() + tag;
  const fs::path script = prefix.string() + ".gp" + tag;
  const fs::path errlog = prefix.string() + ".err" + tag;
  std::ostringstream gp;
  gp << "set encoding utf8\n"
     << "set terminal pngcairo size " << size << " enhanced font 'DejaVu Sans,14'\n"
     << "set output " << gp_quote(png_tmp.string()) << "\n"
     << body << "\nunset output\n" << (svg_pass == SvgPass::Replay ? "reset\n" : "")
     << "set terminal svg size " << size << " enhanced font 'DejaVu Sans,14' background '#ffffff'\n"
     << "set output " << gp_quote(svg_tmp.string()) << "\n"
     << (svg_pass == SvgPass::Replay ? body : std::string("replot")) << "\nunset output\n";
  io::write_atomic(script, gp.str());
  const std::string cmd = "gnuplot " + gp_quote(script.string()) + " 2>" + gp_quote(errlog.string());
  const int rc = std::system(cmd.c_str());
  std::string err;
  {
    std::ifstream in(errlog);
    std::ostringstream ss;
    ss << in.rdbuf();
    err = ss.str();
  }
  std::error_code ec;
  fs::remove(script, ec);
  fs::remove(errlog, ec);
  if (rc != 0 || !fs::exists(png_tmp) || !fs::exists(svg_tmp)) {
    fs::remove(png_tmp, ec);
    fs::remove(svg_tmp, ec);
    if (err.size() > 400) err = err.substr(0, 400) + "...";
    for (char& c : err)
      if (c == '\n') c = ' ';
    throw Error("figure '" + prefix.string() + "': gnuplot failed" + (err.empty() ? "" : ": " + err),
                Error::Kind::Internal);
  }
  fs::rename(png_tmp, png, ec);
  if (!ec) fs::rename(svg_tmp, svg, ec);
  if (ec) throw Error("figure '" + prefix.string() + "': " + ec.message(), Error::Kind::Internal);
}

}  // namespace varlearn::study
