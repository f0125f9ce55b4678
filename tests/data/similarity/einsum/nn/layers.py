"""Array-expression layers, einsum where it reads well."""
import numpy as np


def linear_forward(x, W, b):
    return np.einsum("ni,io->no", x, W) + b[None, :], {"inp": x, "weight": W}


def linear_backward(dout, cache, need_dx=True):
    inp, weight = cache["inp"], cache["weight"]
    return (np.einsum("no,io->ni", dout, weight) if need_dx else None,
            np.einsum("ni,no->io", inp, dout), np.einsum("no->o", dout))


def relu_forward(x):
    return np.clip(x, 0, None), x


def relu_backward(dout, cache):
    return np.where(cache <= 0, np.zeros_like(dout), dout)


def sigmoid_forward(x):
    s = 0.5 * (1.0 + np.tanh(0.5 * x))
    return s, s


def sigmoid_backward(dout, cache):
    return np.multiply(dout, cache - np.square(cache))


def tanh_forward(x):
    return np.tanh(x), np.tanh(x)


def tanh_backward(dout, cache):
    return np.multiply(dout, 1 - np.square(cache))
