// General engine speed: one unrolled training step (loss + gradient by reverse mode) with a
// dense analysis K (m = n = 320, huber), identity A, B = 4096 frames, N = 10 steps, float32,
// against the float GEMM throughput (U = K F, 320 x 320 times 320 x 4096, as the step runs it:
// in column blocks of frame_block_columns frames, the blocks on the threads) measured in the
// same run with each GEMM backend (core/gemm.hpp; the best counts: gemm_GFLOPs, pct_of_gemm),
// interleaved with the step so that machine load hits both alike. The reference is a plain GEMM
// call, which packs K at every call; the step packs K and K^T once per column block
// (reg::Analysis, core/gemm.hpp's PackedLhs).
//
// FLOPs counted: the step's GEMMs only, each 2 m n B = 0.839 GFLOP. Per forward step K f and
// K^T Psi (2); per backward step the Hessian-vector product's K lambda and K^T(a phi'' Z) and
// the mixed product's outer products Psi lambda^T and (a phi'' Z) f^T (4); K f^t is not
// recomputed (kept from the forward pass). 6 N GEMMs = 60 x 0.839 = 50.3 GFLOP per step.
// Elementwise work (potentials, axpys, the identity's data term) is not counted.
//
//   ./build/bench_general --benchmark_filter=UnrolledStep --benchmark_repetitions=3
//   ./build/bench_general --benchmark_filter=UnrolledStep/foe   (fields of experts, below)
//   (add --benchmark_counters_tabular=true for a table)
//
// Measured numbers, with the PyTorch peer beside them: docs/performance.md
// (bench/peers/compare.py --general).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "support.hpp"  // keep_freed_memory, as the CLI
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/general/general.hpp"
#include "varlearn/ops/ops.hpp"
#include "varlearn/reg/reg.hpp"

using namespace varlearn;

namespace {
constexpr Index kN = 320, kB = 4096;
constexpr int kSteps = 10;

struct Problem {
  MatrixT<float> target, g;
  reg::Analysis<float> analysis;
  Problem()
      : analysis(reg::Analysis<float>::make(kN, reg::AnalysisOptions{0, reg::AnalysisInit::Dct, 0.05, 1.0, 1},
                                            reg::Potential::huber(0.02))) {
    Rng rng(1);
    const Matrix t = gaussian_matrix(kN, kB, 0.3, rng);
    target = t.cast<float>();
    g = ops::observe(ops::Operator(ops::Identity(kN)), t, 0.1, rng).cast<float>();
  }
};
Problem& problem() {
  static Problem p;
  return p;
}

double gemm_flops() { return 2.0 * kN * kN * kB; }
double step_flops() { return 6.0 * kSteps * gemm_flops(); }

/// mode 0: plain steps, all iterates stored; 1: Nesterov momentum; 2: sqrt N checkpointing.
void unrolled_step(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));
  const FlushDenormals ftz;
  Problem& p = problem();
  general::UnrolledOptions options;
  options.steps = kSteps;
  options.init = general::UnrolledInit::Adjoint;
  options.momentum = mode == 1;
  options.checkpoint_every = mode == 2 ? general::sqrt_checkpointing(kSteps) : 1;
  general::BasicUnrolledObjective<float> objective(general::BasicEnergy<float>(ops::Identity(kN), p.analysis, p.g),
                                                   p.target, options);
  const VectorT<float> x = objective.pack(VectorT<float>::Constant(1, static_cast<float>(softplus_inverse(0.5))));
  VectorT<float> grad;
  const MatrixT<float>& k = p.analysis.matrix();
  constexpr int kGemms = 8;
  // The reference: U = K F with each GEMM backend (core/gemm.hpp); the best counts. As the step
  // runs its frames: in blocks of bc columns, the blocks on the threads (one thread each).
  const Index bc = frame_block_columns(kN, kB), nb = kB / bc;
  const MatrixT<float> f = p.g.leftCols(bc);
  const int threads = omp_get_max_threads();
  std::vector<GemmBackend> backends{GemmBackend::Eigen};
  if (blas_available()) backends.push_back(GemmBackend::Blas);
  auto gemms = [&](GemmBackend be) {
#pragma omp parallel num_threads(static_cast<int>(std::min<Index>(threads, nb))) if (nb > 1 && threads > 1)
    {
      MatrixT<float> u(kN, bc);
#pragma omp for schedule(static, 1)
      for (Index blk = 0; blk < kGemms * nb; ++blk) gemm_with(be, 1.0f, k, false, f, false, 0.0f, u);
    }
  };
  objective.evaluate_with_gradient(x, grad);  // warm up (allocations, pages, the auto backend's probes)
  for (const auto be : backends) gemms(be);
  std::vector<double> ts, tg[2];
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const float loss = objective.evaluate_with_gradient(x, grad);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(loss);
    ts.push_back(std::chrono::duration<double>(t1 - t0).count());
    for (size_t i = 0; i < backends.size(); ++i) {
      const auto g0 = std::chrono::steady_clock::now();
      gemms(backends[i]);
      tg[i].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count() / kGemms);
    }
    state.SetIterationTime(ts.back());
  }
  std::sort(ts.begin(), ts.end());
  double gm = 1e300;
  for (size_t i = 0; i < backends.size(); ++i) {
    std::sort(tg[i].begin(), tg[i].end());
    gm = std::min(gm, tg[i][tg[i].size() / 2]);
    state.counters[i == 0 ? "gemm_eigen_GFLOPs" : "gemm_blas_GFLOPs"] = gemm_flops() / tg[i][tg[i].size() / 2] / 1e9;
  }
  const double s = ts[ts.size() / 2];
  const double step_rate = step_flops() / s / 1e9, gemm_rate = gemm_flops() / gm / 1e9;
  state.counters["GFLOP"] = step_flops() / 1e9;
  state.counters["step_ms"] = s * 1e3;
  state.counters["step_GFLOPs"] = step_rate;
  state.counters["gemm_GFLOPs"] = gemm_rate;
  state.counters["pct_of_gemm"] = 100.0 * step_rate / gemm_rate;
  state.counters["threads"] = omp_get_max_threads();
  state.counters["block_columns"] = static_cast<double>(bc);
}
BENCHMARK(unrolled_step)->Name("UnrolledStep/plain")->Arg(0)->Unit(benchmark::kMillisecond)
    ->UseManualTime()->Iterations(7);
