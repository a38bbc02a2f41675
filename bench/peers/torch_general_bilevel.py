#!/usr/bin/env python3
"""PyTorch peer of bench_general_bilevel's BM_PeerHypergradient (bench/bench_general_bilevel.cpp):
one bilevel hypergradient of the general engine (general::bilevel_loss, src/general/bilevel.cpp)
for denoising (A = I) with a dense analysis-huber regularizer, or with fields of experts (--kind foe,
BM_PeerHypergradientFoe), float64.

Energy E(F) = 1/2 ||F - G||^2 + sum_{j,b} a_j phi((K F)_{jb}), phi = huber (eps = 0.02),
a = softplus(beta), theta = [vec(K) column-major, beta]. Fields of experts (reg::Foe): K F = the J
filters' convolutions (k * f)_i = sum_l k_l f_{i+s-l} (`same`: s = (L-1)//2, zeros outside the
frame), theta = [filters (row j = k_j), beta]; here with conv1d / conv_transpose1d on frames as
(B, 1, n) and the filter gradient by torch.nn.grad.conv1d_weight. The same algorithm as
varlearn's, step by step, so that the counts compare:
  lower level  Newton-CG (inexact: inner CG on H d = -g to min(0.1, sqrt|g|) relative residual,
               at most 2 n B iterations; Armijo backtracking by halving from t = 1, c = 1e-4, a full
               step that halves |grad E| accepted too) or L-BFGS (memory 10, two-loop recursion,
               H0 = s'y / y'y, halving line search accepting Armijo or the approximate Wolfe test
               phi(t) <= phi(0) + 1e-10 |phi(0)| and phi'(t) <= -0.8 phi'(0); pairs kept when s'y > 0),
               from F = A^T G, to |grad E|_F <= 1e-10
  adjoint      CG on H w = (F* - target) / B to 1e-12 relative residual from w = 0, then one more HVP
               for the recomputed residual
  gradient     d loss / d theta = -(d_theta grad_F E(F*))^T w (the mixed product)
Implementations (all three timed):
  handwritten  varlearn's kernels with its GEMM counts (value: K F; gradient: K F, K^T Psi; HVP:
               K F, K V, K^T(.); mixed product: K F, K W, Psi W^T, (a phi'' Z) F^T)
  cached       the same, but the HVPs at a fixed F (every inner CG and the adjoint CG) reuse
               a phi''(K F): 2 GEMMs per HVP instead of 3 (the natural PyTorch way)
  autograd     E written plainly; gradient by torch.autograd.grad; HVPs by double backward through
               a graph of grad_F E built once per F (create_graph); the mixed product by the same
               graph's backward onto (K, beta)

With --data DIR (written by `bench_general_bilevel --dump=DIR`) it runs on varlearn's data and
prints, per case, the relative difference between its hypergradient and varlearn's; --fd adds a
central finite difference (step 1e-6, losses with the Newton-CG lower level) of the bilevel loss
along a random unit direction of theta.

Prints one JSON object per line: {"impl", "batch", "solver", "hypergrad_ms" (CPU, median),
"wall_ms", "lower_its", "HVPs", "lower_HVPs", "CG_its", "grads", "values", "ms_per_HVP",
"HVP_ms" (one HVP alone at F*), "loss", "grad_rel_diff" (against varlearn's, with --data), ...}.
Optional: never a test dependency (Debian: python3-torch).
"""
import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

EPS = 0.02


def dot(a, b):
    return float(torch.dot(a.reshape(-1), b.reshape(-1)))


def norm(a):
    return float(torch.linalg.vector_norm(a))


class Counts:
    def __init__(self):
        self.values = self.grads = self.hvps = 0


def huber(u):
    au = u.abs()
    return torch.where(au <= EPS, u * u / (2 * EPS), au - EPS / 2)


