#include "commands.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::cli {
void add_eval(CLI::App& app) {
  auto* sub = app.add_subcommand("eval", "(not built yet)");
  sub->callback([] { throw Error("varlearn eval: not implemented yet", Error::Kind::Internal); });
}
}  // namespace varlearn::cli
