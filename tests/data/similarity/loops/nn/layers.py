"""Loop-style layers."""
import numpy as np


def linear_forward(x, W, b):
    batch = x.shape[0]
    flat = np.zeros((batch, W.shape[0]), dtype=x.dtype)
    for row in range(batch):
        flat[row] = x[row].ravel()
    result = np.empty((batch, W.shape[1]), dtype=np.result_type(x, W))
    for row in range(batch):
        result[row] = flat[row] @ W + b
    return result, (x, W, b)


def linear_backward(dout, cache, need_dx=True):
    inputs, weights, _bias = cache
    count = inputs.shape[0]
    rows = inputs.reshape(count, -1)
    grad_w = np.zeros_like(weights, dtype=np.result_type(dout, weights))
    for i in range(count):
        grad_w += np.outer(rows[i], dout[i])
    grad_b = dout.sum(axis=0)
    grad_x = None
    if need_dx:
        grad_x = np.empty(rows.shape, dtype=np.result_type(dout, weights))
        for i in range(count):
            grad_x[i] = weights @ dout[i]
        grad_x = grad_x.reshape(inputs.shape)
    return grad_x, grad_w, grad_b


def relu_forward(x):
    positive = x > 0
    output = x * positive
    return output, positive


def relu_backward(dout, cache):
    grad = dout.copy()
    grad[~cache] = 0
    return grad


def sigmoid_forward(x):
    result = np.empty_like(x)
    flat_in, flat_out = x.ravel(), result.ravel()
    for idx in range(flat_in.size):
        value = flat_in[idx]
        if value >= 0:
            flat_out[idx] = 1.0 / (1.0 + np.exp(-value))
        else:
            z = np.exp(value)
            flat_out[idx] = z / (1.0 + z)
    return result, result


def sigmoid_backward(dout, cache):
    derivative = cache * (1.0 - cache)
    return derivative * dout


def tanh_forward(x):
    t = np.tanh(x)
    return t, t


def tanh_backward(dout, cache):
    return (1.0 - cache * cache) * dout
