#include "commands.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::cli {
void add_theory(CLI::App& app) {
  auto* sub = app.add_subcommand("theory", "(being built)");
  sub->callback([] { throw Error("varlearn theory: not implemented yet", Error::Kind::Internal); });
}
}  // namespace varlearn::cli
