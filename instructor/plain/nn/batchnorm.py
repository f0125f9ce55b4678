"""Plain versions of helpers/nn/batchnorm.py's graded functions: the staged computational graph."""
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if training:
        n = x.shape[0]
        if n < 2:
            raise ValueError(f"x must have at least two rows in training, got {n}")
        mu = np.mean(x, axis=0)
        xc = x - mu
        var = np.mean(xc ** 2, axis=0)
        running_mean[...] = (1 - momentum) * running_mean + momentum * mu
        running_var[...] = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    else:
        xc = x - running_mean
        var = running_var
    std = np.sqrt(var + eps)
    xhat = xc / std
    out = gamma * xhat + beta
    return out, (xc, std, xhat, gamma, training)


def batchnorm_backward(dout, cache):
    xc, std, xhat, gamma, training = cache
    n = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    if not training:
        return dxhat / std, dgamma, dbeta
    dinverse_std = np.sum(dxhat * xc, axis=0)
    dxc = dxhat / std
    dstd = -dinverse_std / std ** 2
    dvar = 0.5 * dstd / std
    dxc = dxc + 2 * xc * dvar / n
    dmu = -np.sum(dxc, axis=0)
    dx = dxc + dmu / n
    return dx, dgamma, dbeta
