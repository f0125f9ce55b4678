"""A small convolutional classifier built from the layer functions, trainable by ``helpers.train.train``."""

import numpy as np

from .conv import (
    avgpool2d_backward,
    avgpool2d_forward,
    conv2d_backward,
    conv2d_forward,
    conv_output_size,
    flatten_backward,
    flatten_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from .init import INITIALIZERS
from .layers import ACTIVATIONS, linear_backward, linear_forward
from .losses import check_labels
from .model import Classifier, check_architecture

POOLS = {
    "max": (maxpool2d_forward, maxpool2d_backward),
    "avg": (avgpool2d_forward, avgpool2d_backward),
}


class CNN(Classifier):
    """``(conv -> activation) x K -> pool -> flatten -> linear -> activation -> linear -> softmax``.

    Convolutions have stride 1 and no padding; the pool has stride ``pool_size``. With the
    defaults on MNIST: 1x28x28 -> 8x24x24 -> 8x20x20 -> pool 8x10x10 = 800 -> 128 -> 10.

    ``params`` is a plain dict (the format that gets pickled): ``convK_W`` (F, C, k, k) and
    ``convK_b`` (F,) for K = 1, 2, ...; then ``W1`` (features, hidden), ``b1``, ``W2``
    (hidden, classes), ``b2`` as in ``MLP``. Its dtype is the compute dtype. The loss is
    ``mean cross-entropy + reg * sum(W**2)`` over every weight array (biases not penalised).

    Inputs: images (n, C, H, W), or the same images flattened to rows (n, C*H*W) in C order;
    ``check_inputs`` returns rows, which is what ``helpers.train``'s batch buffer expects.
    Weights are drawn with ``init`` from ``helpers.nn.init`` (a convolution counts as
    fan_in = C*k*k, fan_out = F), in the order of ``params``, from ``default_rng(seed)``.
    """

    def __init__(self, input_shape, conv_channels=(8, 8), kernel_size=5, pool="max", pool_size=2,
                 hidden=128, num_classes=10, activation="relu", init="he", reg=0.0, dtype=np.float32,
                 seed=0):
        if init not in INITIALIZERS:
            raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got {init!r}")
        if len(input_shape) != 3 or any(int(size) != size or size < 1 for size in input_shape):
            raise ValueError(f"input_shape must be (channels, height, width), got {input_shape}")
        if not conv_channels or any(int(c) != c or c < 1 for c in conv_channels):
            raise ValueError(f"conv_channels must be one or more positive integers, got {conv_channels}")
        for name, value in (("kernel_size", kernel_size), ("pool_size", pool_size), ("hidden", hidden),
                            ("num_classes", num_classes)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        conv_channels, kernel_size, hidden = [int(c) for c in conv_channels], int(kernel_size), int(hidden)
        draw = INITIALIZERS[init]
        rng = np.random.default_rng(seed)
        params = {}
        channels = int(input_shape[0])
        for k, filters in enumerate(conv_channels, start=1):
            weights = draw(channels * kernel_size**2, filters, rng, dtype).T
            params[f"conv{k}_W"] = np.ascontiguousarray(weights.reshape(filters, channels, kernel_size, kernel_size))
            params[f"conv{k}_b"] = np.zeros(filters, dtype=dtype)
            channels = filters
        height, width = input_shape[1:]
        for _ in conv_channels:
            height, width = conv_output_size(height, kernel_size), conv_output_size(width, kernel_size)
        if min(height, width) < pool_size:
            raise ValueError(f"input_shape {input_shape} is too small for {len(conv_channels)} "
                             f"{kernel_size}x{kernel_size} convolutions and a {pool_size}x{pool_size} pool")
        features = channels * conv_output_size(height, pool_size, pool_size) * conv_output_size(width, pool_size, pool_size)
        for i, (fan_in, fan_out) in enumerate(((features, hidden), (hidden, int(num_classes))), start=1):
            params[f"W{i}"] = draw(fan_in, fan_out, rng, dtype)
            params[f"b{i}"] = np.zeros(fan_out, dtype=dtype)
        self._attach(params, input_shape, pool, pool_size, activation, reg)

    @classmethod
    def from_params(cls, params, input_shape, pool="max", pool_size=2, activation="relu", reg=0.0):
        """Wrap an existing params dict (e.g. unpickled); its arrays are used, not copied."""
        model = cls.__new__(cls)
        model._attach(params, input_shape, pool, pool_size, activation, reg)
        return model

    @property
    def architecture(self):
        """What rebuilds this model from its params (input shape, layer sizes, pooling, activation)."""
        return {"model": "CNN", "input_shape": list(self.input_shape),
                "conv_channels": [int(self.params[f"conv{k}_W"].shape[0]) for k in range(1, self.num_convs + 1)],
                "kernel_size": int(self.params["conv1_W"].shape[-1]), "pool": self.pool, "pool_size": self.pool_size,
                "hidden": int(self.params["W1"].shape[1]), "num_classes": int(self.num_classes),
                "activation": self.activation}

    @classmethod
    def from_architecture(cls, architecture, params, reg=0.0):
        """Rebuild a model saved with :attr:`architecture`; the params must have the recorded shapes."""
        model = cls.from_params(params, architecture["input_shape"], pool=architecture["pool"],
                                pool_size=architecture["pool_size"], activation=architecture["activation"], reg=reg)
        check_architecture(model, architecture)
        return model

    def _attach(self, params, input_shape, pool, pool_size, activation, reg):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {sorted(POOLS)}, got {pool!r}")
        num_convs = sum(name.startswith("conv") for name in params) // 2
        expected = {f"conv{k}_{kind}" for k in range(1, num_convs + 1) for kind in "Wb"} | {"W1", "b1", "W2", "b2"}
        if num_convs < 1 or set(params) != expected:
            raise ValueError(f"params must have keys conv1_W, conv1_b, ..., W1, b1, W2, b2; got {sorted(params)}")
        dtype = params["W1"].dtype
        if not np.issubdtype(dtype, np.floating) or any(p.dtype != dtype for p in params.values()):
            raise ValueError(f"params must share one floating dtype, got {sorted({str(p.dtype) for p in params.values()})}")
        self.params = params
        self.input_shape = tuple(int(size) for size in input_shape)
        self.pool = pool
        self.pool_size = int(pool_size)
        self.activation = activation
        self.reg = float(reg)
        self.num_convs = num_convs
        probe = np.zeros((1, *self.input_shape), dtype=dtype)
        try:
            self._forward(probe)
        except ValueError as err:
            raise ValueError(f"params do not fit input_shape {self.input_shape}: {err}") from err

    @property
    def dtype(self):
        return self.params["W1"].dtype

    @property
    def num_classes(self):
        return self.params["W2"].shape[1]

    def check_inputs(self, X, y=None, X_name="X", y_name="y"):
        """Return ``X`` as rows (n, C*H*W) of the model dtype (a view when possible); validate ``y``."""
        X = np.asarray(X, dtype=self.dtype)
        row_length = int(np.prod(self.input_shape))
        if X.ndim == 4 and X.shape[1:] == self.input_shape:
            X = X.reshape(len(X), row_length)
        if X.ndim != 2 or X.shape[1] != row_length:
            raise ValueError(f"{X_name} must have shape (n, {', '.join(map(str, self.input_shape))}) "
                             f"or (n, {row_length}), got {X.shape}")
        if y is not None:
            check_labels(np.asarray(y), X.shape[0], self.num_classes, y_name)
        return X

    def _forward(self, images):
        activation_forward, _ = ACTIVATIONS[self.activation]
        pool_forward, _ = POOLS[self.pool]
        caches = []
        hidden = images
        for k in range(1, self.num_convs + 1):
            hidden, conv_cache = conv2d_forward(hidden, self.params[f"conv{k}_W"], self.params[f"conv{k}_b"])
            hidden, activation_cache = activation_forward(hidden)
            caches.append((conv_cache, activation_cache))
        hidden, pool_cache = pool_forward(hidden, self.pool_size, self.pool_size)
        hidden, flatten_cache = flatten_forward(hidden)
        hidden, linear1_cache = linear_forward(hidden, self.params["W1"], self.params["b1"])
        hidden, activation_cache = activation_forward(hidden)
        scores, linear2_cache = linear_forward(hidden, self.params["W2"], self.params["b2"])
        caches.append((pool_cache, flatten_cache, linear1_cache, activation_cache, linear2_cache))
        return scores, caches

    def _backward(self, dscores, caches):
        _, activation_backward = ACTIVATIONS[self.activation]
        _, pool_backward = POOLS[self.pool]
        grads = {}
        pool_cache, flatten_cache, linear1_cache, activation_cache, linear2_cache = caches[-1]
        dout, grads["W2"], grads["b2"] = linear_backward(dscores, linear2_cache)
        dout = activation_backward(dout, activation_cache)
        dout, grads["W1"], grads["b1"] = linear_backward(dout, linear1_cache)
        dout = pool_backward(flatten_backward(dout, flatten_cache), pool_cache)
        for k in range(self.num_convs, 0, -1):
            conv_cache, activation_cache = caches[k - 1]
            dout = activation_backward(dout, activation_cache)
            dout, grads[f"conv{k}_W"], grads[f"conv{k}_b"] = conv2d_backward(dout, conv_cache, need_dx=k > 1)
        return grads

    def _images(self, rows):
        return rows.reshape(len(rows), *self.input_shape)

    def scores(self, X, chunk_size=256):
        """Unnormalised class scores (logits), shape ``(n, classes)``; computed ``chunk_size`` images at a time."""
        X = self._images(self.check_inputs(X))
        scores = np.empty((len(X), self.num_classes), dtype=self.dtype)
        for start in range(0, len(X), chunk_size):
            scores[start:start + chunk_size] = self._forward(X[start:start + chunk_size])[0]
        return scores

    def _batch(self, X):
        return self._images(self.check_inputs(X))


def to_nchw(images, mean=None, std=None, dtype=np.float32):
    """uint8 images (N, H, W) or (N, H, W, C) -> ``dtype`` (N, C, H, W) scaled to [0, 1].

    With ``mean``/``std`` (one value per channel, on the [0, 1] scale, e.g. from
    :func:`channel_stats` of the training set) each channel is then standardised.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"images must be uint8 (N, H, W) or (N, H, W, C), got {images.dtype} {images.shape}")
    if images.ndim == 3:
        images = images[..., None]
    out = images.transpose(0, 3, 1, 2).astype(dtype, order="C")
    out /= 255
    if mean is not None:
        out -= np.asarray(mean, dtype=dtype).reshape(1, -1, 1, 1)
    if std is not None:
        out /= np.asarray(std, dtype=dtype).reshape(1, -1, 1, 1)
    return out


def channel_stats(images):
    """Per-channel mean and standard deviation of uint8 images (N, H, W[, C]) on the [0, 1] scale."""
    images = np.asarray(images)
    channels = images[..., None] if images.ndim == 3 else images
    stats = [(plane.mean(dtype=np.float64), plane.std(dtype=np.float64))
             for plane in (channels[..., c].astype(np.float32) for c in range(channels.shape[-1]))]
    mean, std = np.array(stats).T / 255
    return mean, std


class FlipAugmented:
    """Training-time augmentation: ``loss`` mirrors each image left-right with probability ``p``.

    Wraps a model and forwards every other attribute (``params``, ``scores``, ``predict``,
    ...) to it, so ``helpers.train.train(FlipAugmented(model), ...)`` trains ``model`` on
    freshly flipped batches while evaluation sees the images unchanged. The flips are
    drawn from ``default_rng(seed)``, one batch after another.
    """

    def __init__(self, model, p=0.5, seed=0):
        if not 0 <= p <= 1:
            raise ValueError(f"p must be a probability in [0, 1], got {p}")
        self.model = model
        self.p = p
        self.rng = np.random.default_rng(seed)

    def __getattr__(self, name):  # called only for names the wrapper itself lacks
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def loss(self, X, y):
        """The wrapped model's ``loss`` on the batch with a random subset of images mirrored."""
        images = self.model.check_inputs(X).reshape(-1, *self.model.input_shape)
        flip = (self.rng.random(len(images)) < self.p)[:, None, None, None]
        return self.model.loss(np.where(flip, images[..., ::-1], images), y)
