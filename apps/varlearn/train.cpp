#include "commands.hpp"
#include "varlearn/core/error.hpp"

namespace varlearn::cli {
void add_train(CLI::App& app) {
  auto* sub = app.add_subcommand("train", "(not built yet)");
  sub->callback([] { throw Error("varlearn train: not implemented yet", Error::Kind::Internal); });
}
}  // namespace varlearn::cli
