// One Chambolle–Pock iteration of the classic dequantization over a batch of frames
// (1024 frames of n = 64, 256 frames of n = 320), float64 and float32; one training step
// (loss and gradient by reverse mode) of the learned unrolled network (n = 64, N = 5, the
// study's 256 frames and 4096); and the DCT as a cached-matrix GEMM against a per-frame
// matrix-vector loop. Reports microseconds per frame ("us_per_frame"); the iteration and the
// step also the same products alone with each GEMM backend, timed interleaved with them
// (medians), and pct_of_best_gemm = best GEMM time / their time (core/gemm.hpp; the products
// are the work, the rest is O(n B) elementwise passes).
// Run: ./bench_dequant --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <random>

#include "support.hpp"
#include "varlearn/audio/quantizer.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/core/threads.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/dct.hpp"
#include "varlearn/dequant/unrolled.hpp"

using namespace varlearn;

namespace {
template <class T> struct Setup {
  MatrixT<T> k, lower, upper;
  dequant::CpState<T> st;
  Setup(Index n, Index b) {
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(-0.9, 0.9);
    Matrix clean(n, b);
    for (Index i = 0; i < clean.size(); ++i) clean(i) = u(rng);
    audio::Quantizer q(4);
    Matrix s = q.quantize(clean);
    auto cell = q.cell(s);
    k = dequant::dct_matrix<T>(n).transpose();
    lower = cell.lower.cast<T>();
    upper = cell.upper.cast<T>();
    st.x = k.transpose() * s.cast<T>();
    st.xbar = st.x;
    st.y = MatrixT<T>::Zero(n, b);
    st.work.resize(n, b);
  }
};

// Times the work against its products alone (bench::interleaved); counters us_per_frame, GFLOPs
// and the GEMM shares (bench::gemm_counters).
template <class Work, class Products>
void against_gemm(benchmark::State& state, Index frames, double flops, Work&& work, Products&& products) {
  const bench::Interleaved t = bench::interleaved(state, work, products);
  state.counters["us_per_frame"] = t.work / double(frames) * 1e6;
  state.counters["GFLOPs"] = flops / t.work / 1e9;
  bench::gemm_counters(state, flops, t);
}

// Args: n, frames, threads.
template <class T> void BM_CpIteration(benchmark::State& state) {
  const ScopedThreads threads(static_cast<int>(state.range(2)));
  const Index n = state.range(0), b = state.range(1);
  Setup<T> s(n, b);
  MatrixT<T> work(n, b);
  against_gemm(
      state, b, 4.0 * double(n) * double(n) * double(b),
      [&] {
        dequant::cp_iteration<T>(s.k, s.lower, s.upper, T(0.3), T(1 / 0.3), s.st);
        benchmark::DoNotOptimize(s.st.x.data());
      },
      [&](GemmBackend be) {  // K xbar and K^T y
        gemm_with(be, T(1), s.k, false, s.st.xbar, false, T(0), work);
        gemm_with(be, T(1), s.k, true, s.st.y, false, T(0), work);
        benchmark::DoNotOptimize(work.data());
      });
}

// One training step of the learned network (loss and gradient; float32 as the study trains in
// float64: both). Args: frames, threads; n = 64, depth N = 5, one step size per iteration.
template <class T> void BM_UnrolledStep(benchmark::State& state) {
  const ScopedThreads threads(static_cast<int>(state.range(1)));
  constexpr Index n = 64;
  constexpr int depth = 5;
  const Index b = state.range(0);
  Setup<T> s(n, b);
  dequant::UnrolledSpec us;
  us.n = n;
  us.depth = depth;
  const MatrixT<T> quantized = s.k * s.st.x, clean = quantized + MatrixT<T>::Constant(n, b, T(0.01));
  const dequant::UnrolledLoss<T> loss(us, quantized, s.lower, s.upper, clean);
  const VectorT<T> theta = dequant::initial_parameters<T>(us, 0.1, 10.0);
  VectorT<T> grad;
  MatrixT<T> a(n, b), gk(n, n);
  const MatrixT<T> k = s.k;
  // Products of n x n by n x B: forward K^T s, 2 per iteration, K x; reverse K^T gout and 2 per
  // iteration. Of n x B by (n x B)^T (into the gradient of K): 2 per iteration and 2 more.
  const int square = 3 + 4 * depth, outer = 2 + 2 * depth, products = square + outer;
  against_gemm(
      state, b, 2.0 * double(n) * double(n) * double(b) * products,
      [&] { benchmark::DoNotOptimize(loss.evaluate_with_gradient(theta, grad)); },
      [&](GemmBackend be) {  // the same shapes: n x n times n x B, and n x B times (n x B)^T
        for (int i = 0; i < square; ++i) gemm_with(be, T(1), k, i % 2 == 1, quantized, false, T(0), a);
        for (int i = 0; i < outer; ++i) gemm_with(be, T(1), quantized, false, clean, true, T(1), gk);
        benchmark::DoNotOptimize(a.data());
        benchmark::DoNotOptimize(gk.data());
      });
}

void BM_DctGemm(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const Index n = state.range(0), b = state.range(1);
  dequant::Dct<double> dct(n);
  Matrix s = Matrix::Random(n, b), x(n, b);
  for (auto _ : state) {
    x.noalias() = dct.matrix() * s;
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["us_per_frame"] = benchmark::Counter(
      static_cast<double>(b) * state.iterations(), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_DctPerFrame(benchmark::State& state) {
  const Index n = state.range(0), b = state.range(1);
  dequant::Dct<double> dct(n);
  Matrix s = Matrix::Random(n, b), x(n, b);
  for (auto _ : state) {
    for (Index j = 0; j < b; ++j) x.col(j).noalias() = dct.matrix() * s.col(j);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["us_per_frame"] = benchmark::Counter(
      static_cast<double>(b) * state.iterations(), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// FFTW's DCT-II (REDFT10, plan made once in Dct's constructor), all columns.
void BM_DctFftw(benchmark::State& state) {
  const Index n = state.range(0), b = state.range(1);
  dequant::Dct<double> dct(n);
  Matrix s = Matrix::Random(n, b), x(n, b);
  for (auto _ : state) {
    x = dct.forward_fftw(s);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["us_per_frame"] = benchmark::Counter(
      static_cast<double>(b) * state.iterations(), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
}  // namespace

// Args: n, frames, threads.
BENCHMARK(BM_CpIteration<double>)->Args({64, 1024, 1})->Args({320, 256, 1})->Args({64, 1024, 2})->Args({320, 256, 2})
    ->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CpIteration<float>)->Args({64, 1024, 1})->Args({320, 256, 1})->UseManualTime()->Unit(benchmark::kMicrosecond);
// Args: frames, threads.
BENCHMARK(BM_UnrolledStep<double>)->Args({256, 1})->Args({4096, 1})->Args({4096, 2})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_UnrolledStep<float>)->Args({256, 1})->Args({4096, 1})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DctGemm)->Args({64, 1024})->Args({320, 256})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DctPerFrame)->Args({64, 1024})->Args({320, 256})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DctFftw)->Args({64, 1024})->Args({320, 256})->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
