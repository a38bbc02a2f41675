"""The pytest suite of the Python module (run by CTest as python.pytest, PYTHONPATH=build/python).

Numbers are compared with the command line itself: build/varlearn ... --json (VARLEARN_BINARY)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("VARLEARN_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BINARY = Path(os.environ.get("VARLEARN_BINARY", SOURCE_DIR / "build" / "varlearn"))

if "varlearn" not in sys.modules and not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(SOURCE_DIR / "build" / "python"))


@pytest.fixture(scope="session")
def cli():
    """cli(*args) -> the JSON object of `varlearn ARGS... --json`."""
    if not BINARY.exists():
        pytest.fail(f"the varlearn binary {BINARY} is missing (build it first)")

    def run(*args, expect_json=True):
        args = [str(a) for a in args]
        out = subprocess.run([str(BINARY), *args] + (["--json"] if expect_json else []), capture_output=True,
                             text=True, timeout=300)
        if out.returncode != 0:
            raise AssertionError(f"varlearn {' '.join(args)} failed ({out.returncode}): {out.stderr}")
        return json.loads(out.stdout)

    return run


def assert_same(py, cli_json, skip=("seconds",), tol=1e-12):
    """Every key of the CLI's JSON is in the Python result with the same value (numbers to a
    relative tol; the command runs the same code, so they are in fact bitwise equal)."""
    for key, want in cli_json.items():
        if key in skip:
            continue
        assert key in py, f"missing key {key}"
        got = py[key]
        _compare(got, want, key, tol)


def _compare(got, want, key, tol):
    import numpy as np
    if isinstance(want, bool) or want is None or isinstance(want, str):
        assert got == want, f"{key}: {got!r} != {want!r}"
    elif isinstance(want, (int, float)):
        assert abs(float(got) - float(want)) <= tol * max(1.0, abs(float(want))), f"{key}: {got!r} != {want!r}"
    elif isinstance(want, list):
        got = list(np.asarray(got).tolist()) if isinstance(got, np.ndarray) else got
        assert len(got) == len(want), f"{key}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want)):
            _compare(g, w, f"{key}[{i}]", tol)
    elif isinstance(want, dict):
        for k, w in want.items():
            _compare(got[k], w, f"{key}.{k}", tol)
    else:
        raise AssertionError(f"{key}: unexpected type {type(want)}")