class Handwritten:
    """E's kernels as varlearn's (general::BasicEnergy with reg::AnalysisBase), A = I."""

    def __init__(self, k, beta, g, cached):
        self.k, self.beta, self.g, self.cached = k, beta, g, cached
        self.a = F.softplus(beta)[:, None]
        self.c = Counts()
        self.frames = g.shape[1]

    def value(self, f):
        self.c.values += 1
        u = self.k @ f
        return 0.5 * float((f - self.g).square().sum()) + float((self.a * huber(u)).sum())

    def gradient(self, f):
        self.c.grads += 1
        u = self.k @ f
        psi = self.a * torch.clamp(u / EPS, -1.0, 1.0)
        return torch.addmm(f - self.g, self.k.t(), psi)

    def curvature(self, f):
        u = self.k @ f
        return self.a * (u.abs() <= EPS).to(f.dtype) / EPS

    def hvp_at(self, f):
        """V -> H(F) V."""
        if self.cached:
            cu = self.curvature(f)

            def h(v):
                self.c.hvps += 1
                return torch.addmm(v, self.k.t(), cu * (self.k @ v))
        else:
            def h(v):
                self.c.hvps += 1
                return torch.addmm(v, self.k.t(), self.curvature(f) * (self.k @ v))
        return h

    def mixed(self, f, w):
        u = self.k @ f
        z = self.k @ w
        d1 = torch.clamp(u / EPS, -1.0, 1.0)
        psi = self.a * d1
        da = (z * d1).sum(dim=1)
        zc = self.a * (u.abs() <= EPS).to(f.dtype) / EPS * z
        dk = psi @ w.t()
        dk.addmm_(zc, f.t())
        return torch.cat([dk.t().reshape(-1), da * torch.sigmoid(self.beta)])


class Autograd:
    """E written plainly; derivatives by torch.autograd (double backward for H V and the mixed product)."""

    def __init__(self, k, beta, g):
        self.k = k.clone().requires_grad_(True)
        self.beta = beta.clone().requires_grad_(True)
        self.g = g
        self.c = Counts()
        self.frames = g.shape[1]

    def energy(self, f):
        a = F.softplus(self.beta)[:, None]
        return 0.5 * (f - self.g).square().sum() + (a * huber(self.k @ f)).sum()

    def value(self, f):
        self.c.values += 1
        with torch.no_grad():
            return float(self.energy(f))

    def gradient(self, f):
        self.c.grads += 1
        f = f.detach().requires_grad_(True)
        with torch.enable_grad():
            (gr,) = torch.autograd.grad(self.energy(f), f)
        return gr

    def _graph(self, f):
        f = f.detach().requires_grad_(True)
        with torch.enable_grad():
            (gr,) = torch.autograd.grad(self.energy(f), f, create_graph=True)
        return f, gr

    def hvp_at(self, f):
        fg, gr = self._graph(f)

        def h(v):
            self.c.hvps += 1
            (hv,) = torch.autograd.grad(gr, fg, v, retain_graph=True)
            return hv
        return h

    def mixed(self, f, w):
        fg, gr = self._graph(f)
        dk, db = torch.autograd.grad(gr, (self.k, self.beta), w)
        return torch.cat([dk.t().reshape(-1), db])


class Conv:
    """reg::Foe's convolutions on frames as (B, 1, n): (k * f)_i = sum_l k_l f_{i+s-l} is the
    correlation of the padded frame with the reversed filter (outputs (B, J, M))."""

    def __init__(self, filters, n, boundary):
        taps = filters.shape[1]
        s = (taps - 1) // 2 if boundary == "same" else taps - 1
        self.left, self.right, self.n = taps - 1 - s, (s if boundary == "same" else 0), n
        self.w = filters.flip(1).unsqueeze(1).contiguous()  # (J, 1, L)

    def apply(self, f):
        return F.conv1d(F.pad(f, (self.left, self.right)), self.w)

    def adjoint(self, p):
        return F.conv_transpose1d(p, self.w)[..., self.left:self.left + self.n]

    def filter_gradient(self, p, f):
        """d/dk <P, K F> (J x L)."""
        gw = torch.nn.grad.conv1d_weight(F.pad(f, (self.left, self.right)), self.w.shape, p)
        return gw.squeeze(1).flip(1)


