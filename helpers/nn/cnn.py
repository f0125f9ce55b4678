"""A small convolutional classifier: the list of layers built from its arguments, trainable by ``helpers.train.train``."""

import numpy as np

from .conv import Conv2D, Flatten, Pool2D, conv_output_size
from .layers import Activation, Linear
from .model import Classifier


def CNN(input_shape, conv_channels=(8, 8), kernel_size=5, pool="max", pool_size=2, hidden=128, num_classes=10,
        activation="relu", init="he", reg=0.0, dtype=np.float32, seed=0):
    """A :class:`Classifier` ``(conv -> activation) x K -> pool -> flatten -> linear -> activation -> linear -> softmax``.

    Convolutions have stride 1 and no padding; the pool has stride ``pool_size``. With the
    defaults on MNIST: 1x28x28 -> 8x24x24 -> 8x20x20 -> pool 8x10x10 = 800 -> 128 -> 10.

    ``params``: ``convK_W`` (F, C, k, k) and ``convK_b`` (F,) for K = 1, 2, ...; then ``W1``
    (features, hidden), ``b1``, ``W2`` (hidden, classes), ``b2`` as in ``MLP``. The loss is
    ``mean cross-entropy + reg * sum(W**2)`` over every weight array (biases not penalised).

    Inputs: images (n, C, H, W), or the same images flattened to rows (n, C*H*W) in C order.
    Weights are drawn with ``init`` from ``helpers.nn.init`` (a convolution counts as
    fan_in = C*k*k, fan_out = F), layer after layer, from ``default_rng(seed)``.
    """
    layers = cnn_layers(input_shape, conv_channels, kernel_size, pool, pool_size, hidden, num_classes, activation)
    return Classifier(input_shape, layers, init=init, reg=reg, dtype=dtype, seed=seed)


def cnn_layers(input_shape, conv_channels, kernel_size, pool, pool_size, hidden, num_classes, activation):
    """The CNN's list of layers: each convolution with ``activation``, the pool, flatten, two linear layers."""
    if len(input_shape) != 3 or any(int(size) != size or size < 1 for size in input_shape):
        raise ValueError(f"input_shape must be (channels, height, width), got {input_shape}")
    if not conv_channels or any(int(c) != c or c < 1 for c in conv_channels):
        raise ValueError(f"conv_channels must be one or more positive integers, got {conv_channels}")
    for name, value in (("kernel_size", kernel_size), ("pool_size", pool_size), ("hidden", hidden),
                        ("num_classes", num_classes)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    conv_channels, kernel_size, pool_size = [int(c) for c in conv_channels], int(kernel_size), int(pool_size)
    height, width = input_shape[1:]
    for _ in conv_channels:
        height, width = conv_output_size(height, kernel_size), conv_output_size(width, kernel_size)
    if min(height, width) < pool_size:
        raise ValueError(f"input_shape {input_shape} is too small for {len(conv_channels)} "
                         f"{kernel_size}x{kernel_size} convolutions and a {pool_size}x{pool_size} pool")
    features = conv_channels[-1] * conv_output_size(height, pool_size, pool_size) * conv_output_size(width, pool_size, pool_size)
    channels = [int(input_shape[0])] + conv_channels
    layers = [layer for c_in, c_out in zip(channels[:-1], channels[1:])
              for layer in (Conv2D(c_in, c_out, kernel_size), Activation(activation))]
    return layers + [Pool2D(pool, pool_size), Flatten(), Linear(features, int(hidden)), Activation(activation),
                     Linear(int(hidden), int(num_classes))]
