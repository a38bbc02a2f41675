// Theory engine speed: one optimal-unrolled-risk query with learned stepsize at n = 500.
// Targets: < 1 ms for the constant and i.i.d. models, < 0.2 s for a dense Sigma
// (the dense case includes its one symmetric eigendecomposition).
#include <benchmark/benchmark.h>

#include "varlearn/theory/optimal.hpp"

using namespace varlearn;
using namespace varlearn::theory;

static void BM_LearnedConstant(benchmark::State& state) {
  const DataModel d = DataModel::constant(500, 1.0, 0.5);
  for (auto _ : state) benchmark::DoNotOptimize(best_unrolled_learned(d, 0.9, 10, int(state.range(0))).risk);
}
BENCHMARK(BM_LearnedConstant)->Arg(3)->Arg(4)->Unit(benchmark::kMicrosecond);

static void BM_LearnedIid(benchmark::State& state) {
  const DataModel d = DataModel::iid(500, 1.0, 0.5);
  for (auto _ : state) benchmark::DoNotOptimize(best_unrolled_learned(d, 0.9, 10, int(state.range(0))).risk);
}
BENCHMARK(BM_LearnedIid)->Arg(3)->Arg(4)->Unit(benchmark::kMicrosecond);

static void BM_LearnedConstantHugeN(benchmark::State& state) {
  const DataModel d = DataModel::constant(1000000, 1.0, 0.5);
  for (auto _ : state) benchmark::DoNotOptimize(best_unrolled_learned(d, 0.9, 1000, 5).risk);
}
BENCHMARK(BM_LearnedConstantHugeN)->Unit(benchmark::kMicrosecond);

// Dense AR(1) Sigma, n = 500: eigendecomposition + learned search, as one query.
static void BM_LearnedDenseIncludingEig(benchmark::State& state) {
  for (auto _ : state) {
    const DataModel d = DataModel::ar1(500, 0.5, 1.0, 0.9);
    benchmark::DoNotOptimize(best_unrolled_learned(d, 0.9, 100, int(state.range(0))).risk);
  }
}
BENCHMARK(BM_LearnedDenseIncludingEig)->Arg(3)->Arg(4)->Unit(benchmark::kMillisecond);

// The search alone on an already decomposed dense Sigma.
static void BM_LearnedDenseSearchOnly(benchmark::State& state) {
  const DataModel d = DataModel::ar1(500, 0.5, 1.0, 0.9);
  for (auto _ : state) benchmark::DoNotOptimize(best_unrolled_learned(d, 0.9, 100, int(state.range(0))).risk);
}
BENCHMARK(BM_LearnedDenseSearchOnly)->Arg(3)->Arg(4)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
