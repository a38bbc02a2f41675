// Theory map speed: a 500 x 101 (k by theta) map at n = 500, constant model, with
// learned stepsize, computed on all cores (OpenMP). Target: under 2 s on 2 cores.
// Run alone: other processes on the machine share the cores (report the load with the numbers).
#include <benchmark/benchmark.h>
#include <omp.h>

#include "varlearn/study/theory_study.hpp"

using namespace varlearn::study;

static MapOptions map_options(const char* value) {
  MapOptions o;
  o.fixed.n = 500, o.fixed.mu = 1, o.fixed.sigma = 0.9;
  o.x = Axis::parse("k=1:500:500");
  o.y = Axis::parse("theta=0:1:101");
  o.value = MapValue::parse(value);
  return o;
}

// Arg: 0 = odd depth (unrolled:3), 1 = even depth (unrolled:2), 2 = the ratio bilevel/unrolled:2.
static void BM_Map500x101Learned(benchmark::State& state) {
  const char* values[] = {"unrolled:3", "unrolled:2", "bilevel/unrolled:2"};
  const MapOptions o = map_options(values[state.range(0)]);
  for (auto _ : state) benchmark::DoNotOptimize(compute_map(o).values.data());
  state.counters["points"] = double(o.points());
  state.counters["threads"] = omp_get_max_threads();
  state.SetLabel(values[state.range(0)]);
}
BENCHMARK(BM_Map500x101Learned)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(3);

BENCHMARK_MAIN();
