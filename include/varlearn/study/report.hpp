#pragma once
/// \file report.hpp
/// `varlearn reproduce`: one folder with report.md, its figures and its data. Each
/// capability contributes one section: a function that writes its files under
/// `ctx.dir / <section name>` and returns the section's markdown (paths relative to ctx.dir).
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "varlearn/study/journal.hpp"

namespace varlearn::study {

/// A study's log: one short human line per step (the library never prints). Iterative
/// methods report through optim::Progress instead; this is the studies' line of text.
using Log = std::function<void(const std::string&)>;
/// The same log, one line at a time: for studies that log from worker threads (empty stays empty).
Log serialized_log(const Log& log);

struct ReportContext {
  std::filesystem::path dir;  ///< report folder (exists, writable)
  bool quick = false;         ///< smaller grids / corpora, for a fast look
  Log log;                    ///< may be empty
  /// The section's own journal (reproduce --resume; disabled otherwise): a study section
  /// journals its configurations there (Journal::nested).
  Journal journal;
  bool full = false;          ///< the bigger sweeps (restore: the study's whole default grid)
  void say(const std::string& line) const {
    if (log) log(line);
  }
};

std::string theory_section(const ReportContext& ctx);   ///< theory engine + maps
std::string denoise_section(const ReportContext& ctx);  ///< speech denoising study
std::string dequant_section(const ReportContext& ctx);  ///< speech dequantization study

/// Speech restoration (bilevel vs unrolled, learned nonlinear regularizers) from finished
/// `study restore` folders, one per task run (results.json; optional wav/, filters/): for each,
/// generated findings for "which is better?" and "does unrolling converge to bilevel?", a
/// table and figures (written into `<run>/figures/`). Paths in the markdown are relative to
/// ctx.dir, so the runs normally live under `ctx.dir / "restore"`. Throws Error when a
/// folder has no readable results.json with `task` and `configs`.
std::string restore_section(const ReportContext& ctx, const std::vector<std::filesystem::path>& runs);
/// One run's part of restore_section (its figures are written too), paths relative to `base`.
std::string restore_findings(const std::filesystem::path& run, const std::filesystem::path& base);

struct ReproduceOptions {
  std::filesystem::path out = "report";            ///< report folder (--out)
  bool quick = false;                              ///< see ReportContext::quick (--quick)
  std::vector<std::string> sections{"theory", "denoise", "dequant", "restore"};  ///< which, in order (--sections)
  bool full = false;    ///< the bigger sweeps (--full; ReportContext::full)
  bool force = false;   ///< replace an existing report folder as a whole (--force)
  /// Journal finished sections (markdown and files) and the study sections' configurations
  /// in `out.partial`, and reuse what an interrupted run left there (--resume).
  bool resume = false;
  /// Throws Error on an unknown or repeated section, or a bad or existing (without force) out.
  void validate() const;
};

/// Runs the sections into a temporary folder and renames it to `out` when complete (nothing is
/// created on failure); returns the path of `out/report.md`.
std::filesystem::path reproduce(const ReproduceOptions& options, const Log& log = {});

}  // namespace varlearn::study
