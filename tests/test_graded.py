"""The graded checks of the from-scratch functions, one function each, against PyTorch (float64).

These are the visible tests of the autograder (``scripts/grade.py``): each names the function it
counts for, calls the student's code only through the ``student`` fixture (a separate worker
process, plain data in and out) and judges the results here, with this tree's own code. A
forward pass is compared with torch's; a backward pass with torch autograd of
``sum(forward(x) * dout)`` for a random upstream gradient ``dout``. Each result's kind (a tuple of
the documented length, the same keys, an array of the expected shape and dtype, a finite
number) is checked before its value, by ``tests/graded_checks.py``.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import graded_checks as check
from helpers.nn import MLP
from helpers.nn.gradcheck import numerical_gradient
from helpers.reference import torch_as_params, torch_loss_and_gradients, torch_twin, train_torch_copy
from helpers.train import epoch_orders

RNG = np.random.default_rng(7)
X = RNG.standard_normal((5, 6))
IMAGES = RNG.standard_normal((2, 3, 7, 6))
FILTERS = RNG.standard_normal((4, 3, 3, 2))


def backward_matches_autograd(student, forward, backward, inputs, torch_forward, extra=(), tolerance=1e-10,
                              names=("dx",), case=""):
    """The student's ``forward(*inputs, *extra)`` then ``backward(dout, cache)`` against torch autograd.

    ``backward`` returns one gradient per input, named ``names``: one array, or a tuple of them; a failure names
    the gradient and ``case`` (e.g. "in training mode").
    """
    forward_name, backward_name = forward.rsplit(".", 1)[-1], backward.rsplit(".", 1)[-1]
    tensors = [torch.tensor(a, requires_grad=True) for a in inputs]
    expected = torch_forward(*tensors)
    out, cache = check.results(student.call(forward, *inputs, *extra), forward_name, 2)
    check.like(out, expected.detach().numpy(), f"{forward_name}'s out")
    dout = np.random.default_rng(1).standard_normal(tuple(expected.shape))
    grads = student.call(backward, dout, cache)
    grads = check.results(grads, backward_name, len(names)) if len(names) > 1 else (grads,)
    expected.backward(torch.tensor(dout))
    for index, (grad, tensor, name) in enumerate(zip(grads, tensors, names, strict=True)):
        check.close(grad, tensor.grad.numpy(), f"{backward_name}'s {name}" + (f" {case}" if case else ""), tolerance,
                    numeric=lambda index=index: reference_finite_differences(torch_forward, inputs, index, dout))


def reference_finite_differences(torch_forward, inputs, index, dout, h=1e-6):
    """Centred finite differences of ``sum(torch_forward(*inputs) * dout)`` with respect to ``inputs[index]``."""
    arrays = [np.array(a, dtype=np.float64) for a in inputs]

    def objective():
        with torch.no_grad():
            return float((torch_forward(*map(torch.tensor, arrays)) * torch.tensor(dout)).sum())
    return numerical_gradient(objective, arrays[index], h)


ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.graded(f"nn.layers.{name}_forward"))
                                  for name in ACTIVATIONS])
def test_activation_forward(student, name):
    out, _ = check.results(student.call(f"nn.layers.{name}_forward", X * 30), f"{name}_forward", 2)  # large inputs: the sigmoid must not overflow
    check.close(out, ACTIVATIONS[name](torch.tensor(X * 30)).numpy(), f"{name}_forward's out", 1e-12)
    single = (X * 30).astype(np.float32)  # float32 stays float32
    out, _ = check.results(student.call(f"nn.layers.{name}_forward", single), f"{name}_forward", 2)
    check.close(out, ACTIVATIONS[name](torch.tensor(single)).numpy(), f"{name}_forward's out for float32 x", 1e-5)


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.graded(f"nn.layers.{name}_backward"))
                                  for name in ACTIVATIONS])
def test_activation_backward(student, name):
    backward_matches_autograd(student, f"nn.layers.{name}_forward", f"nn.layers.{name}_backward", (X,),
                              ACTIVATIONS[name])


@pytest.mark.graded("nn.layers.linear_forward")
def test_linear_forward(student):
    W, b = RNG.standard_normal((6, 3)), RNG.standard_normal(3)
    out, _ = check.results(student.call("nn.layers.linear_forward", X, W, b), "linear_forward", 2)
    check.close(out, F.linear(torch.tensor(X), torch.tensor(W.T), torch.tensor(b)).numpy(), "linear_forward's out", 1e-12)


@pytest.mark.graded("nn.layers.linear_backward")
def test_linear_backward(student):
    W, b = RNG.standard_normal((6, 3)), RNG.standard_normal(3)
    backward_matches_autograd(student, "nn.layers.linear_forward", "nn.layers.linear_backward", (X, W, b),
                              lambda x, w, bias: x @ w + bias, names=("dx", "dW", "db"))
    _, cache = student.call("nn.layers.linear_forward", X, W, b)
    dx, dW, db = check.results(student.call("nn.layers.linear_backward", np.ones((5, 3)), cache, need_dx=False),
                               "linear_backward", 3)
    assert dx is None, f"linear_backward(need_dx=False)'s dx is {type(dx).__name__}, expected None"
    check.close(dW, X.T @ np.ones((5, 3)), "linear_backward(need_dx=False)'s dW", 1e-12)
    check.close(db, np.full(3, 5.0), "linear_backward(need_dx=False)'s db", 1e-12)


@pytest.mark.graded("nn.losses.log_softmax")
def test_log_softmax(student):
    logits = np.array([[1e4, -1e4, 0.0], [1.0, 2.0, 3.0]])
    expected = torch.log_softmax(torch.tensor(logits), dim=1).numpy()
    out = check.like(student.call("nn.losses.log_softmax", logits), expected, "log_softmax's out")
    assert np.allclose(out, expected, atol=1e-12), (f"log_softmax's out differs from torch.log_softmax by up to "
                                                    f"{np.abs(out - expected).max():.3g}{check.first_difference(out, expected, 1e-12)}")


@pytest.mark.graded("nn.losses.softmax_cross_entropy")
def test_softmax_cross_entropy(student):
    y = np.array([0, 2, 1, 5, 3])
    loss, dlogits = check.results(student.call("nn.losses.softmax_cross_entropy", X, y), "softmax_cross_entropy", 2)
    logits = torch.tensor(X, requires_grad=True)
    expected = F.cross_entropy(logits, torch.tensor(y))
    expected.backward()
    assert check.scalar(loss, "softmax_cross_entropy's loss") == pytest.approx(expected.item(), rel=1e-12)
    check.close(dlogits, logits.grad.numpy(), "softmax_cross_entropy's dlogits", 1e-10)


DROPOUT_X = np.random.default_rng(8).standard_normal((100, 200))  # 20000 units: the dropped share within 0.02 of p


def dropout_case(student, seed=3, p=0.3, judged=""):
    """The student's ``dropout_forward(DROPOUT_X, p, default_rng(seed))``, its mask held to the contract: one
    factor 1 / (1 - p) for every kept unit, about p of the units dropped (the draw itself is the student's).
    ``judged``: what a failure is about, when the mask serves another test (dropout_backward's)."""
    out, mask = check.results(student.call("nn.dropout.dropout_forward", DROPOUT_X, p, np.random.default_rng(seed)),
                              "dropout_forward", 2)
    prefix = f"{judged}: " if judged else ""
    mask = check.like(mask, DROPOUT_X, f"{prefix}dropout_forward's mask")
    kept = mask != 0
    assert np.allclose(mask[kept], 1 / (1 - p), rtol=1e-15), (
        f"{prefix}dropout_forward's mask holds {np.unique(mask[kept])[:4]} for kept units, expected 1 / (1 - p) = "
        f"{1 / (1 - p):.6g}")
    dropped = 1 - kept.mean()
    assert abs(dropped - p) < 0.02, \
        f"{prefix}dropout_forward dropped {dropped:.4f} of {mask.size} units, expected p = {p} (+-0.02)"
    return out, mask


@pytest.mark.graded("nn.dropout.dropout_forward")
def test_dropout_forward(student):
    out, mask = dropout_case(student)
    check.close(out, DROPOUT_X * mask, "dropout_forward's out (x times its mask)", 1e-14)
    _, again = dropout_case(student)
    check.equal(again, mask, "dropout_forward's mask from a generator in the same state")
    _, other = dropout_case(student, seed=4)
    assert not np.array_equal(other, mask), "dropout_forward's mask is the same for generators in other states"
    evaluated, _ = student.call("nn.dropout.dropout_forward", X, 0.3, np.random.default_rng(3), training=False)
    check.equal(evaluated, X, "dropout_forward(training=False)'s out")


@pytest.mark.graded("nn.dropout.dropout_backward")
def test_dropout_backward(student):
    """Judged with the mask held to the contract: a forward whose output is all zeros makes no backward right."""
    _, mask = dropout_case(student, judged="dropout_backward's dx is judged through this mask")
    dout = np.random.default_rng(1).standard_normal(DROPOUT_X.shape)
    dx = student.call("nn.dropout.dropout_backward", dout, mask)
    check.close(dx, dout * mask, "dropout_backward's dx (dout through the mask dropout_forward returned)", 1e-14)


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
    out, _ = check.results(student.call("nn.batchnorm.batchnorm_forward", x, gamma, beta, running_mean, running_var,
                                        training), "batchnorm_forward", 2)
    check.close(out, expected.numpy(), f"batchnorm_forward's out in {'training' if training else 'evaluation'} mode", 1e-12)
    check.close(student.get(running_mean), torch_mean.numpy(), "running_mean (updated in place)", 1e-13)
    check.close(student.get(running_var), torch_var.numpy(), "running_var (updated in place)", 1e-13)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.graded("nn.batchnorm.batchnorm_backward")
def test_batchnorm_backward(student, training):
    x, gamma, beta, mean, var = batchnorm_case()
    backward_matches_autograd(
        student, "nn.batchnorm.batchnorm_forward", "nn.batchnorm.batchnorm_backward", (x, gamma, beta),
        lambda x, g, b: F.batch_norm(x, torch.tensor(mean), torch.tensor(var), g, b, training, 0.1, 1e-5),
        extra=(mean, var, training), names=("dx", "dgamma", "dbeta"),
        case="in training mode" if training else "in evaluation mode")


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
@pytest.mark.graded("nn.conv.conv2d_forward")
def test_conv2d_forward(student, stride, padding):
    b = RNG.standard_normal(4)
    out, _ = check.results(student.call("nn.conv.conv2d_forward", IMAGES, FILTERS, b, stride, padding), "conv2d_forward", 2)
    expected = F.conv2d(torch.tensor(IMAGES), torch.tensor(FILTERS), torch.tensor(b), stride, padding)
    check.close(out, expected.numpy(), "conv2d_forward's out", 1e-10)


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
@pytest.mark.graded("nn.conv.conv2d_backward")
def test_conv2d_backward(student, stride, padding):
    b = RNG.standard_normal(4)
    backward_matches_autograd(student, "nn.conv.conv2d_forward", "nn.conv.conv2d_backward", (IMAGES, FILTERS, b),
                              lambda x, w, bias: F.conv2d(x, w, bias, stride, padding), extra=(stride, padding),
                              tolerance=1e-9, names=("dx", "dw", "db"))


POOLS = {"max": F.max_pool2d, "avg": F.avg_pool2d}


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.graded(f"nn.conv.{kind}pool2d_forward"))
                                  for kind in POOLS])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2)])
