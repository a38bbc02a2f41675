"""Ctrl-C (SIGINT) during a long training run: KeyboardInterrupt, promptly, with the run's
result at the iterate it reached (a valid model) on the exception."""

import os
import signal
import threading
import time

import numpy as np

import varlearn


def interrupt_after(seconds):
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_stops_a_long_training_run():
    timer = interrupt_after(0.5)
    start = time.monotonic()
    try:
        varlearn.train(data="iid", n=40, theta=1, samples=2000, optimizer="adam", lr=1e-4, iterations=1_000_000)
    except KeyboardInterrupt as e:
        elapsed = time.monotonic() - start
        result = e.result
    else:
        raise AssertionError("the training run was not interrupted")
    finally:
        timer.cancel()
    assert elapsed < 30
    assert result.status == "stopped"
    assert 0 < result.iterations < 1_000_000
    model = result.model
    assert isinstance(model, varlearn.QuadraticModel)
    assert np.all(np.isfinite(model.parameters))
    # the model is usable and its exact risk is the reported one
    data = varlearn.DataModel.iid(40, 1, 1)
    assert abs(model.risk(data, 0.9) - result.population_risk) <= 1e-10 * result.population_risk


def test_ctrl_c_stops_chambolle_pock():
    rng = np.random.default_rng(0)
    clean = np.clip(0.3 * rng.standard_normal((2000, 64)), -1, 1)
    s, lo, hi = varlearn.dequant.quantize(clean, 3)
    timer = interrupt_after(0.3)
    try:
        varlearn.dequant.chambolle_pock(s, lo, hi, gap_tolerance=1e-14, max_iterations=100_000_000, check_every=1)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("not interrupted")
    finally:
        timer.cancel()


def test_the_module_works_after_an_interrupt():
    assert varlearn.theory.cmin(depth=3, stepsize=0.5).cmin > 0


def test_ctrl_c_stops_a_general_model_training_run():
    timer = interrupt_after(0.5)
    try:
        varlearn.train(regularizer="tv", data="ar1", mu=0, theta=1, rho=0.9, n=32, samples=400, sigma=0.1, depth=5,
                       optimizer="adam", lr=1e-4, iterations=1_000_000)
    except KeyboardInterrupt as e:
        result = e.result
    else:
        raise AssertionError("not interrupted")
    finally:
        timer.cancel()
    assert result.status == "stopped" and 0 < result.iterations < 1_000_000
    assert isinstance(result.model, varlearn.GeneralModel)
    assert np.all(np.isfinite(result.model.denoise(np.ones((2, 32)))))


def test_the_gil_is_released_during_a_command():
    # A sweep runs in a worker thread; the main thread keeps ticking. Were the GIL held for the
    # whole computation, the main thread would stall for about its duration.
    done = threading.Event()
    took = []

    def work():
        start = time.monotonic()
        varlearn.theory.map(x="k=1:500:100", y="theta=0:1:51", value="bilevel/unrolled:3", n=500)
        took.append(time.monotonic() - start)
        done.set()

    worker = threading.Thread(target=work)
    last = time.monotonic()
    worst = 0.0
    worker.start()
    while not done.is_set():
        time.sleep(0.001)
        now = time.monotonic()
        worst = max(worst, now - last)
        last = now
    worker.join()
    assert took[0] > 0.1, "the sweep was too short to tell"
    assert worst < 0.5 * took[0], f"the main thread stalled {worst:.3f} s of the command's {took[0]:.3f} s"
