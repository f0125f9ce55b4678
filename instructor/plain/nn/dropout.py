"""Plain versions of helpers/nn/dropout.py's graded functions."""
import numpy as np


def dropout_forward(x, p, rng, training=True):
    keep = rng.random(x.shape, dtype=x.dtype) >= p
    mask = np.where(keep, 1 / (1 - p), 0).astype(x.dtype)
    return x * mask, mask


def dropout_backward(dout, cache):
    if cache is None:
        return dout
    return dout * cache
