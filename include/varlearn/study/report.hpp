#pragma once
/// \file report.hpp
/// `varlearn reproduce`: one folder with report.md, its figures and its data. Each
/// capability contributes one section: a function that writes its files under
/// `ctx.dir / <section name>` and returns the section's markdown (paths relative to ctx.dir).
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace varlearn::study {

/// A study's log: one short human line per step (the library never prints). Iterative
/// methods report through optim::Progress instead; this is the studies' line of text.
using Log = std::function<void(const std::string&)>;

struct ReportContext {
  std::filesystem::path dir;  ///< report folder (exists, writable)
  bool quick = false;         ///< smaller grids / corpora, for a fast look
  Log log;                    ///< may be empty
  void say(const std::string& line) const {
    if (log) log(line);
  }
};

std::string theory_section(const ReportContext& ctx);   ///< theory engine + maps
std::string denoise_section(const ReportContext& ctx);  ///< speech denoising study
std::string dequant_section(const ReportContext& ctx);  ///< speech dequantization study

struct ReproduceOptions {
  std::filesystem::path out = "report";            ///< report folder
  bool quick = false;                              ///< see ReportContext::quick
  std::vector<std::string> sections{"theory", "denoise", "dequant"};  ///< which, in order
};

/// Runs the sections and writes `out/report.md` atomically; returns its path.
std::filesystem::path reproduce(const ReproduceOptions& options, const Log& log = {});

}  // namespace varlearn::study
