#!/usr/bin/env python3
"""The talk's risk-ratio map: best bilevel risk / best unrolled risk (N = 2, learned stepsize)
over the rank k and the signal spread theta, for n = 500, mu = 1, sigma = 0.9 (constant data
y = lambda 1). Ratios above 1: unrolling beats bilevel.

    PYTHONPATH=build/python python3 examples/risk_ratio.py [--quick] [--out DIR]

Saves DIR/risk_ratio.png with matplotlib when it is installed; prints a coarse table always.
"""

import argparse
import os

import numpy as np

import varlearn

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--quick", action="store_true", help="a coarse grid (seconds)")
parser.add_argument("--out", default=".", help="folder of the PNG")
args = parser.parse_args()

nk, nt = (50, 11) if args.quick else (500, 101)
m = varlearn.theory.map(x=f"k=1:500:{nk}", y=f"theta=0:1:{nt}", value="bilevel/unrolled:2",
                        n=500, mu=1, sigma=0.9)
ratio, k, theta = m.grid, m.x_values, m.y_values  # ratio[i, j] at theta[i], k[j]
print(f"bilevel/unrolled:2 over {m.points} points in {m.seconds:.2f} s: min {m.min:.4f}, max {m.max:.4f}, "
      f"share above 1: {m.share_above_1:.3f}" if "share_above_1" in m else
      f"bilevel/unrolled:2 over {m.points} points: min {m.min:.4f}, max {m.max:.4f}")

# A coarse table: a few thetas (rows) and ranks (columns).
rows = np.linspace(0, len(theta) - 1, 6).astype(int)
cols = np.linspace(0, len(k) - 1, 6).astype(int)
print("theta \\ k " + "".join(f"{int(k[j]):>9d}" for j in cols))
for i in rows:
    print(f"{theta[i]:9.2f} " + "".join(f"{ratio[i, j]:9.4f}" for j in cols))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(matplotlib is not installed: no figure; apt-get install python3-matplotlib)")
else:
    fig, ax = plt.subplots(figsize=(6, 4))
    im = ax.pcolormesh(k, theta, ratio, shading="nearest", cmap="RdBu_r", vmin=2 - ratio.max(), vmax=ratio.max())
    ax.contour(k, theta, ratio, levels=[1.0], colors="k", linewidths=0.8)
    ax.set(xlabel="rank k", ylabel=r"$\theta$", title=r"risk ratio bilevel / unrolled (N = 2), n = 500, $\mu$ = 1, $\sigma$ = 0.9")
    fig.colorbar(im, ax=ax)
    path = os.path.join(args.out, "risk_ratio.png")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print("wrote", path)
