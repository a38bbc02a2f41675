"""A small training run reaches the theory's optimum of its class."""

import numpy as np
import pytest

import varlearn


def test_expected_risk_training_reaches_the_unrolled_optimum():
    # objective="expected" minimizes the exact population risk itself: the trained model's
    # risk must reach the best unrolled risk (learned stepsize) that the theory computes.
    r = varlearn.train(data="iid", n=8, k=8, mu=1, theta=0.5, sigma=0.9, method="unrolled", depth=2,
                       objective="expected", iterations=300)
    best = varlearn.theory.best_unrolled(varlearn.DataModel.iid(8, 1, 0.5), 0.9, 8, 2)
    assert r.optimal_risk == pytest.approx(best.risk, rel=1e-12)
    assert r.population_risk >= best.risk * (1 - 1e-9)       # never below the optimum
    assert r.population_risk == pytest.approx(best.risk, rel=1e-6)
    assert r.risk_ratio == pytest.approx(1, abs=1e-6)


def test_empirical_training_approaches_the_bilevel_optimum():
    r = varlearn.train(data="constant", n=6, k=1, mu=1, theta=0.5, sigma=0.5, method="bilevel", samples=20000,
                       iterations=200, seed=3)
    assert 1 <= r.risk_ratio < 1.01  # sampling error only
    t = r.model.denoiser()
    np.testing.assert_allclose(t, t.T, atol=1e-12)