class FoeHandwritten:
    """Fields of experts with varlearn's kernels (reg::Foe), A = I; frames as (B, 1, n)."""

    def __init__(self, filters, beta, g, cached, boundary):
        self.conv = Conv(filters, g.shape[-1], boundary)
        self.beta, self.g, self.cached = beta, g, cached
        self.a = F.softplus(beta)[None, :, None]
        self.c = Counts()
        self.frames = g.shape[0]

    def value(self, f):
        self.c.values += 1
        return 0.5 * float((f - self.g).square().sum()) + float((self.a * huber(self.conv.apply(f))).sum())

    def gradient(self, f):
        self.c.grads += 1
        psi = self.a * torch.clamp(self.conv.apply(f) / EPS, -1.0, 1.0)
        return (f - self.g) + self.conv.adjoint(psi)

    def curvature(self, f):
        u = self.conv.apply(f)
        return self.a * (u.abs() <= EPS).to(f.dtype) / EPS

    def hvp_at(self, f):
        cu = self.curvature(f) if self.cached else None

        def h(v):
            self.c.hvps += 1
            c = cu if cu is not None else self.curvature(f)
            return v + self.conv.adjoint(c * self.conv.apply(v))
        return h

    def mixed(self, f, w):
        u, z = self.conv.apply(f), self.conv.apply(w)
        d1 = torch.clamp(u / EPS, -1.0, 1.0)
        zc = self.a * (u.abs() <= EPS).to(f.dtype) / EPS * z
        dk = self.conv.filter_gradient(self.a * d1, w) + self.conv.filter_gradient(zc, f)
        da = (z * d1).sum(dim=(0, 2))
        return torch.cat([dk.reshape(-1), da * torch.sigmoid(self.beta)])


class FoeAutograd(Autograd):
    """Fields of experts written plainly with conv1d; derivatives by torch.autograd."""

    def __init__(self, filters, beta, g, boundary):
        super().__init__(filters, beta, g)
        self.boundary = boundary
        self.frames = g.shape[0]

    def energy(self, f):
        a = F.softplus(self.beta)[None, :, None]
        u = Conv(self.k, f.shape[-1], self.boundary).apply(f)
        return 0.5 * (f - self.g).square().sum() + (a * huber(u)).sum()

    def mixed(self, f, w):
        fg, gr = self._graph(f)
        dk, db = torch.autograd.grad(gr, (self.k, self.beta), w)
        return torch.cat([dk.reshape(-1), db])


class Cg:
    def __init__(self, x, residual, iterations, negative):
        self.x, self.residual, self.iterations, self.negative = x, residual, iterations, negative


def conjugate_gradients(h, b, tol, max_iter):
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = dot(r, r)
    stop = tol * math.sqrt(rr)
    res = math.sqrt(rr)
    its = 0
    while res > stop and its < max_iter:
        hp = h(p)
        php = dot(p, hp)
        if not php > 0:
            return Cg(x, res, its, True)
        step = rr / php
        x.add_(p, alpha=step)
        r.sub_(hp, alpha=step)
        rr_new = dot(r, r)
        p = r + (rr_new / rr) * p
        rr = rr_new
        res = math.sqrt(rr)
        its += 1
    return Cg(x, res, its, False)


class Lower:
    def __init__(self, f):
        self.f, self.iterations, self.gradient_norm = f, 0, 0.0


def newton_line_search(e, d, slope, st, value, g):
    t = 1.0
    trial = st.f + d
    trial_value = e.value(trial)
    trial_g = None
    accepted = trial_value <= value + 1e-4 * slope
    if not accepted:
        trial_g = e.gradient(trial)
        accepted = bool(torch.isfinite(trial_g).all()) and norm(trial_g) <= 0.5 * st.gradient_norm
    halvings = 0
    while not accepted and halvings < 60:
        t *= 0.5
        trial = st.f + t * d
        trial_value = e.value(trial)
        trial_g = None
        halvings += 1
        accepted = trial_value <= value + 1e-4 * t * slope
    if not accepted:
        raise RuntimeError(f"line search failed at |grad E| = {st.gradient_norm:.3g}")
    st.f = trial
    g = trial_g if trial_g is not None else e.gradient(st.f)
    st.gradient_norm = norm(g)
    return trial_value, g


