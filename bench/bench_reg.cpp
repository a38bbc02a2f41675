// Fields-of-experts speed: the convolutional K (J = 24 filters of L = 32 taps, frames of
// n = 320 samples, B = 4096 frames, `same` boundary, student potential) by each exact
// implementation (direct loops, GEMM lowering, FFT), float32 and float64.
//
// FLOPs: one convolution-like pass (K F, K^T P, or the filter gradient sum_b P_b^T H_b) counts
// 2 J L M B (one multiply-add per tap, output and frame; M = outputs per filter and frame),
// whatever the implementation really does (the FFT does fewer, the lowering's padding more):
// GFLOP/s are "direct-equivalent" and compare implementations on the same work.
// The regularizer work of one unrolled step (forward + backward) is
//   gradient        K F, K^T Psi                          2 passes
//   hessian_product K F, K V, K^T(...)                    3 passes
//   mixed_product   K F, K W, dk(Psi, W), dk(phi'' Z, F)  4 passes
// = 9 passes; the elementwise potential work (phi', phi'', ...) is timed but not counted.
//
//   build/bench_reg --benchmark_filter='Pass|Step|Im2col|Potential' --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//   OMP_NUM_THREADS=1 build/bench_reg --benchmark_filter=Crossover   (float32, B = 256, L and n swept)
#include <benchmark/benchmark.h>
#include <omp.h>

#include <ctime>
#include <string>

#include "support.hpp"  // keep_freed_memory, as the CLI
#include "varlearn/core/numerics.hpp"
#include "varlearn/core/random.hpp"
#include "varlearn/reg/reg.hpp"

using namespace varlearn;
using reg::Boundary;
using reg::ConvMethod;

namespace {
constexpr Index kJ = 24, kL = 32, kN = 320, kB = 4096;

template <class T>
struct Problem {
  reg::Foe<T> foe;
  MatrixT<T> f, v, p;
  Problem(Index n, Index filters, Index length, Index frames)
      : foe(reg::Foe<T>::random(n, filters, length, Boundary::Same, reg::Potential::student(0.5), 1.0, 1.0, 3)) {
    Rng rng(5);
    f = gaussian_matrix(n, frames, 0.3, rng).template cast<T>();
    v = gaussian_matrix(n, frames, 0.3, rng).template cast<T>();
    p = gaussian_matrix(filters * foe.outputs(), frames, 0.3, rng).template cast<T>();
  }
  double pass_flops() const {
    return 2.0 * static_cast<double>(foe.filters().rows() * foe.filters().cols() * foe.outputs() * f.cols());
  }
};
template <class T>
Problem<T>& problem() {
  static Problem<T> p(kN, kJ, kL, kB);
  return p;
}

template <class T>
void label(benchmark::State& state, const reg::Foe<T>& foe, ConvMethod method) {
  state.SetLabel(std::string(name_of(reg::kConvMethodNames, method)) + " (auto = " +
                 name_of(reg::kConvMethodNames, reg::choose_conv_method(foe.dimension(), foe.filters().cols())) + ")");
}

// The calling thread's CPU seconds (user + system): on a machine shared with other jobs,
// flops / CPU time of a one-thread run is the rate the kernel gets while it runs.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// GFLOPs: flops / wall time; cpu_GFLOPs: flops / the main thread's CPU time (with one thread:
// the rate while running, robust to load; with several: inflated by time spent waiting).
void set_rate(benchmark::State& state, double flops, double cpu_seconds) {
  state.counters["GFLOPs"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
  state.counters["cpu_GFLOPs"] = flops * static_cast<double>(state.iterations()) / cpu_seconds / 1e9;
  state.counters["threads"] = omp_get_max_threads();
}

enum Pass { Apply, Adjoint, FilterGradient };

/// One convolution-like pass; state.range(0) = ConvMethod, state.range(1) = Pass.
template <class T>
void BM_Pass(benchmark::State& state) {
  const FlushDenormals ftz;
  Problem<T>& pr = problem<T>();
  const auto method = static_cast<ConvMethod>(state.range(0));
  const auto pass = static_cast<Pass>(state.range(1));
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : state) {
    if (pass == Apply) benchmark::DoNotOptimize(pr.foe.apply(pr.f, method).data());
    if (pass == Adjoint) benchmark::DoNotOptimize(pr.foe.adjoint(pr.p, method).data());
    if (pass == FilterGradient) benchmark::DoNotOptimize(pr.foe.filter_gradient(pr.p, pr.f, method).data());
  }
  const double cpu = thread_cpu_seconds() - cpu0;
  label(state, pr.foe, method);
  set_rate(state, pr.pass_flops(), cpu);
}

void pass_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"method", "pass"});
  for (ConvMethod m : {ConvMethod::Direct, ConvMethod::Gemm, ConvMethod::Fft})
    for (int pass : {Apply, Adjoint, FilterGradient}) b->Args({static_cast<int>(m), pass});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
}
BENCHMARK_TEMPLATE(BM_Pass, float)->Apply(pass_args);
BENCHMARK_TEMPLATE(BM_Pass, double)->Apply(pass_args);

