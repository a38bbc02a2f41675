// Bilevel hypergradient cost, in Hessian-vector products: one call of general::bilevel_loss
// (lower level to |grad E|_F <= 1e-10, then the adjoint CG to 1e-12) on denoising (A = I) with
// a dense analysis-huber regularizer (K = the n x n orthonormal DCT-II + 0.3 N(0,1)/sqrt(n), a =
// 0.05, eps = 0.02;
// n = 64 .. 320) and a fields-of-experts one (J = 24 filters of length L = 32, n = 320), B = 32
// AR(1) frames (rho = 0.95) with noise sigma = 0.1, for both lower-level solvers. Per
// hypergradient it reports the lower-level iterations, the Hessian-vector products (lower level +
// adjoint CG + 1 residual check), the CG iterations, the gradient evaluations, the time per HVP
// (the whole hypergradient's time / its HVPs), hvp_share = HVPs x the time of one HVP (measured
// in the same run at f*) / the hypergradient's time, and model_share = (HVPs x one HVP + gradient
// evaluations x one gradient) / that time, one HVP and one gradient being Energy::hessian_product
// and Energy::gradient calls: above 1 where the solvers' own kernels are cheaper (the kept
// curvature, the line-search images, single-precision inner solves), below where line-search
// values, the mixed product and vector work add to them. Counters are CPU seconds of this process
// (run with one thread). Nothing is asserted about time.
//
// BM_PeerHypergradient: the analysis-huber case at n = 320, B = 32, 256 and 4096, both solvers, as
// the PyTorch peer bench/peers/torch_general_bilevel.py runs it (bench/peers/compare.py
// --general-bilevel); BM_PeerHypergradientFoe the fields-of-experts case (J = 24, L = 32, same) at
// B = 32 and 256 (compare.py --general-bilevel --foe): hypergrad_ms (CPU), HVPs, ms_per_HVP, HVP_ms (one HVP alone at f*). From
// B = 256 on varlearn solves per column block of 128 frames (general::frame_blocks): HVP_calls
// counts the blocks' products, HVPs and grads are per block (comparable with the peer's
// whole-batch counts), ms_per_HVP the hypergradient's time / those per-block HVPs.
// `--dump=DIR [--dump_batches=32,256,4096] [--dump_kind=analysis|foe]` writes those cases' data and varlearn's hypergradients instead of benchmarking
// (raw float64, column-major; DIR/cases.json lists them, file names relative to DIR), for the
// peer to check against.
//
//   cmake --build build --target bench_general_bilevel
//   OMP_NUM_THREADS=1 ./build/bench_general_bilevel --benchmark_counters_tabular=true
// (one thread: at B = 32 the products are too small for OpenMP to pay, and the per-HVP times
// are then comparable).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "support.hpp"  // keep_freed_memory, as the CLI
#include "varlearn/core/random.hpp"
#include "varlearn/general/general.hpp"
#include "varlearn/ops/ops.hpp"
#include "varlearn/reg/reg.hpp"

using namespace varlearn;

