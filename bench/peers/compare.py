#!/usr/bin/env python3
"""varlearn against PyTorch, side by side in one run: the quadratic model's direct unrolled
training step (n = k = 320, N = 10; B = 256 and 4096; float32 and float64).

Runs build/bench_learn (its BM_DirectUnrolledStep_Factored cases, _Gram with --form gram: the step
and the same products alone with each GEMM backend, interleaved) and bench/peers/torch_quadratic.py
(a hand-written and an autograd step of the same form, and torch's own products), alternately, --repeat times, and prints per case the
ranges over the repeats: step times, the speedup over the faster PyTorch step, varlearn's share of
the best GEMM of its run, and the GEMM throughputs (Eigen, BLAS, torch).

Environment: by default both contenders run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed
from the environment (OpenBLAS then picks its kernels by its own CPU detection); --coretype X sets
OPENBLAS_CORETYPE=X for both instead, --keep-env passes the caller's environment unchanged. Every
other variable (OMP_NUM_THREADS, VARLEARN_GEMM, ...) passes through. Needs python3-torch for the
peer (optional; never used by the tests).

  bench/peers/compare.py                          # build/bench_learn, 3 repeats
  bench/peers/compare.py --coretype SkylakeX      # OpenBLAS's AVX-512 kernels for both
  bench/peers/compare.py --json                   # the raw numbers
  bench/peers/compare.py --form gram              # the Gram form (M = R^T R) for both
  bench/peers/compare.py --general                # the nonlinear unrolled step (dense analysis, huber)
  bench/peers/compare.py --foe                    # the same with fields of experts (bench_general's
                                                  # UnrolledStep/foe, torch_foe.py: conv1d and unfold forms;
                                                  # --boundary same, --dtype float64: its variants)
  bench/peers/compare.py --bilevel                # the quadratic bilevel step (bench_bilevel_step, torch_bilevel.py)
  bench/peers/compare.py --general-bilevel        # the nonlinear bilevel hypergradient (bench_general_bilevel,
                                                  # torch_general_bilevel.py; B = 256 and 4096 (--batch: also 32),
                                                  # both lower-level solvers)
  OMP_NUM_THREADS=2 bench/peers/compare.py --general-bilevel --wall --threads 2
                                                  # the same on two threads, wall-clock times
  bench/peers/compare.py --general-bilevel --foe  # the same with fields of experts (B = 32 and 256)
  bench/peers/compare.py --dequant                # the learned dequantization network's step (bench_dequant,
                                                  # torch_dequant.py; n = 64, N = 5; varlearn on OMP_NUM_THREADS
                                                  # threads, 1 or 2)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def env_for(args):
    env = dict(os.environ)
    if not args.keep_env:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    if args.coretype:
        env["OPENBLAS_CORETYPE"] = args.coretype
    return env


def run_varlearn(args, env):
    flt = "BM_DirectUnrolledStep_" + args.form.capitalize() + "<(" + "|".join(
        {"float32": "float", "float64": "double"}[d] for d in args.dtypes) + ")>/(" + "|".join(
        str(b) for b in args.batches) + ")/"
    out = subprocess.run([str(args.bench), "--benchmark_filter=" + flt, "--benchmark_format=json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        name = b["name"]
        dtype = "float32" if "<float>" in name else "float64"
        batch = int(name.split("/")[1])
        rows[(dtype, batch)] = {k: b[k] for k in ("step_ms", "step_GFLOPs", "gemm_eigen_GFLOPs", "best_gemm_GFLOPs",
                                                   "pct_of_best_gemm", "step_blas", "threads") if k in b}
        rows[(dtype, batch)]["gemm_blas_GFLOPs"] = b.get("gemm_blas_GFLOPs", float("nan"))
    return rows


def run_torch(args, env):
    suffix = "_gram" if args.form == "gram" else ""
    cmd = [args.python, str(HERE / "torch_quadratic.py"), "--dtype", ",".join(args.dtypes), "--batch",
           ",".join(str(b) for b in args.batches), "--impl", f"handwritten{suffix},autograd{suffix}"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        r = json.loads(line)
        rows.setdefault((r["dtype"], r["batch"]), {})[r["impl"].removesuffix("_gram")] = r
    return rows


def run_unrolled_pair(args, env, case, peer, peer_args=()):
    """bench_general's UnrolledStep/<case> (B = 4096) and the peer script's JSON lines."""
    out = subprocess.run([str(Path(args.bench).parent / "bench_general"),
                          "--benchmark_filter=UnrolledStep/" + case + "/",
                          "--benchmark_format=json"], env=env, check=True, capture_output=True, text=True).stdout
    cmd = [args.python, str(HERE / peer), *peer_args] + (["--threads", str(args.threads)] if args.threads else [])
    lines = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.splitlines()
    return json.loads(out)["benchmarks"][0], [json.loads(line) for line in lines]


def run_general(args, env):
    """The dense analysis step (plain) and torch_analysis.py."""
    v, t = run_unrolled_pair(args, env, "plain", "torch_analysis.py")
    return v, t[0]


def foe_dtype(args):
    """--foe runs one precision: float64 when --dtype names only it, else float32."""
    return "float64" if args.dtypes == ["float64"] else "float32"


def run_foe(args, env):
    """The fields-of-experts step (UnrolledStep/foe[_same][_f64]) and torch_foe.py (both forms, by impl)."""
    case = "foe" + ("_same" if args.boundary == "same" else "") + ("_f64" if foe_dtype(args) == "float64" else "")
    v, t = run_unrolled_pair(args, env, case, "torch_foe.py",
                             ["--dtype", foe_dtype(args), "--boundary", args.boundary])
    return v, {r["impl"]: r for r in t}


def run_typed_cases(args, env, binary, flt):
    """A benchmark binary beside --bench on the cases `flt` selects, named NAME<float|double>/B/...: its JSON
    rows by (dtype, B)."""
    out = subprocess.run([str(Path(args.bench).parent / binary), "--benchmark_filter=" + flt,
                          "--benchmark_format=json"], env=env, check=True, capture_output=True, text=True).stdout
    v = {}
    for b in json.loads(out)["benchmarks"]:
        name = b["name"]
        v[("float32" if "<float>" in name else "float64", int(name.split("/")[1]))] = b
    return v


def run_bilevel(args, env, check):
    """bench_bilevel_step's BM_BilevelStep cases and torch_bilevel.py (with its float64 gradient check when
    `check`)."""
    flt = "BM_BilevelStep<(" + "|".join({"float32": "float", "float64": "double"}[d] for d in args.dtypes) + \
        ")>/(" + "|".join(str(b) for b in args.batches) + ")/"
    v = run_typed_cases(args, env, "bench_bilevel_step", flt)
    cmd = [args.python, str(HERE / "torch_bilevel.py"), "--dtype", ",".join(args.dtypes), "--batch",
           ",".join(str(b) for b in args.batches)]
    if not check:
        cmd += ["--no-check"]
    t, checks = run_peer(args, env, cmd, lambda r: (r["dtype"], r["batch"]))
    return v, t, checks


def run_general_bilevel(args, env, data, check):
    """bench_general_bilevel's BM_PeerHypergradient (BM_PeerHypergradientFoe with --foe) and
    torch_general_bilevel.py on the same data."""
    name = "BM_PeerHypergradientFoe" if args.foe else "BM_PeerHypergradient"
    out = subprocess.run([str(Path(args.bench).parent / "bench_general_bilevel"),
                          "--benchmark_filter=" + name + "/B:(" + "|".join(str(b) for b in args.batches) + ")/",
                          "--benchmark_format=json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    v = {}
    for b in json.loads(out)["benchmarks"]:
        parts = dict(p.split(":") for p in b["name"].split("/")[1:] if ":" in p)
        v[(int(parts["B"]), "lbfgs" if parts["lbfgs"] == "1" else "newton-cg")] = b
    cmd = [args.python, str(HERE / "torch_general_bilevel.py"), "--data", data,
           "--batch", ",".join(str(b) for b in sorted({b for b, _ in v}))]
    if check:
        cmd += ["--fd"]
    t, checks = run_peer(args, env, cmd, lambda r: (r["batch"], r["solver"]))
    return v, t, checks


def dequant_threads(env):
    """varlearn's thread count for --dequant (bench_dequant has cases on 1 and 2 threads)."""
    t = int(env.get("OMP_NUM_THREADS", "") or os.cpu_count() or 1)
    return 1 if t <= 1 else 2


