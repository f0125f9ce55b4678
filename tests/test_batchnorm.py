"""Batch norm (vectors and images): finite differences, torch's BatchNorm1d/2d, training with running statistics, saving."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.store import artifacts
from helpers.nn import Activation, BatchNorm, Classifier, Conv2D, Flatten, Linear, Pool2D, SpatialBatchNorm
from helpers.nn.batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from helpers.nn.gradcheck import layer_gradient_errors, max_relative_error
from helpers.reference import TORCH_MODULES, torch_as_params, torch_predict, torch_twin, train_torch_copy
from helpers.train import evaluate, split_indices, train

PAIRS = {"vector": (batchnorm_forward, batchnorm_backward, (7, 5)),
         "spatial": (spatial_batchnorm_forward, spatial_batchnorm_backward, (3, 4, 5, 2))}


def torch_batchnorm(layer, arrays, dtype):
    """``BatchNorm1d`` / ``BatchNorm2d`` holding copies of the layer's params and running statistics."""
    module = (torch.nn.BatchNorm2d if isinstance(layer, SpatialBatchNorm) else torch.nn.BatchNorm1d)(
        layer.num_features, eps=layer.eps, momentum=layer.momentum, dtype=dtype)
    tensors = (module.weight, module.bias, module.running_mean, module.running_var)
    keys = (*layer.param_names, *layer.state_names)
    with torch.no_grad():
        for key, tensor in zip(keys, tensors):
            tensor.copy_(torch.from_numpy(arrays[key]))
    return module, dict(zip(keys, tensors))


MODULES = {**TORCH_MODULES, "BatchNorm": torch_batchnorm, "SpatialBatchNorm": torch_batchnorm}


def case(shape, seed=0):
    rng = np.random.default_rng(seed)
    channels = shape[1]
    x = 3 + 2 * rng.standard_normal(shape)
    gamma, beta = rng.uniform(0.5, 1.5, channels), rng.standard_normal(channels)
    mean, var = rng.standard_normal(channels), rng.uniform(0.5, 2, channels)
    return x, gamma, beta, mean, var, rng.standard_normal(shape)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kind", PAIRS)
def test_batchnorm_backward_matches_finite_differences(kind, training):
    forward, backward, shape = PAIRS[kind]
    x, gamma, beta, mean, var, _ = case(shape, seed=0)
    errors = layer_gradient_errors(lambda x, gamma, beta: forward(x, gamma, beta, mean.copy(), var.copy(), training),
                                   backward, (x, gamma, beta), seed=1)  # running statistics untouched
    assert max(errors) < 1e-6, errors


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kind", PAIRS)
def test_batchnorm_matches_torch(kind, training):
    forward, backward, shape = PAIRS[kind]
    x, gamma, beta, mean, var, dout = case(shape)
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    torch_mean, torch_var = torch.tensor(mean), torch.tensor(var)
    expected = F.batch_norm(tensors[0], torch_mean, torch_var, tensors[1], tensors[2], training, 0.1, 1e-5)
    expected.backward(torch.tensor(dout))
    out, cache = forward(x, gamma, beta, mean, var, training)
    assert max_relative_error(out, expected.detach().numpy()) < 1e-12
    for grad, tensor in zip(backward(dout, cache), tensors):
        assert max_relative_error(grad, tensor.grad.numpy()) < 1e-10
    assert max_relative_error(mean, torch_mean.numpy()) < 1e-13 and max_relative_error(var, torch_var.numpy()) < 1e-13
    assert np.array_equal(mean, case(shape)[3]) != training  # updated in place in training only


def test_batchnorm_refuses_a_single_row_in_training():
    x, gamma, beta, mean, var, _ = case((1, 5))
    with pytest.raises(ValueError, match=r"\bx\b"):
        batchnorm_forward(x, gamma, beta, mean, var, training=True)
    assert batchnorm_forward(x, gamma, beta, mean, var, training=False)[0].shape == (1, 5)


def vector_net(seed=0):
    layers = [Linear(12, 16), BatchNorm(16), Activation("relu"), Linear(16, 8), BatchNorm(8, momentum=0.2),
              Activation("tanh"), Linear(8, 3)]
    return Classifier((12,), layers, reg=1e-3, dtype=np.float64, seed=seed)


