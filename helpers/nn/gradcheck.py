"""Numerical gradient checking: centred finite differences and a relative error."""

import numpy as np


def relative_error(a, b):
    """Norm-wise relative error ``|a - b| / (|a| + |b|)`` (0 when both are 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else np.linalg.norm(a - b) / scale


def max_relative_error(a, b):
    """Element-wise relative error, worst entry: ``max(|a - b| / max(1e-8, |a| + |b|))``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f, x, h=1e-6):
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


def gradient_errors(model, X, y, h=1e-6):
    """Relative error between ``model.loss``'s gradient and finite differences, per parameter.

    Use a float64 model: in float32 the differences drown in rounding.
    """
    _, grads = model.loss(X, y)
    return {name: relative_error(grads[name], numerical_gradient(lambda: model.loss(X, y)[0], param, h))
            for name, param in model.params.items()}
