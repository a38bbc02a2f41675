// One Chambolle–Pock iteration of the classic dequantization over a batch of frames
// (1024 frames of n = 64, 256 frames of n = 320), float64 and float32, and the DCT as a
// cached-matrix GEMM against a per-frame matrix-vector loop. Reports microseconds per frame
// (counter "us_per_frame"). Run: ./bench_dequant --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <random>

#include "varlearn/audio/quantizer.hpp"
#include "varlearn/dequant/chambolle_pock.hpp"
#include "varlearn/dequant/dct.hpp"

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

template <class T> void BM_CpIteration(benchmark::State& state) {
  Eigen::setNbThreads(static_cast<int>(state.range(2)));
  const Index n = state.range(0), b = state.range(1);
  Setup<T> s(n, b);
  for (auto _ : state) {
    dequant::cp_iteration<T>(s.k, s.lower, s.upper, T(0.3), T(1 / 0.3), s.st);
    benchmark::DoNotOptimize(s.st.x.data());
  }
  state.counters["us_per_frame"] = benchmark::Counter(
      static_cast<double>(b) * state.iterations(), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
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

// Args: n, frames, GEMM threads.
BENCHMARK(BM_CpIteration<double>)->Args({64, 1024, 1})->Args({320, 256, 1})->Args({64, 1024, 2})->Args({320, 256, 2})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CpIteration<float>)->Args({64, 1024, 1})->Args({320, 256, 1})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DctGemm)->Args({64, 1024})->Args({320, 256})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DctPerFrame)->Args({64, 1024})->Args({320, 256})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DctFftw)->Args({64, 1024})->Args({320, 256})->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
