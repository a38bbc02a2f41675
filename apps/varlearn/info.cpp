// varlearn info: the build and the run-time choices that decide its speed (GEMM backend, the
// BLAS and its kernel, threads, SIMD), optionally probing both GEMM backends on given shapes.
#include <omp.h>

#include <Eigen/Core>
#include <array>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "options.hpp"
#include "varlearn/core/eigh.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/memory.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/parse.hpp"
#include "varlearn/version.hpp"

namespace varlearn::cli {
namespace {

// "MxNxK" (C = A B with A m x k, B k x n) -> {m, n, k}.
std::array<Index, 3> parse_shape(const std::string& text) {
  std::array<Index, 3> v{};
  std::stringstream ss(text);
  std::string part;
  int i = 0;
  while (std::getline(ss, part, 'x')) {
    require(i < 3, "--probe", "'" + text + "' is no shape MxNxK (e.g. 320x4096x320)");
    const auto value = parse_number<long long>(part, "--probe");
    require(value >= 1 && value <= 20000, "--probe", "extents are 1..20000, got '" + part + "'");
    v[static_cast<size_t>(i++)] = static_cast<Index>(value);
  }
  require(i == 3, "--probe", "'" + text + "' is no shape MxNxK (e.g. 320x4096x320)");
  return v;
}

template <class Real>
GemmDecision probe_shape(const std::array<Index, 3>& s) {
  const MatrixT<Real> a = MatrixT<Real>::Random(s[0], s[2]), b = MatrixT<Real>::Random(s[2], s[1]);
  return gemm_probe<Real>(a, false, b, false);
}

std::string simd() {
  std::string s = Eigen::SimdInstructionSetsInUse();
  return s.empty() ? "none" : s;
}

}  // namespace

void add_info(CLI::App& app) {
  auto probes = std::make_shared<std::vector<std::string>>();
  auto json_out = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand(
      "info", "The build and the speed-relevant run-time choices: GEMM backend (--gemm, VARLEARN_GEMM), BLAS and "
              "its kernel for this CPU, threads, SIMD");
  sub->add_option("--probe", *probes,
                  "Time both GEMM backends (float32 and float64) on these product shapes MxNxK, as `auto` does at a "
                  "shape's first use, and print the times and the choice");
  sub->add_flag("--json", *json_out, "Print JSON instead of text");
  sub->callback([probes, json_out] {
    std::vector<std::array<Index, 3>> shapes;
    for (const auto& p : *probes) shapes.push_back(parse_shape(p));
    const GemmBackend backend = gemm_backend();
    const std::string source = gemm_backend_source();
    require(shapes.empty() || blas_available(), "--probe", "this build links no BLAS: there is nothing to compare");
    std::vector<GemmDecision> decisions;
    for (const auto& s : shapes) {
      decisions.push_back(probe_shape<float>(s));
      decisions.push_back(probe_shape<double>(s));
    }
    const BlasInfo bi = blas_info();
    nlohmann::json j;
    j["version"] = varlearn::version;
    j["gemm"] = {{"backend", to_string(backend)}, {"source", source},
                 {"backends", blas_available() ? nlohmann::json::array({"eigen", "blas"}) : nlohmann::json::array({"eigen"})}};
    j["blas"] = bi.available ? nlohmann::json{{"library", bi.library}, {"config", bi.config}, {"kernel", bi.kernel},
                                              {"threading", bi.threading}, {"threads", bi.threads}, {"hint", bi.hint},
                                              {"kernel_matches_cpu", bi.kernel_matches_cpu}}
                             : nlohmann::json(nullptr);
    j["eigen"] = {{"version", std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                                  std::to_string(EIGEN_MINOR_VERSION)},
                  {"simd", simd()}};
    j["eigensolver"] = to_string(eigh_routine());
    j["threads"] = omp_get_max_threads();
    const FreedMemoryPolicy memory = freed_memory_policy();
    j["memory"] = {{"keep_freed", memory.applied}, {"reason", memory.reason}};
    auto& jp = j["probes"] = nlohmann::json::array();
    for (const auto& d : decisions) {
      const double flops = 2.0 * static_cast<double>(d.m) * static_cast<double>(d.n) * static_cast<double>(d.k);
      jp.push_back({{"scalar", d.scalar}, {"m", d.m}, {"n", d.n}, {"k", d.k}, {"threads", d.threads},
                    {"eigen_gflops", flops / d.eigen_seconds / 1e9}, {"blas_gflops", flops / d.blas_seconds / 1e9},
                    {"faster", to_string(d.chosen)},
                    {"auto", to_string(bi.kernel_matches_cpu ? d.chosen : GemmBackend::Eigen)}});
    }
    if (*json_out || embedding()) {  // the Python module takes the object (varlearn.info())
      print_result(j, true);
      return;
    }
    std::cout << "varlearn " << varlearn::version << '\n'
              << "gemm backend: " << to_string(backend) << " (from " << source << "; built with "
              << (blas_available() ? "eigen, blas" : "eigen only") << ")\n";
    if (bi.available) {
      std::cout << "blas: " << bi.library << '\n'
                << "blas config: " << bi.config << '\n'
                << "blas kernel: " << bi.kernel << " (" << bi.threading << " threading, " << bi.threads
                << " threads)\n";
      if (!bi.hint.empty()) std::cout << "hint: " << bi.hint << '\n';
    }
    std::cout << "eigen: " << j["eigen"]["version"].get<std::string>() << " (" << simd() << ")\n"
              << "symmetric eigensolver: " << (eigh_routine() == EighRoutine::Lapack ? "lapack (xSYEVD, in the blas)" : "eigen")
              << '\n'
              << "openmp threads: " << omp_get_max_threads() << '\n'
              << "freed memory: "
              << (memory.applied ? std::string("kept in the process for reuse (glibc's mmap and trim thresholds raised)")
                                 : std::string("returned to the system as glibc decides (") + memory.reason + ")")
              << '\n';
    for (const auto& p : jp)
      std::cout << "probe " << p["scalar"].get<std::string>() << ' ' << p["m"] << 'x' << p["n"] << 'x' << p["k"]
                << " on " << p["threads"] << " threads: eigen " << format_fixed(p["eigen_gflops"].get<double>(), 1)
                << " GFLOP/s, blas " << format_fixed(p["blas_gflops"].get<double>(), 1) << " GFLOP/s; auto keeps "
                << p["auto"].get<std::string>() << '\n';
  });
}

}  // namespace varlearn::cli