def newton_cg(e, st, tol, max_cg, max_iterations=100):
    g = e.gradient(st.f)
    value = e.value(st.f)
    st.gradient_norm = norm(g)
    while st.gradient_norm > tol:
        if st.iterations >= max_iterations:
            raise RuntimeError("Newton-CG did not reach the tolerance")
        minus_g = -g
        forcing = min(0.1, math.sqrt(st.gradient_norm))
        cg = conjugate_gradients(e.hvp_at(st.f), minus_g, forcing, max_cg)
        d = cg.x if cg.iterations > 0 else minus_g
        slope = dot(g, d)
        if not slope < 0:
            d = minus_g
            slope = -dot(g, g)
        value, g = newton_line_search(e, d, slope, st, value, g)
        st.iterations += 1


def lbfgs(e, st, tol, memory=10, max_iterations=10000):
    g = e.gradient(st.f)
    value = e.value(st.f)
    st.gradient_norm = norm(g)
    s_pairs, y_pairs, rho = [], [], []
    while st.gradient_norm > tol:
        if st.iterations >= max_iterations:
            raise RuntimeError("L-BFGS did not reach the tolerance")
        d = -g
        m = len(s_pairs)
        alpha = [0.0] * m
        for i in range(m - 1, -1, -1):
            alpha[i] = rho[i] * dot(s_pairs[i], d)
            d = d - alpha[i] * y_pairs[i]
        if m > 0:
            d = d * (1.0 / (rho[m - 1] * dot(y_pairs[m - 1], y_pairs[m - 1])))
        for i in range(m):
            beta = rho[i] * dot(y_pairs[i], d)
            d = d + (alpha[i] - beta) * s_pairs[i]
        slope = dot(g, d)
        if not slope < 0:
            s_pairs, y_pairs, rho = [], [], []
            d = -g
            slope = -dot(g, g)
        f_old, g_old = st.f, g
        t = 1.0
        for _ in range(61):
            trial = st.f + t * d
            trial_value = e.value(trial)
            if math.isfinite(trial_value):
                trial_g = e.gradient(trial)
                if bool(torch.isfinite(trial_g).all()):
                    armijo = trial_value <= value + 1e-4 * t * slope
                    wolfe = trial_value <= value + 1e-10 * abs(value) and dot(trial_g, d) <= -0.8 * slope
                    if armijo or wolfe:
                        st.f, value, g = trial, trial_value, trial_g
                        st.gradient_norm = norm(g)
                        break
            t *= 0.5
        else:
            raise RuntimeError(f"L-BFGS line search failed at |grad E| = {st.gradient_norm:.3g}")
        st.iterations += 1
        s, y = st.f - f_old, g - g_old
        sy = dot(s, y)
        if sy > 1e-12 * dot(y, y) and sy > 0:
            s_pairs.append(s)
            y_pairs.append(y)
            rho.append(1.0 / sy)
            if len(s_pairs) > memory:
                s_pairs.pop(0)
                y_pairs.pop(0)
                rho.pop(0)


def hypergradient(e, g_obs, target, solver, tol=1e-10, cg_tol=1e-12):
    b = e.frames
    max_cg = 2 * g_obs.numel()
    st = Lower(g_obs.clone())  # A^T G
    (newton_cg if solver == "newton-cg" else lbfgs)(e, st, tol, max_cg)
    lower_hvps = e.c.hvps
    f = st.f
    loss = 0.5 * float((f - target).square().sum()) / b
    rhs = (f - target) / b
    h = e.hvp_at(f)
    cg = conjugate_gradients(h, rhs, cg_tol, max_cg)
    if cg.negative:
        raise RuntimeError("H at f* not positive definite")
    residual = norm(h(cg.x) - rhs)
    if residual > 10 * cg_tol * norm(rhs):
        raise RuntimeError(f"adjoint CG reached residual {residual:.3g}")
    grad = -e.mixed(f, cg.x)
    return {"loss": loss, "gradient": grad, "f": f, "lower_its": st.iterations, "lower_HVPs": lower_hvps,
            "CG_its": cg.iterations, "cg_residual": residual, "lower_gradient_norm": st.gradient_norm}


