"""Layer forward/backward pairs in the cs231n style, and the layer objects models are lists of.

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the
upstream gradient ``dout`` and that cache and returns the gradient(s) of its inputs.
Shapes: ``x`` is ``(batch, in)``, ``W`` is ``(in, out)``, ``b`` is ``(out,)``.
A :class:`Layer` wraps such a pair and declares the arrays it owns (see ``helpers.nn``).
"""

from dataclasses import dataclass, fields

import numpy as np


def linear_forward(x, W, b):
    """Affine map of the rows of ``x`` by ``W`` and ``b`` (a fully connected layer).

    ``out = x @ W + b``.

    Inputs: x (n, in), W (in, out), b (out,), all of one float dtype.
    Returns (out, cache): out (n, out) of x's dtype; cache, what linear_backward needs.
    """
    ### BEGIN SOLUTION: return (out, cache): out = x @ W + b, and what linear_backward needs
    out = x @ W
    out += b
    return out, (x, W)
    ### END SOLUTION


def linear_backward(dout, cache, need_dx=True):
    """Gradients of the affine map (linear_forward) for the upstream gradient ``dout``.

    Inputs: dout (n, out); cache from linear_forward; need_dx: False skips dx (as PyTorch does
    for inputs that need no gradient: one matrix product less for a first layer).
    Returns (dx, dW, db): the shapes and dtype of x, W and b; dx is None when need_dx is False.
    """
    ### BEGIN SOLUTION: return (dx, dW, db), the gradients of x @ W + b (dx None when need_dx is False)
    x, W = cache
    dW = x.T @ dout
    db = dout.sum(axis=0)
    dx = dout @ W.T if need_dx else None
    return dx, dW, db
    ### END SOLUTION


def relu_forward(x):
    """Rectified linear unit ``max(x, 0)``.

    Inputs: x, an array of any shape.
    Returns (out, cache): out of x's shape and dtype; cache, what relu_backward needs.
    """
    ### BEGIN SOLUTION: return (out, cache): out = max(x, 0), and what relu_backward needs
    out = np.maximum(x, 0)
    return out, out
    ### END SOLUTION


def relu_backward(dout, cache):
    """Gradient of ``max(x, 0)`` with respect to x.

    Inputs: dout of x's shape; cache from relu_forward.
    Returns dx of x's shape and dtype (at x == 0 the gradient taken is 0, as PyTorch's).

    dx is dout where x > 0, 0 elsewhere.
    """
    ### BEGIN SOLUTION: return dx: dout where the input was positive, 0 elsewhere
    return dout * (cache > 0)
    ### END SOLUTION


def sigmoid_forward(x):
    """Logistic function (sigmoid), element-wise.

    ``1 / (1 + exp(-x))``.

    Inputs: x, an array of any shape.
    Returns (out, cache): out of x's shape and dtype, exact to rounding and with no overflow
    warning for large ``|x|`` (e.g. 100 or -1000); cache, what sigmoid_backward needs.
    """
    ### BEGIN SOLUTION: return (out, cache): out = 1 / (1 + exp(-x)) without overflow for large |x|
    z = np.exp(-np.abs(x))  # in (0, 1], never overflows
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out, out
    ### END SOLUTION


def sigmoid_backward(dout, cache):
    """Gradient of the sigmoid.

    Inputs: dout of x's shape; cache from sigmoid_forward.
    Returns dx of x's shape and dtype.
    """
    ### BEGIN SOLUTION: return dx, the gradient of the sigmoid at the input times dout
    return dout * cache * (1 - cache)
    ### END SOLUTION


def tanh_forward(x):
    """Hyperbolic tangent.

    Inputs: x, an array of any shape.
    Returns (out, cache): out, the hyperbolic tangent of x, of x's shape and dtype; cache, what
    tanh_backward needs.
    """
    ### BEGIN SOLUTION: return (out, cache): out = tanh(x), and what tanh_backward needs
    out = np.tanh(x)
    return out, out
    ### END SOLUTION