namespace {
constexpr Index kB = 32;
constexpr double kSigma = 0.1;

struct Problem {
  std::unique_ptr<general::Energy> energy;
  Matrix clean;
};

/// B AR(1) frames y_t = rho y_{t-1} + sqrt(1 - rho^2) e_t (unit variance), columns.
Matrix ar1_frames(Index n, Index b, double rho, Rng& rng) {
  const Matrix e = gaussian_matrix(n, b, 1.0, rng);
  Matrix y(n, b);
  y.row(0) = e.row(0);
  for (Index t = 1; t < n; ++t) y.row(t) = rho * y.row(t - 1) + std::sqrt(1 - rho * rho) * e.row(t);
  return y;
}

/// kind 0: analysis-huber dense DCT K (n x n); kind 1: foe (n = 320, J = 24, L = 32); B frames.
Problem& problem(int kind, Index n, Index frames = kB) {
  static std::map<std::tuple<int, Index, Index>, Problem> cache;
  auto it = cache.find({kind, n, frames});
  if (it != cache.end()) return it->second;
  Rng rng(1);
  Problem p;
  p.clean = ar1_frames(n, frames, 0.95, rng);
  const ops::Operator a = ops::Identity(n);
  const Matrix g = ops::observe(a, p.clean, kSigma, rng);
  if (kind == 0) {
    // The DCT alone gives H = I + K^T D K only two eigenvalues (CG would stop after 2 steps):
    // perturb it like a trained K.
    const Matrix k = reg::Analysis<double>::dct_rows(n, n) + gaussian_matrix(n, n, 0.3 / std::sqrt(static_cast<double>(n)), rng);
    const reg::Analysis<double> r(k, Vector::Constant(n, 0.05), reg::Potential::huber(0.02));
    p.energy = std::make_unique<general::Energy>(a, r, g);
  } else {
    const auto r = reg::Foe<double>::random(n, 24, 32, reg::Boundary::Same, reg::Potential::huber(0.02), 0.05, 1.0, 1);
    p.energy = std::make_unique<general::Energy>(a, r, g);
  }
  return cache.emplace(std::make_tuple(kind, n, frames), std::move(p)).first->second;
}

/// Process CPU seconds (one thread: robust against other processes on a shared machine).
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

/// CPU seconds of one Hessian-vector product and of one gradient at f (means of 50 calls).
std::pair<double, double> kernel_seconds(const general::Energy& e, const Matrix& f) {
  Rng rng(2);
  const Matrix v = gaussian_matrix(f.rows(), f.cols(), 1.0, rng);
  Matrix out = e.hessian_product(f, v);  // warm up
  double t0 = cpu_seconds();
  for (int i = 0; i < 50; ++i) out = e.hessian_product(f, v);
  const double hvp = (cpu_seconds() - t0) / 50;
  t0 = cpu_seconds();
  for (int i = 0; i < 50; ++i) out = e.gradient(f);
  const double grad = (cpu_seconds() - t0) / 50;
  benchmark::DoNotOptimize(out.data());
  return {hvp, grad};
}

void BM_Hypergradient(benchmark::State& state, int kind) {
  const Index n = state.range(0);
  Problem& p = problem(kind, n);
  general::BilevelOptions o;
  o.lower_solver = state.range(1) == 0 ? general::LowerSolver::NewtonCg : general::LowerSolver::Lbfgs;
  general::BilevelResult r;
  double seconds = 0;
  for (auto _ : state) {
    const double t0 = cpu_seconds();
    r = general::bilevel_loss(*p.energy, p.clean, o, true);
    seconds += cpu_seconds() - t0;
    benchmark::DoNotOptimize(r.gradient.data());
  }
  const double per_call = seconds / static_cast<double>(state.iterations());
  const auto [hvp, grad] = kernel_seconds(*p.energy, r.output);
  state.SetLabel(std::string(kind == 0 ? "analysis-huber" : "foe") + " " + general::to_string(o.lower_solver));
  state.counters["lower_its"] = r.lower_iterations;
  state.counters["HVPs"] = static_cast<double>(r.hessian_products);
  state.counters["lower_HVPs"] = static_cast<double>(r.lower_hessian_products);
  state.counters["CG_its"] = r.cg_iterations;
  state.counters["grads"] = static_cast<double>(r.gradient_evaluations);
  state.counters["s_per_HVP"] = per_call / static_cast<double>(r.hessian_products);
  state.counters["HVP_s"] = hvp;
  state.counters["hvp_share"] = static_cast<double>(r.hessian_products) * hvp / per_call;
  state.counters["model_share"] =
      (static_cast<double>(r.hessian_products) * hvp + static_cast<double>(r.gradient_evaluations) * grad) / per_call;
}

void BM_HessianProduct(benchmark::State& state, int kind) {
  const Index n = state.range(0);
  Problem& p = problem(kind, n);
  const Matrix f = p.energy->adjoint_observations();
  Rng rng(2);
  const Matrix v = gaussian_matrix(n, kB, 1.0, rng);
  for (auto _ : state) {
    Matrix hv = p.energy->hessian_product(f, v);
    benchmark::DoNotOptimize(hv.data());
  }
  state.SetLabel(kind == 0 ? "analysis-huber" : "foe");
}

/// The peer comparison: kind 0 analysis-huber, 1 fields of experts; n = 320, B = range(0), solver
/// range(1) (0 Newton-CG, 1 L-BFGS); CPU time per hypergradient (median over the iterations).
void peer_hypergradient(benchmark::State& state, int kind) {
  const Index n = 320, frames = state.range(0);
  Problem& p = problem(kind, n, frames);
  general::BilevelOptions o;
  o.lower_solver = state.range(1) == 0 ? general::LowerSolver::NewtonCg : general::LowerSolver::Lbfgs;
  general::BilevelResult r;
  std::vector<double> ts, walls;
  for (auto _ : state) {
    const double t0 = cpu_seconds();
    const auto w0 = std::chrono::steady_clock::now();
    r = general::bilevel_loss(*p.energy, p.clean, o, true);
    walls.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count());
    ts.push_back(cpu_seconds() - t0);
    benchmark::DoNotOptimize(r.gradient.data());
  }
  std::sort(ts.begin(), ts.end());
  std::sort(walls.begin(), walls.end());
  const double per_call = ts[ts.size() / 2];
  state.counters["wall_ms"] = walls[walls.size() / 2] * 1e3;  // with several threads: the time to compare
  const auto [hvp, grad] = kernel_seconds(*p.energy, r.output);
  state.SetLabel(std::string(kind == 0 ? "analysis-huber " : "foe ") + general::to_string(o.lower_solver));
  state.counters["hypergrad_ms"] = per_call * 1e3;
  // From B = 256 on (n = 320) the solves run per column block of equal width: the counts are
  // sums over the blocks' calls (HVP_calls), and per block (the blocks' average) comparable
  // with a whole-batch solver's; the iterations are the most of any block.
  const double blocks = static_cast<double>(general::frame_blocks(*p.energy).count);
  state.counters["blocks"] = blocks;
  state.counters["lower_its"] = r.lower_iterations;
  state.counters["HVP_calls"] = static_cast<double>(r.hessian_products);
  state.counters["HVPs"] = static_cast<double>(r.hessian_products) / blocks;
  state.counters["lower_HVPs"] = static_cast<double>(r.lower_hessian_products) / blocks;
  state.counters["CG_its"] = r.cg_iterations;
  state.counters["grads"] = static_cast<double>(r.gradient_evaluations) / blocks;
  state.counters["ms_per_HVP"] = per_call * 1e3 * blocks / static_cast<double>(r.hessian_products);
  state.counters["HVP_ms"] = hvp * 1e3;
  state.counters["grad_ms"] = grad * 1e3;
  state.counters["loss"] = r.loss;
}
void BM_PeerHypergradient(benchmark::State& state) { peer_hypergradient(state, 0); }
void BM_PeerHypergradientFoe(benchmark::State& state) { peer_hypergradient(state, 1); }

