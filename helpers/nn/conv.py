"""Convolution, pooling and flatten layers in the cs231n style, in NumPy only.

Every ``*_forward`` returns ``(out, cache)`` and the matching ``*_backward`` takes the
upstream gradient and that cache. Images are NCHW ``(batch, channels, height, width)``
and convolution weights ``(F, C, KH, KW)``, as in PyTorch; like PyTorch (and every deep
learning library) "convolution" means cross-correlation: the kernel is not flipped.
float32 and float64 both work; the output has the input's dtype.

BEGIN SOLUTION TEXT: Vectorise the convolution and pooling passes yourself: no Python loop over images or pixels (a loop over the kernel's rows or columns, or over window offsets, is fine). Check them against the loop written from the definition, then time them (tests/test_vectorised.py checks that no pass loops over images or pixels).
How the convolution is vectorised (a row-wise im2col)
-----------------------------------------------------
The textbook im2col copies every KH x KW patch into one column, a KH*KW-fold copy of
the input, and does one matrix product. Here only the kernel *width* is unrolled,
with ``sliding_window_view`` and one copy (KW-fold)::

    cols[c, j, h, n, ow] = x[n, c, h, stride*ow + j]

One matrix product with the kernel rows stacked, ``rows[(i, f), (c, j)] = W[f, c, i, j]``,
gives a partial sum for every kernel row ``i`` and every input row ``h``::

    partial[i, f, h, n, ow] = sum_{c, j} W[f, c, i, j] * cols[c, j, h, n, ow]

and the output adds KH shifted slices of it (a loop over the kernel rows, not pixels)::

    out[n, f, oh, ow] = b[f] + sum_i partial[i, f, stride*oh + i, n, ow]

The backward pass runs the same steps in reverse: the shifted slices of ``dout`` are
written into ``dpartial``, one product each gives ``dW`` and ``dcols``, and the col2im
adds KW shifted slices of ``dcols`` into ``dx``. Measured on this project's 2-core CPU
(float32, batch 64, 10 -> 10 channels, 5x5 kernel on 28x28, one BLAS thread): the full
KH*KW-fold im2col copy alone took ~6 ms, this whole forward pass ~3.5 ms, dominated by a
matrix product running near the core's peak. Keeping ``h`` and ``n`` next to each other
makes every slice ``partial[i, :, rows]`` and ``cols[:, :, rows]`` a plain strided matrix,
so no product copies its operands.
END SOLUTION TEXT
"""

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .layers import Layer


