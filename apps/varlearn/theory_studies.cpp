#include "commands.hpp"

namespace varlearn::cli {
void add_theory_studies(CLI::App&) {}
}  // namespace varlearn::cli
