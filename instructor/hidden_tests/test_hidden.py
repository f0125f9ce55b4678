"""Hidden graded tests: never shipped to students (see instructor/release.py), run by scripts/grade.py."""
import numpy as np
import pytest
import torch

from helpers import augment
from helpers.nn import softmax_cross_entropy
from helpers.nn.losses import log_softmax


def _images(n=3, height=9, width=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


@pytest.mark.graded("augment.hflip")
def test_hflip_mirrors_only_the_masked_images_of_odd_width():
    images = _images()
    out = augment.hflip(images, [True, False, True])
    assert np.array_equal(out[[0, 2]], images[[0, 2], :, ::-1]) and np.array_equal(out[1], images[1])
    assert out is not images


@pytest.mark.graded("augment.crop")
def test_crop_offsets_per_image_against_explicit_padding():
    images = _images()
    offsets = np.array([[0, 4], [2, 2], [4, 1]])
    out = augment.crop(images, offsets, padding=2, mode="edge")
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    for i, (dy, dx) in enumerate(offsets):
        assert np.array_equal(out[i], padded[i, dy:dy + 9, dx:dx + 7])


@pytest.mark.graded("augment.cutout")
def test_cutout_clips_at_the_corner_and_leaves_the_rest():
    images = _images()
    out = augment.cutout(images, [[0, 0], [8, 6], [4, 3]], size=[4, 3, 0], fill=9)
    assert (out[0, :2, :2] == 9).all() and np.array_equal(out[0, 2:], images[0, 2:])
    assert (out[1, 7:, 5:] == 9).all() and np.array_equal(out[1, :7], images[1, :7])
    assert np.array_equal(out[2], images[2])


@pytest.mark.graded("augment._contrast_block")
def test_contrast_of_one_keeps_and_two_doubles_the_distance_to_grey():
    images = np.full((1, 4, 4, 3), 100, np.uint8)
    images[0, 0, 0] = 120
    assert np.array_equal(augment.adjust_contrast(images, 1.0), images)
    grey = np.float32(100 + 20 / 16)
    doubled = augment.adjust_contrast(images, 2.0).astype(np.float32)
    np.testing.assert_allclose(doubled[0, 0, 0], np.clip(np.round(2 * 120 - grey), 0, 255), atol=1)


@pytest.mark.graded("augment._rotate_block")
def test_rotation_by_zero_degrees_is_the_identity_and_360_too():
    images = _images(height=8, width=8)
    assert np.array_equal(augment.rotate(images, 0.0), images)
    assert np.abs(augment.rotate(images, 360.0).astype(int) - images).max() <= 1


@pytest.mark.graded("nn.losses.log_softmax")
def test_log_softmax_matches_torch_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [3.0, 3.0, 3.0]])
    np.testing.assert_allclose(log_softmax(logits), torch.log_softmax(torch.tensor(logits), dim=1).numpy(), rtol=1e-12)


@pytest.mark.graded("nn.losses.softmax_cross_entropy")
def test_cross_entropy_and_gradient_match_torch_autograd():
    rng = np.random.default_rng(3)
    logits, y = rng.standard_normal((6, 4)) * 5, rng.integers(0, 4, 6)
    loss, dlogits = softmax_cross_entropy(logits, y)
    reference = torch.tensor(logits, requires_grad=True)
    torch_loss = torch.nn.functional.cross_entropy(reference, torch.tensor(y))
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, reference.grad.numpy(), rtol=1e-10, atol=1e-15)
