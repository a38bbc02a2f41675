"""The command functions give the command line's numbers (same code, same checks)."""

import os

import numpy as np
import pytest

import varlearn
from conftest import assert_same

OPTIMAL_POINTS = [
    dict(data="iid", n=500, k=10, mu=1, theta=0.5, sigma=0.9, method="unrolled", depth=4, stepsize="learned"),
    dict(data="constant", n=500, k=10, mu=1, theta=0, sigma=0.9, method="unrolled", depth=3, stepsize=0.5),
    dict(data="iid", n=200, k=7, mu=0.5, theta=1, sigma=0.3, method="bilevel"),
    dict(data="ar1", n=40, k=5, mu=0, theta=1, rho=0.8, sigma=0.5, method="unrolled", depth=2, stepsize="learned"),
    dict(data="iid", n=100, theta=2, sigma=1.5, method="linear"),
]


def flags(kwargs):
    out = []
    for k, v in kwargs.items():
        out += ["--" + k.replace("_", "-"), str(v)]
    return out


@pytest.mark.parametrize("point", OPTIMAL_POINTS)
def test_theory_optimal_matches_cli(cli, point):
    py = varlearn.theory.optimal(**point)
    want = cli("theory", "optimal", *flags(point))
    assert_same(py, want)
    assert set(py) == set(want)


def test_theory_optimal_example_of_the_docs(cli):
    r = varlearn.theory.optimal(data="iid", n=500, k=10, mu=1, theta=0.5, sigma=0.9, method="unrolled", depth=4,
                                stepsize="learned")
    assert r.risk == r["risk"] > 0
    assert r.ratio_to_linear <= 1 + 1e-12  # no class beats the best linear denoiser


@pytest.mark.parametrize("depth,stepsize", [(5, 0.5), (3, 0.9), (1, 0.25)])
def test_theory_cmin_matches_cli(cli, depth, stepsize):
    assert_same(varlearn.theory.cmin(depth=depth, stepsize=stepsize),
                cli("theory", "cmin", "--depth", depth, "--stepsize", stepsize))


def test_theory_risk_with_a_numpy_matrix(cli, tmp_path):
    rng = np.random.default_rng(3)
    t = rng.standard_normal((6, 6)) * 0.1 + np.eye(6) * 0.5
    path = tmp_path / "t.txt"
    np.savetxt(path, t, fmt="%.17g")
    want = cli("theory", "risk", "--data", "iid", "--theta", "0.7", "--matrix", path)
    assert_same(varlearn.theory.risk(data="iid", theta=0.7, matrix=t), want)
    assert_same(varlearn.theory.risk(data="iid", theta=0.7, matrix=str(path)), want)
    # the library function on a DataModel: the same risk
    risk, bias, variance = varlearn.theory.denoiser_risk(varlearn.DataModel.iid(6, 1, 0.7), 0.9, t)
    assert risk == pytest.approx(want["risk"], rel=1e-12)
    assert bias + variance == pytest.approx(risk, rel=1e-14)


def test_theory_map_matches_cli_and_returns_arrays(cli):
    args = dict(x="k=1:40:8", y="theta=0:1:3", value="bilevel/unrolled:2", n=40)
    py = varlearn.theory.map(**args)
    want = cli("theory", "map", *flags(args))
    assert_same(py, want)
    assert py.grid.shape == (3, 8)
    assert py.x_values.shape == (8,) and py.y_values.shape == (3,)
    assert py.grid.min() == want["min"] and py.grid.max() == want["max"]
    # one grid point against the library's optima
    data = varlearn.DataModel.constant(40, 1.0, py.y_values[1])
    k = int(py.x_values[2])
    ratio = (varlearn.theory.best_bilevel(data, 0.9, k).risk /
             varlearn.theory.best_unrolled(data, 0.9, k, 2).risk)
    assert py.grid[1, 2] == pytest.approx(ratio, rel=1e-12)


def test_sweep_writes_its_files(tmp_path):
    prefix = tmp_path / "maps" / "bu"
    (tmp_path / "maps").mkdir()
    r = varlearn.theory.map(x="k=1:20:5", value="bilevel/unrolled:2", n=20, out=prefix, no_figures=True)
    assert r.files == [str(prefix) + ".csv"]
    rows = (tmp_path / "maps" / "bu.csv").read_text().splitlines()
    assert len(rows) == 1 + 5 and rows[0].endswith(",value")
    with pytest.raises(ValueError, match="exist"):  # the set exists: refused without force, as the CLI does
        varlearn.theory.map(x="k=1:20:5", value="bilevel/unrolled:2", n=20, out=prefix, no_figures=True)
    assert varlearn.theory.map(x="k=1:20:5", value="bilevel/unrolled:2", n=20, out=prefix, no_figures=True,
                               force=True).files == r.files


