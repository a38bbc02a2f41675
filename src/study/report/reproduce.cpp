// `varlearn reproduce`: the sections in order, into a temporary folder renamed into place when
// complete (io::StagedDir). With --resume each finished section is journaled in OUT.partial
// (its markdown, and a copy of its files) and the study sections journal their
// configurations there too, so a rerun with --resume continues where the last one stopped.
#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>

#include "varlearn/audio/corpus.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/timer.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/study/report.hpp"
#include "varlearn/study/denoise_study.hpp"
#include "varlearn/study/dequant_depth.hpp"
#include "varlearn/study/dequant_study.hpp"
#include "varlearn/study/restore_study.hpp"

namespace varlearn::study {
namespace fs = std::filesystem;

namespace {

// ---- the restore section ------------------------------------------------------------------
// Each run writes the `study restore` outputs (results.json, wav/, filters/) into
// ctx.dir / "restore" / <label>, where restore_section() reads them and draws its figures.
// The models are trained on the asterisk prompts (four languages) and tested on a language and
// speaker never seen in training, with codec2's test files as a second test set. The default
// grid keeps the report within its budget; --full runs the study's whole default grid.

/// The restore runs of the report: label (folder under restore/), task, sigma.
struct RestoreRun {
  const char* label;
  const char* task;
  double sigma;
};
constexpr RestoreRun kRestoreRuns[] = {{"denoise", "denoise", 0.1}, {"denoise_sigma0.05", "denoise", 0.05}, {"inpaint", "inpaint", 0.01}};

/// Runs the restore study for every task of kRestoreRuns; returns the result folders.
std::vector<fs::path> restore_step(const ReportContext& ctx) {
  std::vector<fs::path> runs;
  for (const RestoreRun& run : kRestoreRuns) {
    const fs::path out = ctx.dir / "restore" / run.label;
    const RestoreOptions o = report_restore_options(run.task, run.sigma, ctx.quick, ctx.full);
    ctx.say(std::string("restore: ") + run.label);
    const RestoreResults r =
        run_restore_study(o, ctx.log, ctx.journal.nested(std::string("restore-") + run.label, restore_fingerprint(o)));
    write_restore_outputs(r, out);
    runs.push_back(out);
  }
  return runs;
}


/// The sections whose studies spread their configurations over the ranks under mpirun.
bool distributed_section(const std::string& name) { return name == "restore" || name == "denoise" || name == "dequant"; }

/// Under mpirun, ranks other than 0: they take part in the restore, denoise and dequant
/// sections' studies (their configurations are spread over the ranks; rank 0 writes every file)
/// and wait, idle, while rank 0 runs the theory section alone. Rank 0 says at each of those
/// sections whether it runs it ("run") or reloads it from its journal ("skip").
void help_reproduce(const ReproduceOptions& options) {
  for (const std::string& name : options.sections) {
    if (!distributed_section(name)) continue;
    dist::idle_barrier();
    std::string word;
    dist::broadcast(word);
    if (word != "run") continue;
    if (name == "denoise") {
      run_denoise_study(report_denoise_options(options.quick), {}, Journal());
      continue;
    }
    if (name == "dequant") {  // the section's two runs, in dequant_section()'s order
      run_dequant_study(report_dequant_options(options.quick), {}, Journal());
      run_dequant_study(depth_analysis_options(options.quick), {}, Journal());
      continue;
    }
    for (const RestoreRun& run : kRestoreRuns)
      run_restore_study(report_restore_options(run.task, run.sigma, options.quick, options.full), {}, Journal());
  }
}

const std::vector<std::string> kSections = [] {
  return std::vector<std::string>{"theory", "denoise", "dequant", "restore"};
}();

std::string run_section(const std::string& name, const ReportContext& ctx) {
  if (name == "theory") return theory_section(ctx);
  if (name == "denoise") return denoise_section(ctx);
  if (name == "restore") return restore_section(ctx, restore_step(ctx));
  return dequant_section(ctx);
}

void copy_folder(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec) throw Error("cannot copy '" + from.string() + "' to '" + to.string() + "': " + ec.message());
}

/// A finished section from the journal: its files copied into the report, its markdown; or
/// nothing when the journal does not hold it whole.
std::optional<std::string> reload_section(const Journal& journal, const std::string& name, const fs::path& dir) {
  const auto done = journal.find("section-" + name);
  const fs::path files = journal.dir() / ("section-" + name + ".files");
  std::error_code ec;
  if (!done || !fs::is_directory(files, ec)) return std::nullopt;
  copy_folder(files, dir / name);
  return done->at("markdown").get<std::string>();
}

/// Records a finished section: a copy of its files (complete before its entry is written),
/// then its markdown; its study's own journal is no longer needed.
void record_section(const Journal& journal, const std::string& name, const fs::path& dir, const std::string& md) {
  if (!journal.enabled()) return;
  const fs::path files = journal.dir() / ("section-" + name + ".files");
  std::error_code ec;
  fs::create_directories(journal.dir(), ec);
  const fs::path tmp = files.string() + ".tmp";
  if (fs::exists(dir / name, ec)) copy_folder(dir / name, tmp);
  else fs::create_directories(tmp, ec);
  fs::remove_all(files, ec);
  fs::rename(tmp, files, ec);
  if (ec) throw Error("cannot record section '" + name + "' in '" + journal.dir().string() + "': " + ec.message());
  journal.record("section-" + name, {{"markdown", md}});
  fs::remove_all(journal.dir() / name, ec);
}

}  // namespace

