// Learning engine speed: one direct unrolled training step (forward, reverse mode, Adam update)
// at n = k = 320, B = 4096, N = 10, float32, against the GEMM throughput for the same shapes
// measured in the same run; and the structured-path step (moments, O(n^3)).
//
// FLOPs are counted honestly: only the matrix products the step really performs (elementwise
// work is excluded and is < 1% here). Factored step: forward N-1 steps x 2 GEMMs, backward
// N-1 steps x 4 GEMMs (z^0 = 0 makes step 0 free): 6(N-1) x 2nkB = 45.3 GFLOP.
//
//   ./build-learn/bench_learn --benchmark_counters_tabular=true
//
// Measured 2026-11-29 on the 2-core AVX-512 EPYC VM (OpenMP 2 threads, quiet moment; under the
// other engineers' compiles the numbers drop 3-10x and the ratios become noise):
//   GEMM same shapes 221-233 GFLOP/s; factored direct step 206-220 GFLOP/s (205-219 ms) =
//   91-93% of GEMM; Gram direct step 122-123 ms (75-78% of its GEMMs); structured step
//   7.5 ms = 27-29x faster than the factored direct step (16x than the Gram one).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <random>
#include <vector>

#include "varlearn/learn/learn.hpp"

using namespace varlearn;
using namespace varlearn::learn;

namespace {
constexpr Index kN = 320, kK = 320, kB = 4096;
constexpr int kDepth = 10;

struct Problem {
  ModelSpec spec{kN, kK, Method::Unrolled, kDepth, StepsizeMode::Learned};
  MatrixT<float> x, y;
  VectorT<float> theta;
  Problem() {
    const SampleModel sm = SampleModel::iid(kN, 0.0, 1.0);
    Rng rng(1);
    const Matrix yc = sm.sample(kB, rng);
    y = yc.cast<float>();
    x = add_noise(yc, 0.1, rng).cast<float>();
    InitOptions io;
    io.scale = 1.0;
    io.stepsize = 0.5;
    theta = QuadraticModel::random(spec, io).parameters().cast<float>();
  }
};
Problem& problem() {
  static Problem p;
  return p;
}

double g_direct_step_s = 0;  // median factored direct step of this run

double direct_flops() { return 6.0 * (kDepth - 1) * 2.0 * kN * kK * kB; }
double gram_flops() {
  return 3.0 * (kDepth - 1) * 2.0 * kN * kN * kB + 2.0 * kK * kN * kN + 2.0 * kK * kN * kN;
}

/// One direct step (forward, reverse mode, Adam update) timed interleaved with the same
/// GEMMs alone (the step's 6(N-1) products, same shapes), so that machine load hits both
/// alike; reports both medians and their ratio pct_of_gemm = GEMM time / step time.
void direct_step(benchmark::State& state, int use_gram) {
  Problem& p = problem();
  UnrollOptions uo;
  uo.use_gram = use_gram;
  varlearn::optim::AdamOptions ao;
  ao.learning_rate = 1e-4;
  varlearn::optim::AdamState<float> adam(ao, p.theta.size());
  VectorT<float> theta = p.theta, grad;
  const MatrixT<float> r = MatrixT<float>::Random(kK, kN), mm = MatrixT<float>::Random(kN, kN);
  const MatrixT<float>& z = p.x;
  const MatrixT<float>& g = p.y;
  MatrixT<float> u(kK, kB), out = MatrixT<float>::Zero(kN, kB), dr = MatrixT<float>::Zero(kK, kN),
                 dm = MatrixT<float>::Zero(kN, kN);
  auto gemms = [&] {  // the products of one step, nothing else
    for (int j = 0; j < kDepth - 1; ++j) {
      if (use_gram == 1) {
        out.noalias() -= 0.5f * mm * z;              // forward M z
        out.noalias() -= 0.5f * mm * g;              // backward M g
        dm.noalias() -= 0.5f * g * z.transpose();    // dM
      } else {
        u.noalias() = r * z;                         // forward R z
        out.noalias() -= 0.5f * r.transpose() * u;   // forward R^T u
        u.noalias() = r * g;                         // backward R g
        out.noalias() -= 0.5f * r.transpose() * u;   // backward R^T v
        dr.noalias() -= 0.5f * u * g.transpose();    // dR
        dr.noalias() -= 0.5f * u * z.transpose();    // dR
      }
    }
  };
  auto step = [&] {
    const float l = loss_direct<float>(p.spec, theta, {}, p.x, p.y, &grad, uo);
    adam.step(theta, grad);
    benchmark::DoNotOptimize(l);
  };
  gemms();
  std::vector<double> ts, tg;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    step();
    auto t1 = std::chrono::steady_clock::now();
    gemms();
    auto t2 = std::chrono::steady_clock::now();
    ts.push_back(std::chrono::duration<double>(t1 - t0).count());
    tg.push_back(std::chrono::duration<double>(t2 - t1).count());
    state.SetIterationTime(ts.back());
  }
  std::sort(ts.begin(), ts.end());
  std::sort(tg.begin(), tg.end());
  const double s = ts[ts.size() / 2], gm = tg[tg.size() / 2];
  const double flops = use_gram == 1 ? gram_flops() : direct_flops();
  state.counters["GFLOP"] = flops / 1e9;
  state.counters["step_ms"] = s * 1e3;
  state.counters["step_GFLOPs"] = flops / s / 1e9;
  state.counters["gemm_GFLOPs"] = flops / gm / 1e9;
  state.counters["pct_of_gemm"] = 100.0 * gm / s;
  state.counters["threads"] = omp_get_max_threads();
  if (use_gram != 1) g_direct_step_s = s;
}

