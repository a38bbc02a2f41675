"""Forward operators A of the general problem min_f 1/2 |A f - g|^2 + R(f) on frames (rows)."""

from . import _varlearn
from ._varlearn import Operator


def operator(spec, n, batch=0, seed=1):
    """The operator of `spec` for frames of n samples: "identity", "mask:P" (each sample missing
    with probability P in [0, 1)), "burst:P:L" (bursts of L missing samples), "conv:FILE" (FIR taps
    in FILE). Random masks are drawn for `batch` frames from `seed`."""
    return _varlearn._operator(spec, int(n), int(batch), int(seed))


__all__ = ["operator", "Operator"]
