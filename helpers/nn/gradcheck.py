"""Numerical gradient checking: centred finite differences and cs231n's relative error."""

import numpy as np


def max_relative_error(a, b):
    """Element-wise ``max(|a - b| / max(1e-8, |a| + |b|))``: cs231n's metric, the one seed 003 quotes.

    Every entry counts on its own scale, so a single wrong entry among many large ones
    shows; the 1e-8 floor keeps entries that are both almost 0 from counting as errors.
    A correct float64 gradient checked with cs231n's step ``h = 1e-5`` gives about 1e-7 or less.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


def numerical_gradient(f, x, h=1e-5):
    """Centred finite differences of the scalar ``f()`` w.r.t. every entry of ``x`` (perturbed in place)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = f()
        x[index] = original - h
        f_minus = f()
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def gradient_errors(model, X, y, h=1e-5):
    """Max relative error between ``model.loss``'s gradient and finite differences, per parameter.

    Use a float64 model: in float32 the differences drown in rounding.
    """
    _, grads = model.loss(X, y)
    return {name: max_relative_error(grads[name], numerical_gradient(lambda: model.loss(X, y)[0], param, h))
            for name, param in model.params.items()}


def layer_gradient_errors(forward, backward, inputs, seed=0, h=1e-5):
    """Max relative error of each gradient a layer's ``backward`` returns, against finite differences.

    ``forward(*inputs)`` returns ``(out, cache)`` and ``backward(dout, cache)`` the gradients
    w.r.t. ``inputs``, in order (one array or a tuple). With an upstream gradient ``dout``
    (standard normal from ``default_rng(seed)``) they are the gradients of the scalar
    ``sum(forward(*inputs)[0] * dout)``, which is what the finite differences take. Returns one
    error per input. Use float64 inputs; they are perturbed in place and restored. Draw the
    inputs with another seed: a ``dout`` equal to an input can make a gradient vanish (batch
    norm's ``dx``), and the relative error of a vanishing gradient is rounding noise.
    """
    out, cache = forward(*inputs)
    dout = np.random.default_rng(seed).standard_normal(np.shape(out))
    analytic = backward(dout, cache)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    if len(analytic) != len(inputs):
        raise ValueError(f"backward returned {len(analytic)} gradients for {len(inputs)} inputs")

    def objective():
        return float(np.vdot(forward(*inputs)[0], dout))

    return [max_relative_error(grad, numerical_gradient(objective, x, h)) for grad, x in zip(analytic, inputs)]