void BM_GemmSameShapes(benchmark::State& state) {
  const MatrixT<float> r = MatrixT<float>::Random(kK, kN), z = MatrixT<float>::Random(kN, kB),
                       g = MatrixT<float>::Random(kN, kB);
  MatrixT<float> u(kK, kB), out = MatrixT<float>::Zero(kN, kB), dr = MatrixT<float>::Zero(kK, kN);
  for (auto _ : state) {
    u.noalias() = r * z;
    out.noalias() -= 0.5f * r.transpose() * u;
    dr.noalias() -= 0.5f * u * g.transpose();
    benchmark::ClobberMemory();
  }
  const double flops = 3 * 2.0 * kN * kK * kB;
  state.counters["GFLOPs"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}
BENCHMARK(BM_GemmSameShapes)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

void BM_DirectUnrolledStep_Factored(benchmark::State& state) { direct_step(state, -1); }
BENCHMARK(BM_DirectUnrolledStep_Factored)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(7);

void BM_DirectUnrolledStep_Gram(benchmark::State& state) { direct_step(state, 1); }
BENCHMARK(BM_DirectUnrolledStep_Gram)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(7);

void BM_StructuredStep(benchmark::State& state) {
  Problem& p = problem();
  const Moments<float> mo = Moments<float>::from_frames(p.x, p.y);
  varlearn::optim::AdamOptions ao;
  ao.learning_rate = 1e-4;
  varlearn::optim::AdamState<float> adam(ao, p.theta.size());
  VectorT<float> theta = p.theta, grad;
  std::vector<double> ts;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const float l = loss_structured<float>(p.spec, theta, {}, mo, &grad);
    adam.step(theta, grad);
    benchmark::DoNotOptimize(l);
    ts.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ts.begin(), ts.end());
  const double med = ts[ts.size() / 2];
  state.counters["step_ms"] = med * 1e3;
  if (g_direct_step_s > 0) state.counters["speedup_vs_direct"] = g_direct_step_s / med;
  // GEMM flops only: M = R^T R, V^T A V and V^T C V (4 n^3 products), R V S V^T (3 k n^2);
  // the symmetric eigendecomposition (~9 n^3, not GEMM-shaped) and the n^2 N scalar
  // recurrences are not counted.
  const double flops = 2.0 * kK * kN * kN + 4 * 2.0 * kN * kN * kN + 3 * 2.0 * kK * kN * kN;
  state.counters["GFLOPs"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}
BENCHMARK(BM_StructuredStep)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

void BM_Moments(benchmark::State& state) {  // once per training: C_xx, C_xy, tr(YY^T)
  Problem& p = problem();
  for (auto _ : state) {
    auto mo = Moments<float>::from_frames(p.x, p.y);
    benchmark::DoNotOptimize(mo.yy);
  }
  state.counters["GFLOPs"] = benchmark::Counter(2 * 2.0 * kN * kN * kB, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Moments)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