RestoreOptions report_restore_options(const std::string& task, double sigma, bool quick, bool full) {
  constexpr double kReportTestSeconds = 60;  // per test set (the study's default is 120 s)
  RestoreOptions o;
  o.task = task;
  o.sigma = sigma;
  o.quick = quick;
  const audio::CorpusSpec spec = audio::asterisk_corpus(quick);
  o.train_files = spec.train;
  o.test_files = spec.test;
  o.extra_tests = spec.extra_tests;
  o.rate = spec.rate;
  o.corpus = spec.name;
  o.test_name = spec.test_name;
  if (!quick && !full) {
    o.regularizers = {"analysis", "analysis-student"};
    o.depths = {1, 3, 10};
    o.test_seconds = kReportTestSeconds;
  }
  return o;
}

void ReproduceOptions::validate() const {
  std::set<std::string> seen;
  for (const std::string& name : sections) {
    if (std::find(kSections.begin(), kSections.end(), name) == kSections.end())
      throw Error("reproduce: unknown section '" + name + "' (theory, denoise, dequant, restore)");
    if (!seen.insert(name).second) throw Error("reproduce: section '" + name + "' is given twice");
  }
  if (sections.empty()) throw Error("reproduce: no section given (--sections)");
  io::StagedDir::check(out, force ? io::Existing::Replace : io::Existing::Refuse);
}

std::filesystem::path reproduce(const ReproduceOptions& options, const Log& log) {
  options.validate();  // before any work: nothing is created on bad input
  if (!dist::is_root()) {  // under mpirun (docs/scale-out.md): rank 0 writes the report
    help_reproduce(options);
    return options.out / "report.md";
  }
  const io::Existing existing = options.force ? io::Existing::Replace : io::Existing::Refuse;
  const Journal journal = options.resume ? Journal(Journal::partial_path(options.out),
                                                   {{"report", "reproduce"}, {"quick", options.quick}})
                                         : Journal();
  io::StagedDir staged(options.out, existing);
  ReportContext ctx{staged.path(), options.quick, log, {}, options.full};
  std::ostringstream md;
  md << "# varlearn report\n\n"
     << "Reproduces the study of Brauer, Breustedt, de Wolff, Lorenz, *Learning Variational Models "
        "with Unrolling and Bilevel Optimization* (talk: \"Learning regularizers — bilevel "
        "optimization or unrolling?\"). Every number below was computed by this run"
     << (options.quick ? " (`--quick`: reduced grids and corpora)" : "") << ".\n\n";
  for (const std::string& name : options.sections) {
    const Stopwatch start;
    auto reloaded = reload_section(journal, name, ctx.dir);
    if (distributed_section(name)) {  // the other ranks train the section's configurations with rank 0
      dist::idle_barrier();
      std::string word = reloaded ? "skip" : "run";
      dist::broadcast(word);
    }
    if (auto text = reloaded) {
      ctx.say("section " + name + ": reloaded from " + journal.dir().string() + " (resumed)");
      md << *text << "\n";
      continue;
    }
    ctx.say("section " + name + " ...");
    ctx.journal = journal;  // the study sections nest their own journal under it
    std::string text;
    if (distributed_section(name) || dist::size() == 1) {
      text = run_section(name, ctx);
    } else {
      const dist::Alone alone;  // the other sections: rank 0 alone (the other ranks wait, idle)
      text = run_section(name, ctx);
    }
    record_section(journal, name, ctx.dir, text);
    const double secs = start.seconds();
    std::ostringstream t;
    t.precision(3);
    t << secs;
    ctx.say("section " + name + " done in " + t.str() + " s");
    md << text << "\n";
  }
  io::write_atomic(staged.path() / "report.md", md.str());
  staged.commit();
  journal.remove();
  return options.out / "report.md";
}

}  // namespace varlearn::study