def image_net(seed=0):
    layers = [Conv2D(2, 3, 3), SpatialBatchNorm(3), Activation("relu"), Pool2D("max", 2), Flatten(), Linear(27, 3)]
    return Classifier((2, 8, 8), layers, dtype=np.float64, seed=seed)


def data(shape, n=96, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = 1 + rng.standard_normal((n, *shape))
    X[:, 0] += y.reshape(-1, *[1] * (len(shape) - 1))  # learnable: the first feature / channel carries the class
    return X, y


@pytest.mark.parametrize("build, shape, optimizer, momentum", [
    (vector_net, (12,), "sgd", 0.9), (vector_net, (12,), "adam", 0.0), (image_net, (2, 8, 8), "rmsprop", 0.0)])
def test_a_model_with_batchnorm_trains_like_its_torch_twin(build, shape, optimizer, momentum):
    X, y = data(shape)
    model = build(seed=1)
    assert set(model.state) and all(name.split("_", 1)[1] in ("running_mean", "running_var") for name in model.state)
    settings = dict(epochs=3, batch_size=20, lr=0.01, lr_step=2, lr_gamma=0.5, momentum=momentum,
                    optimizer=optimizer, seed=2)  # 96 = 4 x 20 + 16: a shorter last batch
    net, torch_losses = train_torch_copy(model, X, y, net=torch_twin(model, MODULES), **settings)
    history = train(model, X, y, progress=False, **settings)
    np.testing.assert_allclose(history.loss["train"], torch_losses, rtol=1e-9)
    expected = torch_as_params(net)
    assert set(expected) == set(model.params) | set(model.state)
    cancelled = cancelled_by_batchnorm(model)
    steps = 3 * -(-len(X) // 20)
    drift = steps * 0.01 * ROUNDING_NOISE / 1e-8  # every step moves them by at most lr * noise / eps (RMSProp, Adam)
    for name, value in {**model.params, **model.state}.items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-9, atol=drift if name in cancelled else 1e-9,
                                   err_msg=name)
    np.testing.assert_array_equal(model.predict(X), torch_predict(net, X))


# float64 rounding noise of a gradient that is 0 in exact arithmetic: a sum over a batch of O(1) terms
ROUNDING_NOISE = 1e-13


def cancelled_by_batchnorm(model):
    """The biases right before a batch norm, and its running means: batch norm subtracts them, so their gradient
    is 0 but for rounding noise, which RMSProp and Adam divide by eps: they drift with the rounding of each copy."""
    names = []
    for layer, following in zip(model.layers, model.layers[1:]):
        if isinstance(following, BatchNorm) and "b" in layer.param_roles:
            names += [layer.param_names[layer.param_roles.index("b")], following.state_names[0]]
    return set(names)


def test_a_model_with_batchnorm_reloads_exactly():
    X, y = data((12,))
    model = vector_net()
    train(model, X, y, epochs=2, batch_size=16, optimizer="adam", lr=0.01, progress=False)
    assert not np.allclose(model.state["bn1_running_var"], 1)
    file = artifacts.save_model("bn.pkl", model, "03_mlp_from_scratch", {})
    assert artifacts.read_manifest(file)["state"] == sorted(model.state)
    reloaded = artifacts.load_model("bn.pkl")
    assert reloaded.architecture == model.architecture
    for name, value in {**model.params, **model.state}.items():
        store = reloaded.state if name in model.state else reloaded.params
        np.testing.assert_array_equal(store[name], value, err_msg=name)
    np.testing.assert_array_equal(reloaded.scores(X), model.scores(X))


def test_early_stopping_restores_the_running_statistics_of_the_best_epoch():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((120, 12)), rng.integers(0, 3, 120)  # random labels: pure overfitting
    model = vector_net()
    history = train(model, X, y, epochs=40, batch_size=16, optimizer="adam", lr=0.05, val_fraction=0.25, patience=3,
                    progress=False)
    assert len(history.loss["validation"]) < 40 and history.model_epoch == history.best_epoch
    _, val_idx = split_indices(len(X), 0.25, seed=0)
    restored_loss, _ = evaluate(model, X[val_idx], y[val_idx])
    assert restored_loss == pytest.approx(history.loss["validation"][history.best_epoch], rel=1e-12)
