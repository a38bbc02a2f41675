#!/usr/bin/env python3
"""PyTorch peer of bench_learn's direct unrolled training step (bench/bench_learn.cpp).

The step: z^0 = 0, z^{j+1} = z^j - w_j((I + R^T R) z^j - x) for j < N, w_j = softplus(alpha_j),
loss = ||z^N - y||^2 / (2B), its gradient in (R, alpha) by reverse mode, and one Adam update.
Implementations (--impl), each timed:
  handwritten  the same reverse mode as varlearn's (factored form, all iterates stored, products
               through addmm_ into preallocated buffers): 6(N-1) GEMMs per step
  autograd     the forward written plainly, loss.backward(), torch.optim.Adam
  handwritten_gram, autograd_gram
               the same in the Gram form (M = R^T R formed once per step: 3(N-1) n x n x B
               products), varlearn's default when 2k > n
and the step's 6(N-1) products alone (torch.mm / addmm_), interleaved with the steps, as the
peer's GEMM throughput in the same run.

Prints one JSON object per line: {"impl", "dtype", "batch", "step_ms", "step_ms_min",
"gemm_ms", "step_gflops", "gemm_gflops", "threads", "torch"}.
Optional: never a test dependency (Debian: python3-torch).
"""
import argparse
import math

import torch
import torch.nn.functional as F

from peer_timing import report_interleaved


def problem(n, k, depth, batch, dtype, seed=1):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn(n, batch, generator=gen, dtype=torch.float64)
    x = y + 0.1 * torch.randn(n, batch, generator=gen, dtype=torch.float64)
    r = torch.randn(k, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    alpha = torch.full((depth,), math.log(math.expm1(0.5)), dtype=torch.float64)  # softplus^-1(0.5)
    return x.to(dtype), y.to(dtype), r.to(dtype), alpha.to(dtype)


class Handwritten:
    """varlearn's Unroller (factored, every = 1) in torch, buffers reused across steps."""

    def __init__(self, x, y, r, alpha, lr):
        self.x, self.y = x, y
        self.r = r.clone().requires_grad_(False)
        self.alpha = alpha.clone()
        n, b = x.shape
        k = r.shape[0]
        depth = alpha.numel()
        self.z = [torch.empty(n, b, dtype=x.dtype) for _ in range(depth + 1)]
        self.u = [torch.empty(k, b, dtype=x.dtype) for _ in range(depth + 1)]
        self.v = torch.empty(k, b, dtype=x.dtype)
        self.g = torch.empty(n, b, dtype=x.dtype)
        self.dr = torch.empty_like(self.r)
        self.r.grad = None
        self.params = [self.r, self.alpha]
        self.opt = torch.optim.Adam(self.params, lr=lr)

    def step(self):
        x, y, r, z, u = self.x, self.y, self.r, self.z, self.u
        depth = self.alpha.numel()
        w = F.softplus(self.alpha).tolist()
        torch.mul(x, w[0], out=z[1])
        for j in range(1, depth):  # z^{j+1} = (1 - w) z^j + w x - w R^T (R z^j)
            torch.mm(r, z[j], out=u[j])
            torch.add(z[j] * (1 - w[j]), x, alpha=w[j], out=z[j + 1])
            z[j + 1].addmm_(r.t(), u[j], alpha=-w[j])
        b = x.shape[1]
        g = self.g
        torch.sub(z[depth], y, out=g)
        loss = float(g.double().square().sum()) / (2 * b)
        g.div_(b)
        dr = self.dr.zero_()
        gw = [0.0] * depth
        for j in range(depth - 1, 0, -1):
            wj = w[j]
            torch.mm(r, g, out=self.v)
            dr.addmm_(u[j], g.t(), alpha=-wj)
            dr.addmm_(self.v, z[j].t(), alpha=-wj)
            gw[j] = float(torch.dot(g.flatten(), (z[j + 1] - z[j]).flatten())) / wj
            g.mul_(1 - wj).addmm_(r.t(), self.v, alpha=-wj)
        gw[0] = float(torch.dot(g.flatten(), x.flatten()))
        self.r.grad = dr
        self.alpha.grad = torch.tensor(gw, dtype=x.dtype) * torch.sigmoid(self.alpha)  # softplus'
        self.opt.step()
        return loss


class Autograd:
    """The forward in the factored form (R^T (R z)); autograd differentiates through it."""

    def __init__(self, x, y, r, alpha, lr):
        self.x, self.y = x, y
        self.r = r.clone().requires_grad_(True)
        self.alpha = alpha.clone().requires_grad_(True)
        self.opt = torch.optim.Adam([self.r, self.alpha], lr=lr)

    def normal(self, r):
        """z -> R^T R z."""
        return lambda z: r.t() @ (r @ z)

    def step(self):
        x, y = self.x, self.y
        w = F.softplus(self.alpha)
        rtr = self.normal(self.r)
        z = w[0] * x
        for j in range(1, self.alpha.numel()):
            z = z - w[j] * (z + rtr(z) - x)
        loss = (z - y).square().sum() / (2 * x.shape[1])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss)


