#!/usr/bin/env python3
"""PyTorch peer of bench_general's UnrolledStep/plain (bench/bench_general.cpp): one unrolled
training step (loss and gradient by reverse mode, no optimizer update) of the general engine
with a dense analysis regularizer, identity operator, huber potential.

Energy E(f) = 1/2 ||f - g||^2 + sum_j a_j sum_b phi((K f_b)_j), phi = huber (eps = 0.02), K 320 x 320
(DCT rows), a_j = 0.05; f^0 = g (A^T g), f^{t+1} = f^t - w grad E(f^t) for N = 10 steps, w = 0.5
(learned, softplus); loss = 1/2 ||f^N - target||^2 / B. Gradient in (K, a, w) by autograd:
6 N GEMMs of 2 n^2 B flops per step (50.3 GFLOP at B = 4096), as varlearn's count.

Prints one JSON line per dtype: {"impl": "autograd", "dtype", "batch", "step_ms", "step_ms_min",
"gemm_ms", "step_gflops", "gemm_gflops", "threads", "torch"}. Optional (python3-torch).
"""
import argparse
import math

import torch
import torch.nn.functional as F

from peer_timing import report_interleaved


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=320)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--iterations", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    n, b, eps = args.n, args.batch, 0.02
    for dname in args.dtype.split(","):
        dtype = {"float32": torch.float32, "float64": torch.float64}[dname]
        gen = torch.Generator().manual_seed(1)
        target = (0.3 * torch.randn(n, b, generator=gen, dtype=torch.float64)).to(dtype)
        g = target + 0.1 * torch.randn(n, b, generator=gen, dtype=torch.float64).to(dtype)
        j = torch.arange(n, dtype=torch.float64)[:, None]
        t = torch.arange(n, dtype=torch.float64)[None, :]
        k0 = torch.sqrt(torch.where(j == 0, 1.0, 2.0) / n) * torch.cos(math.pi * (t + 0.5) * j / n)
        kmat = k0.to(dtype).requires_grad_(True)
        beta = torch.full((n, 1), math.log(math.expm1(0.05)), dtype=dtype, requires_grad=True)
        alpha = torch.tensor(math.log(math.expm1(0.5)), dtype=dtype, requires_grad=True)

        def step():
            a, w = F.softplus(beta), F.softplus(alpha)
            f = g
            for _ in range(args.steps):
                u = kmat @ f
                f = f - w * ((f - g) + kmat.t() @ (a * torch.clamp(u / eps, -1.0, 1.0)))
            loss = 0.5 * (f - target).square().sum() / b
            kmat.grad = beta.grad = alpha.grad = None
            loss.backward()
            return float(loss)

        u = torch.empty(n, b, dtype=dtype)
        kd = kmat.detach()

        def gemms():
            for _ in range(8):
                torch.mm(kd, g, out=u)

        report_interleaved(step, gemms, args.iterations, 6.0 * args.steps * 2.0 * n * n * b,
                           gemm_flops=8 * 2.0 * n * n * b, impl="autograd", dtype=dname, batch=b)

if __name__ == "__main__":
    main()
