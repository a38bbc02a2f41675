#!/usr/bin/env python3
"""PyTorch peer of bench_dequant's BM_UnrolledStep (bench/bench_dequant.cpp): one training step
(loss and gradient, no optimizer update) of the learned dequantization network, N unrolled
Chambolle-Pock iterations with a learned K and step sizes (varlearn/dequant/unrolled.hpp):

  x^0 = K^T s, xbar^0 = x^0, y^0 = 0; for k = 1..N:
    v = y + sigma_k K xbar,  y = v - clamp(v, sigma_k l, sigma_k u),
    z = x - tau_k K^T y,  x+ = soft_tau_k(z) = z - clamp(z, -tau_k, tau_k),  xbar = 2 x+ - x
  output K x^N; loss = mean((output - clean)^2); tau_k = softplus(a_k), sigma_k = softplus(b_k).

The gradient in (K, a, b) by autograd (clamp's subgradient: 1 inside the bounds, as varlearn's
[l < . < u] and [|z| > tau] away from ties). Runs on the cases bench_dequant --dump=DIR wrote
(n = 64, N = 5, B = 256 and 4096; theta at K = C^T, tau = 0.1, sigma = 10) and checks its loss and
gradient against varlearn's there.

Prints one JSON line per (dtype, batch): {"impl": "autograd", "dtype", "batch", "step_ms",
"step_ms_min", "gemm_ms", "step_gflops", "gemm_gflops", "loss_rel_diff", "grad_rel_diff",
"threads", "torch"}; GFLOP/s count the step's 35 products of 2 n^2 B flops, as bench_dequant.
Optional (python3-torch).
"""
import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from peer_timing import report_interleaved


def load(stem, name, shape):
    data = Path(f"{stem}_{name}.f64").read_bytes()
    t = torch.frombuffer(bytearray(data), dtype=torch.float64)
    return t.reshape(shape[::-1]).t().contiguous() if len(shape) == 2 else t.clone()  # column-major


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the folder bench_dequant --dump=DIR wrote")
    ap.add_argument("--dtype", default="float32,float64")
    ap.add_argument("--batch", default="256,4096")
    ap.add_argument("--iterations", type=int, default=0, help="timed steps (0: 41 at B = 256, 9 at 4096)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    cases = {c["batch"]: c for c in json.loads((Path(args.data) / "cases.json").read_text())}
    for dname in args.dtype.split(","):
        dtype = {"float32": torch.float32, "float64": torch.float64}[dname]
        for b in (int(x) for x in args.batch.split(",")):
            c = cases[b]
            n, depth = c["n"], c["depth"]
            stem = str(Path(args.data) / c["stem"])
            s, lo, hi, clean = (load(stem, k, (n, b)).to(dtype) for k in ("quantized", "lower", "upper", "clean"))
            theta = load(stem, "theta", (n * n + 2 * depth,))
            kmat = theta[: n * n].reshape(n, n).t().contiguous().to(dtype).requires_grad_(True)  # vec(K) column-major
            a = theta[n * n: n * n + depth].to(dtype).requires_grad_(True)
            bb = theta[n * n + depth:].to(dtype).requires_grad_(True)

            def loss_fn():
                tau, sigma = F.softplus(a), F.softplus(bb)
                x = kmat.t() @ s
                xbar, y = x, torch.zeros_like(x)
                for k in range(depth):
                    v = y + sigma[k] * (kmat @ xbar)
                    y = v - torch.clamp(v, sigma[k] * lo, sigma[k] * hi)
                    z = x - tau[k] * (kmat.t() @ y)
                    xn = z - torch.clamp(z, -tau[k], tau[k])
                    xbar, x = 2 * xn - x, xn
                return (kmat @ x - clean).square().mean()

            def step():
                kmat.grad = a.grad = bb.grad = None
                loss = loss_fn()
                loss.backward()
                return float(loss)

            loss = step()
            grad = torch.cat([kmat.grad.t().reshape(-1), a.grad, bb.grad]).double()  # theta's layout
            want = load(stem, "grad_" + dname, (grad.numel(),))
            checks = {"loss_rel_diff": abs(loss - c["loss_" + dname]) / abs(c["loss_" + dname]),
                      "grad_rel_diff": float((grad - want).norm() / want.norm())}
            u = torch.empty(n, b, dtype=dtype)
            gk = torch.zeros(n, n, dtype=dtype)
            kd = kmat.detach()
            square, outer = 3 + 4 * depth, 2 + 2 * depth

            def gemms():  # the step's products alone, as bench_dequant's reference
                for i in range(square):
                    torch.mm(kd.t() if i % 2 else kd, s, out=u)
                for _ in range(outer):
                    gk.addmm_(s, clean.t())

            flops = (square + outer) * 2.0 * n * n * b
            iters = args.iterations or (41 if b <= 256 else 9)
            report_interleaved(step, gemms, iters, flops, impl="autograd", dtype=dname, batch=b, **checks)


if __name__ == "__main__":
    main()
