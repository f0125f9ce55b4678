"""The graded checks of the from-scratch functions, one function each, against PyTorch (float64).

These are the visible tests of the autograder (``scripts/grade.py``): each names the function it
counts for, calls the student's code only through the ``student`` fixture (a separate worker
process, plain data in and out) and judges the results here, with this tree's own code. A
forward pass is compared with torch's; a backward pass with torch autograd of
``sum(forward(x) * dout)`` for a random upstream gradient ``dout``.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.nn import MLP, max_relative_error
from helpers.reference import torch_as_params, torch_loss_and_gradients, torch_twin, train_torch_copy
from helpers.train import epoch_orders

RNG = np.random.default_rng(7)
X = RNG.standard_normal((5, 6))
IMAGES = RNG.standard_normal((2, 3, 7, 6))
FILTERS = RNG.standard_normal((4, 3, 3, 2))


def backward_matches_autograd(student, forward, backward, inputs, torch_forward, extra=(), tolerance=1e-10):
    """The student's ``forward(*inputs, *extra)`` then ``backward(dout, cache)`` against torch autograd."""
    out, cache = student.call(forward, *inputs, *extra)
    dout = np.random.default_rng(1).standard_normal(np.shape(out))
    grads = student.call(backward, dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    tensors = [torch.tensor(a, requires_grad=True) for a in inputs]
    torch_forward(*tensors).backward(torch.tensor(dout))
    assert len(grads) == len(tensors), f"{backward} returned {len(grads)} gradients for {len(tensors)} inputs"
    for grad, tensor in zip(grads, tensors):
        assert max_relative_error(grad, tensor.grad.numpy()) < tolerance


ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.graded(f"nn.layers.{name}_forward"))
                                  for name in ACTIVATIONS])
def test_activation_forward(student, name):
    out, _ = student.call(f"nn.layers.{name}_forward", X * 30)  # large inputs: the sigmoid must not overflow
    assert max_relative_error(out, ACTIVATIONS[name](torch.tensor(X * 30)).numpy()) < 1e-12


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.graded(f"nn.layers.{name}_backward"))
                                  for name in ACTIVATIONS])
def test_activation_backward(student, name):
    backward_matches_autograd(student, f"nn.layers.{name}_forward", f"nn.layers.{name}_backward", (X,),
                              ACTIVATIONS[name])


@pytest.mark.graded("nn.layers.linear_forward")
def test_linear_forward(student):
    W, b = RNG.standard_normal((6, 3)), RNG.standard_normal(3)
    out, _ = student.call("nn.layers.linear_forward", X, W, b)
    assert max_relative_error(out, F.linear(torch.tensor(X), torch.tensor(W.T), torch.tensor(b)).numpy()) < 1e-12


@pytest.mark.graded("nn.layers.linear_backward")
def test_linear_backward(student):
    W, b = RNG.standard_normal((6, 3)), RNG.standard_normal(3)
    backward_matches_autograd(student, "nn.layers.linear_forward", "nn.layers.linear_backward", (X, W, b),
                              lambda x, w, bias: x @ w + bias)
    _, cache = student.call("nn.layers.linear_forward", X, W, b)
    assert student.call("nn.layers.linear_backward", np.ones((5, 3)), cache, need_dx=False)[0] is None


@pytest.mark.graded("nn.losses.log_softmax")
def test_log_softmax(student):
    logits = np.array([[1e4, -1e4, 0.0], [1.0, 2.0, 3.0]])
    expected = torch.log_softmax(torch.tensor(logits), dim=1).numpy()
    out = student.call("nn.losses.log_softmax", logits)
    assert np.isfinite(out).all() and np.allclose(out, expected, atol=1e-12)


