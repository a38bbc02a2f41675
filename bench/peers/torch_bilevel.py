#!/usr/bin/env python3
"""PyTorch peer of bench_bilevel_step's quadratic bilevel training step (bench/bench_bilevel_step.cpp).

The step: A = I + R^T R, z = A^{-1} x (Cholesky), loss = ||z - y||^2 / (2B), its gradient in R and
one Adam update. Implementations, all timed:
  handwritten        varlearn's formula (learn::loss_direct, Method::Bilevel): L = cholesky(A),
                     Z = cholesky_solve(X, L), E = (Z - Y) / B, P = cholesky_solve(E, L),
                     dR = -R (Z P^T + P Z^T); products through torch.mm / addmm_
  autograd_cholesky  the forward written with torch.linalg.cholesky + torch.cholesky_solve,
                     loss.backward() (autograd through both)
  autograd_solve     the forward written with torch.linalg.solve(A, X), loss.backward()
each followed by torch.optim.Adam, and GEMMs of the step's flop count (6 n^2 B + 4 k n^2 + n^3/3,
the shapes of bench_bilevel_step's reference products), interleaved with the steps, as the peer's
GEMM throughput in the same run.

Before timing, in float64 on the case's data, the hand-written gradient is compared with
autograd's (both autograd forms): "grad_rel_diff" = |dR_hand - dR_autograd|_F / |dR_autograd|_F.

Prints one JSON object per line: {"impl", "dtype", "batch", "step_ms", "step_ms_min", "gemm_ms",
"step_gflops", "gemm_gflops", "threads", "torch"}, and one {"check": ...} line per case.
Optional: never a test dependency (Debian: python3-torch).
"""
import argparse
import json
import math

import torch

from peer_timing import report_interleaved


def problem(n, k, batch, dtype, seed=1):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn(n, batch, generator=gen, dtype=torch.float64)
    x = y + 0.1 * torch.randn(n, batch, generator=gen, dtype=torch.float64)
    r = torch.randn(k, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    return x.to(dtype), y.to(dtype), r.to(dtype)


class Handwritten:
    """learn::loss_direct's bilevel path in torch, buffers reused across steps."""

    def __init__(self, x, y, r, lr):
        self.x, self.y = x, y
        self.r = r.clone()
        n, b = x.shape
        self.a = torch.empty(n, n, dtype=x.dtype)
        self.wz = torch.empty(n, n, dtype=x.dtype)
        self.dr = torch.empty_like(self.r)
        self.opt = torch.optim.Adam([self.r], lr=lr)

    def loss_grad(self):
        x, y, r = self.x, self.y, self.r
        b = x.shape[1]
        a = self.a
        torch.mm(r.t(), r, out=a)
        a.diagonal().add_(1.0)
        lo = torch.linalg.cholesky(a)
        z = torch.cholesky_solve(x, lo)
        e = z - y
        loss = float(e.double().square().sum()) / (2 * b)
        e.div_(b)
        p = torch.cholesky_solve(e, lo)
        torch.mm(z, p.t(), out=self.wz)
        sym = self.wz + self.wz.t()
        torch.mm(r, sym, out=self.dr)
        self.dr.neg_()
        return loss, self.dr

    def step(self):
        loss, dr = self.loss_grad()
        self.r.grad = dr
        self.opt.step()
        return loss


class Autograd:
    def __init__(self, x, y, r, lr, form):
        self.x, self.y = x, y
        self.r = r.clone().requires_grad_(True)
        self.form = form
        self.opt = torch.optim.Adam([self.r], lr=lr)

    def loss(self):
        x, y, r = self.x, self.y, self.r
        a = torch.eye(x.shape[0], dtype=x.dtype) + r.t() @ r
        if self.form == "cholesky":
            z = torch.cholesky_solve(x, torch.linalg.cholesky(a))
        else:
            z = torch.linalg.solve(a, x)
        return (z - y).square().sum() / (2 * x.shape[1])

    def loss_grad(self):
        self.r.grad = None
        loss = self.loss()
        loss.backward()
        return float(loss), self.r.grad

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss()
        loss.backward()
        self.opt.step()
        return float(loss)


def make(impl, x, y, r, lr):
    if impl == "handwritten":
        return Handwritten(x, y, r, lr)
    return Autograd(x, y, r, lr, {"autograd_cholesky": "cholesky", "autograd_solve": "solve"}[impl])


def check(n, k, b):
    """Hand-written gradient against autograd's, float64, on the case's data."""
    x, y, r = problem(n, k, b, torch.float64)
    lh, gh = Handwritten(x, y, r, 1e-4).loss_grad()
    out = {"check": "grad_rel_diff", "dtype": "float64", "batch": b}
    for form in ("autograd_cholesky", "autograd_solve"):
        la, ga = make(form, x, y, r, 1e-4).loss_grad()
        out[form] = float((gh - ga).norm() / ga.norm())
        out[form + "_loss_rel_diff"] = abs(lh - la) / abs(la)
    return out


def gemms(bufs):
    """GEMMs of the step's flop count and shapes (as bench_bilevel_step's reference products)."""
    r, s, lower, z, e, a, fac, out, wz, dr = bufs
    torch.mm(r.t(), r, out=a)
    torch.mm(lower, s, out=fac)
    torch.mm(s, z, out=out)
    torch.mm(s, e, out=out)
    torch.mm(z, e.t(), out=wz)
    torch.mm(r, s, out=dr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=320)
    ap.add_argument("--k", type=int, default=320)
    ap.add_argument("--batch", default="256,4096", help="comma-separated B values")
    ap.add_argument("--dtype", default="float32,float64", help="float32, float64 or both")
    ap.add_argument("--impl", default="handwritten,autograd_cholesky,autograd_solve")
    ap.add_argument("--iterations", type=int, default=0, help="timed steps (0: 11 at B >= 1024, else 31)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave)")
    ap.add_argument("--no-check", action="store_true", help="skip the float64 gradient check")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    n, k = args.n, args.k
    batches = [int(s) for s in args.batch.split(",")]
    if not args.no_check:
        for b in batches:
            print(json.dumps(check(n, k, b)), flush=True)
    for dname in args.dtype.split(","):
        dtype = {"float32": torch.float32, "float64": torch.float64}[dname]
        for b in batches:
            x, y, r = problem(n, k, b, dtype)
            flops = 6.0 * n * n * b + 4.0 * k * n * n + n ** 3 / 3.0
            m = n // 6
            bufs = (torch.rand(k, n, dtype=dtype), torch.rand(n, n, dtype=dtype), torch.rand(m, n, dtype=dtype),
                    x, y, torch.empty(n, n, dtype=dtype), torch.empty(m, n, dtype=dtype),
                    torch.empty(n, b, dtype=dtype), torch.empty(n, n, dtype=dtype), torch.empty(k, n, dtype=dtype))
            iters = args.iterations or (11 if b >= 1024 else 31)
            for impl in args.impl.split(","):
                model = make(impl, x, y, r, 1e-4)
                report_interleaved(model.step, lambda: gemms(bufs), iters, flops, impl=impl, dtype=dname, batch=b)

if __name__ == "__main__":
    main()
