// Learning engine speed: one direct unrolled training step (forward, reverse mode, Adam update)
// at n = k = 320, N = 10, B = 256 and 4096, float32 and float64, against the best GEMM
// throughput for the same products measured in the same run (both backends of core/gemm.hpp,
// Eigen and the linked BLAS, interleaved with the step); and the structured-path step
// (moments, O(n^3)).
//
// FLOPs are counted honestly: only the matrix products the step really performs (elementwise
// work is excluded and is < 1% here). Factored step: forward N-1 steps x 2 GEMMs, backward
// N-1 steps x 4 GEMMs (z^0 = 0 makes step 0 free): 6(N-1) x 2nkB = 45.3 GFLOP at B = 4096.
//
//   ./build/bench_learn --benchmark_counters_tabular=true
//   VARLEARN_GEMM=eigen|blas ./build/bench_learn ...       (force the step's backend)
//   bench/peers/compare.py                                  (side by side with PyTorch)
//
// Counters of the direct steps: step_ms (median), step_GFLOPs, gemm_eigen_GFLOPs and
// gemm_blas_GFLOPs (the step's products alone with each backend, medians: the products of its
// column blocks of block_columns frames, run on the threads as the step runs them),
// best_gemm_GFLOPs, pct_of_best_gemm = best GEMM time / step time, step_blas (1 when the step
// ran on the BLAS). The reference products are plain GEMM calls, which pack their left operand
// at every call; the step packs its fixed ones (M, or R and R^T) once per step (core/gemm.hpp's
// PackedLhs), so its share can pass 100 % where little else is left.
// Measured numbers: docs/performance.md.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "support.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/learn/learn.hpp"

using namespace varlearn;
using namespace varlearn::learn;

