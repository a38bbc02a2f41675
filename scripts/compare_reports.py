#!/usr/bin/env python3
"""Compares the numbers of two `varlearn reproduce` (or study) output folders.

Usage: scripts/compare_reports.py OLD NEW [--rtol 1e-12] [--ignore-key seconds ...]

Every .json, .csv and .md file found in both folders is compared number by number
(JSON leaves, CSV cells, numbers in markdown text in order). Timing fields (keys or
columns named like "seconds", "elapsed", "time") are skipped. Prints one line per file
with the largest relative difference and exits 1 when any exceeds --rtol or when the
files differ in shape (missing keys, other row counts, changed words).
"""
import argparse
import json
import math
import os
import re
import sys

NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
TIMING = re.compile(r"(seconds|elapsed|time|_s$|^s$)", re.I)


def rel(a, b):
    if a == b:
        return 0.0
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return 0.0
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


def walk_json(a, b, path, out, ignore):
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out.append((math.inf, f"{path}: keys differ {sorted(set(a) ^ set(b))}"))
        for k in set(a) & set(b):
            if TIMING.search(k) or k in ignore:
                continue
            walk_json(a[k], b[k], f"{path}.{k}", out, ignore)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append((math.inf, f"{path}: lengths {len(a)} vs {len(b)}"))
        for i, (x, y) in enumerate(zip(a, b)):
            walk_json(x, y, f"{path}[{i}]", out, ignore)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        out.append((rel(float(a), float(b)), path))
    elif a != b:
        out.append((math.inf, f"{path}: {a!r} vs {b!r}"))


def compare_csv(ta, tb, out, ignore):
    la, lb = ta.splitlines(), tb.splitlines()
    if len(la) != len(lb):
        out.append((math.inf, f"rows {len(la)} vs {len(lb)}"))
        return
    header = la[0].split(",") if la else []
    skip = {i for i, h in enumerate(header) if TIMING.search(h) or h in ignore}
    for r, (x, y) in enumerate(zip(la, lb)):
        ca, cb = x.split(","), y.split(",")
        if len(ca) != len(cb):
            out.append((math.inf, f"row {r}: columns differ"))
            continue
        for c, (u, v) in enumerate(zip(ca, cb)):
            if c in skip:
                continue
            try:
                out.append((rel(float(u), float(v)), f"row {r} col {header[c] if c < len(header) else c}"))
            except ValueError:
                if u != v:
                    out.append((math.inf, f"row {r} col {c}: {u!r} vs {v!r}"))


def compare_text(ta, tb, out):
    # Drop timing sentences ("in 12.3 s", "12 s") before comparing numbers.
    strip = re.compile(r"[-+]?\d+(?:\.\d+)?\s*(?:s|min|ms|µs)\b")
    ta, tb = strip.sub("T", ta), strip.sub("T", tb)
    na, nb = NUM.findall(ta), NUM.findall(tb)
    wa, wb = NUM.sub("#", ta), NUM.sub("#", tb)
    if wa != wb:
        out.append((math.inf, "words differ"))
    if len(na) != len(nb):
        out.append((math.inf, f"{len(na)} vs {len(nb)} numbers"))
        return
    for i, (x, y) in enumerate(zip(na, nb)):
        # Printed numbers are rounded: compare at the printed precision.
        if x != y:
            out.append((rel(float(x), float(y)), f"number {i}: {x} vs {y}"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--rtol", type=float, default=1e-12)
    p.add_argument("--ignore-key", action="append", default=[])
    args = p.parse_args()
    bad = False
    for root, _, files in os.walk(args.old):
        for f in sorted(files):
            if not f.endswith((".json", ".csv", ".md")):
                continue
            pa = os.path.join(root, f)
            rp = os.path.relpath(pa, args.old)
            pb = os.path.join(args.new, rp)
            if not os.path.exists(pb):
                print(f"MISSING {rp}")
                bad = True
                continue
            ta, tb = open(pa).read(), open(pb).read()
            out = []
            if f.endswith(".json"):
                walk_json(json.loads(ta), json.loads(tb), "$", out, set(args.ignore_key))
            elif f.endswith(".csv"):
                compare_csv(ta, tb, out, set(args.ignore_key))
            else:
                compare_text(ta, tb, out)
            worst = max(out, default=(0.0, ""))
            flag = "OK  " if worst[0] <= args.rtol else "DIFF"
            bad |= worst[0] > args.rtol
            print(f"{flag} {rp}: max rel diff {worst[0]:.3g} {worst[1]}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
