"""The graded checks of the from-scratch functions, one function each, against PyTorch (float64).

These are the visible tests of the autograder (``scripts/grade.py``): each names the function it
counts for. A forward pass is compared with torch's; a backward pass with torch autograd of
``sum(forward(x) * dout)`` for a random upstream gradient ``dout``.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.nn import Adam, RMSProp, SGD, max_relative_error, softmax_cross_entropy
from helpers.nn import batchnorm, conv, dropout, layers, losses

RNG = np.random.default_rng(7)
X = RNG.standard_normal((5, 6))
IMAGES = RNG.standard_normal((2, 3, 7, 6))
FILTERS = RNG.standard_normal((4, 3, 3, 2))


def backward_matches_autograd(forward, backward, inputs, torch_forward, upstream=None, tolerance=1e-10):
    """forward/backward of NumPy arrays against torch autograd of the same function."""
    out, cache = forward(*inputs)
    dout = np.random.default_rng(1).standard_normal(out.shape) if upstream is None else upstream
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    tensors = [torch.tensor(a, requires_grad=True) for a in inputs]
    torch_forward(*tensors).backward(torch.tensor(dout))
    for grad, tensor in zip(grads, tensors):
        assert max_relative_error(grad, tensor.grad.numpy()) < tolerance


ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.graded(f"nn.layers.{name}_forward"))
                                  for name in ACTIVATIONS])
def test_activation_forward(name):
    out, _ = getattr(layers, f"{name}_forward")(X * 30)  # large inputs: the sigmoid must not overflow
    assert max_relative_error(out, ACTIVATIONS[name](torch.tensor(X * 30)).numpy()) < 1e-12


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.graded(f"nn.layers.{name}_backward"))
                                  for name in ACTIVATIONS])
def test_activation_backward(name):
    backward_matches_autograd(getattr(layers, f"{name}_forward"), getattr(layers, f"{name}_backward"), (X,),
                              ACTIVATIONS[name])


@pytest.mark.graded("nn.layers.linear_forward")
def test_linear_forward():
    W, b = RNG.standard_normal((6, 3)), RNG.standard_normal(3)
    out, _ = layers.linear_forward(X, W, b)
    assert max_relative_error(out, F.linear(torch.tensor(X), torch.tensor(W.T), torch.tensor(b)).numpy()) < 1e-12


@pytest.mark.graded("nn.layers.linear_backward")
def test_linear_backward():
    W, b = RNG.standard_normal((6, 3)), RNG.standard_normal(3)
    backward_matches_autograd(layers.linear_forward, layers.linear_backward, (X, W, b),
                              lambda x, w, bias: x @ w + bias)
    _, cache = layers.linear_forward(X, W, b)
    assert layers.linear_backward(np.ones((5, 3)), cache, need_dx=False)[0] is None


@pytest.mark.graded("nn.losses.log_softmax")
def test_log_softmax():
    logits = np.array([[1e4, -1e4, 0.0], [1.0, 2.0, 3.0]])
    expected = torch.log_softmax(torch.tensor(logits), dim=1).numpy()
    assert np.isfinite(losses.log_softmax(logits)).all() and np.allclose(losses.log_softmax(logits), expected, atol=1e-12)


@pytest.mark.graded("nn.losses.softmax_cross_entropy")
def test_softmax_cross_entropy():
    y = np.array([0, 2, 1, 5, 3])
    loss, dlogits = softmax_cross_entropy(X, y)
    logits = torch.tensor(X, requires_grad=True)
    expected = F.cross_entropy(logits, torch.tensor(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    assert max_relative_error(dlogits, logits.grad.numpy()) < 1e-10


def dropout_case():
    return dropout.dropout_forward(X, 0.3, np.random.default_rng(3))


@pytest.mark.graded("nn.dropout.dropout_forward")
def test_dropout_forward():
    out, mask = dropout_case()
    keep = np.random.default_rng(3).random(X.shape) >= 0.3  # the mask is drawn as documented
    assert np.allclose(out, np.where(keep, X / 0.7, 0), rtol=1e-15)
    assert dropout.dropout_forward(X, 0.3, np.random.default_rng(3), training=False)[0] is X


@pytest.mark.graded("nn.dropout.dropout_backward")
def test_dropout_backward():
    out, cache = dropout_case()
    dout = np.random.default_rng(1).standard_normal(X.shape)
    assert np.allclose(dropout.dropout_backward(dout, cache), np.where(out != 0, dout / 0.7, 0), rtol=1e-15)


def batchnorm_case():
    gamma, beta = RNG.uniform(0.5, 1.5, 6), RNG.standard_normal(6)
    return 3 + 2 * X, gamma, beta, RNG.standard_normal(6), RNG.uniform(0.5, 2, 6)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.graded("nn.batchnorm.batchnorm_forward")
def test_batchnorm_forward(training):
    x, gamma, beta, mean, var = batchnorm_case()
    torch_mean, torch_var = torch.tensor(mean), torch.tensor(var)
    expected = F.batch_norm(torch.tensor(x), torch_mean, torch_var, torch.tensor(gamma), torch.tensor(beta),
                            training, 0.1, 1e-5)
    out, _ = batchnorm.batchnorm_forward(x, gamma, beta, mean, var, training)
    assert max_relative_error(out, expected.numpy()) < 1e-12
    assert max_relative_error(mean, torch_mean.numpy()) < 1e-13 and max_relative_error(var, torch_var.numpy()) < 1e-13


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.graded("nn.batchnorm.batchnorm_backward")
def test_batchnorm_backward(training):
    x, gamma, beta, mean, var = batchnorm_case()
    backward_matches_autograd(
        lambda x, g, b: batchnorm.batchnorm_forward(x, g, b, mean.copy(), var.copy(), training),
        batchnorm.batchnorm_backward, (x, gamma, beta),
        lambda x, g, b: F.batch_norm(x, torch.tensor(mean), torch.tensor(var), g, b, training, 0.1, 1e-5))


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
@pytest.mark.graded("nn.conv.conv2d_forward")
def test_conv2d_forward(stride, padding):
    b = RNG.standard_normal(4)
    out, _ = conv.conv2d_forward(IMAGES, FILTERS, b, stride, padding)
    expected = F.conv2d(torch.tensor(IMAGES), torch.tensor(FILTERS), torch.tensor(b), stride, padding)
    assert out.shape == expected.shape and max_relative_error(out, expected.numpy()) < 1e-10


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
@pytest.mark.graded("nn.conv.conv2d_backward")
def test_conv2d_backward(stride, padding):
    b = RNG.standard_normal(4)
    backward_matches_autograd(lambda x, w, bias: conv.conv2d_forward(x, w, bias, stride, padding),
                              conv.conv2d_backward, (IMAGES, FILTERS, b),
                              lambda x, w, bias: F.conv2d(x, w, bias, stride, padding), tolerance=1e-9)


POOLS = {"max": (conv.maxpool2d_forward, conv.maxpool2d_backward, F.max_pool2d),
         "avg": (conv.avgpool2d_forward, conv.avgpool2d_backward, F.avg_pool2d)}


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.graded(f"nn.conv.{kind}pool2d_forward"))
                                  for kind in POOLS])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2)])
def test_pool_forward(kind, size, stride):
    forward, _, torch_pool = POOLS[kind]
    out, _ = forward(IMAGES, size, stride)
    assert max_relative_error(out, torch_pool(torch.tensor(IMAGES), size, stride).numpy()) < 1e-12


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.graded(f"nn.conv.{kind}pool2d_backward"))
                                  for kind in POOLS])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2)])
def test_pool_backward(kind, size, stride):
    forward, backward, torch_pool = POOLS[kind]
    backward_matches_autograd(lambda x: forward(x, size, stride), backward, (IMAGES,),
                              lambda x: torch_pool(x, size, stride))


UPDATE_RULES = {"SGD": (SGD, torch.optim.SGD, {"momentum": 0.9}), "RMSProp": (RMSProp, torch.optim.RMSprop, {}),
                "Adam": (Adam, torch.optim.Adam, {})}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.graded(f"nn.optim.{name}.step"))
                                  for name in UPDATE_RULES])
def test_update_rule_step(name):
    ours, theirs, options = UPDATE_RULES[name]
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    optimizer, expected = ours(params, lr=0.01, **options), theirs(tensors.values(), lr=0.01, **options)
    for _ in range(4):
        grads = {key: rng.standard_normal(value.shape) for key, value in params.items()}
        optimizer.step(grads)
        for key, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[key])
        expected.step()
    for key, tensor in tensors.items():
        np.testing.assert_allclose(params[key], tensor.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=key)


def mlp_case():
    from helpers.nn import MLP

    model = MLP([6, 5, 4, 3], activation="tanh", dtype=np.float64, seed=2)
    return model, np.array([0, 2, 1, 1, 0])


@pytest.mark.graded("nn.model.Classifier.forward")
def test_classifier_forward():
    from helpers.reference import torch_twin

    model, _ = mlp_case()
    with torch.no_grad():
        expected = torch_twin(model)(torch.tensor(X)).numpy()
    assert max_relative_error(model.scores(X), expected) < 1e-12


@pytest.mark.graded("nn.model.Classifier.backward")
def test_classifier_backward():
    from helpers.reference import torch_loss_and_gradients

    model, y = mlp_case()
    _, grads = model.loss(X, y)
    _, expected = torch_loss_and_gradients(model, X, y)
    assert set(grads) == set(expected)
    for name in grads:
        assert max_relative_error(grads[name], expected[name]) < 1e-10, name


@pytest.mark.graded("train.sgd_epoch")
def test_sgd_epoch_takes_the_batches_of_its_order_like_torch():
    from helpers.nn import MLP
    from helpers.reference import torch_as_params, train_torch_copy
    from helpers.train import epoch_orders, sgd_epoch

    rng = np.random.default_rng(4)
    X_train, y_train = rng.standard_normal((70, 6)), rng.integers(0, 3, 70)
    model = MLP([6, 5, 3], dtype=np.float64, seed=3, reg=1e-3)
    net, _ = train_torch_copy(model, X_train, y_train, epochs=1, batch_size=16, lr=0.1, lr_step=None, lr_gamma=1,
                              momentum=0.9, seed=5)
    sgd_epoch(model, SGD(model.params, lr=0.1, momentum=0.9), X_train, y_train, epoch_orders(70, 1, 5)[0], 16)
    expected = torch_as_params(net)
    for name, value in model.params.items():
        assert max_relative_error(value, expected[name]) < 1e-10, name