def run_dequant(args, env, data):
    """bench_dequant's BM_UnrolledStep cases on dequant_threads(env) threads and torch_dequant.py on the
    same data."""
    flt = "BM_UnrolledStep<(" + "|".join({"float32": "float", "float64": "double"}[d] for d in args.dtypes) + \
        ")>/(" + "|".join(str(b) for b in args.batches) + f")/{dequant_threads(env)}/"
    v = run_typed_cases(args, env, "bench_dequant", flt)
    cmd = [args.python, str(HERE / "torch_dequant.py"), "--data", data, "--dtype", ",".join(args.dtypes),
           "--batch", ",".join(str(b) for b in args.batches)]
    t, _ = run_peer(args, env, cmd, lambda r: (r["dtype"], r["batch"]))
    return v, t


def print_dequant(args, env, runs):
    print(env_line(env))
    print(f"{args.repeat} repeats; ranges over the repeats; learned dequantization network, n = 64, N = 5, loss + "
          f"gradient (no optimizer update); varlearn on {dequant_threads(env)} thread(s)\n")
    head = ("case", "varlearn ms", "% best GEMM", "torch autograd ms", "speedup", "GEMM GF/s eigen", "blas", "torch",
            "torch loss / grad rel diff")
    rows = []
    for d in args.dtypes:
        for b in args.batches:
            vs = [v[(d, b)] for v, _ in runs]
            ts = [t[(d, b)]["autograd"] for _, t in runs]
            ms = [v["us_per_frame"] * b / 1e3 for v in vs]  # the median step
            rows.append((f"{d} B={b}", rng(ms, "{:.2f}"),
                         rng([v["pct_of_best_gemm"] for v in vs]), rng([t["step_ms"] for t in ts], "{:.2f}"),
                         rng([t["step_ms"] / m for t, m in zip(ts, ms)], "{:.2f}x"),
                         rng([v["gemm_eigen_GFLOPs"] for v in vs]),
                         rng([v.get("gemm_blas_GFLOPs", float("nan")) for v in vs]),
                         rng([t["gemm_gflops"] for t in ts]),
                         "{:.0e} / {:.0e}".format(max(t["loss_rel_diff"] for t in ts),
                                                  max(t["grad_rel_diff"] for t in ts))))
    table(head, rows)
    print("\nspeedup = PyTorch's step / varlearn's (> 1: varlearn is faster); % best GEMM = the step's 35 products "
          "alone with the faster backend / the step; rel diff = |torch - varlearn| / |varlearn| on the data "
          "bench_dequant --dump wrote (float32: both from the float64 setup, rounded apart)")


