#!/usr/bin/env python3
"""PyTorch peer of bench_general's UnrolledStep/foe (bench/bench_general.cpp): one unrolled
training step (loss and gradient by reverse mode, no optimizer update) of the general engine
with a fields-of-experts regularizer, identity operator, huber potential.

Energy E(f) = 1/2 ||f - g||^2 + sum_j a_j sum_{b,i} phi((k_j * f_b)_i), J = 24 filters of L = 32
taps, `valid` convolution (M = n - L + 1 = 289 outputs per filter; --boundary same: M = n, zeros
outside the frame, as reg::Foe's `same`), phi = huber (eps = 0.02),
a_j = 0.05; f^0 = g, f^{t+1} = f^t - w grad E(f^t) for N = 10 steps, w = 0.5 (learned, softplus);
loss = 1/2 ||f^N - target||^2 / B. Gradient in (filters, a, w) by autograd. FLOPs as varlearn
counts them: each convolution-like pass 2 J L M B (1.82 GFLOP at B = 4096), 6 N passes per step.

Two forms, each timed interleaved with the convolution alone (its "best convolution"):
  conv1d : torch.nn.functional.conv1d and its transpose (what a PyTorch user writes);
  unfold : the frames' Hankel view (Tensor.unfold) times the filters by matmul (im2col + GEMM).
Prints one JSON line per form: {"impl", "dtype", "boundary", "batch", "step_ms", "step_ms_min",
"gemm_ms" (the convolution alone), "step_gflops", "gemm_gflops", "threads", "torch"}. --check only
compares both forms with reg::Foe's definition and runs the dot test of the adjoint (float64, small
sizes, both boundaries). Optional (python3-torch).
"""
import argparse
import json
import math

import torch
import torch.nn.functional as F

from peer_timing import report_interleaved


def operator_forms(n, J, L, same):
    """The convolution (B, 1, n) -> (B, J, M) and its adjoint, in the two forms; M."""
    M = n if same else n - L + 1
    # reg::Foe's `same`: (k * f)_i = sum_l k_l f_{i+s-l}, s = (L-1)//2: the correlation of the frame
    # padded by (L-1-s, s) zeros with the reversed taps.
    left, right = (L - 1 - (L - 1) // 2, (L - 1) // 2) if same else (0, 0)

    def pad(f):
        return F.pad(f, (left, right)) if same else f

    def conv_conv1d(f, w):
        return F.conv1d(pad(f), w)

    def adjoint_conv1d(p, w):
        out = F.conv_transpose1d(p, w)
        return out[..., left:left + n] if same else out

    def conv_unfold(f, w):  # the Hankel view (B, 1, M, L) times w^T (L x J)
        return (pad(f).unfold(2, L, 1) @ w.reshape(J, L).t()).squeeze(1).transpose(1, 2)

    def adjoint_unfold(p, w):  # col2im: P W (B x M x L) folded back onto the (padded) samples
        cols = p.transpose(1, 2) @ w.reshape(J, L)
        width = M + L - 1
        out = F.fold(cols.transpose(1, 2), output_size=(1, width), kernel_size=(1, L)).reshape(-1, 1, width)
        return out[..., left:left + n] if same else out

    return {"conv1d": (conv_conv1d, adjoint_conv1d), "unfold": (conv_unfold, adjoint_unfold)}, M


def check(same, n=40, b=3, J=3, L=6):
    """Both forms against reg::Foe's definition (k_j * f)_i = sum_l k_j,l f_{i+s-l} (w = the taps
    reversed), and the dot test <K f, p> = <f, K^T p>; float64. Returns the largest relative error."""
    gen = torch.Generator().manual_seed(2)
    f = torch.randn(b, 1, n, generator=gen, dtype=torch.float64)
    w = torch.randn(J, 1, L, generator=gen, dtype=torch.float64)
    forms, M = operator_forms(n, J, L, same)
    s = (L - 1) // 2 if same else L - 1
    k = w.flip(2)
    ref = torch.zeros(b, J, M, dtype=torch.float64)
    for j in range(J):
        for i in range(M):
            for tap in range(L):
                t = i + s - tap
                if 0 <= t < n:
                    ref[:, j, i] += k[j, 0, tap] * f[:, 0, t]
    p = torch.randn(b, J, M, generator=gen, dtype=torch.float64)
    worst = 0.0
    for conv, adjoint in forms.values():
        u = conv(f, w)
        worst = max(worst, float((u - ref).norm() / ref.norm()))
        lhs, rhs = float((u * p).sum()), float((f * adjoint(p, w)).sum())
        worst = max(worst, abs(lhs - rhs) / abs(lhs))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=320)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--filters", type=int, default=24)
    ap.add_argument("--taps", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--impl", default="conv1d,unfold")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--boundary", choices=("valid", "same"), default="valid")
    ap.add_argument("--check", action="store_true",
                    help="only check both forms against the definition and the dot test (small sizes), then exit")
    args = ap.parse_args()
    if args.check:
        for boundary in ("valid", "same"):
            err = check(boundary == "same")
            print(json.dumps({"check": "operator", "boundary": boundary, "max_rel_error": err}), flush=True)
            if not err < 1e-12:
                raise SystemExit(f"error: the {boundary} operator is off by {err:.1e}")
        return
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    n, b, J, L, eps = args.n, args.batch, args.filters, args.taps, 0.02
    forms, M = operator_forms(n, J, L, args.boundary == "same")
    dtype = torch.float32 if args.dtype == "float32" else torch.float64
    gen = torch.Generator().manual_seed(1)
    target = (0.3 * torch.randn(b, 1, n, generator=gen, dtype=torch.float64)).to(dtype)
    g = target + 0.1 * torch.randn(b, 1, n, generator=gen, dtype=torch.float64).to(dtype)
    # Zero-mean random filters of norm ~0.1 (varlearn's Foe::random(..., scale 0.1)); torch's
    # conv1d correlates, so these are the taps reversed: the same operator family.
    k0 = 0.1 * torch.randn(J, 1, L, generator=gen, dtype=torch.float64) / math.sqrt(L)
    k0 -= k0.mean(dim=2, keepdim=True)
    weights = k0.to(dtype).requires_grad_(True)
    beta = torch.full((1, J, 1), math.log(math.expm1(0.05)), dtype=dtype, requires_grad=True)
    alpha = torch.tensor(math.log(math.expm1(0.5)), dtype=dtype, requires_grad=True)
    pass_flops = 2.0 * J * L * M * b

    for impl in args.impl.split(","):
        conv, adjoint = forms[impl]

        def step():
            a, w = F.softplus(beta), F.softplus(alpha)
            f = g
            for _ in range(args.steps):
                psi = a * torch.clamp(conv(f, weights) / eps, -1.0, 1.0)
                f = f - w * ((f - g) + adjoint(psi, weights))
            loss = 0.5 * (f - target).square().sum() / b
            weights.grad = beta.grad = alpha.grad = None
            loss.backward()
            return float(loss)

        fd = g.clone()
        wd = weights.detach()

        def convolution():
            with torch.no_grad():
                conv(fd, wd)

        report_interleaved(step, convolution, args.iterations, 6.0 * args.steps * pass_flops, gemm_flops=pass_flops,
                           impl=impl, dtype=args.dtype, boundary=args.boundary, batch=b)


if __name__ == "__main__":
    main()
