#include <iostream>

#include "commands.hpp"
#include "study_output.hpp"
#include "options.hpp"
#include "varlearn/study/budget.hpp"
#include "varlearn/study/report.hpp"

namespace varlearn::cli {
void add_reproduce(CLI::App& app) {
  auto opts = std::make_shared<study::ReproduceOptions>();
  auto budget = std::make_shared<BudgetOptions>();
  auto* sub = app.add_subcommand(
      "reproduce", "Reproduce the whole study: writes OUT/report.md with its figures, data and audio");
  sub->add_option("--out", opts->out, "Report folder (created when complete; see --force, --resume)")
      ->capture_default_str();
  sub->add_flag("--force", opts->force, "Replace an existing report folder as a whole (no stale files remain)");
  sub->add_flag("--resume", opts->resume,
                "Record each finished section (and each configuration of the speech studies) in OUT.partial, and "
                "reuse what an interrupted run with the same options recorded there; removed once OUT is complete");
  sub->add_flag("--quick", opts->quick, "Reduced grids and corpora: a fast look, not the full study");
  sub->add_option("--sections", opts->sections,
                  "Sections to run, in order (default all four): theory, denoise, dequant, restore (learned nonlinear "
                  "regularizers on the asterisk speech corpus; needs asterisk-core-sounds-*-wav and codec2-examples)")
      ->capture_default_str();
  sub->add_flag("--full", opts->full,
                "Bigger sweeps: restore runs the study's whole default grid (five regularizers, N up to 50; about "
                "20 min per task on 2 cores) instead of the report's reduced one");
  budget->add(sub);
  sub->callback([opts, budget] {
    opts->validate();
    budget->check(study::estimate_memory(*opts), "reproduce");  // the largest section, before any work
    const auto path = study::reproduce(*opts, stderr_log("reproduce"));
    std::cout << "wrote " << path.string() << '\n';
  });
}
}  // namespace varlearn::cli
