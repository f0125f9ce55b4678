"""Classifiers as ordered lists of layers, sharing one forward/backward loop; the MLP builder."""

from collections import Counter

import numpy as np

from .init import INITIALIZERS
from .layers import Activation, Linear, layer_from_spec
from .losses import check_labels, l2_penalty, softmax, softmax_cross_entropy


IMAGE_SCORES_CHUNK = 256  # rows ``Classifier.scores`` runs at once on images (several dimensions)


class Classifier:
    """A softmax classifier that is an ordered list of layers (see :class:`helpers.nn.layers.Layer`).

    ``params`` is a plain dict of the learned arrays (the format that gets pickled) and ``state``
    one of the non-learned arrays (e.g. batch-norm running statistics, updated in place during
    training), both keyed as the layers declare them. Their dtype is the compute dtype. The loss is
    ``mean cross-entropy + reg * sum(W**2)`` over the arrays of ``params`` with two or more axes.

    Mode: ``loss`` runs the layers in training mode (dropout active, batch statistics) unless
    told ``training=False``; ``scores``, ``predict`` and ``predict_proba`` in evaluation mode.
    Inputs are ``(n, *input_shape)`` arrays or the same rows flattened to ``(n, prod(input_shape))``.
    Initial weights are drawn with ``init`` (see ``helpers.nn.init``) from ``default_rng(seed)``,
    layer after layer.
    """

    def __init__(self, input_shape, layers, init="he", reg=0.0, dtype=np.float32, seed=0):
        if init not in INITIALIZERS:
            raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got {init!r}")
        layers = name_layers(layers)
        rng = np.random.default_rng(seed)
        params, state = {}, {}
        for layer in layers:
            layer_params, layer_state = layer.init(rng, dtype, INITIALIZERS[init])
            params.update(layer_params)
            state.update(layer_state)
        self._attach(input_shape, layers, params, state, reg)

    @classmethod
    def from_params(cls, params, input_shape, layers, state=None, reg=0.0):
        """Wrap existing params (and state) dicts, e.g. unpickled; their arrays are used, not copied."""
        model = cls.__new__(cls)
        model._attach(input_shape, name_layers(layers), params, {} if state is None else state, reg)
        return model

    @property
    def architecture(self):
        """What rebuilds this model from its params: ``{"model": "Classifier", "input_shape", "layers"}``."""
        return architecture_of(self.input_shape, self.layers)

    @classmethod
    def from_architecture(cls, architecture, params, reg=0.0, state=None):
        """Rebuild a model saved with :attr:`architecture`; the arrays must have the recorded shapes."""
        if architecture.get("model") != "Classifier":
            raise ValueError(f"not a Classifier architecture: {architecture!r} (helpers.nn.architectures.generic_architecture "
                             "reads the MLP and CNN forms)")
        layers = [layer_from_spec(spec) for spec in architecture["layers"]]
        model = cls.from_params(params, architecture["input_shape"], layers, state=state, reg=reg)
        check_architecture(model, architecture)
        return model

    def _attach(self, input_shape, layers, params, state, reg):
        if len(input_shape) < 1 or any(int(size) != size or size < 1 for size in input_shape):
            raise ValueError(f"input_shape must be positive integers, got {input_shape}")
        for what, arrays, names in (("params", params, "param_names"), ("state", state, "state_names")):
            expected = [name for layer in layers for name in getattr(layer, names)]
            if set(arrays) != set(expected):
                raise ValueError(f"{what} must have keys {expected}; got {sorted(arrays)}")
        arrays = {**params, **state}
        dtype = next(iter(arrays.values())).dtype if arrays else None
        if not arrays or not np.issubdtype(dtype, np.floating) or any(a.dtype != dtype for a in arrays.values()):
            raise ValueError(f"params must share one floating dtype, got {sorted({str(a.dtype) for a in arrays.values()})}")
        for layer in layers:
            for name, shape in layer.shapes().items():
                if arrays[name].shape != tuple(shape):
                    raise ValueError(f"params {name} has shape {arrays[name].shape}, {type(layer).__name__} "
                                     f"{layer.spec()} needs {tuple(shape)}")
        self.input_shape = tuple(int(size) for size in input_shape)
        self.row_length = int(np.prod(self.input_shape))
        self.layers = layers
        self.params = params
        self.state = state
        self.reg = float(reg)
        # rows per forward pass in ``scores`` (None: all at once); a convolution's buffers grow with the rows
        self.scores_chunk = IMAGE_SCORES_CHUNK if len(self.input_shape) > 1 else None
        try:
            out = self.forward(np.zeros((1, *self.input_shape), dtype=dtype), training=False)[0]
        except ValueError as err:
            raise ValueError(f"params do not fit input_shape {self.input_shape}: {err}") from err
        if out.ndim != 2:
            raise ValueError(f"layers must end in class scores (n, classes), got shape {out.shape}")
        self.num_classes = out.shape[1]

    @property
    def dtype(self):
        return next(iter(self.params.values())).dtype

    def forward(self, x, training):
        """Run every layer's forward in order.

        Inputs: x (n, *input_shape) of the model's dtype; training: the mode every layer runs in.
        Returns (scores, caches): scores (n, classes); caches, the list of the layers' caches, in
        layer order.
        """
        ### BEGIN SOLUTION: return (scores, caches): run every layer's forward in order
        caches = []
        for layer in self.layers:
            x, cache = layer.forward(x, self.params, self.state, training)
            caches.append(cache)
        return x, caches
        ### END SOLUTION

    def backward(self, dscores, caches):
        """Run the layers' backward in reverse order from ``dscores``.

        Inputs: dscores (n, classes); caches, the list forward returned. The first layer is asked
        for no input gradient (``need_dx=False``): its input is the data.
        Returns grads: a dict with the gradient of every param, keyed, shaped and typed like ``params``.
        """
        ### BEGIN SOLUTION: return grads: run the layers' backward in reverse from dscores (need_dx only past the first layer)
        grads = {}
        dout = dscores
        for i in range(len(self.layers) - 1, -1, -1):
            dout = self.layers[i].backward(dout, caches[i], grads, need_dx=i > 0)  # the data needs no dx
        return grads
        ### END SOLUTION

    def loss(self, X, y, training=True):
        """Return ``(loss, grads)`` for a batch; ``grads`` is keyed like ``params``."""
        scores, caches = self.forward(self._batch(X), training)
        loss, dscores = softmax_cross_entropy(scores, y)  # validates y
        grads = self.backward(dscores, caches)
        if self.reg:
            penalty, penalty_grads = l2_penalty(self.params, self.reg)
            loss += penalty
            for name, grad in penalty_grads.items():
                grads[name] += grad
        return float(loss), grads

    def check_inputs(self, X, y=None, X_name="X", y_name="y"):
        """Return ``X`` as rows ``(n, prod(input_shape))`` of the model dtype (a view when possible); validate ``y``."""
        X = np.asarray(X, dtype=self.dtype)
        row_length = self.row_length
        if X.ndim == len(self.input_shape) + 1 and X.shape[1:] == self.input_shape:
            X = X.reshape(len(X), row_length)
        if X.ndim != 2 or X.shape[1] != row_length:
            shape = ", ".join(map(str, self.input_shape))
            raise ValueError(f"{X_name} must have shape (n, {shape})" + (f" or (n, {row_length})" if len(self.input_shape) > 1 else "")
                             + f", got {X.shape}")
        if y is not None:
            check_labels(np.asarray(y), X.shape[0], self.num_classes, y_name)
        return X

    def _batch(self, X):
        rows = self.check_inputs(X)
        return rows.reshape(len(rows), *self.input_shape)

    def scores(self, X, training=False):
        """Unnormalised class scores (logits), shape ``(n, classes)``, ``scores_chunk`` rows at a time."""
        X = self._batch(X)
        if self.scores_chunk is None:
            return self.forward(X, training)[0]
        scores = np.empty((len(X), self.num_classes), dtype=self.dtype)
        for start in range(0, len(X), self.scores_chunk):
            scores[start:start + self.scores_chunk] = self.forward(X[start:start + self.scores_chunk], training)[0]
        return scores

    def predict_proba(self, X):
        """Softmax class probabilities, shape ``(n, classes)``."""
        return softmax(self.scores(X))

    def predict(self, X):
        """Most likely class per row, shape ``(n,)``."""
        return self.scores(X).argmax(axis=1)


