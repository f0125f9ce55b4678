"""Stochastic gradient descent and a step learning-rate schedule."""

import numpy as np


class SGD:
    """Minibatch SGD that updates a params dict in place.

    Momentum follows the PyTorch convention ``v = momentum * v + g; p -= lr * v``
    (classic momentum with the learning rate applied after the velocity), so it
    matches ``torch.optim.SGD(momentum=...)`` step for step. ``lr`` may be changed
    between steps (see ``step_lr``).
    """

    def __init__(self, params, lr, momentum=0.0):
        self.params = params
        self.lr = lr
        self.momentum = momentum
        self.velocity = {name: np.zeros_like(p) for name, p in params.items()} if momentum else None
        self._update = {name: np.empty_like(p) for name, p in params.items()}  # reused lr * grad buffers

    def step(self, grads):
        """Apply one update from ``grads`` (keyed like ``params``)."""
        for name, param in self.params.items():
            direction = grads[name]
            if self.momentum:
                direction = self.velocity[name]
                direction *= self.momentum
                direction += grads[name]
            param -= np.multiply(direction, self.lr, out=self._update[name])


def step_lr(epoch, base_lr, step_size, gamma):
    """Learning rate for 0-based ``epoch``: ``base_lr * gamma ** (epoch // step_size)``.

    ``step_size=None`` keeps the rate constant. The seed schedule is
    ``step_lr(epoch, 0.01, 100, 0.1)``: 0.01, then 0.001 from epoch 100, ...
    """
    if step_size is None:
        return base_lr
    return base_lr * gamma ** (epoch // step_size)
