"""Inverted dropout (cs231n assignment 2): zero each unit with probability ``p`` while training.

The kept units are scaled by ``1 / (1 - p)`` during training, so evaluation needs no change:
the layer is then the identity. The mask is drawn exactly as PyTorch's ``F.dropout`` forms it
(a 0/1 keep mask divided by ``1 - p``), from a NumPy generator.
"""

from dataclasses import dataclass, field

import numpy as np

from .layers import Layer


def dropout_forward(x, p, rng, training=True):
    """Return ``(x * mask, mask)`` with ``mask = keep / (1 - p)``, ``keep ~ Bernoulli(1 - p)`` from ``rng``.

    In evaluation (``training=False``) or with ``p == 0`` the input passes unchanged and the cache is None.
    """
    if not 0 <= p < 1:
        raise ValueError(f"p must be a probability in [0, 1), got {p}")
    if not training or p == 0:
        return x, None
    mask = (rng.random(x.shape, dtype=x.dtype) >= p).astype(x.dtype)
    mask /= 1 - p
    return x * mask, mask


def dropout_backward(dout, cache):
    """The gradient flows through the kept units, scaled like them."""
    return dout if cache is None else dout * cache


@dataclass
class Dropout(Layer):
    """Inverted dropout with drop probability ``p``; masks come from ``default_rng(seed)``, batch after batch."""

    p: float = 0.5
    seed: int = 0
    rng: np.random.Generator = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed)

    def forward(self, x, params, state, training):
        return dropout_forward(x, self.p, self.rng, training)

    def backward(self, dout, cache, grads, need_dx=True):
        return dropout_backward(dout, cache) if need_dx else None
