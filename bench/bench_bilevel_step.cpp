// Quadratic bilevel training step: learn::loss_direct with Method::Bilevel (z = (I + R^T R)^{-1} x
// by Cholesky, loss ||z - y||^2 / (2B), gradient dR = -R (Z P^T + P Z^T), P = (I + R^T R)^{-1} E / B)
// followed by an Adam update, at n = k = 320, B = 256 and 4096, float32 and float64; timed
// interleaved with GEMMs of the step's flop count (both backends of core/gemm.hpp, Eigen and the
// linked BLAS), so that machine load hits all alike. The PyTorch peer is bench/peers/torch_bilevel.py
// (bench/peers/compare.py --bilevel runs both side by side).
//
// FLOPs: A = I + R^T R (2 k n^2, one GEMM), its Cholesky factor (n^3 / 3), two solves with B
// right-hand sides (2 x 2 n^2 B: forward and back substitution each n^2 B; the step does them as
// products with the inverse formed from the factor where that is faster, the inverse not
// counted), Z P^T (2 n^2 B) and
// R (Z P^T + P Z^T) (2 k n^2): 6 n^2 B + 4 k n^2 + n^3 / 3 = 2.57 GFLOP at B = 4096. The
// reference GEMMs do the same count with GEMMs of the step's shapes: R^T R, three n x B by
// B x n / n x n by n x B products standing for the solves and Z P^T, R S, and n/6 x n x n for the
// factorization.
//
//   OMP_NUM_THREADS=1 ./build/bench_bilevel_step --benchmark_counters_tabular=true
//   VARLEARN_GEMM=eigen|blas ./build/bench_bilevel_step ...   (force the step's backend)
//
// Counters: step_ms (median), step_GFLOPs, gemm_eigen_GFLOPs and gemm_blas_GFLOPs (the reference
// GEMMs with each backend, medians), best_gemm_GFLOPs, pct_of_best_gemm = best GEMM time / step
// time, step_blas (1 when the step's products ran on the BLAS), threads.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "support.hpp"
#include "varlearn/core/gemm.hpp"
#include "varlearn/learn/learn.hpp"

using namespace varlearn;
using namespace varlearn::learn;

namespace {
constexpr Index kN = 320, kK = 320;

const ModelSpec kSpec{kN, kK, Method::Bilevel, 1, StepsizeMode::Fixed};

double step_flops(Index b) {
  const double n = kN, k = kK, bb = static_cast<double>(b);
  return 6.0 * n * n * bb + 4.0 * k * n * n + n * n * n / 3.0;
}

template <class Real>
void bilevel_step(benchmark::State& state) {
  const Index b = state.range(0);
  bench::QuadraticProblem<Real>& p = bench::quadratic_problem<Real>(kSpec, b);
  varlearn::optim::AdamOptions ao;
  ao.learning_rate = 1e-4;
  varlearn::optim::AdamState<Real> adam(ao, p.theta.size());
  VectorT<Real> theta = p.theta, grad;
  const MatrixT<Real> r = MatrixT<Real>::Random(kK, kN), s = MatrixT<Real>::Random(kN, kN),
                      lower = MatrixT<Real>::Random(kN / 6, kN);
  const MatrixT<Real>& z = p.x;
  const MatrixT<Real>& e = p.y;
  MatrixT<Real> a = MatrixT<Real>::Zero(kN, kN), out = MatrixT<Real>::Zero(kN, b), wz = MatrixT<Real>::Zero(kN, kN),
                dr = MatrixT<Real>::Zero(kK, kN), fac = MatrixT<Real>::Zero(kN / 6, kN);
  auto gemms = [&](GemmBackend be) {  // the step's flop count as GEMMs of its shapes
    gemm_with(be, Real(1), r, true, r, false, Real(1), a);      // I + R^T R
    gemm_with(be, Real(1), lower, false, s, false, Real(0), fac);  // ~ the Cholesky factorization
    gemm_with(be, Real(1), s, false, z, false, Real(0), out);   // ~ solve for Z
    gemm_with(be, Real(1), s, false, e, false, Real(0), out);   // ~ solve for P
    gemm_with(be, Real(1), z, false, e, true, Real(0), wz);     // Z P^T
    gemm_with(be, Real(-1), r, false, s, false, Real(0), dr);   // dR = -R S
  };
  auto step = [&] {
    const Real l = loss_direct<Real>(p.spec, theta, {}, p.x, p.y, &grad);
    adam.step(theta, grad);
    benchmark::DoNotOptimize(l);
  };
  const bench::Interleaved t = bench::interleaved(state, step, gemms);
  const double flops = step_flops(b);
  state.counters["GFLOP"] = flops / 1e9;
  state.counters["step_ms"] = t.work * 1e3;
  state.counters["step_GFLOPs"] = flops / t.work / 1e9;
  bench::gemm_counters(state, flops, t);
  state.counters["step_blas"] = gemm_backend_for<Real>(z, false, e, true) == GemmBackend::Blas ? 1 : 0;
  state.counters["threads"] = omp_get_max_threads();
}

template <class Real>
void BM_BilevelStep(benchmark::State& state) {
  bilevel_step<Real>(state);
}
BENCHMARK_TEMPLATE(BM_BilevelStep, float)->Arg(4096)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(15);
BENCHMARK_TEMPLATE(BM_BilevelStep, float)->Arg(256)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(41);
BENCHMARK_TEMPLATE(BM_BilevelStep, double)->Arg(4096)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(11);
BENCHMARK_TEMPLATE(BM_BilevelStep, double)->Arg(256)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(31);

}  // namespace

BENCHMARK_MAIN();
