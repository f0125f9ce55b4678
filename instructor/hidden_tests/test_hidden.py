"""Hidden graded tests: never shipped to students (see instructor/release.py), run by scripts/grade.py.

Like ``tests/test_graded.py``, they call the student's code only through the ``student`` fixture
and judge it with this tree's code, each result's kind before its value (``tests/graded_checks.py``).
"""
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.core import config

sys.path.insert(0, str(config.REPO_ROOT / "tests"))
import graded_checks as check  # tests/graded_checks.py


def _images(n=3, height=9, width=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


@pytest.mark.graded("augment.hflip")
def test_hflip_mirrors_only_the_masked_images_of_odd_width(student):
    images = _images()
    given = student.put(images)
    out = check.array(student.call("augment.hflip", given, [True, False, True]), "hflip's out", images.shape, np.uint8)
    assert np.array_equal(out[[0, 2]], images[[0, 2], :, ::-1]) and np.array_equal(out[1], images[1])
    check.equal(student.get(given), images, "the images given to hflip (left unchanged)")


@pytest.mark.graded("augment.crop")
def test_crop_offsets_per_image_against_explicit_padding(student):
    images = _images()
    offsets = np.array([[0, 4], [2, 2], [4, 1]])
    given = student.put(images)
    out = check.array(student.call("augment.crop", given, offsets, padding=2, mode="edge"), "crop's out", images.shape,
                      np.uint8)
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    for i, (dy, dx) in enumerate(offsets):
        assert np.array_equal(out[i], padded[i, dy:dy + 9, dx:dx + 7]), f"crop's out[{i}] is not its window"
    check.equal(student.get(given), images, "the images given to crop (left unchanged)")


@pytest.mark.graded("augment.cutout")
def test_cutout_clips_at_the_corner_and_leaves_the_rest(student):
    images = _images()
    given = student.put(images)
    out = check.array(student.call("augment.cutout", given, [[0, 0], [8, 6], [4, 3]], size=[4, 3, 0], fill=9),
                      "cutout's out", images.shape, np.uint8)
    assert (out[0, :2, :2] == 9).all() and np.array_equal(out[0, 2:], images[0, 2:])
    assert (out[1, 7:, 5:] == 9).all() and np.array_equal(out[1, :7], images[1, :7])
    assert np.array_equal(out[2], images[2])
    check.equal(student.get(given), images, "the images given to cutout (left unchanged)")


@pytest.mark.graded("augment._contrast_block")
def test_contrast_of_one_keeps_and_two_doubles_the_distance_to_grey(student):
    images = np.full((1, 4, 4, 3), 100, np.uint8)
    images[0, 0, 0] = 120
    check.equal(student.call("augment.adjust_contrast", images, 1.0), images, "adjust_contrast's out for factor 1")
    grey = np.float32(100 + 20 / 16)
    given = student.put(images)
    doubled = check.array(student.call("augment.adjust_contrast", given, 2.0), "adjust_contrast's out for factor 2",
                          images.shape, np.uint8).astype(np.float32)
    np.testing.assert_allclose(doubled[0, 0, 0], np.clip(np.round(2 * 120 - grey), 0, 255), atol=1)
    check.equal(student.get(given), images, "the images given to adjust_contrast (left unchanged)")


@pytest.mark.graded("augment._rotate_block")
def test_rotation_by_zero_degrees_is_the_identity_and_360_too(student):
    images = _images(height=8, width=8)
    check.equal(student.call("augment.rotate", images, 0.0), images, "rotate's out by 0 degrees")
    given = student.put(images)
    turned = check.array(student.call("augment.rotate", given, 360.0), "rotate's out by 360 degrees", images.shape,
                         np.uint8)
    assert np.abs(turned.astype(int) - images).max() <= 1
    check.equal(student.get(given), images, "the images given to rotate (left unchanged)")


@pytest.mark.graded("nn.losses.log_softmax")
def test_log_softmax_matches_torch_for_huge_logits(student):
    logits = np.array([[1e4, -1e4, 0.0], [3.0, 3.0, 3.0]])
    expected = torch.log_softmax(torch.tensor(logits), dim=1).numpy()
    out = check.like(student.call("nn.losses.log_softmax", logits), expected, "log_softmax's out")
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.graded("nn.losses.softmax_cross_entropy")
def test_cross_entropy_and_gradient_match_torch_autograd(student):
    rng = np.random.default_rng(3)
    logits, y = rng.standard_normal((6, 4)) * 5, rng.integers(0, 4, 6)
    loss, dlogits = check.results(student.call("nn.losses.softmax_cross_entropy", logits, y), "softmax_cross_entropy", 2)
    reference = torch.tensor(logits, requires_grad=True)
    torch_loss = F.cross_entropy(reference, torch.tensor(y))
    torch_loss.backward()
    assert check.scalar(loss, "softmax_cross_entropy's loss") == pytest.approx(torch_loss.item(), rel=1e-12)
    check.like(dlogits, reference.grad.numpy(), "softmax_cross_entropy's dlogits")
    np.testing.assert_allclose(dlogits, reference.grad.numpy(), rtol=1e-10, atol=1e-15)


# ----------------------------------------------------------------------------- nn (hidden variants)
@pytest.mark.graded("nn.conv.conv2d_forward")
def test_conv_with_stride_three_and_a_wide_kernel(student):
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((1, 2, 10, 9)), rng.standard_normal((3, 2, 2, 4)), rng.standard_normal(3)
    out, _ = check.results(student.call("nn.conv.conv2d_forward", x, w, b, stride=3, padding=2), "conv2d_forward", 2)
    expected = F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=3, padding=2).numpy()
    check.close(out, expected, "conv2d_forward's out", 1e-10)