BENCHMARK(unrolled_step)->Name("UnrolledStep/momentum")->Arg(1)->Unit(benchmark::kMillisecond)
    ->UseManualTime()->Iterations(7);
BENCHMARK(unrolled_step)->Name("UnrolledStep/sqrt_checkpoints")->Arg(2)->Unit(benchmark::kMillisecond)
    ->UseManualTime()->Iterations(7);

// The convolutional analysis operator: fields of experts, J = 24 filters of L = 32 taps
// (`valid`: M = n - L + 1 = 289 outputs each), huber(0.02) weighted a_j = 0.05, the same
// identity A, frames, N = 10 steps and step size as above. FLOPs count each convolution-like
// pass (K f, K^T p, a filter gradient) as 2 J L M B = 1.82 GFLOP, whatever the method does, and
// the step as 6 N such passes (its structure is the dense step's) = 109 GFLOP. The reference
// ("the best convolution of the same run"): the convolution U = K F alone (Foe::apply), as the
// step runs it (column blocks of frame_block_columns frames, the blocks on the threads), with
// each of Foe's fast methods, gemm (the lowering) and fft; the faster counts (conv_GFLOPs,
// pct_of_conv).
// bench/peers/compare.py --foe runs it beside PyTorch's conv1d (torch_foe.py).
// Variants: foe_same (the `same` boundary: M = n outputs, a padded copy of each frame), foe_f64
// (float64), foe_same_f64.
constexpr Index kFilters = 24, kTaps = 32;
double conv_pass_flops(reg::Boundary boundary) {
  const Index m = boundary == reg::Boundary::Valid ? kN - kTaps + 1 : kN;
  return 2.0 * kFilters * kTaps * static_cast<double>(m) * kB;
}

