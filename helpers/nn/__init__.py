"""A small NumPy neural-network library: layers, losses, initialisers, models and SGD."""

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
from .optim import SGD, step_lr

__all__ = [
    "ACTIVATIONS", "CNN", "INITIALIZERS", "MLP", "SGD", "Classifier", "FlipAugmented",
    "avgpool2d_backward", "avgpool2d_forward", "channel_stats", "check_labels", "conv2d_backward",
    "conv2d_forward", "flatten_backward", "flatten_forward", "gradient_errors", "he", "l2_penalty",
    "layer_gradient_errors", "linear_backward", "linear_forward", "log_softmax", "max_relative_error",
    "maxpool2d_backward", "maxpool2d_forward", "numerical_gradient", "relu_backward", "relu_forward",
    "sigmoid_backward", "sigmoid_forward", "small_normal", "softmax", "softmax_cross_entropy", "step_lr",
    "tanh_backward", "tanh_forward", "to_nchw", "xavier",
]
