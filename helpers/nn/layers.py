"""Layer forward/backward pairs in the cs231n style.

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the
upstream gradient ``dout`` and that cache and returns the gradient(s) of its inputs.
Shapes: ``x`` is ``(batch, in)``, ``W`` is ``(in, out)``, ``b`` is ``(out,)``.
"""

import numpy as np


def linear_forward(x, W, b):
    """Affine map ``x @ W + b``."""
    out = x @ W
    out += b
    return out, (x, W)


def linear_backward(dout, cache, need_dx=True):
    """Return ``(dx, dW, db)``; ``dx`` is None when ``need_dx`` is False.

    Skipping ``dx`` (as PyTorch does for inputs that need no gradient) saves one
    matrix product for the first layer, whose input is the data.
    """
    x, W = cache
    dW = x.T @ dout
    db = dout.sum(axis=0)
    dx = dout @ W.T if need_dx else None
    return dx, dW, db


def relu_forward(x):
    """``max(x, 0)``; the output doubles as the cache (positive where x > 0)."""
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """Pass the gradient where the input was positive, zero elsewhere."""
    return dout * (cache > 0)


def sigmoid_forward(x):
    """Logistic ``1 / (1 + exp(-x))`` without overflow for large ``|x|``."""
    z = np.exp(-np.abs(x))  # in (0, 1], never overflows
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out, out


def sigmoid_backward(dout, cache):
    """``dout * s * (1 - s)`` with ``s`` the forward output."""
    return dout * cache * (1 - cache)


def tanh_forward(x):
    """Hyperbolic tangent; the output is the cache."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """``dout * (1 - tanh(x)**2)``."""
    return dout * (1 - cache * cache)


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
}
