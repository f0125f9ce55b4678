"""Tests for helpers.nn.conv, helpers.nn.cnn and helpers.filterbank: finite differences, PyTorch parity, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.nn.gradcheck import gradient_errors, layer_gradient_errors
from helpers.filterbank import ORIENTATIONS_DEG, SCALES, bank_features, filter_responses, make_bank
from helpers.nn import Classifier
from helpers.nn.cnn import CNN
from helpers.nn.conv import (
    avgpool2d_backward,
    avgpool2d_forward,
    conv2d_backward,
    conv2d_forward,
    flatten_backward,
    flatten_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from helpers.reference import torch_loss_and_gradients
from helpers.train import train

# (x shape, W shape, stride, padding): square and non-square, stride 2, padding 1, one channel
CONV_CASES = [
    ((2, 3, 7, 7), (4, 3, 3, 3), 1, 0),
    ((2, 3, 8, 7), (4, 3, 3, 2), 2, 0),
    ((2, 2, 6, 5), (3, 2, 3, 3), 1, 1),
    ((3, 2, 7, 8), (2, 2, 3, 3), 2, 1),
    ((2, 1, 9, 9), (5, 1, 5, 5), 1, 0),
]
POOL_CASES = [(2, 2), (3, 2), (2, 1), (3, 3)]  # (size, stride): non-overlapping and overlapping windows
POOL_LAYERS = {
    "max": (maxpool2d_forward, maxpool2d_backward, F.max_pool2d),
    "avg": (avgpool2d_forward, avgpool2d_backward, F.avg_pool2d),
}


def conv_case(x_shape, w_shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    W = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, W, b


# Element-wise max relative error: an entry near 1e-5 carries the finite differences' rounding
# error (about 1e-16 |f| / h) relative to itself, so correct gradients reach a few 1e-7 here;
# a wrong one gives 1e-2 or more.
TOLERANCE = 1e-6


def check_finite_differences(forward, backward, inputs, seed=1):
    """Gradient of ``sum(forward(*inputs) * G)`` from ``backward(G, cache)`` against centred differences."""
    errors = layer_gradient_errors(forward, backward, inputs, seed=seed)
    assert len(errors) == len(inputs) and max(errors) < TOLERANCE, errors


# ----------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_CASES)
def test_conv_backward_matches_finite_differences(x_shape, w_shape, stride, padding):
    x, W, b = conv_case(x_shape, w_shape)
    check_finite_differences(lambda x, W, b: conv2d_forward(x, W, b, stride, padding), conv2d_backward, (x, W, b))


@pytest.mark.parametrize("kind", POOL_LAYERS)
@pytest.mark.parametrize("size, stride", POOL_CASES)
def test_pool_backward_matches_finite_differences(kind, size, stride):
    forward, backward, _ = POOL_LAYERS[kind]
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))  # distinct values: no ties
    check_finite_differences(lambda x: forward(x, size, stride), backward, (x,))


def test_flatten_round_trip_and_gradient():
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 5))
    out, cache = flatten_forward(x)
    assert out.shape == (3, 40) and np.array_equal(out[1], x[1].ravel())
    check_finite_differences(flatten_forward, flatten_backward, (x,))


# ----------------------------------------------------------------------------- PyTorch parity
def torch_gradients(function, inputs, upstream):
    """Output and input gradients of ``function`` on float64 tensors, by autograd."""
    tensors = [torch.tensor(array, requires_grad=True) for array in inputs]
    out = function(*tensors)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_CASES)
def test_conv_matches_torch(x_shape, w_shape, stride, padding):
    x, W, b = conv_case(x_shape, w_shape)
    out, cache = conv2d_forward(x, W, b, stride, padding)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    expected, expected_grads = torch_gradients(lambda x, W, b: F.conv2d(x, W, b, stride, padding), (x, W, b), upstream)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10)
    for grad, expected_grad in zip(conv2d_backward(upstream, cache), expected_grads):
        np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", POOL_LAYERS)
@pytest.mark.parametrize("size, stride", POOL_CASES)
def test_pool_matches_torch(kind, size, stride):
    forward, backward, torch_pool = POOL_LAYERS[kind]
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    out, cache = forward(x, size, stride)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    expected, (expected_dx,) = torch_gradients(lambda x: torch_pool(x, size, stride), (x,), upstream)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(backward(upstream, cache), expected_dx, rtol=0, atol=1e-10)


@pytest.mark.parametrize("size, stride", POOL_CASES)
@pytest.mark.parametrize("pattern", ["constant", "few levels"])
def test_maxpool_ties_go_to_the_first_maximum_like_torch(size, stride, pattern):
    rng = np.random.default_rng(0)
    x = np.ones((2, 2, 7, 8)) if pattern == "constant" else rng.integers(0, 2, (2, 2, 7, 8)).astype(np.float64)
    out, cache = maxpool2d_forward(x, size, stride)
    upstream = rng.standard_normal(out.shape)
    _, (expected_dx,) = torch_gradients(lambda x: F.max_pool2d(x, size, stride), (x,), upstream)
    dx = maxpool2d_backward(upstream, cache)
    np.testing.assert_allclose(dx, expected_dx, rtol=0, atol=1e-10)
    if pattern == "constant" and size == stride:  # each window's gradient lands on its top-left element
        assert np.array_equal(dx[:, :, :out.shape[2] * stride:stride, :out.shape[3] * stride:stride], upstream)
        assert np.count_nonzero(dx) == upstream.size


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
def test_float32_in_float32_out(stride, padding):
    x, W, b = conv_case((2, 3, 9, 9), (4, 3, 3, 3))
    out64, cache64 = conv2d_forward(x, W, b, stride, padding)
    out32, cache32 = conv2d_forward(*(a.astype(np.float32) for a in (x, W, b)), stride, padding)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-5)
    upstream = np.random.default_rng(1).standard_normal(out64.shape)
    for grad32, grad64 in zip(conv2d_backward(upstream.astype(np.float32), cache32), conv2d_backward(upstream, cache64)):
        assert grad32.dtype == np.float32
        np.testing.assert_allclose(grad32, grad64, rtol=1e-4, atol=1e-4)
    for kind, (forward, backward, _) in POOL_LAYERS.items():
        pooled, cache = forward(out32, 2, 2)
        assert pooled.dtype == np.float32 and backward(pooled, cache).dtype == np.float32, kind


def test_conv_backward_can_skip_dx():
    x, W, b = conv_case((2, 3, 7, 7), (4, 3, 3, 3))
    out, cache = conv2d_forward(x, W, b)
    dx, dW, db = conv2d_backward(np.ones_like(out), cache, need_dx=False)
    assert dx is None
    np.testing.assert_array_equal(dW, conv2d_backward(np.ones_like(out), cache)[1])


# ----------------------------------------------------------------------------- the CNN model
def tiny_cnn(pool="max", activation="relu", reg=0.1):
    return CNN((2, 9, 9), conv_channels=(3, 2), kernel_size=3, pool=pool, hidden=6, num_classes=4,
               activation=activation, reg=reg, dtype=np.float64, seed=3)


def tiny_batch(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2, 9, 9)), rng.integers(0, 4, n)


@pytest.mark.parametrize("pool, activation", [("max", "relu"), ("avg", "tanh"), ("max", "sigmoid")])
def test_cnn_gradients_match_finite_differences(pool, activation):
    model = tiny_cnn(pool, activation)
    X, y = tiny_batch()
    errors = gradient_errors(model, X, y)
    assert set(errors) == set(model.loss(X, y)[1]) == set(model.params)
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_cnn_loss_and_gradients_match_torch(pool):
    model = tiny_cnn(pool, reg=0.1)
    X, y = tiny_batch()
    loss, grads = model.loss(X, y)
    torch_loss, torch_grads = torch_loss_and_gradients(model, X, y)
    assert abs(loss - torch_loss) < 1e-12
    assert set(torch_grads) == set(grads)
    for name, expected in torch_grads.items():
        np.testing.assert_allclose(grads[name], expected, rtol=0, atol=1e-10, err_msg=name)


def test_cnn_seed_architecture_shapes_and_defaults():
    mnist = CNN((1, 28, 28))
    assert mnist.dtype == np.float32
    assert {name: p.shape for name, p in mnist.params.items()} == {
        "conv1_W": (8, 1, 5, 5), "conv1_b": (8,), "conv2_W": (8, 8, 5, 5), "conv2_b": (8,),
        "W1": (800, 128), "b1": (128,), "W2": (128, 10), "b2": (10,)}
    cifar = CNN((3, 32, 32), conv_channels=(10, 10))
    assert cifar.params["W1"].shape == (1440, 128)
    assert np.std(cifar.params["conv2_W"]) == pytest.approx(np.sqrt(2 / 250), rel=0.1)  # He: fan_in = 10*5*5


def test_cnn_trains_with_the_shared_loop_and_reloads():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256)
    X = rng.standard_normal((256, 1, 10, 10)).astype(np.float32)
    X[y == 1, :, :5] += 1.5  # class 1: brighter top half
    model = CNN((1, 10, 10), conv_channels=(4,), kernel_size=3, hidden=16, num_classes=2)
    history = train(model, X, y, epochs=4, batch_size=32, lr=0.05, momentum=0.9, progress=False,
                    eval_sets={"test": (X, y)})
    assert history.loss["train"][-1] < history.loss["train"][0] and history.acc["test"][-1] > 0.9
    reloaded = Classifier.from_architecture(model.architecture, {k: v.copy() for k, v in model.params.items()})
    np.testing.assert_array_equal(reloaded.predict(X), model.predict(X.reshape(256, -1)))
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1, rtol=1e-6)


# ----------------------------------------------------------------------------- filter bank
def test_filter_bank_shape_and_normalisation():
    bank = make_bank(np.float64)
    assert bank.shape == (36, 17, 17) and make_bank().dtype == np.float32
    np.testing.assert_allclose(bank.sum(axis=(1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(bank.reshape(36, -1), axis=1), 1, rtol=1e-12)
    first, second = bank[:18], bank[18:]
    np.testing.assert_allclose(first[:, ::-1, ::-1], -first, atol=1e-12)  # odd: edge detectors
    np.testing.assert_allclose(second[:, ::-1, ::-1], second, atol=1e-12)  # even: bar detectors
    step = ORIENTATIONS_DEG.index(90)
    for k in range(0, 36, len(ORIENTATIONS_DEG)):  # +90 degrees is a quarter turn of the grid
        np.testing.assert_allclose(np.rot90(bank[k], -1), bank[k + step], atol=1e-12)
    assert len(SCALES) * len(ORIENTATIONS_DEG) * 2 == 36


def test_filter_responses_and_features():
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    bank = make_bank()
    maps = filter_responses(images, bank, chunk_size=3, progress=False)
    assert maps.shape == (7, 36, 12, 12) and maps.dtype == np.float32
    expected = F.conv2d(torch.tensor(images[:, None] / 255.0), torch.tensor(bank[:, None], dtype=torch.float64))
    np.testing.assert_allclose(maps, expected.numpy(), atol=1e-4)
    features = bank_features(images, bank, chunk_size=3, progress=False)
    assert features.shape == (7, 1296) and features.dtype == np.float32
    np.testing.assert_array_equal(features, maps.reshape(7, 36, 6, 2, 6, 2).max(axis=(3, 5)).reshape(7, -1))


# ----------------------------------------------------------------------------- bad input
X4, W4, B4 = conv_case((2, 3, 6, 6), (4, 3, 3, 3))


@pytest.mark.parametrize("call, argument", [
    (lambda: conv2d_forward(X4[0], W4, B4), "x"),
    (lambda: conv2d_forward(X4.astype(int), W4, B4), "x"),
    (lambda: conv2d_forward(X4, W4[:, :2], B4), "W"),
    (lambda: conv2d_forward(X4, np.ones((4, 3, 7, 7)), B4), "W"),
    (lambda: conv2d_forward(X4, W4, B4[:3]), "b"),
    (lambda: conv2d_forward(X4, W4.astype(np.float32), B4), "dtype"),
    (lambda: conv2d_forward(X4, W4, B4, stride=0), "stride"),
    (lambda: conv2d_forward(X4, W4, B4, padding=-1), "padding"),
    (lambda: conv2d_backward(np.ones((2, 4, 3, 3)), conv2d_forward(X4, W4, B4)[1]), "dout"),
    (lambda: maxpool2d_forward(X4, size=7), "size"),
    (lambda: avgpool2d_forward(X4, stride=1.5), "stride"),
    (lambda: maxpool2d_backward(np.ones((2, 3, 2, 2)), maxpool2d_forward(X4)[1]), "dout"),
    (lambda: flatten_forward(np.ones(3)), "x"),
    (lambda: tiny_cnn().loss(np.ones((5, 2, 8, 8)), np.zeros(5, int)), "X"),
    (lambda: tiny_cnn().loss(tiny_batch()[0], np.full(5, 4)), "y"),
    (lambda: CNN((1, 8, 8), conv_channels=(2, 2), kernel_size=5), "input_shape"),
    (lambda: CNN((1, 28, 28), pool="median"), "pool"),
    (lambda: CNN((1, 28, 28), hidden=0), "hidden"),
    (lambda: Classifier.from_params(CNN((1, 28, 28)).params, (1, 32, 32), CNN((1, 32, 32)).layers), "params"),
    (lambda: filter_responses(np.ones((2, 10, 10)), make_bank()), "images"),
    (lambda: bank_features(np.ones((0, 28, 28)), make_bank()), "images"),
    (lambda: filter_responses(np.ones((2, 28, 28), dtype=int), make_bank()), "images"),
    (lambda: filter_responses(np.ones((2, 28, 28)), np.ones((36, 17, 16))), "bank"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call()