template <class Real>
void foe_step(benchmark::State& state, reg::Boundary boundary) {
  const FlushDenormals ftz;
  Problem& p = problem();
  const MatrixT<Real> g = p.g.template cast<Real>(), target = p.target.template cast<Real>();
  const reg::Foe<Real> foe = reg::Foe<Real>::random(kN, kFilters, kTaps, boundary, reg::Potential::huber(0.02), 0.05, 0.1, 1);
  general::UnrolledOptions options;
  options.steps = kSteps;
  options.init = general::UnrolledInit::Adjoint;
  general::BasicUnrolledObjective<Real> objective(general::BasicEnergy<Real>(ops::Identity(kN), foe, g), target,
                                                  options);
  const VectorT<Real> x = objective.pack(VectorT<Real>::Constant(1, static_cast<Real>(softplus_inverse(0.5))));
  VectorT<Real> grad;
  const std::vector<reg::ConvMethod> methods{reg::ConvMethod::Gemm, reg::ConvMethod::Fft};
  const Index bc = frame_block_columns(kN, kB), nb = kB / bc;
  std::vector<MatrixT<Real>> blocks;
  for (Index i = 0; i < nb; ++i) blocks.push_back(g.middleCols(i * bc, bc));
  const int threads = omp_get_max_threads();
  auto pass = [&](size_t m) {
#pragma omp parallel for num_threads(static_cast<int>(std::min<Index>(threads, nb))) schedule(static, 1) if (threads > 1)
    for (Index i = 0; i < nb; ++i) {
      const ScopedThreads one(1);
      benchmark::DoNotOptimize(foe.apply(blocks[static_cast<size_t>(i)], methods[m]).data());
    }
  };
  objective.evaluate_with_gradient(x, grad);  // warm up (buffers, FFTW plans)
  for (size_t i = 0; i < methods.size(); ++i) pass(i);
  std::vector<double> ts, tp[2];
  Real loss = 0;
  const double pass_flops = conv_pass_flops(boundary);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    loss = objective.evaluate_with_gradient(x, grad);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(loss);
    ts.push_back(std::chrono::duration<double>(t1 - t0).count());
    for (size_t i = 0; i < methods.size(); ++i) {
      const auto g0 = std::chrono::steady_clock::now();
      pass(i);
      tp[i].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count());
    }
    state.SetIterationTime(ts.back());
  }
  std::sort(ts.begin(), ts.end());
  double best = 1e300;
  for (size_t i = 0; i < methods.size(); ++i) {
    std::sort(tp[i].begin(), tp[i].end());
    const double t = tp[i][tp[i].size() / 2];
    best = std::min(best, t);
    state.counters[i == 0 ? "conv_gemm_GFLOPs" : "conv_fft_GFLOPs"] = pass_flops / t / 1e9;
  }
  const double s = ts[ts.size() / 2];
  const double step_flops = 6.0 * kSteps * pass_flops;
  state.counters["GFLOP"] = step_flops / 1e9;
  state.counters["step_ms"] = s * 1e3;
  state.counters["step_GFLOPs"] = step_flops / s / 1e9;
  state.counters["conv_GFLOPs"] = pass_flops / best / 1e9;
  state.counters["pct_of_conv"] = 100.0 * (step_flops / s) / (pass_flops / best);
  state.counters["method_gemm"] = foe.resolved_method() == reg::ConvMethod::Gemm ? 1 : 0;
  state.counters["loss"] = loss;
  state.counters["threads"] = omp_get_max_threads();
}
void foe_valid(benchmark::State& state) { foe_step<float>(state, reg::Boundary::Valid); }
void foe_same(benchmark::State& state) { foe_step<float>(state, reg::Boundary::Same); }
void foe_valid_f64(benchmark::State& state) { foe_step<double>(state, reg::Boundary::Valid); }
void foe_same_f64(benchmark::State& state) { foe_step<double>(state, reg::Boundary::Same); }
BENCHMARK(foe_valid)->Name("UnrolledStep/foe")->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(5);
BENCHMARK(foe_same)->Name("UnrolledStep/foe_same")->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(5);
BENCHMARK(foe_valid_f64)->Name("UnrolledStep/foe_f64")->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(5);
BENCHMARK(foe_same_f64)->Name("UnrolledStep/foe_same_f64")->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(5);

/// The reference alone: U = K F (float, 320 x 320 times 320 x 4096).
void BM_Gemm(benchmark::State& state) {
  Problem& p = problem();
  MatrixT<float> u(kN, kB);
  for (auto _ : state) {
    u.noalias() = p.analysis.matrix() * p.g;
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPs"] = benchmark::Counter(gemm_flops(), benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Gemm)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
