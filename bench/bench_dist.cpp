// The fixed-order sum of dist (reduce-scatter + all-gather) by vector length, for the
// communication model of docs/scale-out.md. Run it under the launcher:
//   mpirun -np 2 --bind-to core ./build/bench_dist          (rank 0 prints one row per length)
// Plain timing, not Google Benchmark: every rank must run the same number of reductions.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "varlearn/dist/dist.hpp"

int main(int argc, char** argv) {
  using namespace varlearn;
  dist::Session session(argc, argv);
  if (dist::is_root())
    std::printf("ranks %d (MPI %s)\n%12s %8s %14s %14s %12s\n", dist::size(), dist::available() ? "built in" : "absent",
                "doubles", "reps", "median_us", "min_us", "GB/s(min)");
  for (Index len : {Index(1), Index(10), Index(100), Index(1000), Index(10000), Index(100000), Index(1000000)}) {
    Vector v = Vector::Constant(len, 1.0 + dist::rank());
    const int reps = len >= 100000 ? 20 : 200;
    std::vector<double> t;
    for (int i = 0; i < reps + 5; ++i) {
      dist::barrier();
      const auto t0 = std::chrono::steady_clock::now();
      dist::sum(v);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (i >= 5) t.push_back(s);  // 5 warm-up calls
      v.setConstant(1.0 + dist::rank());
    }
    // The slowest rank decides a step: take each repetition's maximum over the ranks.
    for (double& s : t) {
      Vector one = Vector::Zero(dist::size());
      one(dist::rank()) = s;
      dist::sum(one);
      s = one.maxCoeff();
    }
    std::sort(t.begin(), t.end());
    if (dist::is_root())
      std::printf("%12ld %8d %14.2f %14.2f %12.3f\n", static_cast<long>(len), reps, 1e6 * t[t.size() / 2], 1e6 * t.front(),
                  8.0 * double(len) / t.front() / 1e9);
  }
  return 0;
}
