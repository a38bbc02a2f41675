#include "commands.hpp"

namespace varlearn::cli {
void add_study(CLI::App& app) {
  auto* study = app.add_subcommand("study", "Run a study on real speech: denoise, dequant or restore");
  study->require_subcommand(1);
  add_study_denoise(*study);
  add_study_dequant(*study);
  add_study_restore(*study);
}
}  // namespace varlearn::cli