@pytest.mark.graded("nn.losses.softmax_cross_entropy")
def test_softmax_cross_entropy(student):
    y = np.array([0, 2, 1, 5, 3])
    loss, dlogits = student.call("nn.losses.softmax_cross_entropy", X, y)
    logits = torch.tensor(X, requires_grad=True)
    expected = F.cross_entropy(logits, torch.tensor(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    assert max_relative_error(dlogits, logits.grad.numpy()) < 1e-10


def dropout_case(student):
    return student.call("nn.dropout.dropout_forward", X, 0.3, np.random.default_rng(3))


@pytest.mark.graded("nn.dropout.dropout_forward")
def test_dropout_forward(student):
    out, mask = dropout_case(student)
    keep = np.random.default_rng(3).random(X.shape) >= 0.3  # the mask is drawn as documented
    assert np.allclose(out, np.where(keep, X / 0.7, 0), rtol=1e-15)
    evaluated, _ = student.call("nn.dropout.dropout_forward", X, 0.3, np.random.default_rng(3), training=False)
    assert np.array_equal(evaluated, X)


@pytest.mark.graded("nn.dropout.dropout_backward")
def test_dropout_backward(student):
    out, cache = dropout_case(student)
    dout = np.random.default_rng(1).standard_normal(X.shape)
    dx = student.call("nn.dropout.dropout_backward", dout, cache)
    assert np.allclose(dx, np.where(out != 0, dout / 0.7, 0), rtol=1e-15)


def batchnorm_case():
    gamma, beta = RNG.uniform(0.5, 1.5, 6), RNG.standard_normal(6)
    return 3 + 2 * X, gamma, beta, RNG.standard_normal(6), RNG.uniform(0.5, 2, 6)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.graded("nn.batchnorm.batchnorm_forward")
def test_batchnorm_forward(student, training):
    x, gamma, beta, mean, var = batchnorm_case()
    torch_mean, torch_var = torch.tensor(mean), torch.tensor(var)
    expected = F.batch_norm(torch.tensor(x), torch_mean, torch_var, torch.tensor(gamma), torch.tensor(beta),
                            training, 0.1, 1e-5)
    running_mean, running_var = student.put(mean), student.put(var)  # updated in place while training
    out, _ = student.call("nn.batchnorm.batchnorm_forward", x, gamma, beta, running_mean, running_var, training)
    assert max_relative_error(out, expected.numpy()) < 1e-12
    assert max_relative_error(student.get(running_mean), torch_mean.numpy()) < 1e-13
    assert max_relative_error(student.get(running_var), torch_var.numpy()) < 1e-13


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.graded("nn.batchnorm.batchnorm_backward")
def test_batchnorm_backward(student, training):
    x, gamma, beta, mean, var = batchnorm_case()
    backward_matches_autograd(
        student, "nn.batchnorm.batchnorm_forward", "nn.batchnorm.batchnorm_backward", (x, gamma, beta),
        lambda x, g, b: F.batch_norm(x, torch.tensor(mean), torch.tensor(var), g, b, training, 0.1, 1e-5),
        extra=(mean, var, training))


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
@pytest.mark.graded("nn.conv.conv2d_forward")
def test_conv2d_forward(student, stride, padding):
    b = RNG.standard_normal(4)
    out, _ = student.call("nn.conv.conv2d_forward", IMAGES, FILTERS, b, stride, padding)
    expected = F.conv2d(torch.tensor(IMAGES), torch.tensor(FILTERS), torch.tensor(b), stride, padding)
    assert out.shape == expected.shape and max_relative_error(out, expected.numpy()) < 1e-10


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
@pytest.mark.graded("nn.conv.conv2d_backward")
def test_conv2d_backward(student, stride, padding):
    b = RNG.standard_normal(4)
    backward_matches_autograd(student, "nn.conv.conv2d_forward", "nn.conv.conv2d_backward", (IMAGES, FILTERS, b),
                              lambda x, w, bias: F.conv2d(x, w, bias, stride, padding), extra=(stride, padding),
                              tolerance=1e-9)


POOLS = {"max": F.max_pool2d, "avg": F.avg_pool2d}


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.graded(f"nn.conv.{kind}pool2d_forward"))
                                  for kind in POOLS])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2)])
