"""Batch normalisation for vectors and its spatial form for images (cs231n assignment 2).

Training: each feature (channel) is normalised with the mean and biased variance of the batch
(over the batch, and for images over height and width too), then scaled by ``gamma`` and
shifted by ``beta``; the running statistics follow PyTorch's convention,
``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* batch variance.
Evaluation normalises with the running statistics instead, so the output of one row no longer
depends on the rest of its batch.
"""

from dataclasses import dataclass

import numpy as np

from .layers import Layer


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch norm of ``x`` per feature; in training also update the running statistics in place.

    Inputs:
    - x (n, features); gamma, beta (features,): the scale and shift
    - running_mean, running_var (features,): in training updated in place (the same arrays) with
      ``momentum`` as ``torch.nn.functional.batch_norm`` does, from the batch's unbiased variance;
      in evaluation only read
    - training: True normalises with the batch mean and biased variance, False with the
      running statistics; eps is added to the variance, as ``torch.nn.functional.batch_norm``

    Returns (out, cache): out, x normalised per feature, scaled by gamma and shifted by beta, of
    x's shape and dtype (as ``torch.nn.functional.batch_norm``); cache, what batchnorm_backward
    needs (for either mode).

    The running update: ``running = (1 - momentum) * running + momentum * batch``; the output:
    ``gamma * (x - mean) / sqrt(var + eps) + beta``.

    Raises: ValueError naming ``x`` in training when x has a single row (no batch variance).
    """
    ### BEGIN SOLUTION: return (out, cache): x normalised with the batch mean and biased variance (training; then update the running statistics in place, torch's momentum convention, unbiased variance) or with the running statistics (evaluation), scaled by gamma and shifted by beta
    if training:
        n = x.shape[0]
        if n < 2:
            raise ValueError(f"x: batch norm needs more than one value per feature in training, got {n} rows")
        mean, var = x.mean(axis=0), x.var(axis=0)
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += (momentum * n / (n - 1)) * var
    else:
        mean, var = running_mean, running_var
    std = np.sqrt(var + eps)
    x_hat = (x - mean) / std
    return gamma * x_hat + beta, (x_hat, gamma, std, training)
    ### END SOLUTION


def batchnorm_backward(dout, cache):
    """Gradients of batchnorm_forward, in the mode its cache was made in.

    Inputs: dout (n, features); cache from batchnorm_forward.
    Returns (dx, dgamma, dbeta): the shapes and dtype of x, gamma and beta.

    BEGIN SOLUTION TEXT: Derive dx: in training the batch mean and variance depend on every row of x (draw the computational graph, then simplify); in evaluation they are constants. Check it against finite differences (helpers.nn.gradcheck).
    In training the batch statistics depend on every row, which gives the compact form
    ``dx = (g - mean(g) - x_hat * mean(g * x_hat)) / std`` with ``g = dout * gamma``; in
    evaluation the statistics are constants and ``dx = g / std``.
    END SOLUTION TEXT
    """
    ### BEGIN SOLUTION: return (dx, dgamma, dbeta); in training the batch statistics depend on every row
    x_hat, gamma, std, training = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    g = dout * gamma
    if training:
        g = g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)
    return g / std, dgamma, dbeta
    ### END SOLUTION


def spatial_batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch norm of images (N, C, H, W) per channel: every pixel of every image counts as a row."""
    batch, channels, height, width = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, channels)
    out, cache = batchnorm_forward(rows, gamma, beta, running_mean, running_var, training, momentum, eps)
    return np.ascontiguousarray(out.reshape(batch, height, width, channels).transpose(0, 3, 1, 2)), cache


def spatial_batchnorm_backward(dout, cache):
    """Return ``(dx, dgamma, dbeta)`` for :func:`spatial_batchnorm_forward`."""
    batch, channels, height, width = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, channels), cache)
    return np.ascontiguousarray(dx.reshape(batch, height, width, channels).transpose(0, 3, 1, 2)), dgamma, dbeta


@dataclass
class BatchNorm(Layer):
    """Batch norm of ``num_features`` vectors: params ``bnK_gamma`` (ones), ``bnK_beta`` (zeros);
    state ``bnK_running_mean`` (zeros), ``bnK_running_var`` (ones), as ``torch.nn.BatchNorm1d``.
    """

    num_features: int
    momentum: float = 0.1
    eps: float = 1e-5
    param_roles = ("gamma", "beta")
    state_roles = ("running_mean", "running_var")
    key_format = "bn{index}_{role}"
    functions = (batchnorm_forward, batchnorm_backward)

    def shapes(self):
        return {name: (self.num_features,) for name in (*self.param_names, *self.state_names)}

    def init(self, rng, dtype, draw):
        (gamma, beta), (mean, var) = self.param_names, self.state_names
        ones, zeros = np.ones(self.num_features, dtype), np.zeros(self.num_features, dtype)
        return {gamma: ones, beta: zeros}, {mean: zeros.copy(), var: ones.copy()}

    def forward(self, x, params, state, training):
        (gamma, beta), (mean, var) = self.param_names, self.state_names
        forward, _ = self.functions
        return forward(x, params[gamma], params[beta], state[mean], state[var], training, self.momentum, self.eps)

    def backward(self, dout, cache, grads, need_dx=True):
        gamma, beta = self.param_names
        _, backward = self.functions
        dx, grads[gamma], grads[beta] = backward(dout, cache)
        return dx


@dataclass
class SpatialBatchNorm(BatchNorm):
    """Batch norm of images per channel (``num_features`` channels), as ``torch.nn.BatchNorm2d``; keys ``sbnK_*``."""

    key_format = "sbn{index}_{role}"
    functions = (spatial_batchnorm_forward, spatial_batchnorm_backward)