def conv_output_size(size, kernel, stride=1, padding=0):
    """Output length along one axis: ``(size + 2*padding - kernel) // stride + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def _check_images(x, name="x"):
    if not isinstance(x, np.ndarray) or x.ndim != 4 or not np.issubdtype(x.dtype, np.floating):
        got = f"{x.dtype} array of shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"{name} must be a 4-D floating array (N, C, H, W), got {got}")


def _check_int_at_least(value, name, minimum=1):
    if not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_dout(dout, shape):
    if not isinstance(dout, np.ndarray) or dout.shape != shape:
        got = dout.shape if isinstance(dout, np.ndarray) else type(dout).__name__
        raise ValueError(f"dout must have the forward output's shape {shape}, got {got}")


def _taps(first, stride, count):
    """The slice ``first, first + stride, ..., first + stride*(count-1)``."""
    return slice(first, first + stride * (count - 1) + 1, stride)


# ----------------------------------------------------------------------------- convolution
def _check_conv_arguments(x, W, b, stride, padding):
    """``(OH, OW)`` of ``conv2d_forward(x, W, b, stride, padding)``; a ValueError naming the wrong argument."""
    _check_images(x)
    if not isinstance(W, np.ndarray) or W.ndim != 4 or W.shape[1] != x.shape[1]:
        got = W.shape if isinstance(W, np.ndarray) else type(W).__name__
        raise ValueError(f"W must have shape (F, C, KH, KW) with C = x.shape[1] = {x.shape[1]}, got {got}")
    if not isinstance(b, np.ndarray) or b.shape != (W.shape[0],):
        got = b.shape if isinstance(b, np.ndarray) else type(b).__name__
        raise ValueError(f"b must have shape (F,) = ({W.shape[0]},), got {got}")
    if W.dtype != x.dtype or b.dtype != x.dtype:
        raise ValueError(f"x, W and b must share one dtype, got {x.dtype}, {W.dtype} and {b.dtype}")
    _check_int_at_least(stride, "stride")
    _check_int_at_least(padding, "padding", 0)
    (_, _, kernel_h, kernel_w), (_, _, height, width) = W.shape, x.shape
    out_h = conv_output_size(height, kernel_h, stride, padding)
    out_w = conv_output_size(width, kernel_w, stride, padding)
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"W: a {kernel_h}x{kernel_w} kernel does not fit the {height}x{width} input "
            f"padded by {padding}"
        )
    return out_h, out_w


def conv2d_forward(x, W, b, stride=1, padding=0):
    """Cross-correlate ``x`` with ``W`` and add ``b``, as ``torch.nn.functional.conv2d``.

    Inputs: x (N, C, H, W), W (F, C, KH, KW), b (F,), of one float dtype; stride >= 1 in both
    directions; padding >= 0 zeros on every side.
    Returns (out, cache): out (N, F, OH, OW) of x's dtype, ``OH = conv_output_size(H, KH, stride,
    padding)`` (OW alike); cache, what conv2d_backward needs.
    Raises: ValueError naming the argument (x, W, b, stride, padding) that is wrong (checked
    before the part to write).
    """
    out_h, out_w = _check_conv_arguments(x, W, b, stride, padding)
    num_filters, channels, kernel_h, kernel_w = W.shape
    batch = x.shape[0]
    ### BEGIN SOLUTION: return (out, cache): the cross-correlation of the zero-padded x with W plus b, shape (N, F, OH, OW), and what conv2d_backward needs
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    padded_h = x.shape[2]

    windows = sliding_window_view(x, kernel_w, axis=3)[:, :, :, ::stride]  # (N, C, Hp, OW, KW)
    cols = np.ascontiguousarray(windows.transpose(1, 4, 2, 0, 3))  # (C, KW, Hp, N, OW)
    rows = W.transpose(2, 0, 1, 3).reshape(kernel_h * num_filters, channels * kernel_w)
    partial = (rows @ cols.reshape(channels * kernel_w, -1)).reshape(kernel_h, num_filters, padded_h, batch, out_w)

    out = partial[0, :, _taps(0, stride, out_h)] + b[:, None, None, None]  # (F, OH, N, OW)
    for i in range(1, kernel_h):
        out += partial[i, :, _taps(i, stride, out_h)]
    out = np.ascontiguousarray(out.transpose(2, 0, 1, 3))
    cache = (cols, rows, W.shape, x.shape, stride, padding)
    return out, cache
    ### END SOLUTION


def conv2d_backward(dout, cache, need_dx=True):
    """Gradients of conv2d_forward for the upstream gradient ``dout``.

    Inputs: dout (N, F, OH, OW), the forward output's shape; cache from conv2d_forward;
    need_dx: False skips dx (a first layer's input is the data).
    Returns (dx, dW, db): the shapes of x, W and b, in dout's dtype; dx is None when need_dx is False.
    Raises: ValueError naming ``dout`` unless it has the forward output's shape (``_check_dout``).
    """
    ### BEGIN SOLUTION: return (dx, dW, db) for conv2d_forward (dx None when need_dx is False)
    cols, rows, w_shape, padded_shape, stride, padding = cache
    num_filters, channels, kernel_h, kernel_w = w_shape
    batch, _, padded_h, padded_w = padded_shape
    out_h = conv_output_size(padded_h, kernel_h, stride)
    out_w = conv_output_size(padded_w, kernel_w, stride)
    _check_dout(dout, (batch, num_filters, out_h, out_w))

    db = dout.sum(axis=(0, 2, 3))
    dout_rows = np.ascontiguousarray(dout.transpose(1, 2, 0, 3))  # (F, OH, N, OW)
    dpartial = np.zeros((kernel_h, num_filters, padded_h, batch, out_w), dtype=dout.dtype)
    for i in range(kernel_h):
        dpartial[i, :, _taps(i, stride, out_h)] = dout_rows
    dpartial = dpartial.reshape(kernel_h * num_filters, -1)
    cols = cols.reshape(channels * kernel_w, -1)
    dW = (dpartial @ cols.T).reshape(kernel_h, num_filters, channels, kernel_w)
    dW = np.ascontiguousarray(dW.transpose(1, 2, 0, 3))
    if not need_dx:
        return None, dW, db

    dcols = (rows.T @ dpartial).reshape(channels, kernel_w, padded_h, batch, out_w)
    dx = np.zeros(padded_shape, dtype=dout.dtype)
    for j in range(kernel_w):  # col2im: add each kernel column's shifted slice back
        dx[:, :, :, _taps(j, stride, out_w)] += dcols[:, j].transpose(2, 0, 1, 3)
    if padding:
        dx = np.ascontiguousarray(dx[:, :, padding:-padding, padding:-padding])
    return dx, dW, db
    ### END SOLUTION


# ----------------------------------------------------------------------------- pooling
def _check_pool_arguments(x, size, stride):
    """Raise ValueError naming x, size or stride unless the ``size x size`` window fits x (N, C, H, W)."""
    _check_images(x)
    _check_int_at_least(size, "size")
    _check_int_at_least(stride, "stride")
    height, width = x.shape[2:]
    if size > height or size > width:
        raise ValueError(f"size={size}: the pooling window does not fit the {height}x{width} input")


def _pool_windows(x, size, stride):
    """Views ``x[:, :, i + stride*oh, j + stride*ow]`` for every window offset (i, j), row-major."""
    _check_pool_arguments(x, size, stride)
    height, width = x.shape[2:]
    out_h, out_w = conv_output_size(height, size, stride), conv_output_size(width, size, stride)
    offsets = [(i, j) for i in range(size) for j in range(size)]
    views = [x[:, :, _taps(i, stride, out_h), _taps(j, stride, out_w)] for i, j in offsets]
    return offsets, views


def _scatter_windows(pieces, offsets, x_shape, stride):
    """Add ``pieces[k]`` back at window offset ``offsets[k]`` of a zero (N, C, H, W) array."""
    out_h, out_w = pieces[0].shape[2:]
    dx = np.zeros(x_shape, dtype=pieces[0].dtype)
    for (i, j), piece in zip(offsets, pieces):
        dx[:, :, _taps(i, stride, out_h), _taps(j, stride, out_w)] += piece
    return dx


def maxpool2d_forward(x, size=2, stride=2):
    """Maximum over each ``size x size`` window moved by ``stride`` (no padding, floor mode).

    Inputs: x (N, C, H, W) float; size, stride >= 1 with the window fitting in H x W.
    Returns (out, cache): out (N, C, OH, OW) of x's dtype, ``OH = conv_output_size(H, size,
    stride)``; cache, what maxpool2d_backward needs: which element won each window. Ties: the
    first maximum in row-major window order wins (a later element must be strictly greater),
    as PyTorch does on the CPU. NaNs get no special treatment.
    Raises: ValueError naming x, size or stride when wrong (checked before the part to write).
    """
    _check_pool_arguments(x, size, stride)
    ### BEGIN SOLUTION: return (out, cache): the maximum of each window (views from _pool_windows), and which element won it (the first maximum on ties)
    offsets, views = _pool_windows(x, size, stride)
    out = views[0].copy()
    index_type = np.min_scalar_type(len(offsets) - 1).type
    winner = np.zeros(out.shape, dtype=index_type)  # offset index of each window's maximum
    for k, view in enumerate(views[1:], start=1):
        greater = view > out
        np.maximum(out, view, out=out)
        np.maximum(winner, greater * index_type(k), out=winner)  # k exceeds every earlier index
    return out, (winner, offsets, x.shape, stride)
    ### END SOLUTION


def maxpool2d_backward(dout, cache):
    """Gradient of maxpool2d_forward with respect to x.

    Inputs: dout of the forward output's shape; cache from maxpool2d_forward.
    Returns dx of x's shape, in dout's dtype; on ties the maximum is the element maxpool2d_forward chose.
    Raises: ValueError naming ``dout`` unless it has the forward output's shape (``_check_dout``).

    Each window's gradient goes to the one element that won it; overlapping windows add up.
    """
    ### BEGIN SOLUTION: return dx: each window's gradient routed to the element that won its maximum
    winner, offsets, x_shape, stride = cache
    _check_dout(dout, winner.shape)
    pieces = [dout * (winner == k) for k in range(len(offsets))]
    return _scatter_windows(pieces, offsets, x_shape, stride)
    ### END SOLUTION


def avgpool2d_forward(x, size=2, stride=2):
    """Mean over each ``size x size`` window moved by ``stride`` (no padding, floor mode).

    Inputs: x (N, C, H, W) float; size, stride >= 1 with the window fitting in H x W.
    Returns (out, cache): out (N, C, OH, OW) of x's dtype; cache, what avgpool2d_backward needs.
    Raises: ValueError naming x, size or stride when wrong (checked before the part to write).
    """
    _check_pool_arguments(x, size, stride)
    ### BEGIN SOLUTION: return (out, cache): the mean of each window (views from _pool_windows)
    offsets, views = _pool_windows(x, size, stride)
    out = views[0].copy()
    for view in views[1:]:
        out += view
    out /= len(offsets)
    return out, (out.shape, offsets, x.shape, stride)
    ### END SOLUTION


def avgpool2d_backward(dout, cache):
    """Gradient of avgpool2d_forward with respect to x.

    Inputs: dout of the forward output's shape; cache from avgpool2d_forward.
    Returns dx of x's shape, in dout's dtype.
    Raises: ValueError naming ``dout`` unless it has the forward output's shape (``_check_dout``).

    Each window's gradient is shared equally by its ``size * size`` elements; overlapping windows add up.
    """
    ### BEGIN SOLUTION: return dx: each window's gradient shared equally among its elements
    out_shape, offsets, x_shape, stride = cache
    _check_dout(dout, out_shape)
    share = dout / len(offsets)
    return _scatter_windows([share] * len(offsets), offsets, x_shape, stride)
    ### END SOLUTION


# ----------------------------------------------------------------------------- flatten
def flatten_forward(x):
    """(N, ...) -> (N, prod(...)) in C order (a view when ``x`` is contiguous)."""
    if not isinstance(x, np.ndarray) or x.ndim < 2:
        raise ValueError(f"x must be an array with a batch axis and at least one more, got {np.shape(x)}")
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    """Reshape the gradient back to the input's shape."""
    x_shape = cache
    _check_dout(dout, (x_shape[0], int(np.prod(x_shape[1:]))))
    return dout.reshape(x_shape)


