"""Loop-style dropout."""
import numpy as np


def dropout_forward(x, p, rng, training=True):
    draws = rng.random(x.shape, dtype=x.dtype)
    scale = 1.0 / (1.0 - p)
    mask = np.zeros(x.shape, dtype=x.dtype)
    mask[draws >= p] = scale
    return x * mask, mask


def dropout_backward(dout, cache):
    return dout if cache is None else cache * dout
