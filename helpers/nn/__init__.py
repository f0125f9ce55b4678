"""A small NumPy neural-network library: layers, losses, initialisers, models and update rules.

A model is a :class:`Classifier`: an ordered list of layers run by one forward/backward loop
(``Classifier.forward`` / ``Classifier.backward``), with ``params`` (learned arrays) and
``state`` (non-learned arrays such as running statistics) in two plain dicts. ``MLP(...)`` and
``CNN(...)`` build such a list from their arguments; ``Classifier(input_shape, layers)`` takes
any list, e.g. ``[Linear(512, 64), BatchNorm(64), Activation("relu"), Dropout(0.2), Linear(64, 10)]``.

Adding a layer (as ``dropout.py`` and ``batchnorm.py`` do) touches three files:

1. ``helpers/nn/<layer>.py``: the cs231n pair ``<layer>_forward(x, ...) -> (out, cache)`` and
   ``<layer>_backward(dout, cache) -> dx, ...``, then a dataclass subclass of
   :class:`~helpers.nn.layers.Layer` whose fields are its constructor arguments, declaring
   ``param_roles`` / ``state_roles`` (and ``key_format``), ``shapes()``, ``init()``, and
   ``forward(x, params, state, training)`` / ``backward(dout, cache, grads, need_dx)``
   calling the pair. Defining the class registers it in ``LAYERS``, so once its module is
   imported the layer is rebuilt from a saved architecture, saved with its state by
   ``helpers.store.artifacts.save_model`` and updated by every optimizer, with no other edit.
2. ``helpers/nn/__init__.py``: import the class (and the pair) below and list it in ``__all__``,
   so it is ``helpers.nn.<Name>`` and registered whenever ``helpers.nn`` is
   (``tests/test_nn.py`` checks that every registered layer is exported).
3. ``tests/test_<layer>.py``: finite differences of the pair (float64, element-wise
   ``max_relative_error``), the pair against torch's functional form, and the layer inside a
   ``Classifier`` against its torch twin, ``helpers.reference.torch_twin(model, modules={**TORCH_MODULES,
   "<Name>": builder})`` with the builder of the layer's torch module defined in the test:
   loss, gradients and a few training steps (``train`` against ``reference.train_torch_copy``).
"""

from .batchnorm import (
    BatchNorm,
    SpatialBatchNorm,
    batchnorm_backward,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from .cnn import CNN
from .conv import (
    Conv2D,
    Flatten,
    Pool2D,
    avgpool2d_backward,
    avgpool2d_forward,
    conv2d_backward,
    conv2d_forward,
    flatten_backward,
    flatten_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from .dropout import Dropout, dropout_backward, dropout_forward
from .gradcheck import gradient_errors, layer_gradient_errors, max_relative_error, numerical_gradient
from .init import INITIALIZERS, he, small_normal, xavier
from .layers import (
    ACTIVATIONS,
    LAYERS,
    Activation,
    Layer,
    Linear,
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

__all__ = [
    "ACTIVATIONS", "CNN", "INITIALIZERS", "LAYERS", "MLP", "OPTIMIZERS", "SGD", "Activation", "Adam", "BatchNorm",
    "Classifier", "Conv2D", "Dropout", "Flatten", "Layer", "Linear", "Pool2D", "RMSProp", "SpatialBatchNorm",
    "avgpool2d_backward", "avgpool2d_forward", "batchnorm_backward", "batchnorm_forward", "check_labels",
    "conv2d_backward", "conv2d_forward", "dropout_backward", "dropout_forward", "flatten_backward", "flatten_forward",
    "gradient_errors", "he", "l2_penalty", "layer_from_spec", "layer_gradient_errors", "linear_backward",
    "linear_forward", "log_softmax", "make_optimizer", "max_relative_error", "maxpool2d_backward", "maxpool2d_forward",
    "numerical_gradient", "relu_backward", "relu_forward", "sigmoid_backward", "sigmoid_forward", "small_normal",
    "softmax", "softmax_cross_entropy", "spatial_batchnorm_backward", "spatial_batchnorm_forward", "step_lr",
    "tanh_backward", "tanh_forward", "xavier",
]
