#include "commands.hpp"

namespace varlearn::cli {
void add_study(CLI::App& app) {
  auto* study = app.add_subcommand("study", "Run a study on real speech: denoise or dequant");
  study->require_subcommand(1);
  add_study_denoise(*study);
  add_study_dequant(*study);
}
}  // namespace varlearn::cli
