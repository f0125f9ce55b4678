"""Inverted dropout: finite differences, its statistics, and a model with dropout against its torch twin."""

import numpy as np
import pytest
import torch

from helpers.store import artifacts
from helpers.nn import Activation, Classifier, Dropout, Linear
from helpers.nn.dropout import dropout_backward, dropout_forward
from helpers.nn.gradcheck import layer_gradient_errors, max_relative_error
from helpers.reference import TORCH_MODULES, torch_as_params, torch_predict, torch_twin, train_torch_copy
from helpers.train import train


class MaskDropout(torch.nn.Module):
    """Torch's inverted dropout (``x * keep / (1 - p)``), its masks drawn by ``dropout_forward`` from a generator
    seeded like the NumPy layer's (so the twin holds for any draw that follows dropout_forward's contract)."""

    def __init__(self, p, seed):
        super().__init__()
        self.p, self.rng = p, np.random.default_rng(seed)

    def forward(self, x):
        if not self.training:
            return x
        _, mask = dropout_forward(np.ones(tuple(x.shape)), self.p, self.rng)
        return x * torch.from_numpy(mask)


MODULES = {**TORCH_MODULES, "Dropout": lambda layer, arrays, dtype: (MaskDropout(layer.p, layer.seed), {})}


def dropout_net(seed=0, p=0.3):
    layers = [Linear(12, 16), Activation("relu"), Dropout(p, seed=seed), Linear(16, 3)]
    return Classifier((12,), layers, reg=1e-3, dtype=np.float64, seed=seed)


def blobs(n=200, dim=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return rng.standard_normal((classes, dim))[y] + rng.standard_normal((n, dim)), y


def test_dropout_backward_matches_finite_differences():
    x = np.random.default_rng(0).standard_normal((6, 9))
    forward = lambda x: dropout_forward(x, 0.4, np.random.default_rng(2))  # noqa: E731 (the same mask every call)
    [error] = layer_gradient_errors(forward, dropout_backward, (x,), seed=1)
    assert error < 1e-7


def test_dropout_statistics_and_evaluation_mode():
    x = np.ones((400, 500), dtype=np.float32)
    out, mask = dropout_forward(x, 0.3, np.random.default_rng(0))
    assert out.dtype == np.float32
    assert np.mean(out == 0) == pytest.approx(0.3, abs=0.005)
    assert set(np.unique(out)) == {0, np.float32(1 / 0.7)} and out.mean() == pytest.approx(1, abs=0.01)
    for p, training in ((0.3, False), (0.0, True)):
        same, cache = dropout_forward(x, p, np.random.default_rng(0), training)
        assert same is x and cache is None and dropout_backward(x, cache) is x
    with pytest.raises(ValueError, match=r"\bp\b"):
        dropout_forward(x, 1.0, np.random.default_rng(0))


def test_a_model_with_dropout_trains_like_its_torch_twin():
    X, y = blobs()
    settings = dict(epochs=3, batch_size=32, lr=0.01, lr_step=None, lr_gamma=1.0, optimizer="adam", seed=4)
    model = dropout_net(seed=1)
    net = torch_twin(model, MODULES)
    numpy_loss, grads = model.loss(X[:32], y[:32])
    torch_loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X[:32])), torch.from_numpy(y[:32]))
    torch_loss = torch_loss + model.reg * sum((t ** 2).sum() for t in net.arrays.values() if t.ndim == 2)
    torch_loss.backward()
    assert numpy_loss == pytest.approx(torch_loss.item(), rel=1e-12)
    for name, expected in torch_as_params(net, gradients=True).items():
        assert max_relative_error(grads[name], expected) < 1e-10, name

    model, twin = dropout_net(seed=1), torch_twin(dropout_net(seed=1), MODULES)
    net, torch_losses = train_torch_copy(model, X, y, net=twin, **settings)
    history = train(model, X, y, progress=False, **settings)
    np.testing.assert_allclose(history.loss["train"], torch_losses, rtol=1e-9)
    for name, expected in torch_as_params(net).items():
        np.testing.assert_allclose(model.params[name], expected, rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(model.predict(X), torch_predict(net, X))
    assert np.array_equal(model.scores(X), model.scores(X))  # evaluation mode: no dropout


def test_dropout_is_seeded_and_reloads_with_its_model():
    X, y = blobs()
    runs = []
    for _ in range(2):
        model = dropout_net(seed=3)
        train(model, X, y, epochs=2, batch_size=32, progress=False)
        runs.append(model)
    for name in runs[0].params:
        np.testing.assert_array_equal(runs[0].params[name], runs[1].params[name])
    artifacts.save_model("dropout.pkl", runs[0], "03_mlp_from_scratch", {})
    reloaded = artifacts.load_model("dropout.pkl")
    assert reloaded.architecture["layers"][2] == {"layer": "Dropout", "p": 0.3, "seed": 3}
    np.testing.assert_array_equal(reloaded.scores(X), runs[0].scores(X))
