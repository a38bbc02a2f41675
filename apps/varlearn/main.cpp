// varlearn: a thin shell over the library. Errors: one line "error: ..." on stderr,
// exit 2 for bad input (including unparsable flags), 1 for internal failures.
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/signals.hpp"
#include "varlearn/version.hpp"

int main(int argc, char** argv) {
  // First, before OpenMP starts threads: SIGINT/SIGTERM remove temporary files, exit 130/143.
  varlearn::install_interrupt_cleanup();
  CLI::App app{
      "varlearn: learn variational regularizers by bilevel optimization and algorithm unrolling.\n"
      "Exact theory for the toy denoising model, training engines, and speech studies."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "varlearn " + std::string(varlearn::version));
  varlearn::cli::add_theory(app);
  varlearn::cli::add_train(app);
  varlearn::cli::add_eval(app);
  varlearn::cli::add_study(app);
  varlearn::cli::add_reproduce(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << e.what() << " (see --help)\n";
    return 2;
  } catch (const varlearn::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return e.kind() == varlearn::Error::Kind::BadInput ? 2 : 1;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "error: malformed JSON: " << e.what() << '\n';
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory (try a smaller problem)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: internal: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
