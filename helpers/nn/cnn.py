"""A small convolutional classifier: a list of layers built from its arguments, trainable by ``helpers.train.train``."""

import numpy as np

from .conv import Conv2D, Flatten, Pool2D, conv_output_size
from .init import INITIALIZERS
from .layers import Activation, Linear
from .model import Classifier, check_architecture, name_layers


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

    scores_chunk = 256

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
        conv_channels, kernel_size, pool_size = [int(c) for c in conv_channels], int(kernel_size), int(pool_size)
        height, width = input_shape[1:]
        for _ in conv_channels:
            height, width = conv_output_size(height, kernel_size), conv_output_size(width, kernel_size)
        if min(height, width) < pool_size:
            raise ValueError(f"input_shape {input_shape} is too small for {len(conv_channels)} "
                             f"{kernel_size}x{kernel_size} convolutions and a {pool_size}x{pool_size} pool")
        features = conv_channels[-1] * conv_output_size(height, pool_size, pool_size) * conv_output_size(width, pool_size, pool_size)
        channels = [int(input_shape[0])] + conv_channels
        convs = [(c_in, c_out, kernel_size) for c_in, c_out in zip(channels[:-1], channels[1:])]
        layers = cnn_layers(convs, pool, pool_size, (features, int(hidden), int(num_classes)), activation)
        super().__init__(input_shape, layers, init=init, reg=reg, dtype=dtype, seed=seed)
        self.pool, self.pool_size, self.activation = pool, pool_size, activation

    @classmethod
    def from_params(cls, params, input_shape, pool="max", pool_size=2, activation="relu", reg=0.0):
        """Wrap an existing params dict (e.g. unpickled); its arrays are used, not copied."""
        num_convs = sum(name.startswith("conv") for name in params) // 2
        expected = {f"conv{k}_{kind}" for k in range(1, num_convs + 1) for kind in "Wb"} | {"W1", "b1", "W2", "b2"}
        if num_convs < 1 or set(params) != expected:
            raise ValueError(f"params must have keys conv1_W, conv1_b, ..., W1, b1, W2, b2; got {sorted(params)}")
        weights = [params[f"conv{k}_W"] for k in range(1, num_convs + 1)]
        if any(W.ndim != 4 for W in weights) or params["W1"].ndim != 2 or params["W2"].ndim != 2:
            raise ValueError("params convK_W must be 4-D (F, C, k, k) and W1, W2 2-D")
        convs = [(W.shape[1], W.shape[0], W.shape[-1]) for W in weights]
        sizes = (*params["W1"].shape, params["W2"].shape[1])
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (channels, height, width), got {input_shape}")
        model = cls.__new__(cls)
        model._attach(input_shape, name_layers(cnn_layers(convs, pool, int(pool_size), sizes, activation)), params, {}, reg)
        model.pool, model.pool_size, model.activation = pool, int(pool_size), activation
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
    def from_architecture(cls, architecture, params, reg=0.0, state=None):
        """Rebuild a model saved with :attr:`architecture`; the params must have the recorded shapes."""
        if state:
            raise ValueError(f"state: this CNN has no non-learned state, got {sorted(state)}")
        model = cls.from_params(params, architecture["input_shape"], pool=architecture["pool"],
                                pool_size=architecture["pool_size"], activation=architecture["activation"], reg=reg)
        check_architecture(model, architecture)
        return model

    @property
    def num_convs(self):
        return sum(isinstance(layer, Conv2D) for layer in self.layers)


def cnn_layers(convs, pool, pool_size, sizes, activation):
    """The CNN's list: ``convs`` (in, out, kernel) each with ``activation``, the pool, flatten, two linear layers."""
    features, hidden, classes = sizes
    layers = [layer for conv in convs for layer in (Conv2D(*conv), Activation(activation))]
    return layers + [Pool2D(pool, pool_size), Flatten(), Linear(features, hidden), Activation(activation),
                     Linear(hidden, classes)]


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
