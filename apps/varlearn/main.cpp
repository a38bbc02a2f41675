// varlearn: a thin shell over the library. Errors: one line "error: ..." on stderr,
// exit 2 for bad input (including unparsable flags), 1 for internal failures. Under mpirun /
// srun every rank runs this; rank 0 prints, and an error on any rank ends the whole job.
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/memory.hpp"
#include "varlearn/core/signals.hpp"
#include "varlearn/dist/dist.hpp"
#include "varlearn/version.hpp"

int main(int argc, char** argv) {
  // First, before OpenMP starts threads: SIGINT/SIGTERM remove temporary files, exit 130/143.
  varlearn::install_interrupt_cleanup();
  // Freed temporaries stay in the process for the next training step (core/memory.hpp).
  varlearn::keep_freed_memory();
  varlearn::dist::Session mpi(argc, argv);  // MPI under a launcher (docs/scale-out.md), else nothing
  // `train` runs data-parallel over the ranks, the studies (denoise, dequant, restore) and
  // `reproduce` spread their configurations; every other command runs on rank 0 alone.
  {
    std::string words;  // the subcommand words, e.g. "study denoise"
    for (int i = 1, taken = 0; i < argc && taken < 2; ++i)
      if (argv[i][0] != '-') {
        if (taken++ > 0) words += ' ';
        words += argv[i];
      }
    const bool distributed = words.rfind("train", 0) == 0 || words == "study denoise" || words == "study dequant" ||
                             words == "study restore" ||
                             words.rfind("reproduce", 0) == 0;
    if (!distributed && varlearn::dist::root_only()) return 0;
  }
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
  varlearn::cli::add_info(app);
  // Global, before the subcommand: which kernels run the matrix products (core/gemm.hpp).
  app.add_option("--gemm", "GEMM backend for the matrix products: auto (the faster per shape, timed at first use), "
                           "eigen, or blas (the linked OpenBLAS); overrides VARLEARN_GEMM. Default: auto")
      ->check(CLI::IsMember({"auto", "eigen", "blas"}))
      ->each([](const std::string& s) { varlearn::set_gemm_backend(varlearn::parse_gemm_backend(s, "--gemm")); });
  // A bad VARLEARN_GEMM is an input error before any work (unless --gemm overrides it).
  app.parse_complete_callback([] { varlearn::gemm_backend(); });
  varlearn::cli::enforce_strict_numbers(app);  // every numeric flag parsed strictly
  // One line, no raw bytes: a message may quote a file name, a token or an argument.
  // Several ranks: said once (a bad input by rank 0) and the whole job ends (no rank waits).
  const auto fail = [](const std::string& message, int code) {
    if (varlearn::dist::size() > 1) varlearn::dist::fail(varlearn::escape_for_message(message), code, code == 2);
    std::cerr << "error: " << varlearn::escape_for_message(message) << '\n';
    return code;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see --help)", 2);
  } catch (const varlearn::Error& e) {
    return fail(e.what(), e.kind() == varlearn::Error::Kind::BadInput ? 2 : 1);
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("malformed JSON: ") + e.what(), 2);
  } catch (const std::bad_alloc&) {
    return fail("out of memory (try a smaller problem, or see --max-memory)", 1);
  } catch (const std::exception& e) {
    return fail(std::string("internal: ") + e.what(), 1);
  }
  return 0;
}
