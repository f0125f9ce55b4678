"""Update rules (SGD with momentum, RMSProp, Adam) and a step learning-rate schedule.

Each optimizer updates a params dict in place from a gradient dict keyed like it, with
``step(grads)``; ``lr`` may be changed between steps (see ``step_lr``). Every rule follows
PyTorch's update step for step (``torch.optim.SGD``, ``RMSprop``, ``Adam``, default options).
"""

import math

import numpy as np


class SGD:
    """Minibatch SGD with optional momentum, step for step as ``torch.optim.SGD``.

    Momentum ``v = momentum * v + g; p -= lr * v`` (PyTorch's convention). That is classic momentum with the learning rate applied after the velocity, so it matches
    ``torch.optim.SGD(momentum=...)`` step for step.
    """

    def __init__(self, params, lr, momentum=0.0):
        self.params = params
        self.lr = lr
        self.momentum = momentum
        self.velocity = {name: np.zeros_like(p) for name, p in params.items()} if momentum else None
        self._update = {name: np.empty_like(p) for name, p in params.items()}  # reused lr * grad buffers

    def step(self, grads):
        """Apply one update from ``grads``, as ``torch.optim.SGD`` does.

        Inputs: grads, arrays keyed, shaped and typed like ``params``.
        Returns nothing: updates every array of ``params`` in place (the same objects, their dtype
        kept; float32 stays float32), and this optimizer's velocities ``self.velocity`` (with momentum).
        """
        ### BEGIN SOLUTION: update every param in place: p -= lr * g, or with momentum v = momentum * v + g; p -= lr * v (torch's convention)
        for name, param in self.params.items():
            direction = grads[name]
            if self.momentum:
                direction = self.velocity[name]
                direction *= self.momentum
                direction += grads[name]
            param -= np.multiply(direction, self.lr, out=self._update[name])
        ### END SOLUTION


class RMSProp:
    """RMSProp, step for step as ``torch.optim.RMSprop``.

    ``v = alpha * v + (1 - alpha) * g**2; p -= lr * g / (sqrt(v) + eps)``.
    """

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
        self.params = params
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.square_avg = {name: np.zeros_like(p) for name, p in params.items()}
        self._buffer = {name: np.empty_like(p) for name, p in params.items()}

    def step(self, grads):
        """Apply one update from ``grads``, as ``torch.optim.RMSprop`` does.

        Inputs: grads, arrays keyed, shaped and typed like ``params``.
        Returns nothing: updates every array of ``params`` in place (the same objects, their dtype
        kept; float32 stays float32), and this optimizer's averages ``self.square_avg``.
        """
        ### BEGIN SOLUTION: update every param in place: v = alpha * v + (1 - alpha) * g**2; p -= lr * g / (sqrt(v) + eps)
        for name, param in self.params.items():
            grad, square_avg, buffer = grads[name], self.square_avg[name], self._buffer[name]
            square_avg *= self.alpha
            square_avg += np.multiply(np.multiply(grad, grad, out=buffer), 1 - self.alpha, out=buffer)
            denominator = np.sqrt(square_avg, out=buffer)
            denominator += self.eps
            param -= np.multiply(np.divide(grad, denominator, out=buffer), self.lr, out=buffer)
        ### END SOLUTION


class Adam:
    """Adam, step for step as ``torch.optim.Adam``.

    Moving averages ``m``, ``v`` of ``g`` and ``g**2`` (``betas``), bias-corrected (eps added to the
    square root of the corrected ``v``).

    BEGIN SOLUTION TEXT: Find why m and v start biased towards zero and how Adam corrects them at step t (Kingma and Ba, section 3).
    With bias correction at step ``t``:
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.
    END SOLUTION TEXT
    """

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8):
        self.params = params
        self.lr, self.betas, self.eps = lr, tuple(betas), eps
        self.t = 0
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self._buffer = {name: np.empty_like(p) for name, p in params.items()}

    def step(self, grads):
        """Apply one update from ``grads`` at step ``self.t + 1``, as ``torch.optim.Adam`` does.

        Inputs: grads, arrays keyed, shaped and typed like ``params``.
        Returns nothing: updates every array of ``params`` in place (the same objects, their dtype
        kept; float32 stays float32), and this optimizer's step count ``self.t`` and moments ``self.m``, ``self.v``.
        """
        ### BEGIN SOLUTION: count the step t and update every param in place with Adam's bias-corrected moments (torch's convention)
        beta1, beta2 = self.betas
        self.t += 1
        step_size = self.lr / (1 - beta1**self.t)
        correction2_sqrt = math.sqrt(1 - beta2**self.t)  # a Python float keeps float32 arrays float32
        for name, param in self.params.items():
            grad, m, v, buffer = grads[name], self.m[name], self.v[name], self._buffer[name]
            m *= beta1
            m += np.multiply(grad, 1 - beta1, out=buffer)
            v *= beta2
            v += np.multiply(np.multiply(grad, grad, out=buffer), 1 - beta2, out=buffer)
            denominator = np.sqrt(v, out=buffer)
            denominator /= correction2_sqrt
            denominator += self.eps
            param -= np.multiply(np.divide(m, denominator, out=buffer), step_size, out=buffer)
        ### END SOLUTION


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSProp, "adam": Adam}


def make_optimizer(optimizer, params, lr, momentum=0.0):
    """The optimizer for ``params``: a name in ``OPTIMIZERS`` or a factory ``(params, lr) -> optimizer``.

    ``momentum`` applies to ``"sgd"`` only; pass e.g. ``functools.partial(Adam, betas=...)`` for
    other options.
    """
    if callable(optimizer):
        return optimizer(params, lr)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be a factory or one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if optimizer == "sgd":
        return SGD(params, lr, momentum)
    if momentum:
        raise ValueError(f"momentum applies to optimizer='sgd' only, got optimizer={optimizer!r}, momentum={momentum}")
    return OPTIMIZERS[optimizer](params, lr)


def step_lr(epoch, base_lr, step_size, gamma):
    """Learning rate for 0-based ``epoch``: ``base_lr * gamma ** (epoch // step_size)``.

    ``step_size=None`` keeps the rate constant. The seed schedule is
    ``step_lr(epoch, 0.01, 100, 0.1)``: 0.01, then 0.001 from epoch 100, ...
    """
    if step_size is None:
        return base_lr
    return base_lr * gamma ** (epoch // step_size)
