// One Chambolle–Pock iteration of the classic dequantization over a batch of frames
// (1024 frames of n = 64, 256 frames of n = 320), float64 and float32; one training step
// (loss and gradient by reverse mode) of the learned unrolled network (n = 64, N = 5, the
// study's 256 frames and 4096); and the DCT as a cached-matrix GEMM against a per-frame
// matrix-vector loop. Reports microseconds per frame ("us_per_frame"); the iteration and the
// step also the same products alone with each GEMM backend, timed interleaved with them
// (medians), and pct_of_best_gemm = best GEMM time / their time (core/gemm.hpp; the products
// are the work, the rest is O(n B) elementwise passes).
// Run: ./bench_dequant --benchmark_counters_tabular=true
//      ./bench_dequant --dump=DIR     (the network's cases for bench/peers/torch_dequant.py;
//                                      bench/peers/compare.py --dequant runs both)
#include <benchmark/benchmark.h>

#include <omp.h>

#include <Eigen/Core>
#include <cstdio>
#include <algorithm>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

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

// The learned network's benchmark problem: n = 64, depth N = 5, one step size per iteration, B
// frames of the setup above (K = C^T), the clean frames 0.01 above the quantized ones, and
// theta at K = C^T, tau = 0.1, sigma = 10.
template <class T> struct NetworkCase {
  static constexpr Index n = 64;
  static constexpr int depth = 5;
  Setup<T> s;
  dequant::UnrolledSpec spec;
  MatrixT<T> quantized, clean;
  VectorT<T> theta;
  explicit NetworkCase(Index b) : s(n, b) {
    spec.n = n;
    spec.depth = depth;
    quantized = s.k * s.st.x;
    clean = quantized + MatrixT<T>::Constant(n, b, T(0.01));
    theta = dequant::initial_parameters<T>(spec, 0.1, 10.0);
  }
  dequant::UnrolledLoss<T> loss() const { return dequant::UnrolledLoss<T>(spec, quantized, s.lower, s.upper, clean); }
};

// One training step of the learned network (loss and gradient; float32 as the study trains in
// float64: both). Args: frames, threads.
template <class T> void BM_UnrolledStep(benchmark::State& state) {
  const ScopedThreads threads(static_cast<int>(state.range(1)));
  const Index b = state.range(0);
  const NetworkCase<T> c(b);
  constexpr Index n = NetworkCase<T>::n;
  constexpr int depth = NetworkCase<T>::depth;
  const dequant::UnrolledLoss<T> loss = c.loss();
  VectorT<T> grad;
  const MatrixT<T>& k = c.s.k;
  // Products of n x n by n x B: forward K^T s, 2 per iteration, K x; reverse K^T gout and 2 per
  // iteration. Of n x B by (n x B)^T (into the gradient of K): 2 per iteration and 2 more.
  const int square = 3 + 4 * depth, outer = 2 + 2 * depth, products = square + outer;
  // As the step runs them: in column blocks of bc frames, the blocks on the threads (one each,
  // single-threaded products); a batch of one block on one thread below 2e7 flops per product.
  const Index bc = dequant::unrolled_block_columns(c.spec, b, sizeof(T)), nb = (b + bc - 1) / bc;
  const int max_threads = omp_get_max_threads();
  const int block_threads = static_cast<int>(std::min<Index>(max_threads, nb));
  const int serial = nb > 1 ? 0 : threads_for_flops(2.0 * double(n) * double(n) * double(b));
  struct Operands {  // one block's frames (two widths: the blocks', the last one's) and outputs
    MatrixT<T> q, c, q_last, c_last, a, gk;
  };
  const Index last = b - (nb - 1) * bc;
  std::vector<Operands> ops(static_cast<size_t>(max_threads));
  for (auto& o : ops) {
    o.q = c.quantized.leftCols(std::min(bc, b));
    o.c = c.clean.leftCols(std::min(bc, b));
    o.q_last = c.quantized.rightCols(last);
    o.c_last = c.clean.rightCols(last);
    o.a.resize(n, std::min(bc, b));
    o.gk.setZero(n, n);
  }
  against_gemm(
      state, b, 2.0 * double(n) * double(n) * double(b) * products,
      [&] { benchmark::DoNotOptimize(loss.evaluate_with_gradient(c.theta, grad)); },
      [&](GemmBackend be) {  // the same shapes: n x n times n x w, and n x w times (n x w)^T
        const ScopedThreads one(serial);
#pragma omp parallel num_threads(block_threads) if (block_threads > 1)
        {
          Operands& o = ops[static_cast<size_t>(omp_get_thread_num())];
#pragma omp for schedule(static, 1)
          for (Index blk = 0; blk < nb; ++blk) {
            const MatrixT<T>& q = blk + 1 < nb ? o.q : o.q_last;
            const MatrixT<T>& cl = blk + 1 < nb ? o.c : o.c_last;
            for (int i = 0; i < square; ++i) gemm_with(be, T(1), k, i % 2 == 1, q, false, T(0), o.a);
            for (int i = 0; i < outer; ++i) gemm_with(be, T(1), q, false, cl, true, T(1), o.gk);
          }
          benchmark::DoNotOptimize(o.a.data());
          benchmark::DoNotOptimize(o.gk.data());
        }
      });
  state.counters["threads"] = max_threads;
  state.counters["block_columns"] = static_cast<double>(bc);
}