class HandwrittenGram:
    """varlearn's Unroller in its Gram form (M = R^T R, 3(N-1) n x n x B products), buffers reused."""

    def __init__(self, x, y, r, alpha, lr):
        self.x, self.y = x, y
        self.r = r.clone()
        self.alpha = alpha.clone()
        n, b = x.shape
        depth = alpha.numel()
        self.z = [torch.empty(n, b, dtype=x.dtype) for _ in range(depth + 1)]
        self.v = torch.empty(n, b, dtype=x.dtype)
        self.g = torch.empty(n, b, dtype=x.dtype)
        self.m = torch.empty(n, n, dtype=x.dtype)
        self.dm = torch.empty(n, n, dtype=x.dtype)
        self.opt = torch.optim.Adam([self.r, self.alpha], lr=lr)

    def step(self):
        x, y, r, z, m = self.x, self.y, self.r, self.z, self.m
        depth = self.alpha.numel()
        w = F.softplus(self.alpha).tolist()
        torch.mm(r.t(), r, out=m)
        torch.mul(x, w[0], out=z[1])
        for j in range(1, depth):  # z^{j+1} = (1 - w) z^j + w x - w M z^j
            torch.add(z[j] * (1 - w[j]), x, alpha=w[j], out=z[j + 1])
            z[j + 1].addmm_(m, z[j], alpha=-w[j])
        b = x.shape[1]
        g, v = self.g, self.v
        torch.sub(z[depth], y, out=g)
        loss = float(g.double().square().sum()) / (2 * b)
        g.div_(b)
        dm = self.dm.zero_()
        gw = [0.0] * depth
        for j in range(depth - 1, 0, -1):
            wj = w[j]
            dm.addmm_(g, z[j].t(), alpha=-wj)
            gw[j] = float(torch.dot(g.flatten(), (z[j + 1] - z[j]).flatten())) / wj
            torch.mul(g, 1 - wj, out=v)
            v.addmm_(m, g, alpha=-wj)
            g, v = v, g
        gw[0] = float(torch.dot(g.flatten(), x.flatten()))
        self.r.grad = r @ (dm + dm.t())
        self.alpha.grad = torch.tensor(gw, dtype=x.dtype) * torch.sigmoid(self.alpha)  # softplus'
        self.opt.step()
        return loss


class AutogradGram(Autograd):
    """The forward written with M = R^T R formed first; autograd differentiates through it."""

    def normal(self, r):
        m = r.t() @ r
        return lambda z: m @ z


def gemms_gram(x, m, depth, bufs):
    """The 3(N-1) products of one Gram step, nothing else."""
    out, dm = bufs
    for _ in range(depth - 1):
        out.addmm_(m, x, alpha=-0.5)
        out.addmm_(m, x, alpha=-0.5)
        dm.addmm_(x, x.t(), alpha=-0.5)


def gemms(x, r, depth, bufs):
    """The 6(N-1) products of one factored step, nothing else."""
    u, out, dr = bufs
    for _ in range(depth - 1):
        torch.mm(r, x, out=u)
        out.addmm_(r.t(), u, alpha=-0.5)
        torch.mm(r, x, out=u)
        out.addmm_(r.t(), u, alpha=-0.5)
        dr.addmm_(u, x.t(), alpha=-0.5)
        dr.addmm_(u, x.t(), alpha=-0.5)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=320)
    ap.add_argument("--k", type=int, default=320)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--batch", default="256,4096", help="comma-separated B values")
    ap.add_argument("--dtype", default="float32,float64", help="float32, float64 or both")
    ap.add_argument("--impl", default="handwritten,autograd",
                    help="handwritten, autograd (factored form), handwritten_gram, autograd_gram (Gram form)")
    ap.add_argument("--iterations", type=int, default=0, help="timed steps (0: 7 at B >= 1024, else 31)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as varlearn does in its float32 backward pass
    for dname in args.dtype.split(","):
        dtype = {"float32": torch.float32, "float64": torch.float64}[dname]
        for b in (int(s) for s in args.batch.split(",")):
            x, y, r, alpha = problem(args.n, args.k, args.depth, b, dtype)
            iters = args.iterations or (7 if b >= 1024 else 31)
            for impl in args.impl.split(","):
                model = {"handwritten": Handwritten, "autograd": Autograd, "handwritten_gram": HandwrittenGram,
                         "autograd_gram": AutogradGram}[impl](x, y, r, alpha, 1e-4)
                if impl.endswith("_gram"):  # as bench_learn's gram_flops
                    flops = 3.0 * (args.depth - 1) * 2.0 * args.n * args.n * b + 4.0 * args.k * args.n * args.n
                    m = r.t() @ r
                    bufs = (torch.zeros(args.n, b, dtype=dtype), torch.zeros(args.n, args.n, dtype=dtype))
                    products = lambda: gemms_gram(x, m, args.depth, bufs)
                else:
                    flops = 6.0 * (args.depth - 1) * 2.0 * args.n * args.k * b
                    bufs = (torch.empty(args.k, b, dtype=dtype), torch.zeros(args.n, b, dtype=dtype),
                            torch.zeros(args.k, args.n, dtype=dtype))
                    products = lambda: gemms(x, r, args.depth, bufs)
                report_interleaved(model.step, products, iters, flops, impl=impl, dtype=dname, batch=b)

if __name__ == "__main__":
    main()