namespace {
constexpr Index kN = 320, kK = 320, kB = 4096;
constexpr int kDepth = 10;

const ModelSpec kSpec{kN, kK, Method::Unrolled, kDepth, StepsizeMode::Learned};
template <class Real>
bench::QuadraticProblem<Real>& problem(Index b) {
  return bench::quadratic_problem<Real>(kSpec, b);
}

double g_direct_step_s = 0;  // median factored direct step of this run (float32, B = 4096)

double direct_flops(Index b) { return 6.0 * (kDepth - 1) * 2.0 * kN * kK * static_cast<double>(b); }
double gram_flops(Index b) {
  return 3.0 * (kDepth - 1) * 2.0 * kN * kN * static_cast<double>(b) + 2.0 * kK * kN * kN + 2.0 * kK * kN * kN;
}

/// One direct step (forward, reverse mode, Adam update) timed interleaved with the same
/// products alone (the step's 6(N-1) GEMMs; Gram form: 3(N-1) per block, M = R^T R and the final
/// R (dM + dM^T); same shapes) with each GEMM backend, so that
/// machine load hits all alike; reports the medians and pct_of_best_gemm = best GEMM time /
/// step time.
template <class Real>
void direct_step(benchmark::State& state, int use_gram) {
  const Index b = state.range(0);
  bench::QuadraticProblem<Real>& p = problem<Real>(b);
  UnrollOptions uo;
  uo.use_gram = use_gram;
  varlearn::optim::AdamOptions ao;
  ao.learning_rate = 1e-4;
  varlearn::optim::AdamState<Real> adam(ao, p.theta.size());
  VectorT<Real> theta = p.theta, grad;
  const MatrixT<Real> r = MatrixT<Real>::Random(kK, kN), mm = MatrixT<Real>::Random(kN, kN);
  // The step runs its frames in blocks of bc columns (one thread per block): the same products
  // alone are the products of b / bc blocks (b a multiple of bc here), on the same threads.
  const Index bc = direct_block_columns(kN, b), nb = b / bc;
  const MatrixT<Real> z = p.x.leftCols(bc), g = p.y.leftCols(bc);
  const int threads = omp_get_max_threads();
  // The products of one block, nothing else.
  auto block_products = [&](GemmBackend be, MatrixT<Real>& u, MatrixT<Real>& out, MatrixT<Real>& dr,
                            MatrixT<Real>& dm) {
    const Real h(0.5);
    for (int j = 0; j < kDepth - 1; ++j) {
      if (use_gram == 1) {
        gemm_with(be, -h, mm, false, z, false, Real(1), out);  // forward M z
        gemm_with(be, -h, mm, false, g, false, Real(1), out);  // backward M g
        gemm_with(be, -h, g, false, z, true, Real(1), dm);     // dM
      } else {
        gemm_with(be, Real(1), r, false, z, false, Real(0), u);  // forward R z
        gemm_with(be, -h, r, true, u, false, Real(1), out);      // forward R^T u
        gemm_with(be, Real(1), r, false, g, false, Real(0), u);  // backward R g
        gemm_with(be, -h, r, true, u, false, Real(1), out);      // backward R^T v
        gemm_with(be, -h, u, false, g, true, Real(1), dr);       // dR
        gemm_with(be, -h, u, false, z, true, Real(1), dr);       // dR
      }
    }
  };
  // The products of one step: the blocks on the threads, as the step runs them; the Gram form
  // also forms M = R^T R before them and dR = R (dM + dM^T) after them (2 k n^2 flops each, on
  // all threads: gram_flops counts them).
  MatrixT<Real> m_full, dr_full;
  // Each thread's operands, allocated once: a fresh matrix per run would add page faults to the
  // products' time (and flatter the step's share).
  struct Operands {
    MatrixT<Real> u, out, dr, dm;
  };
  std::vector<Operands> operands(static_cast<size_t>(threads),
                                 Operands{MatrixT<Real>::Zero(kK, bc), MatrixT<Real>::Zero(kN, bc),
                                          MatrixT<Real>::Zero(kK, kN), MatrixT<Real>::Zero(kN, kN)});
  auto gemms = [&](GemmBackend be) {
    if (use_gram == 1) gemm_with(be, Real(1), r, true, r, false, Real(0), m_full);
    const bool parallel = nb > 1 && threads > 1;
#pragma omp parallel num_threads(static_cast<int>(std::min<Index>(threads, nb))) if (parallel)
    {
      Operands& o = operands[static_cast<size_t>(omp_get_thread_num())];
#pragma omp for schedule(static, 1)
      for (Index blk = 0; blk < nb; ++blk) block_products(be, o.u, o.out, o.dr, o.dm);
    }
    if (use_gram == 1) gemm_with(be, Real(1), r, false, mm, false, Real(0), dr_full);
  };
  auto step = [&] {
    const Real l = loss_direct<Real>(p.spec, theta, {}, p.x, p.y, &grad, uo);
    adam.step(theta, grad);
    benchmark::DoNotOptimize(l);
  };
  const bench::Interleaved t = bench::interleaved(state, step, gemms);
  const double s = t.work;
  const double flops = use_gram == 1 ? gram_flops(b) : direct_flops(b);
  state.counters["GFLOP"] = flops / 1e9;
  state.counters["step_ms"] = s * 1e3;
  state.counters["step_GFLOPs"] = flops / s / 1e9;
  bench::gemm_counters(state, flops, t);
  state.counters["step_blas"] = [&] {  // the step's shapes are decided on one thread per block
    const ScopedThreads one(nb > 1 ? 1 : 0);
    return gemm_backend_for<Real>(r, false, z, false) == GemmBackend::Blas ? 1 : 0;
  }();
  state.counters["threads"] = omp_get_max_threads();
  state.counters["block_columns"] = static_cast<double>(bc);
  if (use_gram != 1 && std::is_same_v<Real, float> && b == kB) g_direct_step_s = s;
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

template <class Real>
void BM_DirectUnrolledStep_Factored(benchmark::State& state) {
  direct_step<Real>(state, -1);
}
BENCHMARK_TEMPLATE(BM_DirectUnrolledStep_Factored, float)->Arg(4096)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(7);
BENCHMARK_TEMPLATE(BM_DirectUnrolledStep_Factored, float)->Arg(256)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(41);
BENCHMARK_TEMPLATE(BM_DirectUnrolledStep_Factored, double)->Arg(4096)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(5);
BENCHMARK_TEMPLATE(BM_DirectUnrolledStep_Factored, double)->Arg(256)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(31);

template <class Real>
void BM_DirectUnrolledStep_Gram(benchmark::State& state) { direct_step<Real>(state, 1); }
BENCHMARK_TEMPLATE(BM_DirectUnrolledStep_Gram, float)->Arg(4096)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(7);
BENCHMARK_TEMPLATE(BM_DirectUnrolledStep_Gram, float)->Arg(256)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(41);
BENCHMARK_TEMPLATE(BM_DirectUnrolledStep_Gram, double)->Arg(4096)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(5);
BENCHMARK_TEMPLATE(BM_DirectUnrolledStep_Gram, double)->Arg(256)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(31);

void BM_StructuredStep(benchmark::State& state) {
  bench::QuadraticProblem<float>& p = problem<float>(kB);
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
  bench::QuadraticProblem<float>& p = problem<float>(kB);
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
