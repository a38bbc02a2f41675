"""The exact theory of the toy denoising model x = y + eps, eps ~ N(0, sigma^2 I), T_R = f(R^T R).

Population risk of a linear denoiser T:
    E(T) = 1/2 tr((T - I) Sigma (T - I)^T) + sigma^2/2 |T|_F^2,   Sigma = E[y y^T].
Best linear denoiser T* = Sigma (Sigma + sigma^2 I)^-1, risk 1/2 sum_i sigma^2 gamma_i / (gamma_i + sigma^2).
Bilevel family f(s) = 1/(1+s); unrolled (N steps, stepsize omega) f(s) = (1 - (1 - omega(1+s))^N)/(1+s).

Command functions (the CLI's `varlearn theory ...`): optimal, cmin, risk, expressivity, map,
depth, landscape. Library functions on DataModel objects: best_linear, best_bilevel,
best_unrolled, denoiser_risk.
"""

from . import _varlearn
from ._commands import Result, command
from ._varlearn import DataModel, Family

optimal = command("theory", "optimal", summary="""Best (infimal) population risk of a denoiser class, exactly.

method="linear": T* = Sigma (Sigma + sigma^2 I)^-1; "bilevel": the best T = (I + R^T R)^-1 with
R of rank k; "unrolled": the best T of N gradient steps (depth) with stepsize omega (a number,
or "learned": optimized over omega in (0, 1] and omega -> 0+). Fields: risk, attained,
stepsize, free_directions, linear_risk, ratio_to_linear, ...""")
cmin = command("theory", "cmin", summary="""c_{N,omega} = min_{s >= 0} f(s) for odd depth N: the lower end of
the unrolled denoisers' spectrum. Fields: depth, stepsize, cmin, b, qstar, m, interior, argmin_s, lower_bound.""")
risk = command("theory", "risk", summary="""Population risk E = 1/2 tr((T-I) Sigma (T-I)^T) + sigma^2/2 |T|_F^2 of a
matrix (matrix= a file or a NumPy array; as_="regularizer" reads R and uses T = f(R^T R)).
Fields: risk, bias, variance.""")
expressivity = command("theory", "expressivity", summary="""Is a symmetric matrix a bilevel (A_k) or unrolled
(B_{N,k,omega}) denoiser? Fields: member, reason, eigenvalues, ...""")
map = command("theory", "map", summary="""Best risk of one method, or the ratio of two, over a grid of one or two
parameters (k, theta, sigma, mu, N, omega, n). Fields: min, max, ... and the grid as NumPy
arrays: grid (the values, shape (ny, nx), or (nx,) for one axis), x_values, y_values.""")
depth = command("theory", "depth", summary="""Best unrolled risk against depth N = 1..nmax, learned and fixed
stepsizes, with the best linear and bilevel levels. Fields: linear, bilevel, rows, and as NumPy
arrays N, learned, learned_stepsize, learned_attained, fixed (a dict omega -> array).""")
landscape = command("theory", "landscape", summary="""k = n = 1 (R = r): risk E(r) for several depths at fixed
omega; every local minimum with its risk, curvature and basin width.""")


def best_linear(data, sigma):
    """Best linear denoiser T* = Sigma (Sigma + sigma^2 I)^-1 on DataModel `data`: its risk (Result)."""
    return Result(_varlearn._best_linear(data, float(sigma)))


def best_bilevel(data, sigma, k, realize=False):
    """Best bilevel risk over R of rank k: T = (I + R^T R)^-1. realize=True adds R and T (arrays)."""
    return Result(_varlearn._best_bilevel(data, float(sigma), int(k), realize))


def best_unrolled(data, sigma, k, depth, stepsize=None, realize=False):
    """Best unrolled risk, N = depth steps; stepsize omega fixed, or None = learned (omega in (0, 1], omega -> 0+)."""
    return Result(_varlearn._best_unrolled(data, float(sigma), int(k), int(depth),
                                           None if stepsize is None else float(stepsize), realize))


def denoiser_risk(data, sigma, t):
    """(risk, bias, variance) of the linear denoiser T (n x n array): bias = 1/2 tr((T-I) Sigma (T-I)^T),
    variance = sigma^2/2 |T|_F^2."""
    return _varlearn._risk_of_denoiser(data, float(sigma), t)


# Not "map": a star import must not replace the builtin (use varlearn.theory.map).
__all__ = ["optimal", "cmin", "risk", "expressivity", "depth", "landscape", "best_linear", "best_bilevel",
           "best_unrolled", "denoiser_risk", "DataModel", "Family"]