def operator_and_beta(case, theta):
    """theta's operator part (K, or the J x L filters) and beta."""
    if case["kind"] == "foe":
        j, taps = case["filters"], case["length"]
        return theta[: j * taps].reshape(j, taps), theta[j * taps:]
    n = case["n"]
    return theta[: n * n].reshape(n, n).t(), theta[n * n:]


def make(impl, case, theta=None):
    k, beta = operator_and_beta(case, case["theta"] if theta is None else theta)
    if case["kind"] == "foe":
        if impl == "autograd":
            return FoeAutograd(k, beta, case["g"], case["boundary"])
        return FoeHandwritten(k, beta, case["g"], impl == "cached", case["boundary"])
    if impl == "autograd":
        return Autograd(k, beta, case["g"])
    return Handwritten(k, beta, case["g"], cached=(impl == "cached"))


def frames_layout(case, x):
    """(n, B) column frames as the energy takes them: unchanged, or (B, 1, n) for conv1d."""
    return x.t().contiguous().unsqueeze(1) if case["kind"] == "foe" else x


def load_cases(data, batches):
    cases = {}
    for c in json.loads((Path(data) / "cases.json").read_text()):
        if c["batch"] not in batches:
            continue
        n, b, stem = c["n"], c["batch"], str(Path(data) / c["stem"])

        def raw(suffix, shape):
            return torch.from_numpy(np.fromfile(stem + suffix, dtype=np.float64).reshape(shape, order="F").copy())
        case = {"kind": c.get("kind", "analysis"), "n": n, "filters": c.get("filters"), "length": c.get("length"),
                "boundary": c.get("boundary", "same"), "ref": c}
        size = n * n + n if case["kind"] == "analysis" else c["filters"] * (c["length"] + 1)
        case["theta"] = raw("_theta.f64", (size,))
        case["g"] = frames_layout(case, raw("_g.f64", (n, b)))
        case["target"] = frames_layout(case, raw("_target.f64", (n, b)))
        case["ref_grad"] = raw("_grad_" + c["solver"] + ".f64", (size,))
        cases[(b, c["solver"])] = case
    return cases