/// --dump=DIR: the peer cases' data (theta = [vec K, beta] or [filters, beta], observations, targets) and
/// varlearn's hypergradients and counts, for bench/peers/torch_general_bilevel.py --data DIR.
int dump_cases(const std::string& dir, const std::vector<Index>& batches, int kind) {
  std::string json = "[";
  for (const Index frames : batches) {
    const Index n = 320;
    Problem& p = problem(kind, n, frames);
    const std::string name = std::string(kind == 0 ? "analysis" : "foe") + "_n" + std::to_string(n) + "_b" + std::to_string(frames);
    const std::string stem = dir + "/" + name;
    const Vector theta = p.energy->parameters();
    bench::write_raw(stem + "_theta.f64", theta.data(), theta.size());
    bench::write_raw(stem + "_g.f64", p.energy->observations().data(), p.energy->observations().size());
    bench::write_raw(stem + "_target.f64", p.clean.data(), p.clean.size());
    for (const auto solver : {general::LowerSolver::NewtonCg, general::LowerSolver::Lbfgs}) {
      general::BilevelOptions o;
      o.lower_solver = solver;
      const general::BilevelResult r = general::bilevel_loss(*p.energy, p.clean, o, true);
      bench::write_raw(stem + "_grad_" + general::to_string(solver) + ".f64", r.gradient.data(), r.gradient.size());
      char line[512];
      std::snprintf(line, sizeof line,
                    "%s\n {\"stem\": \"%s\", \"kind\": \"%s\", %s\"n\": %ld, \"batch\": %ld, \"epsilon\": 0.02, \"solver\": \"%s\", "
                    "\"loss\": %.17g, \"blocks\": %ld, \"lower_its\": %d, \"HVPs\": %ld, \"lower_HVPs\": %ld, "
                    "\"CG_its\": %d, \"grads\": %ld}",
                    json.size() > 1 ? "," : "", name.c_str(), kind == 0 ? "analysis" : "foe",
                    kind == 0 ? "" : "\"filters\": 24, \"length\": 32, \"boundary\": \"same\", ",
                    static_cast<long>(n), static_cast<long>(frames),
                    general::to_string(solver), r.loss, static_cast<long>(general::frame_blocks(*p.energy).count),
                    r.lower_iterations, r.hessian_products, r.lower_hessian_products, r.cg_iterations,
                    r.gradient_evaluations);
      json += line;
    }
  }
  return bench::write_cases(dir, std::move(json));
}
}  // namespace