def test_pool_forward(student, kind, size, stride):
    out, _ = student.call(f"nn.conv.{kind}pool2d_forward", IMAGES, size, stride)
    assert max_relative_error(out, POOLS[kind](torch.tensor(IMAGES), size, stride).numpy()) < 1e-12


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.graded(f"nn.conv.{kind}pool2d_backward"))
                                  for kind in POOLS])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2)])
def test_pool_backward(student, kind, size, stride):
    backward_matches_autograd(student, f"nn.conv.{kind}pool2d_forward", f"nn.conv.{kind}pool2d_backward", (IMAGES,),
                              lambda x: POOLS[kind](x, size, stride), extra=(size, stride))


UPDATE_RULES = {"SGD": (torch.optim.SGD, {"momentum": 0.9}), "RMSProp": (torch.optim.RMSprop, {}),
                "Adam": (torch.optim.Adam, {})}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.graded(f"nn.optim.{name}.step"))
                                  for name in UPDATE_RULES])
def test_update_rule_step(student, name):
    theirs, options = UPDATE_RULES[name]
    rng = np.random.default_rng(0)
    initial = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    params = student.put(initial)  # the optimizer updates these arrays in place, inside the worker
    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in initial.items()}
    optimizer, expected = student.call(f"nn.optim.{name}", params, lr=0.01, **options), theirs(tensors.values(), lr=0.01, **options)
    for _ in range(4):
        grads = {key: rng.standard_normal(value.shape) for key, value in initial.items()}
        student.method(optimizer, "step", grads)
        for key, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[key])
        expected.step()
    final = student.get(params)
    for key, tensor in tensors.items():
        np.testing.assert_allclose(final[key], tensor.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=key)


def student_model(student, sizes, **options):
    """``(handle on the student's MLP, this tree's MLP holding the same initial params)``."""
    model = student.call("nn.model.MLP", sizes, dtype=np.float64, **options)
    ours = MLP(sizes, dtype=np.float64, **options)
    initial = student.get(model, "params")
    assert set(initial) == set(ours.params), f"the model's params are {sorted(initial)}, not {sorted(ours.params)}"
    for name, value in ours.params.items():
        np.copyto(value, initial[name])
    return model, ours


@pytest.mark.graded("nn.model.Classifier.forward")
def test_classifier_forward(student):
    model, ours = student_model(student, [6, 5, 4, 3], activation="tanh", seed=2)
    with torch.no_grad():
        expected = torch_twin(ours)(torch.tensor(X)).numpy()
    assert max_relative_error(student.method(model, "scores", X), expected) < 1e-12


@pytest.mark.graded("nn.model.Classifier.backward")
def test_classifier_backward(student):
    model, ours = student_model(student, [6, 5, 4, 3], activation="tanh", seed=2)
    y = np.array([0, 2, 1, 1, 0])
    _, grads = student.method(model, "loss", X, y)
    _, expected = torch_loss_and_gradients(ours, X, y)
    assert set(grads) == set(expected)
    for name in grads:
        assert max_relative_error(grads[name], expected[name]) < 1e-10, name


@pytest.mark.graded("train.sgd_epoch")
def test_sgd_epoch_takes_the_batches_of_its_order_like_torch(student):
    rng = np.random.default_rng(4)
    X_train, y_train = rng.standard_normal((70, 6)), rng.integers(0, 3, 70)
    model, ours = student_model(student, [6, 5, 3], seed=3, reg=1e-3)
    net, _ = train_torch_copy(ours, X_train, y_train, epochs=1, batch_size=16, lr=0.1, lr_step=None, lr_gamma=1,
                              momentum=0.9, seed=5)
    params = student.attribute(model, "params")
    optimizer = student.call("nn.optim.SGD", params, lr=0.1, momentum=0.9)
    student.call("train.sgd_epoch", model, optimizer, X_train, y_train, epoch_orders(70, 1, 5)[0], 16)
    trained, expected = student.get(params), torch_as_params(net)
    for name, value in trained.items():
        assert max_relative_error(value, expected[name]) < 1e-10, name