def test_theory_depth_matches_cli(cli):
    py = varlearn.theory.depth(data="iid", n=50, k=5, theta=1, nmax=4, stepsizes="0.5,1")
    want = cli("theory", "depth", "--data", "iid", "--n", 50, "--k", 5, "--theta", 1, "--nmax", 4,
               "--stepsizes", "0.5,1")
    assert_same(py, want)
    assert list(py.N) == [1, 2, 3, 4]
    assert np.all(py.learned >= want["linear"] - 1e-12)  # no denoiser beats the best linear one


def test_train_and_eval_match_cli(cli, tmp_path):
    args = dict(data="iid", n=12, k=4, theta=1, sigma=0.5, samples=200, depth=3, iterations=60, seed=5)
    ckpt = tmp_path / "cli.json"
    want = cli("train", *flags(args), "--save", ckpt)
    py = varlearn.train(**args)
    assert_same(py, want, skip=("seconds", "saved"))
    assert isinstance(py.model, varlearn.QuadraticModel)
    assert py.model.k == 4 and py.model.n == 12
    # the returned model is the trained one: its exact risk is the reported population risk
    data = varlearn.DataModel.iid(12, 1, 1)
    assert py.model.risk(data, 0.5) == pytest.approx(py.population_risk, rel=1e-10)
    # the checkpoint the command line wrote holds the same model
    saved = varlearn.QuadraticModel.load(ckpt)
    np.testing.assert_array_equal(saved.regularizer, py.model.regularizer)
    assert_same(varlearn.eval(model=ckpt, data="iid", theta=1, sigma=0.5),
                cli("eval", "--model", ckpt, "--data", "iid", "--theta", 1, "--sigma", 0.5))


def test_general_train_matches_cli(cli):
    args = dict(operator="mask:0.2", regularizer="tv", data="ar1", mu=0, theta=1, rho=0.9, n=16, samples=60,
                sigma=0.1, depth=5, iterations=15)
    want = cli("train", *flags(args))
    py = varlearn.train(**args)
    assert want["model"] == "general"
    assert_same(py, want, skip=("seconds", "model"))
    assert isinstance(py.model, varlearn.GeneralModel)
    g = np.random.default_rng(0).standard_normal((3, 16))
    f = py.model.denoise(g)
    assert f.shape == (3, 16) and np.all(np.isfinite(f))


def test_every_command_has_a_function():
    names = {tuple(path): desc for path, desc in varlearn._varlearn._commands()}
    for path in names:
        target = varlearn
        for part in path:
            target = getattr(target, part)
        assert callable(target), path
        assert target.__doc__ and "Options:" in target.__doc__


def test_version_is_the_cli_version():
    import subprocess
    from conftest import BINARY
    out = subprocess.run([str(BINARY), "--version"], capture_output=True, text=True).stdout
    assert out.strip() == "varlearn " + varlearn.__version__



def test_info_names_what_this_process_loaded(cli):
    py = varlearn.info()
    want = cli("info")
    # The build's choices are the command line's; the BLAS is the one this process mapped (with
    # NumPy imported first: the OpenBLAS NumPy loaded, which can differ from the linked one).
    assert py.gemm == want["gemm"] and py.eigen == want["eigen"] and py.version == want["version"]
    assert py.eigensolver in ("eigen", "lapack")
    if want["blas"] is None:
        assert py.blas is None
        return
    mapped = {os.path.realpath(line.split()[-1]) for line in open("/proc/self/maps") if "blas" in line}
    assert os.path.realpath(py.blas["library"]) in mapped, (py.blas["library"], mapped)
    if py.gemm["backend"] == "auto":  # LAPACK's eigensolver exactly where the BLAS kernels match
        assert (py.eigensolver == "lapack") == py.blas["kernel_matches_cpu"]


def test_keep_freed_memory_is_what_info_reports():
    # The command line does this at its start; the module only when asked, and info() (in this
    # process) says which.
    user_set = "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "") or any(
        v in os.environ for v in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"))
    applied = varlearn.keep_freed_memory()
    assert applied is (not user_set)
    memory = varlearn.info().memory
    assert memory["keep_freed"] is applied
    if not applied:
        assert "environment" in memory["reason"]