@pytest.mark.graded("nn.conv.conv2d_backward")
def test_conv_backward_of_a_single_channel_image(student):
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((3, 1, 5, 5)), rng.standard_normal((2, 1, 3, 3)), rng.standard_normal(2)
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    expected = F.conv2d(*tensors)
    out, cache = check.results(student.call("nn.conv.conv2d_forward", x, w, b), "conv2d_forward", 2)
    check.like(out, expected.detach().numpy(), "conv2d_forward's out")
    dout = rng.standard_normal(tuple(expected.shape))
    grads = check.results(student.call("nn.conv.conv2d_backward", dout, cache), "conv2d_backward", 3)
    expected.backward(torch.tensor(dout))
    for ours, tensor, name in zip(grads, tensors, ("dx", "dw", "db"), strict=True):
        check.close(ours, tensor.grad.numpy(), f"conv2d_backward's {name}", 1e-9)


@pytest.mark.graded("nn.conv.maxpool2d_backward")
def test_maxpool_gives_a_tied_window_gradient_to_one_element(student):
    _, cache = check.results(student.call("nn.conv.maxpool2d_forward", np.ones((1, 1, 2, 2)), 2, 2), "maxpool2d_forward", 2)
    dx = check.array(student.call("nn.conv.maxpool2d_backward", np.array([[[[5.0]]]]), cache), "maxpool2d_backward's dx",
                     (1, 1, 2, 2))
    assert dx.sum() == 5.0 and (dx != 0).sum() == 1 and dx[0, 0, 0, 0] == 5.0, (
        f"maxpool2d_backward's dx for one window of four tied maxima is {dx.ravel().tolist()}, expected 5.0 on one "
        "element (the first maximum) and 0 on the others")


@pytest.mark.graded("nn.layers.linear_backward")
def test_linear_backward_of_one_row(student):
    rng = np.random.default_rng(13)
    x, w, b = rng.standard_normal((1, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    dout = np.array([[1.0, -2.0]])
    _, cache = student.call("nn.layers.linear_forward", x, w, b)
    grads = check.results(student.call("nn.layers.linear_backward", dout, cache), "linear_backward", 3)
    for ours, expected, name in zip(grads, (dout @ w.T, x.T @ dout, dout[0]), ("dx", "dW", "db"), strict=True):
        check.like(ours, expected, f"linear_backward's {name}")  # db sums over the rows: (2,), not (1, 2)
        assert np.allclose(ours, expected), f"linear_backward's {name} differs from the expected values"


@pytest.mark.graded("nn.dropout.dropout_forward")
def test_dropout_keeps_the_expected_value_and_drops_about_p(student):
    x = np.ones((200, 500))
    out, _ = check.results(student.call("nn.dropout.dropout_forward", x, 0.25, np.random.default_rng(0)), "dropout_forward", 2)
    check.like(out, x, "dropout_forward's out")
    assert abs(out.mean() - 1) < 0.01 and abs((out == 0).mean() - 0.25) < 0.01 and set(np.unique(out)) == {0, 1 / 0.75}


@pytest.mark.graded("nn.batchnorm.batchnorm_forward")
def test_training_batchnorm_output_has_zero_mean_and_unit_variance_before_the_affine_map(student):
    rng = np.random.default_rng(14)
    x = 5 + 3 * rng.standard_normal((64, 4))
    out, _ = check.results(student.call("nn.batchnorm.batchnorm_forward", x, np.ones(4), np.zeros(4), np.zeros(4),
                                        np.ones(4), training=True), "batchnorm_forward", 2)
    check.like(out, x, "batchnorm_forward's out")
    assert np.allclose(out.mean(axis=0), 0, atol=1e-12) and np.allclose(out.var(axis=0), 1, atol=1e-3)


@pytest.mark.graded("nn.optim.SGD.step")
def test_plain_sgd_without_momentum(student):
    w = student.put(np.array([1.0, 2.0]))
    params = student.put({"w": w})
    student.method(student.call("nn.optim.SGD", params, lr=0.5), "step", {"w": np.array([2.0, -2.0])})
    check.equal(check.same_keys(student.get(params), ["w"], "SGD's params")["w"], np.array([0.0, 3.0]), "params['w']")
    check.equal(student.get(w), np.array([0.0, 3.0]), "params['w'] (the array given, updated in place)")


@pytest.mark.graded("nn.optim.Adam.step")
def test_adam_keeps_float32_and_moves_by_about_lr_first(student):
    w = student.put(np.zeros(3, np.float32))
    params = student.put({"w": w})
    student.method(student.call("nn.optim.Adam", params, lr=0.1), "step", {"w": np.array([1.0, -4.0, 1e-3], np.float32)})
    moved = check.same_keys(student.get(params), ["w"], "Adam's params")["w"]
    check.array(moved, "params['w']", (3,), np.float32)
    assert np.allclose(moved, [-0.1, 0.1, -0.1], rtol=1e-4), "params['w'] did not move by about lr"
    check.equal(student.get(w), moved, "params['w'] (the array given, updated in place)")