def tanh_backward(dout, cache):
    """Gradient of tanh.

    Inputs: dout of x's shape; cache from tanh_forward.
    Returns dx of x's shape and dtype.
    """
    ### BEGIN SOLUTION: return dx, the gradient of tanh at the input times dout
    return dout * (1 - cache * cache)
    ### END SOLUTION


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
}


# ----------------------------------------------------------------------------- layer objects
LAYERS = {}  # class name -> Layer subclass, filled as each subclass is defined


class Layer:
    """One step of a :class:`~helpers.nn.model.Classifier`: declared keys plus a forward/backward pair.

    A subclass is a dataclass whose fields are its (JSON-able) constructor arguments, and sets

    - ``param_roles`` / ``state_roles``: its learned arrays and its non-learned state (e.g.
      running statistics); the model names them ``key_format.format(role=..., index=...)``,
      ``index`` counting the layers of the same class from 1 (``W1``, ``b1``, ``W2``, ...);
    - ``shapes()``: the shape of each of those arrays, and ``init(rng, dtype, draw)`` their
      initial values, weights drawn with the initialiser ``draw`` (see ``helpers.nn.init``);
    - ``forward(x, params, state, training) -> (out, cache)`` and
      ``backward(dout, cache, grads, need_dx) -> dx``, which writes the gradient of each of its
      params into ``grads`` and may return None when ``need_dx`` is False.

    Subclasses register themselves in ``LAYERS`` by class name, which is how a saved
    architecture (``spec()``) is rebuilt.
    """

    param_roles = ()
    state_roles = ()
    key_format = "{role}{index}"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        LAYERS[cls.__name__] = cls

    def named(self, index):
        """Give this layer its keys (``index``: its 1-based rank among the model's layers of its class)."""
        self.param_names = tuple(self.key_format.format(role=role, index=index) for role in self.param_roles)
        self.state_names = tuple(self.key_format.format(role=role, index=index) for role in self.state_roles)
        return self

    def spec(self):
        """``{"layer": class name, **constructor arguments}``: what :func:`layer_from_spec` rebuilds."""
        return {"layer": type(self).__name__, **{f.name: getattr(self, f.name) for f in fields(self) if f.init}}

    def shapes(self):
        """``{key: shape}`` of every param and state array of this layer."""
        return {}

    def init(self, rng, dtype, draw):
        """``(params, state)``: initial arrays keyed like ``shapes()``; weights drawn from ``rng``."""
        return {}, {}


def layer_from_spec(spec):
    """The layer a :meth:`Layer.spec` dict describes."""
    spec = dict(spec)
    kind = spec.pop("layer", None)
    if kind not in LAYERS:
        raise ValueError(f"unknown layer {kind!r}: must be one of {sorted(LAYERS)}")
    return LAYERS[kind](**spec)


@dataclass
class Linear(Layer):
    """Fully connected layer ``x @ W + b``: ``W`` (in_features, out_features), ``b`` (out_features,)."""

    in_features: int
    out_features: int
    param_roles = ("W", "b")

    def shapes(self):
        W, b = self.param_names
        return {W: (self.in_features, self.out_features), b: (self.out_features,)}

    def init(self, rng, dtype, draw):
        W, b = self.param_names
        return {W: draw(self.in_features, self.out_features, rng, dtype), b: np.zeros(self.out_features, dtype)}, {}

    def forward(self, x, params, state, training):
        W, b = self.param_names
        return linear_forward(x, params[W], params[b])

    def backward(self, dout, cache, grads, need_dx=True):
        W, b = self.param_names
        dx, grads[W], grads[b] = linear_backward(dout, cache, need_dx)
        return dx


@dataclass
class Activation(Layer):
    """Element-wise nonlinearity ``kind``, one of ``ACTIVATIONS`` (relu, sigmoid, tanh)."""

    kind: str = "relu"

    def __post_init__(self):
        if self.kind not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.kind!r}")
        self._forward, self._backward = ACTIVATIONS[self.kind]

    def forward(self, x, params, state, training):
        return self._forward(x)

    def backward(self, dout, cache, grads, need_dx=True):
        return self._backward(dout, cache) if need_dx else None