def run_peer(args, env, cmd, key):
    """Runs a peer script (with --threads when given); its JSON lines: the timings by key(row) and
    implementation, and the check lines apart."""
    if args.threads:
        cmd = cmd + ["--threads", str(args.threads)]
    t, checks = {}, []
    for line in subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.splitlines():
        r = json.loads(line)
        if "check" in r:
            checks.append(r)
        else:
            t.setdefault(key(r), {})[r["impl"]] = r
    return t, checks


def table(head, rows):
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))


def env_line(env):
    return (f"environment: OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}, "
            f"OPENBLAS_L2_SIZE={env.get('OPENBLAS_L2_SIZE', '(unset)')}, "
            f"OMP_NUM_THREADS={env.get('OMP_NUM_THREADS', '(unset)')}, "
            f"VARLEARN_GEMM={env.get('VARLEARN_GEMM', '(unset)')}")


def print_bilevel(args, env, runs):
    print(env_line(env))
    print(f"{args.repeat} repeats; ranges over the repeats; quadratic bilevel step = Cholesky of I + R^T R, two "
          f"solves, gradient in R + Adam, n = k = 320\n")
    impls = ("handwritten", "autograd_cholesky", "autograd_solve")
    head = ("case", "varlearn ms", "backend", "% best GEMM", "torch hand ms", "autograd chol ms", "autograd solve ms",
            "speedup", "GEMM GF/s eigen", "blas", "torch")
    rows = []
    for d in args.dtypes:
        for b in args.batches:
            vs = [v[(d, b)] for v, _, _ in runs]
            ts = [t[(d, b)] for _, t, _ in runs]
            best = [min(t[i]["step_ms"] for i in impls) for t in ts]
            rows.append((f"{d} B={b}", rng([v["step_ms"] for v in vs], "{:.1f}"),
                         "/".join(sorted({"blas" if v["step_blas"] else "eigen" for v in vs})),
                         rng([v["pct_of_best_gemm"] for v in vs]),
                         *[rng([t[i]["step_ms"] for t in ts], "{:.1f}") for i in impls],
                         rng([bt / v["step_ms"] for bt, v in zip(best, vs)], "{:.2f}x"),
                         rng([v["gemm_eigen_GFLOPs"] for v in vs]),
                         rng([v.get("gemm_blas_GFLOPs", float("nan")) for v in vs]),
                         rng([t["handwritten"]["gemm_gflops"] for t in ts])))
    table(head, rows)
    print("\nspeedup = the fastest PyTorch step / varlearn's step (> 1: varlearn is faster); % best GEMM = GEMMs of "
          "the step's flop count (6 n^2 B + 4 k n^2 + n^3/3) with the faster backend / the step")
    for c in runs[0][2]:
        print(f"gradient check (float64, B={c['batch']}): |dR_hand - dR_autograd| / |dR_autograd| = "
              f"{c['autograd_cholesky']:.1e} (cholesky), {c['autograd_solve']:.1e} (solve)")


