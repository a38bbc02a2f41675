"""Dequantization: min_x |x|_1 s.t. l <= K x <= u (K = DCT^-1), per frame, by Chambolle-Pock
with a certified duality gap, and the learned unrolled primal-dual network (docs/dequantization.md).
Frames are rows, shape (B, n), float64."""

from . import _varlearn
from ._commands import Result


def quantize(clean, bits, kind="midrise"):
    """(quantized, lower, upper): the b-bit uniform quantizer on [-1, 1] ("midrise" or "midtread")
    and each sample's cell [lower, upper]."""
    return _varlearn._quantize(clean, int(bits), kind)


def chambolle_pock(quantized, lower, upper, tau=1.0, sigma=1.0, max_iterations=20000, gap_tolerance=1e-6,
                   check_every=10, init="adjoint", project_output=True):
    """Chambolle-Pock on min_x |x|_1 + indicator(l <= Kx <= u): iterations
    y <- v - clamp(v, sigma l, sigma u), v = y + sigma K xbar;  x+ <- soft_tau(x - tau K^T y);  xbar <- 2x+ - x.
    Stops when every frame's relative duality gap (P - D)/P <= gap_tolerance (0: exactly
    max_iterations). Returns signal (the dequantized frames), coefficients, primal, dual, max_gap,
    max_rel_gap, iterations, status. Ctrl-C stops it (KeyboardInterrupt)."""
    return Result(_varlearn._chambolle_pock(quantized, lower, upper, float(tau), float(sigma), int(max_iterations),
                                            float(gap_tolerance), int(check_every), init, bool(project_output)))


def primal_dual_parameters(n, depth, shared=False, tau=1.0, sigma=1.0):
    """Initial parameters theta of the learned primal-dual network: K = the inverse DCT (n x n,
    column-major), then the step sizes (tau, sigma) per iteration (or one shared pair)."""
    return _varlearn._primal_dual_initial(int(n), int(depth), bool(shared), float(tau), float(sigma))


def primal_dual(theta, quantized, lower, upper, depth, shared=False, project_output=False):
    """The network's output: N = depth Chambolle-Pock iterations with the learned K and steps."""
    n = quantized.shape[-1]
    return _varlearn._primal_dual_forward(theta, quantized, lower, upper, int(n), int(depth), bool(shared),
                                          bool(project_output))


def train_primal_dual(theta0, clean, quantized, lower, upper, depth, shared=False, steps=200, learning_rate=1e-3,
                      batch=512, seed=1, float32=True):
    """Adam on the network's MSE to the clean frames (reverse mode through the N iterations).
    Returns theta, final_loss, iterations, status; Ctrl-C stops it (KeyboardInterrupt, .result)."""
    n = clean.shape[-1]
    out = _varlearn._primal_dual_train(theta0, clean, quantized, lower, upper, int(n), int(depth), bool(shared),
                                       int(steps), float(learning_rate), int(batch), int(seed), bool(float32))
    exc = out.pop("interrupt")
    result = Result(out)
    if exc is not None:
        exc.result = result
        raise exc
    return result


__all__ = ["quantize", "chambolle_pock", "primal_dual_parameters", "primal_dual", "train_primal_dual"]