def name_layers(layers):
    """Give each layer its keys, counting the layers of each class from 1 (``W1``, ``W2``, ...)."""
    layers, counts = list(layers), Counter()
    for layer in layers:
        counts[type(layer)] += 1
        layer.named(counts[type(layer)])
    keys = [name for layer in layers for name in (*layer.param_names, *layer.state_names)]
    if len(set(keys)) != len(keys):
        raise ValueError(f"layers must name their arrays uniquely, got {keys}")
    return layers


def MLP(layer_sizes, activation="relu", init="he", reg=0.0, dtype=np.float32, seed=0):
    """A :class:`Classifier` ``(linear -> activation) x (L-1) -> linear -> softmax`` with an L2 penalty.

    ``params`` is ``{"W1", "b1", ..., "WL", "bL"}`` with ``Wi`` of shape
    ``(layer_sizes[i-1], layer_sizes[i])`` and ``bi`` of shape ``(layer_sizes[i],)`` (the seeds'
    pickle format); the loss is ``mean cross-entropy + reg * sum_i sum(Wi**2)`` (biases not penalised).
    """
    layer_sizes = list(layer_sizes)
    if len(layer_sizes) < 2 or any(int(size) != size or size < 1 for size in layer_sizes):
        raise ValueError(f"layer_sizes must be >= 2 positive integers, got {layer_sizes}")
    layer_sizes = [int(size) for size in layer_sizes]
    return Classifier((layer_sizes[0],), mlp_layers(layer_sizes, activation), init=init, reg=reg, dtype=dtype,
                      seed=seed)


def mlp_layers(layer_sizes, activation):
    """``Linear, Activation, ..., Linear`` for ``layer_sizes`` (the MLP's list of layers)."""
    layers = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        layers += [Linear(fan_in, fan_out), Activation(activation)]
    return layers[:-1]


def architecture_of(input_shape, layers):
    """``{"model": "Classifier", "input_shape", "layers"}``: what rebuilds a model of these layers from its arrays."""
    return {"model": "Classifier", "input_shape": [int(size) for size in input_shape],
            "layers": [layer.spec() for layer in layers]}


def check_architecture(model, architecture):
    """Raise ValueError unless ``model.architecture`` equals the recorded ``architecture``."""
    found = model.architecture
    if found != dict(architecture):
        differences = ", ".join(f"{key}: recorded {architecture.get(key)!r}, params give {found.get(key)!r}"
                                for key in sorted(set(found) | set(architecture)) if found.get(key) != architecture.get(key))
        raise ValueError(f"the params do not match the recorded architecture ({differences})")
