"""PyTorch mirrors of the NumPy models: the independent reference the from-scratch code is checked against.

``torch_twin(model)`` builds the ``torch.nn.Sequential`` equivalent of any ``helpers.nn.Classifier``,
one torch module per layer (``TORCH_MODULES``: layer class name -> builder), holding copies of
the model's params and state in the model's dtype.
"""

import numpy as np
import torch

from helpers.nn import step_lr
from helpers.train import batch_slices, epoch_orders

TORCH_ACTIVATIONS = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}
TORCH_OPTIMIZERS = {"sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam}


def from_numpy(array):
    """A torch copy of a NumPy array, 2-D weights transposed to torch's (out, in) layout."""
    return torch.from_numpy(np.ascontiguousarray(array.T if array.ndim == 2 else array))


def to_numpy(tensor):
    """The inverse of :func:`from_numpy`."""
    array = tensor.detach().numpy()
    return array.T if array.ndim == 2 else array


def _with_weights(module, tensors, names):
    """Copy ``tensors`` into the module's ``weight`` and ``bias``; return ``(module, {our key: its tensor})``."""
    with torch.no_grad():
        module.weight.copy_(tensors[0])
        module.bias.copy_(tensors[1])
    return module, dict(zip(names, (module.weight, module.bias)))


def _linear(layer, arrays, dtype):
    tensors = [from_numpy(arrays[name]) for name in layer.param_names]
    return _with_weights(torch.nn.Linear(layer.in_features, layer.out_features, dtype=dtype), tensors, layer.param_names)


def _conv(layer, arrays, dtype):
    tensors = [from_numpy(arrays[name]) for name in layer.param_names]
    conv = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                           dtype=dtype)
    return _with_weights(conv, tensors, layer.param_names)


def _pool(layer, arrays, dtype):
    pool = {"max": torch.nn.MaxPool2d, "avg": torch.nn.AvgPool2d}[layer.kind]
    return pool(layer.size, layer.stride or layer.size), {}


TORCH_MODULES = {
    "Linear": _linear,
    "Conv2D": _conv,
    "Activation": lambda layer, arrays, dtype: (TORCH_ACTIVATIONS[layer.kind](), {}),
    "Pool2D": _pool,
    "Flatten": lambda layer, arrays, dtype: (torch.nn.Flatten(), {}),
}


class _Shaped(torch.nn.Module):
    """Rows or images in, ``(n, *shape)`` out: the inputs a model accepts."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


def torch_twin(model, modules=TORCH_MODULES):
    """``nn.Sequential`` equivalent of ``model`` holding copies of its params and state, in the model's dtype.

    ``modules`` maps a layer class name to ``builder(layer, arrays, dtype) -> (module, {key: tensor})``.
    The returned net has ``net.arrays``: the model's keys -> the torch tensors holding them.
    """
    dtype = getattr(torch, np.dtype(model.dtype).name)
    arrays = {**model.params, **model.state}
    built = [modules[type(layer).__name__](layer, arrays, dtype) for layer in model.layers]
    net = torch.nn.Sequential(_Shaped(model.input_shape), *(module for module, _ in built))
    net.arrays = {key: tensor for _, tensors in built for key, tensor in tensors.items()}
    return net


torch_mlp = torch_twin  # the name notebook 06 uses


def torch_loss(net, X, y, reg):
    """Mean cross-entropy plus ``reg * sum(W**2)`` over the weights (params with >= 2 axes), the models' convention."""
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
    weights = [t for t in net.arrays.values() if t.requires_grad and t.ndim >= 2]
    return loss + reg * sum((W ** 2).sum() for W in weights)


def torch_as_params(net, gradients=False):
    """The twin's params and state (or its params' gradients) keyed and laid out like the model's."""
    return {key: to_numpy(t.grad if gradients else t) for key, t in net.arrays.items()
            if t.requires_grad or not gradients}


def torch_loss_and_gradients(model, X, y):
    """``(loss, grads)`` of a model (training mode) computed by torch autograd on a copy, keyed like ``model.params``."""
    net = torch_twin(model)
    loss = torch_loss(net, np.asarray(X, dtype=model.dtype), np.asarray(y), model.reg)
    loss.backward()
    return loss.item(), torch_as_params(net, gradients=True)


def torch_predict(net, X):
    """Most likely class per row according to a torch net (in evaluation mode)."""
    net.eval()
    with torch.no_grad():
        return net(torch.from_numpy(X)).argmax(dim=1).numpy()


def train_steps(net, optimizer, batches, loss_of, after_step=None):
    """One pass of minibatch steps in training mode: the one torch training loop of the bundle.

    For each batch (whatever ``loss_of`` takes: row indices, a slice): zero the gradients,
    backpropagate ``loss_of(batch)``, step ``optimizer``, then call ``after_step()`` if given (a
    per-step learning-rate scheduler's ``step``).
    """
    net.train()
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        loss_of(batch).backward()
        optimizer.step()
        if after_step is not None:
            after_step()


def train_torch_copy(model, X, y, *, epochs, batch_size, lr, lr_step, lr_gamma, momentum=0.0, optimizer="sgd",
                     seed, net=None):
    """Train a torch copy of ``model`` on the batch orders ``helpers.train.train`` uses.

    ``optimizer`` names the torch rule (``TORCH_OPTIMIZERS``, default options; ``momentum`` for
    SGD). Steps run in training mode, the per-epoch loss in evaluation mode. Pass ``net`` (a
    :func:`torch_twin` built with extra ``modules``) for layers the default twin lacks.
    Returns ``(net, per-epoch mean cross-entropy on the whole set)``; ``model`` is untouched.
    """
    net = torch_twin(model) if net is None else net
    options = {"momentum": momentum} if optimizer == "sgd" else {}
    torch_optimizer = TORCH_OPTIMIZERS[optimizer]([t for t in net.arrays.values() if t.requires_grad], lr=lr, **options)
    X_all, y_all = torch.from_numpy(X), torch.from_numpy(y)
    losses = []
    for epoch, order in enumerate(epoch_orders(len(X), epochs, seed)):
        for group in torch_optimizer.param_groups:
            group["lr"] = step_lr(epoch, lr, lr_step, lr_gamma)
        train_steps(net, torch_optimizer, (order[batch] for batch in batch_slices(len(X), batch_size)),
                    lambda rows: torch_loss(net, X[rows], y[rows], model.reg))
        net.eval()
        with torch.no_grad():
            losses.append(torch.nn.functional.cross_entropy(net(X_all), y_all).item())
    return net, losses
