#pragma once
// One function per subcommand; each lives in its own file of this folder and registers a
// CLI11 subcommand whose callback parses, validates, calls the library and prints.
#include <CLI/CLI.hpp>

namespace varlearn::cli {
void add_theory(CLI::App& app);
void add_theory_studies(CLI::App& theory);  // map, depth, landscape (theory_studies.cpp)
void add_train(CLI::App& app);
void add_eval(CLI::App& app);
void add_study(CLI::App& app);
void add_study_denoise(CLI::App& study);
void add_study_dequant(CLI::App& study);
void add_study_restore(CLI::App& study);  // study_restore.cpp
void add_reproduce(CLI::App& app);
void add_info(CLI::App& app);  // info.cpp: backends, BLAS kernel, threads, GEMM probes
}  // namespace varlearn::cli