/// One unrolled step's regularizer work: gradient, hessian_product, mixed_product (9 passes).
template <class T>
void BM_Step(benchmark::State& state) {
  const FlushDenormals ftz;
  Problem<T>& pr = problem<T>();
  const auto method = static_cast<ConvMethod>(state.range(0));
  reg::Foe<T> foe = pr.foe;
  foe.set_method(method);
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : state) {
    benchmark::DoNotOptimize(foe.gradient(pr.f).data());
    benchmark::DoNotOptimize(foe.hessian_product(pr.f, pr.v).data());
    benchmark::DoNotOptimize(foe.mixed_product(pr.f, pr.v).data());
  }
  const double cpu = thread_cpu_seconds() - cpu0;
  label(state, foe, method);
  set_rate(state, 9 * pr.pass_flops(), cpu);
}
void step_args(benchmark::internal::Benchmark* b) {
  b->ArgName("method");
  for (ConvMethod m : {ConvMethod::Auto, ConvMethod::Direct, ConvMethod::Gemm, ConvMethod::Fft})
    b->Arg(static_cast<int>(m));
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
}
BENCHMARK_TEMPLATE(BM_Step, float)->Apply(step_args);
BENCHMARK_TEMPLATE(BM_Step, double)->Apply(step_args);

/// A materialized im2col lowering's GEMM alone: (J x L) times the L x M B patch matrix (168 MB in
/// float32), the same flops as one pass; memory-bound, which the Hankel view avoids.
template <class T>
void BM_Im2colGemm(benchmark::State& state) {
  const FlushDenormals ftz;
  const Index cols = kN * kB;
  const MatrixT<T> a = MatrixT<T>::Random(kJ, kL), x = MatrixT<T>::Random(kL, cols);
  MatrixT<T> y(kJ, cols);
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : state) {
    y.noalias() = a * x;
    benchmark::ClobberMemory();
  }
  set_rate(state, 2.0 * kJ * kL * static_cast<double>(cols), thread_cpu_seconds() - cpu0);
}
BENCHMARK_TEMPLATE(BM_Im2colGemm, float)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_TEMPLATE(BM_Im2colGemm, double)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);

/// The potential's share of one step: the per-element kernel calls the fused step makes
/// (gradient phi'; hessian_product phi''; mixed_product phi', phi''), on J M B responses,
/// frames over the threads. Rate: calls per second (G/s).
template <class T>
void BM_PotentialCalls(benchmark::State& state) {
  const FlushDenormals ftz;
  Problem<T>& pr = problem<T>();
  const MatrixT<T> u = pr.foe.apply(pr.f, ConvMethod::Gemm);
  const reg::Potential& phi = pr.foe.potential();
  MatrixT<T> out(u.rows(), u.cols());
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (Index b = 0; b < u.cols(); ++b)
      for (Index r = 0; r < u.rows(); ++r) {
        const T x = u(r, b);
        out(r, b) = phi.first<T>(x) + phi.second<T>(x) + phi.first<T>(x) + phi.second<T>(x);
      }
    benchmark::ClobberMemory();
  }
  state.counters["Gcalls"] = benchmark::Counter(4.0 * static_cast<double>(u.size()),
                                                benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK_TEMPLATE(BM_PotentialCalls, float)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_TEMPLATE(BM_PotentialCalls, double)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);

/// Crossover sweep (float32, J = 24, B = 256): apply, adjoint and filter gradient per
/// iteration (3 passes); state.range = method, n, L. Direct only up to L = 16, FFT from L = 4.
void BM_Crossover(benchmark::State& state) {
  const FlushDenormals ftz;
  const auto method = static_cast<ConvMethod>(state.range(0));
  const Index n = state.range(1), len = state.range(2);
  Problem<float> pr(n, kJ, len, 256);
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : state) {
    benchmark::DoNotOptimize(pr.foe.apply(pr.f, method).data());
    benchmark::DoNotOptimize(pr.foe.adjoint(pr.p, method).data());
    benchmark::DoNotOptimize(pr.foe.filter_gradient(pr.p, pr.f, method).data());
  }
  const double cpu = thread_cpu_seconds() - cpu0;
  label(state, pr.foe, method);
  set_rate(state, 3 * pr.pass_flops(), cpu);
}
void crossover_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"method", "n", "L"});
  for (Index n : {64, 320, 1024})
    for (Index len : {1, 2, 4, 8, 16, 32, 64, 128, 256})
      for (ConvMethod m : {ConvMethod::Direct, ConvMethod::Gemm, ConvMethod::Fft})
        if (len <= n && !(m == ConvMethod::Direct && len > 16) && !(m == ConvMethod::Fft && len < 4))
          b->Args({static_cast<int>(m), n, len});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.1);
}
BENCHMARK(BM_Crossover)->Apply(crossover_args);

/// The same crossover on the whole step (gradient, hessian_product, mixed_product; 9 passes),
/// where gemm runs fused and fft through the batch kernels: float32, J = 24, B = 256.
void BM_StepCrossover(benchmark::State& state) {
  const FlushDenormals ftz;
  const auto method = static_cast<ConvMethod>(state.range(0));
  const Index n = state.range(1), len = state.range(2);
  Problem<float> pr(n, kJ, len, 256);
  pr.foe.set_method(method);
  const double cpu0 = thread_cpu_seconds();
  for (auto _ : state) {
    benchmark::DoNotOptimize(pr.foe.gradient(pr.f).data());
    benchmark::DoNotOptimize(pr.foe.hessian_product(pr.f, pr.v).data());
    benchmark::DoNotOptimize(pr.foe.mixed_product(pr.f, pr.v).data());
  }
  const double cpu = thread_cpu_seconds() - cpu0;
  label(state, pr.foe, method);
  set_rate(state, 9 * pr.pass_flops(), cpu);
}
void step_crossover_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"method", "n", "L"});
  for (Index n : {320, 1024})
    for (Index len : {64, 128, 192, 256})
      for (ConvMethod m : {ConvMethod::Gemm, ConvMethod::Fft}) b->Args({static_cast<int>(m), n, len});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.1);
}
BENCHMARK(BM_StepCrossover)->Apply(step_crossover_args);

}  // namespace

BENCHMARK_MAIN();
