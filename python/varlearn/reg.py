"""Regularizers R_theta of the general engine, with value, gradient, Hessian-vector product,
parameter gradient and mixed product (docs/regularizers.md)."""

from . import _varlearn
from ._varlearn import Regularizer


def regularizer(kind, n, filters=0, filter_length=0, potential="huber", epsilon=0.0, learn_epsilon=False,
                init="", weight=0.1, scale=1.0, seed=1):
    """A regularizer for frames of n samples (the CLI's --regularizer and its flags):

    kind: "quadratic" 1/2 |R f|^2 (R filters x n), "tv" a sum_i phi(f_{i+1} - f_i),
    "analysis" sum_j a_j phi((K f)_j) (dense K, filters rows, DCT start), "foe" (fields of
    experts: filters zero-mean convolution filters of filter_length taps).
    potential phi: "huber", "charbonnier" sqrt(u^2 + eps^2), "student" log(1 + u^2/eps^2);
    epsilon: eps > 0 (0: 0.05); filters/filter_length 0: the kind's default (n; foe 8 and 7).
    """
    return _varlearn._regularizer(kind, int(n), int(filters), int(filter_length), potential, float(epsilon),
                                  bool(learn_epsilon), init, float(weight), float(scale), int(seed))


__all__ = ["regularizer", "Regularizer"]
