#pragma once
// The output folder of `study denoise`, `study dequant` and `reproduce`: --out, --force,
// --resume. Checked before any work; the results are written into a temporary folder and
// renamed into place only when complete (io::StagedDir); with --resume, each finished
// configuration is journaled in OUT.partial (study::Journal) and reused by the next --resume.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>

#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/study/journal.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::cli {

/// The studies' progress on stderr, one line each: "[TAG 12.3 s] line" (time since the start).
inline study::Log stderr_log(std::string tag) {
  return [tag = std::move(tag), start = Stopwatch()](const std::string& line) {
    std::cerr << "[" << tag << " " << format_fixed(start.seconds(), 1) << " s] " << line << std::endl;
  };
}

struct StudyOutput {
  std::string out;
  bool force = false, resume = false;

  void add(CLI::App* sub, const std::string& out_help, const std::string& unit) {
    sub->add_option("--out", out, out_help)->required();
    sub->add_flag("--force", force, "Replace an existing --out folder as a whole (no stale files remain)");
    sub->add_flag("--resume", resume,
                  "Record each finished " + unit + " in OUT.partial as it goes, and reuse what an interrupted run "
                  "with the same options recorded there; removed once OUT is complete");
  }
  io::Existing existing() const { return force ? io::Existing::Replace : io::Existing::Refuse; }
  /// Before any work: --out is a possible folder name, absent unless --force.
  void check() const { io::StagedDir::check(out, existing()); }
  /// The journal (disabled without --resume); throws when OUT.partial was made with other options.
  study::Journal journal(nlohmann::json fingerprint) const {
    if (!resume) return {};
    return study::Journal(study::Journal::partial_path(out), std::move(fingerprint));
  }
  /// Writes into a temporary folder, renames it into place, then drops the journal (under
  /// mpirun: rank 0 alone).
  void write(const std::function<void(const std::filesystem::path&)>& writer, const study::Journal& journal) const {
    if (!dist::is_root()) return;
    io::StagedDir staged(out, existing());
    writer(staged.path());
    staged.commit();
    journal.remove();
  }
};

}  // namespace varlearn::cli