def test_pool_forward(student, kind, size, stride):
    out, _ = check.results(student.call(f"nn.conv.{kind}pool2d_forward", IMAGES, size, stride), f"{kind}pool2d_forward", 2)
    check.close(out, POOLS[kind](torch.tensor(IMAGES), size, stride).numpy(), f"{kind}pool2d_forward's out", 1e-12)


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
    arrays = {key: student.put(value) for key, value in initial.items()}  # each array kept on its own: in place?
    params = student.put(arrays)  # a dict of those very arrays, which the optimizer updates, inside the worker
    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in initial.items()}
    optimizer, expected = student.call(f"nn.optim.{name}", params, lr=0.01, **options), theirs(tensors.values(), lr=0.01, **options)
    for _ in range(4):
        grads = {key: rng.standard_normal(value.shape) for key, value in initial.items()}
        student.method(optimizer, "step", grads)
        for key, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[key])
        expected.step()
    final = check.same_keys(student.get(params), initial, f"{name}'s params")
    for key, tensor in tensors.items():
        check.close(final[key], tensor.detach().numpy(), f"{name}'s params[{key!r}] after 4 steps", 1e-11)
        check.equal(student.get(arrays[key]), final[key], f"params[{key!r}] (the array given, updated in place)")


def student_model(student, sizes, **options):
    """``(handle on the student's MLP, this tree's MLP)``, both holding this test's params.

    The student's model gets them in its ``params`` dict: its own initial weights (all 0, say)
    could make a wrong forward right. The biases are drawn too, so that none is 0.
    """
    model = student.call("nn.model.MLP", sizes, dtype=np.float64, **options)
    ours = MLP(sizes, dtype=np.float64, **options)
    rng = np.random.default_rng(sum(sizes))
    for value in ours.params.values():
        if value.ndim == 1:  # the biases (0 as initialised)
            value[:] = 0.1 * rng.standard_normal(value.shape)
    initial = check.same_keys(student.get(model, "params"), ours.params, "the model's params")
    for name, value in ours.params.items():
        check.like(initial[name], value, f"the model's params[{name!r}]")
    params = student.attribute(model, "params")
    student.method(params, "update", ours.params)
    given = check.same_keys(student.get(params), ours.params, "the model's params")
    for name, value in ours.params.items():
        check.equal(given[name], value, f"the model's params[{name!r}] once set")
    return model, ours


@pytest.mark.graded("nn.model.Classifier.forward")
def test_classifier_forward(student):
    model, ours = student_model(student, [6, 5, 4, 3], activation="tanh", seed=2)
    with torch.no_grad():
        expected = torch_twin(ours)(torch.tensor(X)).numpy()
    check.close(student.method(model, "scores", X), expected, "the model's scores", 1e-12)


@pytest.mark.graded("nn.model.Classifier.backward")
def test_classifier_backward(student):
    model, ours = student_model(student, [6, 5, 4, 3], activation="tanh", seed=2)
    y = np.array([0, 2, 1, 1, 0])
    _, grads = check.results(student.method(model, "loss", X, y), "the model's loss", 2)
    _, expected = torch_loss_and_gradients(ours, X, y)
    check.close_arrays(grads, expected, "the model's grads", 1e-10)


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
    check.close_arrays(student.get(params), torch_as_params(net), "the model's params after sgd_epoch", 1e-10)