def print_general_bilevel(args, env, runs, dump):
    print(env_line(env))
    timing = "wall-clock time (--wall)" if args.wall else "CPU time of one thread"
    model = ("fields of experts (24 filters of 32 taps, same; huber)" if args.foe
             else "dense analysis K 320 x 320 (huber)")
    print(f"{args.repeat} repeats; ranges over the repeats; one hypergradient (lower level to |grad E| <= 1e-10, "
          f"adjoint CG to 1e-12), {model}, n = 320, A = I, float64; {timing}\n")
    key_ms = "wall_ms" if args.wall else "hypergrad_ms"
    impls = ("handwritten", "cached", "autograd")
    head = ("case", "varlearn ms", "HVPs", "ms/HVP", "1 HVP ms", "torch hand ms", "cached ms", "autograd ms",
            "torch HVPs", "1 HVP ms (cached / autograd)", "speedup", "grad rel diff")
    rows = []
    for key in sorted(runs[0][0]):
        b, solver = key
        vs = [v[key] for v, _, _ in runs]
        ts = [t[key] for _, t, _ in runs]
        best = [min(t[i][key_ms] for i in impls) for t in ts]
        rows.append((f"B={b} {solver}", rng([v[key_ms] for v in vs], "{:.1f}"),
                     rng([v["HVPs"] for v in vs]), rng([v["ms_per_HVP"] for v in vs], "{:.2f}"),
                     rng([v["HVP_ms"] for v in vs], "{:.2f}"),
                     *[rng([t[i][key_ms] for t in ts], "{:.1f}") for i in impls],
                     rng([t["handwritten"]["HVPs"] for t in ts]),
                     rng([t["cached"]["HVP_ms"] for t in ts], "{:.2f}") + " / " +
                     rng([t["autograd"]["HVP_ms"] for t in ts], "{:.2f}"),
                     rng([bt / v[key_ms] for bt, v in zip(best, vs)], "{:.2f}x"),
                     "{:.0e}".format(max(t[i]["grad_rel_diff"] for t in ts for i in impls))))
    table(head, rows)
    print("\nspeedup = the fastest PyTorch hypergradient / varlearn's (> 1: varlearn is faster); grad rel diff = the "
          "largest |grad_torch - grad_varlearn| / |grad_varlearn| over the implementations and repeats, on the data "
          "bench_general_bilevel --dump wrote")
    ref = {(c["batch"], c["solver"]): c for c in json.loads((Path(dump) / "cases.json").read_text())}
    for key in sorted(runs[0][1]):
        t = runs[0][1][key]["handwritten"]
        c = ref[key]
        blocks = c.get("blocks", 1)
        per = "" if blocks == 1 else f" in {blocks} column blocks (its: the most of a block; HVPs, gradients: per block)"
        print(f"counts B={key[0]} {key[1]}: varlearn{per} lower its {c['lower_its']}, "
              f"HVPs {c['HVPs'] / blocks:.4g} (CG {c['CG_its']}), gradients {c['grads'] / blocks:.4g}; "
              f"torch lower its {t['lower_its']}, HVPs {t['HVPs']} (CG {t['CG_its']}), "
              f"gradients {t['grads']}, values {t['values']}")
    for c in runs[0][2]:
        print(f"finite differences (B={c['batch']}, {c['solver']} hypergradient, step 1e-6 along a random unit "
              f"direction): rel diff {c['rel_diff']:.1e}")