# ----------------------------------------------------------------------------- layer objects
@dataclass
class Conv2D(Layer):
    """Convolution layer: ``convK_W`` (out_channels, in_channels, k, k) and ``convK_b`` (out_channels,).

    Weights are drawn as a (fan_in = in_channels * k * k, fan_out = out_channels) matrix,
    transposed and reshaped, so any ``helpers.nn.init`` initialiser applies.
    """

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    param_roles = ("W", "b")
    key_format = "conv{index}_{role}"

    def shapes(self):
        W, b = self.param_names
        return {W: (self.out_channels, self.in_channels, self.kernel_size, self.kernel_size), b: (self.out_channels,)}

    def init(self, rng, dtype, draw):
        W, b = self.param_names
        weights = draw(self.in_channels * self.kernel_size**2, self.out_channels, rng, dtype).T
        return {W: np.ascontiguousarray(weights.reshape(self.shapes()[W])), b: np.zeros(self.out_channels, dtype)}, {}

    def forward(self, x, params, state, training):
        W, b = self.param_names
        return conv2d_forward(x, params[W], params[b], self.stride, self.padding)

    def backward(self, dout, cache, grads, need_dx=True):
        W, b = self.param_names
        dx, grads[W], grads[b] = conv2d_backward(dout, cache, need_dx)
        return dx


POOLS = {"max": (maxpool2d_forward, maxpool2d_backward), "avg": (avgpool2d_forward, avgpool2d_backward)}


@dataclass
class Pool2D(Layer):
    """Max or average pooling (``kind``) over ``size x size`` windows moved by ``stride`` (default ``size``)."""

    kind: str = "max"
    size: int = 2
    stride: int | None = None

    def __post_init__(self):
        if self.kind not in POOLS:
            raise ValueError(f"pool must be one of {sorted(POOLS)}, got {self.kind!r}")
        self._forward, self._backward = POOLS[self.kind]

    def forward(self, x, params, state, training):
        return self._forward(x, self.size, self.stride or self.size)

    def backward(self, dout, cache, grads, need_dx=True):
        return self._backward(dout, cache)


@dataclass
class Flatten(Layer):
    """(N, ...) -> (N, prod(...)), as the input of a :class:`Linear` layer."""

    def forward(self, x, params, state, training):
        return flatten_forward(x)

    def backward(self, dout, cache, grads, need_dx=True):
        return flatten_backward(dout, cache)