/// --dump=DIR: the learned network's cases (B = 256 and 4096, the float64 problem: quantized,
/// lower, upper, clean, theta) and varlearn's loss and gradient in float64 and float32 (the
/// float32 problem is the float64 one's setup in float32), for bench/peers/torch_dequant.py
/// --data DIR.
int dump_cases(const std::string& dir) {
  std::string json = "[";
  for (const Index b : {Index(256), Index(4096)}) {
    const NetworkCase<double> c(b);
    const NetworkCase<float> c32(b);
    const std::string name = "network_n64_b" + std::to_string(b), stem = dir + "/" + name;
    bench::write_raw(stem + "_quantized.f64", c.quantized.data(), c.quantized.size());
    bench::write_raw(stem + "_lower.f64", c.s.lower.data(), c.s.lower.size());
    bench::write_raw(stem + "_upper.f64", c.s.upper.data(), c.s.upper.size());
    bench::write_raw(stem + "_clean.f64", c.clean.data(), c.clean.size());
    bench::write_raw(stem + "_theta.f64", c.theta.data(), c.theta.size());
    Vector grad;
    const double loss = c.loss().evaluate_with_gradient(c.theta, grad);
    bench::write_raw(stem + "_grad_float64.f64", grad.data(), grad.size());
    VectorT<float> grad32;
    const double loss32 = c32.loss().evaluate_with_gradient(c32.theta, grad32);
    const Vector g32 = grad32.cast<double>();
    bench::write_raw(stem + "_grad_float32.f64", g32.data(), g32.size());
    char line[320];
    std::snprintf(line, sizeof line,
                  "%s\n {\"stem\": \"%s\", \"n\": %ld, \"depth\": %d, \"batch\": %ld, \"loss_float64\": %.17g, "
                  "\"loss_float32\": %.9g}",
                  json.size() > 1 ? "," : "", name.c_str(), static_cast<long>(c.n), c.depth, static_cast<long>(b),
                  loss, loss32);
    json += line;
  }
  return bench::write_cases(dir, std::move(json));
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
BENCHMARK(BM_UnrolledStep<double>)->ArgsProduct({{256, 4096}, {1, 2}})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_UnrolledStep<float>)->ArgsProduct({{256, 4096}, {1, 2}})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DctGemm)->Args({64, 1024})->Args({320, 256})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DctPerFrame)->Args({64, 1024})->Args({320, 256})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DctFftw)->Args({64, 1024})->Args({320, 256})->Unit(benchmark::kMicrosecond);
int main(int argc, char** argv) {
  std::vector<char*> args;
  std::string dump;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--dump=", 0) == 0) dump = a.substr(7);
    else args.push_back(argv[i]);
  }
  return bench::dump_or_run(!dump.empty(), [&] { return dump_cases(dump); }, args);
}
