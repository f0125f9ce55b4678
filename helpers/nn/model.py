"""A fully connected softmax classifier built from the layer functions."""

import numpy as np

from .init import INITIALIZERS
from .layers import ACTIVATIONS, linear_backward, linear_forward
from .losses import check_labels, l2_penalty, softmax, softmax_cross_entropy


class Classifier:
    """What the models share: softmax cross-entropy with the L2 penalty, probabilities, predictions.

    A subclass provides ``params``, ``reg``, ``scores(X)``, ``_batch(X)`` (checked network
    input), ``_forward(batch) -> (scores, caches)``, ``_backward(dscores, caches) -> grads``,
    ``architecture`` (a plain dict saved beside the params) and ``from_architecture``.
    """

    def loss(self, X, y):
        """Return ``(loss, grads)`` for a batch; ``grads`` is keyed like ``params``."""
        scores, caches = self._forward(self._batch(X))
        loss, dscores = softmax_cross_entropy(scores, y)  # validates y
        grads = self._backward(dscores, caches)
        if self.reg:
            penalty, penalty_grads = l2_penalty(self.params, self.reg)
            loss += penalty
            for name, grad in penalty_grads.items():
                grads[name] += grad
        return float(loss), grads

    def predict_proba(self, X):
        """Softmax class probabilities, shape ``(n, classes)``."""
        return softmax(self.scores(X))

    def predict(self, X):
        """Most likely class per row, shape ``(n,)``."""
        return self.scores(X).argmax(axis=1)


class MLP(Classifier):
    """``(linear -> activation) x (L-1) -> linear -> softmax`` with an L2 penalty.

    ``params`` is a plain dict ``{"W1", "b1", ..., "WL", "bL"}`` with ``Wi`` of shape
    ``(layer_sizes[i-1], layer_sizes[i])`` and ``bi`` of shape ``(layer_sizes[i],)``;
    it is the format that gets pickled. The dtype of the params is the compute dtype.
    The loss is ``mean cross-entropy + reg * sum_i sum(Wi**2)`` (biases not penalised).
    """

    def __init__(self, layer_sizes, activation="relu", init="he", reg=0.0, dtype=np.float32, seed=0):
        layer_sizes = list(layer_sizes)
        if len(layer_sizes) < 2 or any(int(size) != size or size < 1 for size in layer_sizes):
            raise ValueError(f"layer_sizes must be >= 2 positive integers, got {layer_sizes}")
        if init not in INITIALIZERS:
            raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got {init!r}")
        rng = np.random.default_rng(seed)
        params = {}
        for i, (fan_in, fan_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]), start=1):
            params[f"W{i}"] = INITIALIZERS[init](int(fan_in), int(fan_out), rng, dtype)
            params[f"b{i}"] = np.zeros(int(fan_out), dtype=dtype)
        self._attach(params, activation, reg)

    @classmethod
    def from_params(cls, params, activation="relu", reg=0.0):
        """Wrap an existing params dict (e.g. unpickled); its arrays are used, not copied."""
        model = cls.__new__(cls)
        model._attach(params, activation, reg)
        return model

    @property
    def architecture(self):
        """What rebuilds this model from its params: ``{"model": "MLP", "layer_sizes", "activation"}``."""
        return {"model": "MLP", "layer_sizes": [int(size) for size in self.layer_sizes], "activation": self.activation}

    @classmethod
    def from_architecture(cls, architecture, params, reg=0.0):
        """Rebuild a model saved with :attr:`architecture`; the params must have the recorded shapes."""
        model = cls.from_params(params, activation=architecture["activation"], reg=reg)
        check_architecture(model, architecture)
        return model

    def _attach(self, params, activation, reg):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        num_layers = len(params) // 2
        expected = {f"{kind}{i}" for i in range(1, num_layers + 1) for kind in "Wb"}
        if num_layers < 1 or set(params) != expected:
            raise ValueError(f"params must have keys W1, b1, ..., WL, bL; got {sorted(params)}")
        dtype = params["W1"].dtype
        for i in range(1, num_layers + 1):
            W, b = params[f"W{i}"], params[f"b{i}"]
            if W.dtype != dtype or b.dtype != dtype or not np.issubdtype(dtype, np.floating):
                raise ValueError(f"params must share one floating dtype; W{i}/b{i} are {W.dtype}/{b.dtype}")
            if W.ndim != 2 or b.shape != (W.shape[1],):
                raise ValueError(f"params W{i} {W.shape} and b{i} {b.shape} do not form a layer")
            if i > 1 and W.shape[0] != params[f"W{i - 1}"].shape[1]:
                raise ValueError(f"params W{i} has {W.shape[0]} inputs, W{i - 1} gives {params[f'W{i - 1}'].shape[1]}")
        self.params = params
        self.activation = activation
        self.reg = float(reg)
        self.num_layers = num_layers

    @property
    def dtype(self):
        return self.params["W1"].dtype

    @property
    def layer_sizes(self):
        return [self.params["W1"].shape[0]] + [self.params[f"W{i}"].shape[1] for i in range(1, self.num_layers + 1)]

    def check_inputs(self, X, y=None, X_name="X", y_name="y"):
        """Return ``X`` cast to the model dtype (no copy if it already is); raise ValueError on bad shapes/labels."""
        X = np.asarray(X, dtype=self.dtype)
        in_features = self.params["W1"].shape[0]
        if X.ndim != 2 or X.shape[1] != in_features:
            raise ValueError(f"{X_name} must have shape (n, {in_features}), got {X.shape}")
        if y is not None:
            check_labels(np.asarray(y), X.shape[0], self.params[f"W{self.num_layers}"].shape[1], y_name)
        return X

    def _forward(self, X):
        activation_forward, _ = ACTIVATIONS[self.activation]
        caches = []
        hidden = X
        for i in range(1, self.num_layers):
            hidden, linear_cache = linear_forward(hidden, self.params[f"W{i}"], self.params[f"b{i}"])
            hidden, activation_cache = activation_forward(hidden)
            caches.append((linear_cache, activation_cache))
        L = self.num_layers
        scores, linear_cache = linear_forward(hidden, self.params[f"W{L}"], self.params[f"b{L}"])
        caches.append((linear_cache, None))
        return scores, caches

    def _backward(self, dscores, caches):
        _, activation_backward = ACTIVATIONS[self.activation]
        grads = {}
        dout = dscores  # gradient w.r.t. the output of layer i (after its activation)
        for i in range(self.num_layers, 0, -1):
            linear_cache, activation_cache = caches[i - 1]
            if activation_cache is not None:
                dout = activation_backward(dout, activation_cache)
            dout, grads[f"W{i}"], grads[f"b{i}"] = linear_backward(dout, linear_cache, need_dx=i > 1)
        return grads

    def _batch(self, X):
        return self.check_inputs(X)

    def scores(self, X):
        """Unnormalised class scores (logits), shape ``(n, classes)``."""
        return self._forward(self.check_inputs(X))[0]


def check_architecture(model, architecture):
    """Raise ValueError unless ``model.architecture`` equals the recorded ``architecture``."""
    found = model.architecture
    if found != dict(architecture):
        differences = ", ".join(f"{key}: recorded {architecture.get(key)!r}, params give {found.get(key)!r}"
                                for key in sorted(set(found) | set(architecture)) if found.get(key) != architecture.get(key))
        raise ValueError(f"the params do not match the recorded architecture ({differences})")
