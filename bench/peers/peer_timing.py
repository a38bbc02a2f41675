"""What the PyTorch peers share: a training step timed interleaved with the same products alone
(so that machine load hits both alike), printed as one JSON line for compare.py."""
import json
import statistics
import time

import torch


def report_interleaved(step, products, iters, flops, gemm_flops=None, **fields):
    """Warms both up once, times `iters` rounds of step() then products(), and prints the medians
    (step_ms, gemm_ms: all of products()), the fastest step, the step's GFLOP/s of `flops` and the
    products' of `gemm_flops` (default: `flops`), after `fields`."""
    step()
    products()
    ts, tg = [], []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        t1 = time.perf_counter()
        products()
        t2 = time.perf_counter()
        ts.append(t1 - t0)
        tg.append(t2 - t1)
    s, g = statistics.median(ts), statistics.median(tg)
    print(json.dumps({**fields, "step_ms": s * 1e3, "step_ms_min": min(ts) * 1e3, "gemm_ms": g * 1e3,
                      "step_gflops": flops / s / 1e9, "gemm_gflops": (gemm_flops or flops) / g / 1e9,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)
