"""Hidden graded tests: never shipped to students (see instructor/release.py), run by scripts/grade.py.

Like ``tests/test_graded.py``, they call the student's code only through the ``student`` fixture
and judge it with this tree's code.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.nn import max_relative_error


def _images(n=3, height=9, width=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


@pytest.mark.graded("augment.hflip")
def test_hflip_mirrors_only_the_masked_images_of_odd_width(student):
    images = _images()
    given = student.put(images)
    out = student.call("augment.hflip", given, [True, False, True])
    assert np.array_equal(out[[0, 2]], images[[0, 2], :, ::-1]) and np.array_equal(out[1], images[1])
    assert np.array_equal(student.get(given), images)  # the input is left alone


@pytest.mark.graded("augment.crop")
def test_crop_offsets_per_image_against_explicit_padding(student):
    images = _images()
    offsets = np.array([[0, 4], [2, 2], [4, 1]])
    out = student.call("augment.crop", images, offsets, padding=2, mode="edge")
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    for i, (dy, dx) in enumerate(offsets):
        assert np.array_equal(out[i], padded[i, dy:dy + 9, dx:dx + 7])


@pytest.mark.graded("augment.cutout")
def test_cutout_clips_at_the_corner_and_leaves_the_rest(student):
    images = _images()
    out = student.call("augment.cutout", images, [[0, 0], [8, 6], [4, 3]], size=[4, 3, 0], fill=9)
    assert (out[0, :2, :2] == 9).all() and np.array_equal(out[0, 2:], images[0, 2:])
    assert (out[1, 7:, 5:] == 9).all() and np.array_equal(out[1, :7], images[1, :7])
    assert np.array_equal(out[2], images[2])


@pytest.mark.graded("augment._contrast_block")
def test_contrast_of_one_keeps_and_two_doubles_the_distance_to_grey(student):
    images = np.full((1, 4, 4, 3), 100, np.uint8)
    images[0, 0, 0] = 120
    assert np.array_equal(student.call("augment.adjust_contrast", images, 1.0), images)
    grey = np.float32(100 + 20 / 16)
    doubled = student.call("augment.adjust_contrast", images, 2.0).astype(np.float32)
    np.testing.assert_allclose(doubled[0, 0, 0], np.clip(np.round(2 * 120 - grey), 0, 255), atol=1)


@pytest.mark.graded("augment._rotate_block")
def test_rotation_by_zero_degrees_is_the_identity_and_360_too(student):
    images = _images(height=8, width=8)
    assert np.array_equal(student.call("augment.rotate", images, 0.0), images)
    assert np.abs(student.call("augment.rotate", images, 360.0).astype(int) - images).max() <= 1


@pytest.mark.graded("nn.losses.log_softmax")
def test_log_softmax_matches_torch_for_huge_logits(student):
    logits = np.array([[1e4, -1e4, 0.0], [3.0, 3.0, 3.0]])
    np.testing.assert_allclose(student.call("nn.losses.log_softmax", logits),
                               torch.log_softmax(torch.tensor(logits), dim=1).numpy(), rtol=1e-12)


@pytest.mark.graded("nn.losses.softmax_cross_entropy")
def test_cross_entropy_and_gradient_match_torch_autograd(student):
    rng = np.random.default_rng(3)
    logits, y = rng.standard_normal((6, 4)) * 5, rng.integers(0, 4, 6)
    loss, dlogits = student.call("nn.losses.softmax_cross_entropy", logits, y)
    reference = torch.tensor(logits, requires_grad=True)
    torch_loss = F.cross_entropy(reference, torch.tensor(y))
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, reference.grad.numpy(), rtol=1e-10, atol=1e-15)


# ----------------------------------------------------------------------------- nn (hidden variants)
@pytest.mark.graded("nn.conv.conv2d_forward")
def test_conv_with_stride_three_and_a_wide_kernel(student):
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((1, 2, 10, 9)), rng.standard_normal((3, 2, 2, 4)), rng.standard_normal(3)
    out, _ = student.call("nn.conv.conv2d_forward", x, w, b, stride=3, padding=2)
    expected = F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=3, padding=2).numpy()
    assert out.shape == expected.shape and max_relative_error(out, expected) < 1e-10


@pytest.mark.graded("nn.conv.conv2d_backward")
def test_conv_backward_of_a_single_channel_image(student):
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((3, 1, 5, 5)), rng.standard_normal((2, 1, 3, 3)), rng.standard_normal(2)
    out, cache = student.call("nn.conv.conv2d_forward", x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = student.call("nn.conv.conv2d_backward", dout, cache)
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    F.conv2d(*tensors).backward(torch.tensor(dout))
    for ours, tensor in zip((dx, dw, db), tensors):
        assert max_relative_error(ours, tensor.grad.numpy()) < 1e-9


@pytest.mark.graded("nn.conv.maxpool2d_backward")
def test_maxpool_gives_a_tied_window_gradient_to_one_element(student):
    _, cache = student.call("nn.conv.maxpool2d_forward", np.ones((1, 1, 2, 2)), 2, 2)
    dx = student.call("nn.conv.maxpool2d_backward", np.array([[[[5.0]]]]), cache)
    assert dx.sum() == 5.0 and (dx != 0).sum() == 1 and dx[0, 0, 0, 0] == 5.0


@pytest.mark.graded("nn.layers.linear_backward")
def test_linear_backward_of_one_row(student):
    rng = np.random.default_rng(13)
    x, w, b = rng.standard_normal((1, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    _, cache = student.call("nn.layers.linear_forward", x, w, b)
    dx, dw, db = student.call("nn.layers.linear_backward", np.array([[1.0, -2.0]]), cache)
    assert np.allclose(dw, x.T @ [[1.0, -2.0]]) and np.allclose(db, [1.0, -2.0]) and np.allclose(dx, [[1.0, -2.0]] @ w.T)


@pytest.mark.graded("nn.dropout.dropout_forward")
def test_dropout_keeps_the_expected_value_and_drops_about_p(student):
    out, _ = student.call("nn.dropout.dropout_forward", np.ones((200, 500)), 0.25, np.random.default_rng(0))
    assert abs(out.mean() - 1) < 0.01 and abs((out == 0).mean() - 0.25) < 0.01 and set(np.unique(out)) == {0, 1 / 0.75}


@pytest.mark.graded("nn.batchnorm.batchnorm_forward")
def test_training_batchnorm_output_has_zero_mean_and_unit_variance_before_the_affine_map(student):
    rng = np.random.default_rng(14)
    x = 5 + 3 * rng.standard_normal((64, 4))
    out, _ = student.call("nn.batchnorm.batchnorm_forward", x, np.ones(4), np.zeros(4), np.zeros(4), np.ones(4),
                          training=True)
    assert np.allclose(out.mean(axis=0), 0, atol=1e-12) and np.allclose(out.var(axis=0), 1, atol=1e-3)


@pytest.mark.graded("nn.optim.SGD.step")
def test_plain_sgd_without_momentum(student):
    params = student.put({"w": np.array([1.0, 2.0])})
    student.method(student.call("nn.optim.SGD", params, lr=0.5), "step", {"w": np.array([2.0, -2.0])})
    assert np.array_equal(student.get(params)["w"], [0.0, 3.0])


@pytest.mark.graded("nn.optim.Adam.step")
def test_adam_keeps_float32_and_moves_by_about_lr_first(student):
    params = student.put({"w": np.zeros(3, np.float32)})
    student.method(student.call("nn.optim.Adam", params, lr=0.1), "step", {"w": np.array([1.0, -4.0, 1e-3], np.float32)})
    moved = student.get(params)["w"]
    assert moved.dtype == np.float32 and np.allclose(moved, [-0.1, 0.1, -0.1], rtol=1e-4)
