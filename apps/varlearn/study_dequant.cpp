#include "commands.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::cli {
void add_study_dequant(CLI::App& study) {
  auto* sub = study.add_subcommand("dequant", "(not built yet)");
  sub->callback([] { throw Error("varlearn study dequant: not implemented yet", Error::Kind::Internal); });
}
}  // namespace varlearn::cli
