"""Plain versions of helpers/nn/conv.py's graded functions: the definition's sums, one kernel tap at a time."""
import numpy as np


def conv2d_forward(x, W, b, stride=1, padding=0):
    n, _, height, width = x.shape
    filters, _, kernel_h, kernel_w = W.shape
    out_h = (height + 2 * padding - kernel_h) // stride + 1
    out_w = (width + 2 * padding - kernel_w) // stride + 1
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n, filters, out_h, out_w), dtype=x.dtype)
    for p in range(kernel_h):
        for q in range(kernel_w):
            taps = padded[:, :, p:p + stride * out_h:stride, q:q + stride * out_w:stride]  # (N, C, OH, OW)
            out += np.tensordot(taps, W[:, :, p, q], axes=([1], [1])).transpose(0, 3, 1, 2)
    out += b[None, :, None, None]
    return out, (padded, W, stride, padding, x.shape)


def conv2d_backward(dout, cache, need_dx=True):
    padded, W, stride, padding, x_shape = cache
    filters, _, kernel_h, kernel_w = W.shape
    out_h = (padded.shape[2] - kernel_h) // stride + 1
    out_w = (padded.shape[3] - kernel_w) // stride + 1
    expected = (padded.shape[0], filters, out_h, out_w)
    if np.shape(dout) != expected:
        raise ValueError(f"dout must have the forward output's shape {expected}, got {np.shape(dout)}")
    db = np.sum(dout, axis=(0, 2, 3))
    dW = np.zeros(W.shape, dtype=dout.dtype)
    dpadded = np.zeros(padded.shape, dtype=dout.dtype)
    for p in range(kernel_h):
        for q in range(kernel_w):
            rows, cols = slice(p, p + stride * out_h, stride), slice(q, q + stride * out_w, stride)
            dW[:, :, p, q] = np.tensordot(dout, padded[:, :, rows, cols], axes=([0, 2, 3], [0, 2, 3]))
            if need_dx:
                dpadded[:, :, rows, cols] += np.tensordot(dout, W[:, :, p, q], axes=([1], [0])).transpose(0, 3, 1, 2)
    if not need_dx:
        return None, dW, db
    dx = dpadded[:, :, padding:padding + x_shape[2], padding:padding + x_shape[3]]
    return dx, dW, db


def maxpool2d_forward(x, size=2, stride=2):
    n, channels, height, width = x.shape
    out_h, out_w = (height - size) // stride + 1, (width - size) // stride + 1
    out = np.full((n, channels, out_h, out_w), -np.inf, dtype=x.dtype)
    winner = np.zeros(out.shape, dtype=np.intp)
    for i in range(size):
        for j in range(size):
            candidate = x[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
            better = candidate > out
            out = np.where(better, candidate, out)
            winner = np.where(better, i * size + j, winner)
    return out, (x.shape, winner, size, stride)


def maxpool2d_backward(dout, cache):
    x_shape, winner, size, stride = cache
    if np.shape(dout) != winner.shape:
        raise ValueError(f"dout must have the forward output's shape {winner.shape}, got {np.shape(dout)}")
    out_h, out_w = winner.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i in range(size):
        for j in range(size):
            dx[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += np.where(winner == i * size + j, dout, 0)
    return dx


def avgpool2d_forward(x, size=2, stride=2):
    n, channels, height, width = x.shape
    out_h, out_w = (height - size) // stride + 1, (width - size) // stride + 1
    total = np.zeros((n, channels, out_h, out_w), dtype=x.dtype)
    for i in range(size):
        for j in range(size):
            total += x[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
    return total / (size * size), (x.shape, size, stride)


def avgpool2d_backward(dout, cache):
    x_shape, size, stride = cache
    out_h, out_w = (x_shape[2] - size) // stride + 1, (x_shape[3] - size) // stride + 1
    if np.shape(dout) != (x_shape[0], x_shape[1], out_h, out_w):
        raise ValueError(f"dout must have the forward output's shape {(x_shape[0], x_shape[1], out_h, out_w)}, "
                         f"got {np.shape(dout)}")
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i in range(size):
        for j in range(size):
            dx[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += dout / (size * size)
    return dx