def synthetic(kind, n, b, seed=1):
    """Standalone data (not varlearn's): AR(1) frames, sigma = 0.1, K = DCT + 0.3 N / sqrt(n), or 24
    zero-mean N(0, 1/L) filters of 32 taps (same), a = 0.05."""
    gen = torch.Generator().manual_seed(seed)
    e = torch.randn(n, b, generator=gen, dtype=torch.float64)
    y = torch.empty(n, b, dtype=torch.float64)
    y[0] = e[0]
    for t in range(1, n):
        y[t] = 0.95 * y[t - 1] + math.sqrt(1 - 0.95 ** 2) * e[t]
    g = y + 0.1 * torch.randn(n, b, generator=gen, dtype=torch.float64)
    j = torch.arange(n, dtype=torch.float64)[:, None]
    t = torch.arange(n, dtype=torch.float64)[None, :]
    k = torch.sqrt(torch.where(j == 0, 1.0, 2.0) / n) * torch.cos(math.pi * (t + 0.5) * j / n)
    k = k + 0.3 * torch.randn(n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    case = {"kind": kind, "n": n, "filters": 24, "length": 32, "boundary": "same", "ref_grad": None, "ref": None}
    if kind == "foe":
        k = torch.randn(24, 32, generator=gen, dtype=torch.float64) / math.sqrt(32)
        k = k - k.mean(dim=1, keepdim=True)
    beta = torch.full((k.shape[0],), math.log(math.expm1(0.05)), dtype=torch.float64)
    op = k.reshape(-1) if kind == "foe" else k.t().reshape(-1)
    case.update(theta=torch.cat([op, beta]), g=frames_layout(case, g), target=frames_layout(case, y))
    return case


def fd_check(case, solver, h=1e-6, seed=3):
    """Central difference of the bilevel loss along a random unit direction of theta (losses with the
    Newton-CG lower level, which ends near |grad E| ~ 1e-13: L-BFGS stops just under 1e-10, and its
    loss error / 2h would dominate) against the hypergradient of `solver`."""
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(case["theta"].numel(), generator=gen, dtype=torch.float64)
    d /= d.norm()
    res = hypergradient(make("handwritten", case), case["g"], case["target"], solver)
    loss = []
    for s in (h, -h):
        e = make("handwritten", case, case["theta"] + s * d)
        loss.append(hypergradient(e, case["g"], case["target"], "newton-cg")["loss"])
    fd = (loss[0] - loss[1]) / (2 * h)
    an = float(torch.dot(res["gradient"], d))
    return {"fd": fd, "analytic": an, "rel_diff": abs(fd - an) / abs(fd)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="", help="a directory written by bench_general_bilevel --dump=DIR")
    ap.add_argument("--kind", choices=("analysis", "foe"), default="analysis", help="without --data")
    ap.add_argument("--n", type=int, default=320, help="without --data")
    ap.add_argument("--batch", default="32,256", help="with --data: B values among 32, 256, 4096")
    ap.add_argument("--solver", default="newton-cg,lbfgs")
    ap.add_argument("--impl", default="handwritten,cached,autograd")
    ap.add_argument("--iterations", type=int, default=3,
                    help="timed hypergradients per case (median; a warm-up first below B = 1024)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave)")
    ap.add_argument("--fd", action="store_true", help="also a finite-difference check per case")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    batches = [int(s) for s in args.batch.split(",")]
    solvers = args.solver.split(",")
    cases = load_cases(args.data, batches) if args.data else {
        (b, s): synthetic(args.kind, args.n, b) for b in batches for s in solvers}
    for b in batches:
        for solver in solvers:
            case = cases[(b, solver)]
            if args.fd:
                print(json.dumps({"check": "fd", "batch": b, "solver": solver, **fd_check(case, solver)}), flush=True)
            for impl in args.impl.split(","):
                tc, tw, res, counts = [], [], None, None
                warm = 0 if b >= 1024 else 1  # a warm-up below B = 1024
                for it in range(args.iterations + warm):
                    e = make(impl, case)
                    c0, w0 = time.process_time(), time.perf_counter()
                    res = hypergradient(e, case["g"], case["target"], solver)
                    c1, w1 = time.process_time(), time.perf_counter()
                    if it >= warm:
                        tc.append(c1 - c0)
                        tw.append(w1 - w0)
                    counts = dict(vars(e.c))
                h = e.hvp_at(res["f"])
                v = torch.randn_like(res["f"])
                h(v)
                c0 = time.process_time()
                for _ in range(20):
                    h(v)
                hvp_ms = (time.process_time() - c0) / 20 * 1e3
                cpu = statistics.median(tc)
                out = {"impl": impl, "kind": case["kind"], "batch": b, "solver": solver, "hypergrad_ms": cpu * 1e3,
                       "wall_ms": statistics.median(tw) * 1e3, "lower_its": res["lower_its"],
                       "HVPs": counts["hvps"], "lower_HVPs": res["lower_HVPs"], "CG_its": res["CG_its"],
                       "grads": counts["grads"], "values": counts["values"], "ms_per_HVP": cpu * 1e3 / counts["hvps"],
                       "HVP_ms": hvp_ms, "loss": res["loss"], "cg_residual": res["cg_residual"],
                       "lower_gradient_norm": res["lower_gradient_norm"], "threads": torch.get_num_threads(),
                       "torch": torch.__version__}
                if case["ref_grad"] is not None:
                    out["grad_rel_diff"] = float((res["gradient"] - case["ref_grad"]).norm() / case["ref_grad"].norm())
                    out["loss_rel_diff"] = abs(res["loss"] - case["ref"]["loss"]) / abs(case["ref"]["loss"])
                    out["varlearn_counts"] = {k: case["ref"][k] for k in ("lower_its", "HVPs", "CG_its", "grads")}
                print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
