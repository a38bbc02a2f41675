"""The library objects: checkpoints, operators, regularizers, dequantization, audio."""

import numpy as np
import pytest

import varlearn


def test_checkpoint_round_trip(tmp_path):
    m = varlearn.QuadraticModel.random(9, 3, method="unrolled", depth=4, stepsize_mode="per-iteration", seed=2)
    path = tmp_path / "m.json"
    m.save(str(path), meta={"note": "from python"})
    back, meta = varlearn.QuadraticModel.load_with_meta(str(path))
    assert meta["note"] == "from python"
    np.testing.assert_array_equal(back.parameters, m.parameters)  # 17 digits: bitwise
    assert back.stepsize_mode == "per-iteration" and back.depth == 4 and back.k == 3
    with pytest.raises(ValueError):
        varlearn.QuadraticModel.load(str(tmp_path / "missing.json"))


def test_family_spectrum():
    f = varlearn.Family.unrolled(3, 0.5)
    for s in (0.0, 0.3, 2.0):
        assert f(s) == pytest.approx((1 - (1 - 0.5 * (1 + s)) ** 3) / (1 + s), rel=1e-14)
    assert varlearn.Family.bilevel()(1.0) == 0.5
    assert f.at_zero() == pytest.approx(1 - 0.5 ** 3)


def test_operator_adjoint_dot_test():
    rng = np.random.default_rng(1)
    for spec in ("identity", "mask:0.3", "burst:0.2:4"):
        a = varlearn.ops.operator(spec, 32, batch=5, seed=7)
        f = rng.standard_normal((5, 32))
        g = rng.standard_normal((5, a.output_size))
        assert np.vdot(a.apply(f), g) == pytest.approx(np.vdot(f, a.adjoint(g)), rel=1e-12)
        assert a.norm_squared_bound() >= 1 - 1e-12 or spec != "identity"


@pytest.mark.parametrize("kind,potential", [("tv", "huber"), ("analysis", "charbonnier"), ("foe", "student")])
def test_regularizer_derivatives_against_finite_differences(kind, potential):
    r = varlearn.reg.regularizer(kind, 10, filters=4 if kind != "tv" else 0, potential=potential, epsilon=0.1, seed=3)
    rng = np.random.default_rng(2)
    f = rng.standard_normal((3, 10))
    v = rng.standard_normal((3, 10))
    h = 1e-6
    fd = (r.value(f + h * v) - r.value(f - h * v)) / (2 * h)
    assert np.vdot(r.gradient(f), v) == pytest.approx(fd, rel=1e-6, abs=1e-8)
    fd_hv = (r.gradient(f + h * v) - r.gradient(f - h * v)) / (2 * h)
    np.testing.assert_allclose(r.hessian_product(f, v), fd_hv, rtol=1e-5, atol=1e-6)
    theta = r.parameters
    d = rng.standard_normal(theta.shape)
    r.parameters = theta + h * d
    up = r.value(f)
    r.parameters = theta - h * d
    down = r.value(f)
    r.parameters = theta
    assert np.vdot(r.parameter_gradient(f), d) == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8)


def test_chambolle_pock_is_feasible_and_certified():
    rng = np.random.default_rng(4)
    clean = np.clip(0.3 * rng.standard_normal((20, 32)), -1, 1)
    s, lo, hi = varlearn.dequant.quantize(clean, 3)
    assert np.all(lo <= clean + 1e-12) and np.all(clean <= hi + 1e-12)
    r = varlearn.dequant.chambolle_pock(s, lo, hi, gap_tolerance=1e-6)
    assert r.status == "converged"
    assert np.all(r.signal >= lo - 1e-12) and np.all(r.signal <= hi + 1e-12)
    assert np.all(r.dual <= r.primal + 1e-12)
    assert r.max_rel_gap <= 1e-6
    # the learned network at its initialization runs the same iterations with K = DCT^-1
    theta = varlearn.dequant.primal_dual_parameters(32, 5)
    out = varlearn.dequant.primal_dual(theta, s, lo, hi, depth=5)
    assert out.shape == s.shape and np.all(np.isfinite(out))


def test_audio_round_trip_and_framing(tmp_path):
    rate = 8000
    t = np.arange(4000) / rate
    x = np.round(0.5 * np.sin(2 * np.pi * 440 * t) * 32768) / 32768
    path = tmp_path / "a.wav"
    assert varlearn.audio.write_wav(path, x, rate) == 0
    y, r = varlearn.audio.read(path)
    assert r == rate
    np.testing.assert_array_equal(y, x)  # 16-bit samples read back exactly
    frames = varlearn.audio.frame(y, 64, 32)
    assert frames.shape == ((4000 - 64) // 32 + 1, 64)
    np.testing.assert_array_equal(frames[1], y[32:96])
    back = varlearn.audio.overlap_add(varlearn.audio.frame(y, 64, 32, pad=True), 32, len(y))
    np.testing.assert_allclose(back, y, atol=1e-12)
