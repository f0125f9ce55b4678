"""What the graded functions' docstrings promise, checked where students see it: float32 in gives float32 out
(float32 stays float32 through a backward pass too), random shapes beyond the tiny ones, agreement with torch,
in-place updates of the caller's arrays (the optimizers, batch norm's running statistics), and for the
augmentations uint8 in gives a new uint8 batch of the input's shape, the input left unchanged."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import augment
from helpers.nn import batchnorm, conv, dropout, layers, losses, optim

RTOL32 = 2e-4  # float32 against torch's float32


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def close(ours, theirs, name):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.dtype == np.float32, f"{name}: float32 in must give float32 out, got {ours.dtype}"
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape}, expected {theirs.shape}"
    scale = max(1.0, float(np.abs(theirs).max()))
    error = float(np.abs(ours - theirs).max()) / scale
    assert error < RTOL32, f"{name}: differs from torch by {error:.2e} (relative), more than {RTOL32:g}"


def torch_grads(function, dout, *arrays):
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = function(*tensors)
    out.backward(torch.tensor(dout))
    return out, [t.grad for t in tensors]


@pytest.mark.parametrize("seed", [0, 1])
def test_linear_relu_sigmoid_tanh_keep_float32_and_agree_with_torch(seed):
    rng = np.random.default_rng(seed)
    n, d, h = rng.integers(20, 70), rng.integers(10, 50), rng.integers(5, 40)
    x, W, b, dout = rand(rng, n, d), rand(rng, d, h), rand(rng, h), rand(rng, n, h)
    out, cache = layers.linear_forward(x, W, b)
    expected, grads = torch_grads(lambda x, W, b: x @ W + b, dout, x, W, b)
    close(out, expected, "linear_forward out")
    for ours, theirs, name in zip(layers.linear_backward(dout, cache), grads, ("dx", "dW", "db")):
        close(ours, theirs, f"linear_backward {name}")
    for name, function in (("relu", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
        z = rand(rng, n, h) * 4
        out, cache = getattr(layers, f"{name}_forward")(z)
        expected, [dz] = torch_grads(function, dout, z)
        close(out, expected, f"{name}_forward out")
        close(getattr(layers, f"{name}_backward")(dout, cache), dz, f"{name}_backward dx")


def test_softmax_cross_entropy_keeps_float32_and_agrees_with_torch():
    rng = np.random.default_rng(2)
    logits, y = rand(rng, 64, 10) * 5, rng.integers(0, 10, 64)
    close(losses.log_softmax(logits), F.log_softmax(torch.tensor(logits), dim=1), "log_softmax")
    loss, dlogits = losses.softmax_cross_entropy(logits, y)
    tensor = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(tensor, torch.tensor(y))
    expected.backward()
    assert abs(float(loss) - expected.item()) < 1e-4 * max(1.0, expected.item())
    close(dlogits, tensor.grad, "softmax_cross_entropy dlogits")


def test_conv_and_pooling_keep_float32_and_agree_with_torch():
    rng = np.random.default_rng(3)
    x, W, b = rand(rng, 5, 3, 11, 9), rand(rng, 4, 3, 3, 3), rand(rng, 4)
    out, cache = conv.conv2d_forward(x, W, b, stride=2, padding=1)
    dout = rand(rng, *out.shape)
    expected, grads = torch_grads(lambda x, W, b: F.conv2d(x, W, b, stride=2, padding=1), dout, x, W, b)
    close(out, expected, "conv2d_forward out")
    for ours, theirs, name in zip(conv.conv2d_backward(dout, cache), grads, ("dx", "dW", "db")):
        close(ours, theirs, f"conv2d_backward {name}")
    for name, function in (("maxpool2d", F.max_pool2d), ("avgpool2d", F.avg_pool2d)):
        out, cache = getattr(conv, f"{name}_forward")(x, size=2, stride=2)
        dout = rand(rng, *out.shape)
        expected, [dx] = torch_grads(lambda x, f=function: f(x, 2, 2), dout, x)
        close(out, expected, f"{name}_forward out")
        close(getattr(conv, f"{name}_backward")(dout, cache), dx, f"{name}_backward dx")


def test_batchnorm_keeps_float32_and_updates_the_running_statistics_in_place():
    rng = np.random.default_rng(4)
    x, gamma, beta, dout = rand(rng, 40, 7), rand(rng, 7), rand(rng, 7), rand(rng, 40, 7)
    mean, var = np.zeros(7, np.float32), np.ones(7, np.float32)
    torch_mean, torch_var = torch.zeros(7), torch.ones(7)
    out, cache = batchnorm.batchnorm_forward(x, gamma, beta, mean, var, training=True)
    expected, grads = torch_grads(lambda x, g, b: F.batch_norm(x, torch_mean, torch_var, g, b, training=True),
                                  dout, x, gamma, beta)
    close(out, expected, "batchnorm_forward out")
    close(mean, torch_mean, "running_mean (updated in place)")
    close(var, torch_var, "running_var (updated in place)")
    for ours, theirs, name in zip(batchnorm.batchnorm_backward(dout, cache), grads, ("dx", "dgamma", "dbeta")):
        close(ours, theirs, f"batchnorm_backward {name}")


def test_dropout_keeps_float32():
    x = rand(np.random.default_rng(5), 30, 20)
    out, mask = dropout.dropout_forward(x, 0.3, np.random.default_rng(0))
    assert out.dtype == mask.dtype == np.float32 and out.shape == x.shape
    assert dropout.dropout_backward(x, mask).dtype == np.float32


@pytest.mark.parametrize("make, torch_make", [
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    (lambda p: optim.RMSProp(p, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    (lambda p: optim.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
], ids=["SGD", "RMSProp", "Adam"])
def test_optimizers_update_the_callers_float32_arrays_in_place_like_torch(make, torch_make):
    rng = np.random.default_rng(6)
    params = {"W": rand(rng, 13, 6), "b": rand(rng, 6)}
    same = dict(params)
    tensors = {name: torch.tensor(p.copy(), requires_grad=True) for name, p in params.items()}
    ours, theirs = make(params), torch_make(list(tensors.values()))
    for _ in range(3):
        grads = {name: rand(rng, *p.shape) for name, p in params.items()}
        ours.step(grads)
        for name, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[name])
        theirs.step()
    for name, array in params.items():
        assert array is same[name], f"{name}: step must update the caller's array in place, not replace it"
        close(array, tensors[name], f"{name} after 3 steps")


AUGMENTATIONS = {  # each graded augmentation (a block op alone and through its public op), identities included
    "hflip": lambda images: augment.hflip(images, np.arange(len(images)) % 2 == 0),
    "hflip, no image flipped": lambda images: augment.hflip(images, False),
    "crop": lambda images: augment.crop(images, np.tile([1, 3], (len(images), 1)), padding=2),
    "crop at the identity offset": lambda images: augment.crop(images, (2, 2), padding=2),
    "cutout": lambda images: augment.cutout(images, np.tile([4, 5], (len(images), 1)), 4),
    "cutout of size 0": lambda images: augment.cutout(images, np.tile([4, 5], (len(images), 1)), 0),
    "rotate": lambda images: augment.rotate(images, 30.0),
    "_rotate_block": lambda images: augment._rotate_block(images, np.full(len(images), 0.5), 0),
    "adjust_contrast, factor 1": lambda images: augment.adjust_contrast(images, 1.0),
    "_contrast_block": lambda images: augment._contrast_block(images, np.full(len(images), 0.5, np.float32)),
}


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_augmentations_return_a_new_uint8_batch_and_leave_their_input_unchanged(name):
    images = np.random.default_rng(7).integers(0, 256, (3, 12, 10, 3), dtype=np.uint8)
    before = images.copy()
    out = AUGMENTATIONS[name](images)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8, f"{name}: uint8 in must give uint8 out, got " + (
        f"{out.dtype}" if isinstance(out, np.ndarray) else type(out).__name__)
    assert out.shape == images.shape, f"{name}: shape {out.shape}, expected the input's {images.shape}"
    assert not np.shares_memory(out, images), f"{name}: returns its input (or a view of it), not a new array"
    assert np.array_equal(images, before), f"{name}: changed its input ({np.sum(images != before)} values)"