def print_foe(args, res):
    print(f"general unrolled step, fields of experts (J = 24 filters of L = 32 taps, {args.boundary}, huber), "
          f"identity A, n = 320, B = 4096, N = 10, {foe_dtype(args)}, loss + gradient; GFLOP/s count 2 J L M B per "
          "convolution pass")
    print(f"  varlearn {rng([v['step_ms'] for v, _ in res], '{:.0f}')} ms "
          f"({rng([v['step_GFLOPs'] for v, _ in res])} GFLOP/s, {rng([v['pct_of_conv'] for v, _ in res])} % of its "
          f"best convolution: lowering {rng([v['conv_gemm_GFLOPs'] for v, _ in res])} / fft "
          f"{rng([v['conv_fft_GFLOPs'] for v, _ in res])} GFLOP/s)")
    for impl in ("conv1d", "unfold"):
        print(f"  torch {impl} {rng([t[impl]['step_ms'] for _, t in res], '{:.0f}')} ms "
              f"(its convolution alone {rng([t[impl]['gemm_gflops'] for _, t in res])} GFLOP/s)")
    print(f"  speedup {rng([min(t['conv1d']['step_ms'], t['unfold']['step_ms']) / v['step_ms'] for v, t in res], '{:.2f}')}x "
          "(the faster PyTorch form / varlearn)")


def print_general(res):
    print("general unrolled step, dense analysis K 320 x 320 (huber), identity A, B = 4096, N = 10, float32, "
          "loss + gradient")
    print(f"  varlearn {rng([v['step_ms'] for v, _ in res], '{:.0f}')} ms "
          f"({rng([v['pct_of_gemm'] for v, _ in res])} % of its best GEMM, "
          f"eigen {rng([v['gemm_eigen_GFLOPs'] for v, _ in res])} / blas "
          f"{rng([v.get('gemm_blas_GFLOPs', float('nan')) for v, _ in res])} GFLOP/s)")
    print(f"  torch autograd {rng([t['step_ms'] for _, t in res], '{:.0f}')} ms "
          f"(its GEMM {rng([t['gemm_gflops'] for _, t in res])} GFLOP/s)")
    print(f"  speedup {rng([t['step_ms'] / v['step_ms'] for v, t in res], '{:.2f}x')}")


def print_environment(args, env):
    print(f"environment: OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OMP_NUM_THREADS={env.get('OMP_NUM_THREADS', '(unset)')}; {args.repeat} repeats (ranges)")


