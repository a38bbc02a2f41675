#pragma once
// What the benchmarks share: medians, the quadratic model's benchmark problem, and a step timed
// interleaved with the same products alone on each GEMM backend (core/gemm.hpp), so that
// machine load hits all alike; the step's share of the best GEMM is what docs/performance.md
// reports.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "varlearn/core/gemm.hpp"
#include "varlearn/core/memory.hpp"
#include "varlearn/learn/learn.hpp"

namespace varlearn::bench {

/// As the CLI does at its start: freed temporaries stay in the process for the next step
/// (core/memory.hpp), so the benchmarks time what a training run gets.
inline const bool kKeepFreedMemory = keep_freed_memory().applied;

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline double seconds_of(const auto& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The quadratic model's benchmark problem: B i.i.d. N(0, 1) frames y of n, x = y + 0.1 noise
/// (seed 1), and random parameters of `spec` (scale 1, the default initial step size).
template <class Real>
struct QuadraticProblem {
  learn::ModelSpec spec;
  MatrixT<Real> x, y;
  VectorT<Real> theta;
  QuadraticProblem(const learn::ModelSpec& s, Index b) : spec(s) {
    const learn::SampleModel sm = learn::SampleModel::iid(spec.n, 0.0, 1.0);
    Rng rng(1);
    const Matrix yc = sm.sample(b, rng);
    y = yc.cast<Real>();
    x = learn::add_noise(yc, 0.1, rng).template cast<Real>();
    learn::InitOptions io;
    io.scale = 1.0;
    theta = learn::QuadraticModel::random(spec, io).parameters().template cast<Real>();
  }
};
/// One problem per (spec's method, B), made at first use and kept for the process.
template <class Real>
QuadraticProblem<Real>& quadratic_problem(const learn::ModelSpec& spec, Index b) {
  static std::map<std::tuple<int, Index>, std::unique_ptr<QuadraticProblem<Real>>> cache;
  auto& p = cache[{static_cast<int>(spec.method), b}];
  if (!p) p = std::make_unique<QuadraticProblem<Real>>(spec, b);
  return *p;
}

/// Medians of the work and of the same products alone with Eigen's kernels and the BLAS: warm
/// (each timed run right after an untimed run of the same, as in a training loop's steady state)
/// and cold (that first run, right after the other contender's).
struct Interleaved {
  double work = 0, eigen = 0, blas = 0;
  double work_cold = 0, eigen_cold = 0, blas_cold = 0;
  double best_gemm() const { return blas_available() ? std::min(eigen, blas) : eigen; }
  double best_gemm_cold() const { return blas_available() ? std::min(eigen_cold, blas_cold) : eigen_cold; }
};

/// Times `work` (the benchmark's manual time: its warm runs) interleaved with
/// `products(backend)` for each backend, after one warm-up of each (buffers, and the auto
/// backend's probes of the shapes). Each round runs every contender twice in a row: the first
/// run meets the caches the other contender left (cold), the second its own (warm). Both are
/// kept: interleaving spreads the machine's load over all alike, and the warm runs compare the
/// step with the products in the state a training loop runs them, step after step.
template <class Work, class Products>
Interleaved interleaved(benchmark::State& state, Work&& work, Products&& products) {
  std::vector<GemmBackend> backends{GemmBackend::Eigen};
  if (blas_available()) backends.push_back(GemmBackend::Blas);
  work();
  for (const auto be : backends) products(be);
  std::vector<double> tw, twc, tg[2], tgc[2];
  for (auto _ : state) {
    twc.push_back(seconds_of(work));
    tw.push_back(seconds_of(work));
    for (size_t i = 0; i < backends.size(); ++i) {
      tgc[i].push_back(seconds_of([&] { products(backends[i]); }));
      tg[i].push_back(seconds_of([&] { products(backends[i]); }));
    }
    state.SetIterationTime(tw.back());
  }
  Interleaved t;
  t.work = median(tw);
  t.work_cold = median(twc);
  t.eigen = median(tg[0]);
  t.eigen_cold = median(tgc[0]);
  if (blas_available()) {
    t.blas = median(tg[1]);
    t.blas_cold = median(tgc[1]);
  }
  return t;
}

/// Counters gemm_eigen_GFLOPs, gemm_blas_GFLOPs (with a BLAS), best_gemm_GFLOPs and
/// pct_of_best_gemm = the best backend's time for the products / the work's time (warm runs);
/// pct_of_best_gemm_cold the same of the cold runs.
inline void gemm_counters(benchmark::State& state, double flops, const Interleaved& t) {
  state.counters["gemm_eigen_GFLOPs"] = flops / t.eigen / 1e9;
  if (blas_available()) state.counters["gemm_blas_GFLOPs"] = flops / t.blas / 1e9;
  state.counters["best_gemm_GFLOPs"] = flops / t.best_gemm() / 1e9;
  state.counters["pct_of_best_gemm"] = 100.0 * t.best_gemm() / t.work;
  state.counters["pct_of_best_gemm_cold"] = 100.0 * t.best_gemm_cold() / t.work_cold;
}

/// The end of a benchmark's main() with a --dump=DIR mode: runs dump() when `dumping` (an error
/// message and exit status 1 if it throws), else Google Benchmark on `args` (argv without the
/// dump options).
template <class Dump>
int dump_or_run(bool dumping, Dump&& dump, std::vector<char*> args) {
  if (dumping) {
    try {
      return dump();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

/// Closes the JSON array `json` ("[" and the cases' lines), writes it to DIR/cases.json (the
/// peers' index of a dump) and prints it; returns 0.
inline int write_cases(const std::string& dir, std::string json) {
  json += "\n]\n";
  std::ofstream out(dir + "/cases.json");
  out << json;
  if (!out) throw std::runtime_error("cannot write " + dir + "/cases.json");
  std::printf("%s", json.c_str());
  return 0;
}

/// Writes `size` doubles to `path` as raw little-endian float64 (the peers' --data files).
inline void write_raw(const std::string& path, const double* data, Index size) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size * static_cast<Index>(sizeof(double))));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace varlearn::bench
