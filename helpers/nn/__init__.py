"""A small NumPy neural-network library: layers, losses, initialisers, models and update rules.

A model is a :class:`Classifier`: an ordered list of layers run by one forward/backward loop
(``Classifier.forward`` / ``Classifier.backward``), with ``params`` (learned arrays) and
``state`` (non-learned arrays such as running statistics) in two plain dicts. ``MLP`` and
``CNN`` are such lists built from their arguments; ``Classifier(input_shape, layers)`` takes
any list, e.g. ``[Linear(512, 64), BatchNorm(64), Activation("relu"), Dropout(0.2), Linear(64, 10)]``.

Adding a layer (this is how ``dropout.py`` and ``batchnorm.py`` were added) touches two files:

1. ``helpers/nn/<layer>.py``: the cs231n pair ``<layer>_forward(x, ...) -> (out, cache)`` and
   ``<layer>_backward(dout, cache) -> dx, ...``, then a dataclass subclass of
   :class:`~helpers.nn.layers.Layer` whose fields are its constructor arguments, declaring
   ``param_roles`` / ``state_roles`` (and ``key_format``), ``shapes()``, ``init()``, and
   ``forward(x, params, state, training)`` / ``backward(dout, cache, grads, need_dx)``
   calling the pair. Defining the class registers it in ``LAYERS``, and every module of this
   package is imported below, so the layer is available as ``helpers.nn.<Name>``, is rebuilt
   from a saved architecture, saved with its state by ``helpers.artifacts.save_model`` and
   updated by every optimizer, with no other edit.
2. ``tests/test_<layer>.py``: finite differences of the pair (float64, element-wise
   ``max_relative_error``), the pair against torch's functional form, and the layer inside a
   ``Classifier`` against its torch twin, ``helpers.reference.torch_twin(model, modules={**TORCH_MODULES,
   "<Name>": builder})`` with the builder of the layer's torch module defined in the test:
   loss, gradients and a few training steps (``train`` against ``reference.train_torch_copy``).
"""

import importlib
import pkgutil

from .cnn import CNN, FlipAugmented, channel_stats, to_nchw
from .conv import (
    avgpool2d_backward,
    avgpool2d_forward,
    conv2d_backward,
    conv2d_forward,
    flatten_backward,
    flatten_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from .gradcheck import gradient_errors, layer_gradient_errors, max_relative_error, numerical_gradient
from .init import INITIALIZERS, he, small_normal, xavier
from .layers import (
    ACTIVATIONS,
    LAYERS,
    Layer,
    layer_from_spec,
    linear_backward,
    linear_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from .losses import check_labels, l2_penalty, log_softmax, softmax, softmax_cross_entropy
from .model import MLP, Classifier
from .optim import OPTIMIZERS, SGD, Adam, RMSProp, make_optimizer, step_lr

for _module in pkgutil.iter_modules(__path__):  # every layer module registers its layers in LAYERS
    importlib.import_module(f"{__name__}.{_module.name}")
globals().update(LAYERS)

MODELS = {"MLP": MLP, "CNN": CNN, "Classifier": Classifier}


def model_from_architecture(architecture, params, reg=0.0, state=None):
    """The model recorded as ``architecture`` (see ``MLP.architecture``), holding ``params`` and ``state``."""
    kind = architecture.get("model") if isinstance(architecture, dict) else None
    if kind not in MODELS:
        raise ValueError(f"unknown model architecture {architecture!r}: 'model' must be one of {sorted(MODELS)}")
    return MODELS[kind].from_architecture(architecture, params, reg=reg, state=state)

__all__ = [
    "ACTIVATIONS", "CNN", "INITIALIZERS", "LAYERS", "MLP", "MODELS", "OPTIMIZERS", "SGD", "Adam", "Classifier",
    "FlipAugmented", "Layer", "RMSProp",
    "avgpool2d_backward", "avgpool2d_forward", "channel_stats", "check_labels", "conv2d_backward",
    "conv2d_forward", "flatten_backward", "flatten_forward", "gradient_errors", "he", "l2_penalty",
    "layer_from_spec", "layer_gradient_errors", "linear_backward", "linear_forward", "log_softmax", "make_optimizer",
    "max_relative_error", "maxpool2d_backward", "maxpool2d_forward",
    "model_from_architecture", "numerical_gradient", "relu_backward", "relu_forward", "sigmoid_backward",
    "sigmoid_forward", "small_normal", "softmax", "softmax_cross_entropy", "step_lr",
    "tanh_backward", "tanh_forward", "to_nchw", "xavier", *sorted(LAYERS),
]