def rng(values, fmt="{:.0f}"):
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else fmt.format(lo) + "-" + fmt.format(hi)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=str(ROOT / "build" / "bench_learn"), help="the bench_learn binary")
    ap.add_argument("--python", default="/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable,
                    help="the Python with torch (Debian's python3-torch lives in /usr/bin/python3)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dtype", default="float32,float64")
    ap.add_argument("--batch", default=None,
                    help="B values (default 256,4096; --general-bilevel --foe: 32,256, the cases it has)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads for the peer (0: torch's default)")
    ap.add_argument("--coretype", default="", help="set OPENBLAS_CORETYPE for both contenders")
    ap.add_argument("--keep-env", action="store_true", help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as they are")
    ap.add_argument("--form", choices=("factored", "gram"), default="factored",
                    help="the quadratic step's form for both contenders: factored (R, R^T) or gram (M = R^T R, "
                         "varlearn's default when 2k > n)")
    ap.add_argument("--general", action="store_true",
                    help="the general engine's unrolled dense-analysis step instead (bench_general, torch_analysis.py)")
    ap.add_argument("--foe", action="store_true",
                    help="the general engine's unrolled fields-of-experts step instead (bench_general, torch_foe.py); "
                         "with --general-bilevel: its bilevel hypergradient with fields of experts")
    ap.add_argument("--bilevel", action="store_true",
                    help="the quadratic bilevel step instead (bench_bilevel_step, torch_bilevel.py)")
    ap.add_argument("--boundary", choices=("valid", "same"), default="valid",
                    help="--foe: the convolution's boundary (same: M = n outputs, zeros outside the frame)")
    ap.add_argument("--general-bilevel", action="store_true",
                    help="the general engine's bilevel hypergradient instead (bench_general_bilevel, "
                         "torch_general_bilevel.py)")
    ap.add_argument("--dequant", action="store_true",
                    help="the learned dequantization network's training step instead (bench_dequant, torch_dequant.py)")
    ap.add_argument("--wall", action="store_true",
                    help="--general-bilevel: compare wall-clock times (for several threads; default: CPU time)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.dtypes = args.dtype.split(",")
    if args.batch is None:
        args.batch = "32,256" if args.general_bilevel and args.foe else "256,4096"
    args.batches = [int(b) for b in args.batch.split(",")]
    if not Path(args.bench).exists():
        sys.exit(f"error: {args.bench} not found (build with VARLEARN_BENCH=ON)")
    env = env_for(args)
    if args.bilevel:
        runs = [run_bilevel(args, env, i == 0) for i in range(args.repeat)]
        if args.json:
            print(json.dumps([{"case": f"{d}/B={b}", "varlearn": v.get((d, b)), "torch": t.get((d, b)), "checks": c}
                              for v, t, c in runs for d in args.dtypes for b in args.batches], indent=1))
        else:
            print_bilevel(args, env, runs)
        return
    if args.dequant:
        with tempfile.TemporaryDirectory(prefix="varlearn-peer-") as dump:
            subprocess.run([str(Path(args.bench).parent / "bench_dequant"), "--dump=" + dump], env=env,
                           check=True, capture_output=True, text=True)
            runs = [run_dequant(args, env, dump) for _ in range(args.repeat)]
        if args.json:
            print(json.dumps([{"case": f"{d}/B={b}", "varlearn": v.get((d, b)), "torch": t.get((d, b))}
                              for v, t in runs for d in args.dtypes for b in args.batches], indent=1))
        else:
            print_dequant(args, env, runs)
        return
    if args.general_bilevel:
        with tempfile.TemporaryDirectory(prefix="varlearn-peer-") as dump:
            subprocess.run([str(Path(args.bench).parent / "bench_general_bilevel"), "--dump=" + dump,
                            "--dump_batches=" + ",".join(str(b) for b in args.batches),
                            "--dump_kind=" + ("foe" if args.foe else "analysis")], env=env,
                           check=True, capture_output=True, text=True)
            runs = [run_general_bilevel(args, env, dump, i == 0) for i in range(args.repeat)]
            if args.json:
                print(json.dumps([{"case": f"B={k[0]}/{k[1]}", "varlearn": v[k], "torch": t.get(k), "checks": c}
                                  for v, t, c in runs for k in sorted(v)], indent=1))
            else:
                print_general_bilevel(args, env, runs, dump)
        return
    if args.foe or args.general:
        res = [(run_foe if args.foe else run_general)(args, env) for _ in range(args.repeat)]
        if args.json:
            print(json.dumps([{"varlearn": v, "torch": t} for v, t in res], indent=1))
            return
        print_environment(args, env)
        print_foe(args, res) if args.foe else print_general(res)
        return
    runs = []
    for _ in range(args.repeat):
        runs.append((run_varlearn(args, env), run_torch(args, env)))
    if args.json:
        print(json.dumps([{"case": f"{d}/B={b}", "varlearn": v.get((d, b)), "torch": t.get((d, b))}
                          for v, t in runs for d in args.dtypes for b in args.batches], indent=1))
        return
    print(f"environment: OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_L2_SIZE={env.get('OPENBLAS_L2_SIZE', '(unset)')}, "
          f"OMP_NUM_THREADS={env.get('OMP_NUM_THREADS', '(unset)')}, VARLEARN_GEMM={env.get('VARLEARN_GEMM', '(unset)')}")
    print(f"{args.repeat} repeats; ranges over the repeats; step = forward + reverse mode + Adam, n = k = 320, N = 10, "
          f"{args.form} form\n")
    head = ("case", "varlearn ms", "backend", "% best GEMM", "torch hand ms", "torch autograd ms", "speedup",
            "GEMM GF/s eigen", "blas", "torch")
    rows = []
    for d in args.dtypes:
        for b in args.batches:
            vs = [v[(d, b)] for v, _ in runs]
            ts = [t[(d, b)] for _, t in runs]
            best_torch = [min(t["handwritten"]["step_ms"], t["autograd"]["step_ms"]) for t in ts]
            rows.append((f"{d} B={b}", rng([v["step_ms"] for v in vs], "{:.1f}"),
                         "/".join(sorted({"blas" if v["step_blas"] else "eigen" for v in vs})),
                         rng([v["pct_of_best_gemm"] for v in vs]),
                         rng([t["handwritten"]["step_ms"] for t in ts], "{:.1f}"),
                         rng([t["autograd"]["step_ms"] for t in ts], "{:.1f}"),
                         rng([bt / v["step_ms"] for bt, v in zip(best_torch, vs)], "{:.2f}x"),
                         rng([v["gemm_eigen_GFLOPs"] for v in vs]), rng([v["gemm_blas_GFLOPs"] for v in vs]),
                         rng([t["handwritten"]["gemm_gflops"] for t in ts])))
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
    print("\nspeedup = the faster PyTorch step / varlearn's step (> 1: varlearn is faster); % best GEMM = the "
          "step's products alone with the faster backend / the step")


if __name__ == "__main__":
    main()
