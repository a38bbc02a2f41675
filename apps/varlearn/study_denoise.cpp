#include "commands.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::cli {
void add_study_denoise(CLI::App& study) {
  auto* sub = study.add_subcommand("denoise", "(not built yet)");
  sub->callback([] { throw Error("varlearn study denoise: not implemented yet", Error::Kind::Internal); });
}
}  // namespace varlearn::cli
