"""NumPy in and out: frames as rows (B, n), no copy of the input of denoise, clear errors."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import varlearn


@pytest.fixture(scope="module")
def model():
    return varlearn.QuadraticModel.random(12, 5, method="unrolled", depth=3, seed=4)


def test_denoise_is_the_denoiser_on_every_row(model):
    x = np.random.default_rng(1).standard_normal((7, 12))
    y = model.denoise(x)
    t = model.denoiser()
    np.testing.assert_allclose(y, x @ t.T, rtol=1e-12, atol=1e-14)
    assert y.shape == x.shape and y.dtype == np.float64
    assert y.flags.owndata and y.flags.c_contiguous
    np.testing.assert_allclose(model.denoise(x[2]), y[2], rtol=1e-12, atol=1e-14)  # one frame (n,)


def test_denoise_float32(model):
    x = np.random.default_rng(2).standard_normal((5, 12)).astype(np.float32)
    y = model.denoise(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x.astype(np.float64) @ model.denoiser().T, rtol=1e-5, atol=1e-5)


def test_denoise_reads_the_callers_memory(model):
    x = np.random.default_rng(3).standard_normal((1000, 12))
    model.denoise(x)
    assert varlearn._varlearn._debug_last_denoise_input() == x.__array_interface__["data"][0]
    x32 = x.astype(np.float32)
    model.denoise(x32)
    assert varlearn._varlearn._debug_last_denoise_input() == x32.__array_interface__["data"][0]


def test_large_denoise_makes_no_copy_of_its_input():
    # Peak memory of a fresh process: X (96 MB) is made in place (no temporaries), then denoised.
    # The result is one more array of X's size; a copy of X would be a second one.
    code = textwrap.dedent("""
        import resource, numpy as np, varlearn
        n, b = 300, 40000
        m = varlearn.QuadraticModel.random(n, 20, method="bilevel", seed=1)
        m.denoise(np.ones((2, n)))          # warm up: the denoiser, Eigen's buffers
        x = np.empty((b, n)); x.fill(0.5)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        y = m.denoise(x)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print((after - before) / x.nbytes)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=120)
    assert out.returncode == 0, out.stderr
    growth = float(out.stdout)
    assert 0.8 < growth < 1.5, f"peak memory grew by {growth:.2f} x the input (a copy would make it >= 2)"


@pytest.mark.parametrize("bad,message", [
    (np.ones((4, 12), dtype=np.int64), "float64 or float32"),
    (np.ones((12, 4)).T, "C-contiguous"),
    (np.ones((4, 24))[:, ::2], "C-contiguous"),
    (np.ones((4, 11)), "n = 11"),
    (np.ones((2, 3, 12)), "2-D"),
    (np.ones((0, 12)), "empty"),
])
def test_denoise_refuses_bad_arrays(model, bad, message):
    with pytest.raises(ValueError, match=message):
        model.denoise(bad)


def test_matrices_keep_their_shape(model):
    r = model.regularizer
    assert r.shape == (5, 12) and r.flags.owndata
    again = varlearn.QuadraticModel(r, method="unrolled", depth=3, stepsize=model.stepsize)
    np.testing.assert_array_equal(again.regularizer, r)
    np.testing.assert_allclose(again.denoiser(), model.denoiser(), rtol=1e-13, atol=1e-15)
    r[:] = 0  # a copy: the model is unchanged
    assert np.any(model.regularizer != 0)


def test_second_moment_from_numpy():
    rng = np.random.default_rng(5)
    y = rng.standard_normal((400, 6)) + 1.0  # frames as rows
    from_frames = varlearn.DataModel.from_frames(y)
    sigma = y.T @ y / 400
    dense = varlearn.DataModel.dense(sigma)
    assert from_frames.n == dense.n == 6
    np.testing.assert_allclose(from_frames.second_moment(), sigma, rtol=1e-12)
    # best linear risk in closed form: 1/2 sum s^2 g / (g + s^2)
    g = np.linalg.eigvalsh(sigma)
    s2 = 0.3 ** 2
    assert varlearn.theory.best_linear(dense, 0.3).risk == pytest.approx(0.5 * np.sum(s2 * g / (g + s2)), rel=1e-10)
    with pytest.raises(ValueError, match="symmetric"):
        varlearn.DataModel.dense(np.array([[1.0, 2.0], [0.0, 1.0]]))
