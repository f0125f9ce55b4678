"""PyTorch mirrors of the NumPy MLP: the independent reference the from-scratch code is checked against."""

import numpy as np
import torch

from helpers.nn import step_lr
from helpers.train import batch_slices, epoch_orders

TORCH_ACTIVATIONS = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}


def torch_mlp(model):
    """``nn.Sequential`` equivalent of an ``MLP`` holding copies of its weights, in the model's dtype."""
    dtype = getattr(torch, np.dtype(model.dtype).name)
    modules = []
    for i in range(1, model.num_layers + 1):
        W, b = model.params[f"W{i}"], model.params[f"b{i}"]
        linear = torch.nn.Linear(*W.shape, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        modules.append(linear)
        if i < model.num_layers:
            modules.append(TORCH_ACTIVATIONS[model.activation]())
    return torch.nn.Sequential(*modules)


def torch_loss(net, X, y, reg):
    """Mean cross-entropy plus ``reg * sum(W**2)`` over the Linear weights (the MLP's convention)."""
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
    return loss + reg * sum((m.weight ** 2).sum() for m in net if isinstance(m, torch.nn.Linear))


def torch_as_params(net, gradients=False):
    """Weights of ``net`` (or their gradients) keyed like MLP params, weights transposed to (in, out)."""
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    arrays = {}
    for i, linear in enumerate(linears, start=1):
        weight, bias = (linear.weight.grad, linear.bias.grad) if gradients else (linear.weight, linear.bias)
        arrays[f"W{i}"] = weight.detach().numpy().T
        arrays[f"b{i}"] = bias.detach().numpy()
    return arrays


def torch_loss_and_gradients(model, X, y):
    """``(loss, grads)`` of an ``MLP`` computed by torch autograd on a copy, keyed like ``model.params``."""
    net = torch_mlp(model)
    loss = torch_loss(net, np.asarray(X, dtype=model.dtype), np.asarray(y), model.reg)
    loss.backward()
    return loss.item(), torch_as_params(net, gradients=True)


def torch_predict(net, X):
    """Most likely class per row according to a torch net."""
    with torch.no_grad():
        return net(torch.from_numpy(X)).argmax(dim=1).numpy()


def train_torch_copy(model, X, y, *, epochs, batch_size, lr, lr_step, lr_gamma, momentum, seed):
    """Train a torch copy of ``model`` on the batch orders ``helpers.train.train`` uses.

    Returns ``(net, per-epoch mean cross-entropy on the whole set)``; ``model`` is untouched.
    """
    net = torch_mlp(model)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    X_all, y_all = torch.from_numpy(X), torch.from_numpy(y)
    losses = []
    for epoch, order in enumerate(epoch_orders(len(X), epochs, seed)):
        for group in optimizer.param_groups:
            group["lr"] = step_lr(epoch, lr, lr_step, lr_gamma)
        for batch in batch_slices(len(X), batch_size):
            rows = order[batch]
            optimizer.zero_grad()
            torch_loss(net, X[rows], y[rows], model.reg).backward()
            optimizer.step()
        with torch.no_grad():
            losses.append(torch.nn.functional.cross_entropy(net(X_all), y_all).item())
    return net, losses
