"""What the PyTorch peers share: a training step timed interleaved with the same products alone
(so that machine load hits both alike), printed as one JSON line for compare.py. As varlearn's
benchmarks (bench/support.hpp), each round runs each of the two twice in a row: the first run
meets the caches the other left (cold), the second its own (warm, as step after step in a
training loop); the warm runs are reported, the cold ones beside them. A run of half a second or
more is not repeated: the caches it starts from are a vanishing part of it."""
import json
import statistics
import time

import torch


def report_interleaved(step, products, iters, flops, gemm_flops=None, **fields):
    """Warms both up once, times `iters` rounds of step(), step(), products(), products(), and prints
    the medians of the warm runs (step_ms, gemm_ms: all of products()) and of the cold ones
    (step_cold_ms, gemm_cold_ms), the fastest warm step, the step's GFLOP/s of `flops` and the
    products' of `gemm_flops` (default: `flops`), after `fields`."""
    step()
    products()
    ts, tg, tsc, tgc = [], [], [], []

    def timed(f):
        t0 = time.perf_counter()
        f()
        return time.perf_counter() - t0

    def twice(f, cold, warm):
        cold.append(timed(f))
        warm.append(timed(f) if cold[-1] < 0.5 else cold[-1])

    for _ in range(iters):
        twice(step, tsc, ts)
        twice(products, tgc, tg)
    s, g = statistics.median(ts), statistics.median(tg)
    print(json.dumps({**fields, "step_ms": s * 1e3, "step_ms_min": min(ts) * 1e3, "gemm_ms": g * 1e3,
                      "step_cold_ms": statistics.median(tsc) * 1e3, "gemm_cold_ms": statistics.median(tgc) * 1e3,
                      "step_gflops": flops / s / 1e9, "gemm_gflops": (gemm_flops or flops) / g / 1e9,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)