BENCHMARK(BM_PeerHypergradient)
    ->ArgsProduct({{32, 256, 4096}, {0, 1}})
    ->ArgNames({"B", "lbfgs"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_PeerHypergradientFoe)
    ->ArgsProduct({{32, 256}, {0, 1}})
    ->ArgNames({"B", "lbfgs"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(BM_Hypergradient, analysis_huber, 0)
    ->ArgsProduct({{64, 128, 192, 256, 320}, {0, 1}})
    ->ArgNames({"n", "lbfgs"})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2);
BENCHMARK_CAPTURE(BM_Hypergradient, foe, 1)
    ->ArgsProduct({{320}, {0, 1}})
    ->ArgNames({"n", "lbfgs"})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2);
BENCHMARK_CAPTURE(BM_HessianProduct, analysis_huber, 0)->DenseRange(64, 320, 64)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_HessianProduct, foe, 1)->Arg(320)->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  std::vector<char*> args;
  std::string dump;
  std::vector<Index> batches{32, 256, 4096};
  int kind = 0;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--dump=", 0) == 0) {
      dump = a.substr(7);
    } else if (a == "--dump_kind=foe" || a == "--dump_kind=analysis") {
      kind = a == "--dump_kind=foe" ? 1 : 0;
    } else if (a.rfind("--dump_batches=", 0) == 0) {  // e.g. 32,256
      batches.clear();
      for (size_t at = 15; at < a.size();) {
        const size_t comma = std::min(a.find(',', at), a.size());
        const long b = std::strtol(a.substr(at, comma - at).c_str(), nullptr, 10);
        if (b < 1) {
          std::fprintf(stderr, "error: --dump_batches takes positive integers, got '%s'\n", a.c_str() + 15);
          return 2;
        }
        batches.push_back(b);
        at = comma + 1;
      }
    } else {
      args.push_back(argv[i]);
    }
  }
  return bench::dump_or_run(!dump.empty(), [&] { return dump_cases(dump, batches, kind); }, args);
}
