"""Inverted dropout (cs231n assignment 2): zero each unit with probability ``p`` while training.

The kept units are scaled by ``1 / (1 - p)`` during training, so evaluation needs no change:
the layer is then the identity. The mask is drawn exactly as PyTorch's ``F.dropout`` forms it
(a 0/1 keep mask divided by ``1 - p``), from a NumPy generator.
"""

from dataclasses import dataclass, field

import numpy as np

from .layers import Layer


def dropout_forward(x, p, rng, training=True):
    """Inverted dropout of ``x`` with drop probability ``p``.

    Inputs:
    - x: float array of any shape; p: the drop probability, in [0, 1)
    - rng: a ``np.random.Generator``, the mask's only source of randomness: a generator in the
      same state gives the same mask; each unit is dropped independently with probability p
    - training: False (evaluation) turns dropout off

    Returns (out, mask): mask, the factor of each unit (0 where dropped, the same for every kept
    unit, so that out's expectation is x) and out, x times its mask, both of x's shape and dtype;
    in evaluation or with p == 0, (x itself, None).

    The mask of this solution (and of PyTorch's twin in tests/test_dropout.py) takes its draws
    from one ``rng.random(x.shape, dtype=x.dtype)`` call and keeps the units whose draw is >= p;
    ``out = x * mask`` with ``mask = keep / (1 - p)``.

    Raises: ValueError naming ``p`` unless 0 <= p < 1.
    """
    if not 0 <= p < 1:
        raise ValueError(f"p must be a probability in [0, 1), got {p}")
    if not training or p == 0:
        return x, None
    ### BEGIN SOLUTION: return (x * mask, mask): the mask drawn from rng as the docstring says, kept units scaled by 1 / (1 - p)
    mask = (rng.random(x.shape, dtype=x.dtype) >= p).astype(x.dtype)
    mask /= 1 - p
    return x * mask, mask
    ### END SOLUTION


def dropout_backward(dout, cache):
    """Gradient of dropout_forward with respect to x.

    Inputs: dout of x's shape; cache, the mask dropout_forward returned (or None).
    Returns dx of x's shape and dtype; with a None cache, dout itself (the same array).

    dx is dout through the kept units, scaled like them.
    """
    ### BEGIN SOLUTION: return dx: the gradient through the kept units, scaled like them (dout unchanged when cache is None)
    return dout if cache is None else dout * cache
    ### END SOLUTION


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
