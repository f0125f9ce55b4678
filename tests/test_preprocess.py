"""Tests for helpers.preprocess: statistics from the training images only, layouts, errors."""
import numpy as np
import pytest

from helpers.preprocess import centred_pixels, channel_stats, to_nchw


def test_centred_pixels_use_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (20, 4, 4, 3), dtype=np.uint8)
    other = rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    train_rows, other_rows = centred_pixels(train, other)
    assert train_rows.shape == (20, 48) and other_rows.shape == (5, 48)
    assert train_rows.dtype == np.float32
    np.testing.assert_allclose(train_rows.mean(axis=0), 0, atol=1e-5)
    assert train_rows.std() == pytest.approx(1, rel=1e-5)
    flat = train.reshape(20, -1).astype(np.float64)
    expected = (other.reshape(5, -1) - flat.mean(axis=0)) / (flat - flat.mean(axis=0)).std()
    np.testing.assert_allclose(other_rows, expected, rtol=1e-5, atol=1e-5)


def test_to_nchw_and_channel_stats():
    images = np.random.default_rng(0).integers(0, 256, (4, 5, 6, 3), dtype=np.uint8)
    mean, std = channel_stats(images)
    np.testing.assert_allclose(mean, images.reshape(-1, 3).mean(axis=0) / 255)
    np.testing.assert_allclose(std, images.reshape(-1, 3).std(axis=0) / 255)
    X = to_nchw(images, mean, std)
    assert X.shape == (4, 3, 5, 6) and X.dtype == np.float32 and X.flags.c_contiguous
    np.testing.assert_allclose(X.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(X.std(axis=(0, 2, 3)), 1, atol=1e-5)
    assert to_nchw(images[..., 0]).shape == (4, 1, 5, 6)


def test_to_nchw_refuses_images_that_are_not_uint8():
    with pytest.raises(ValueError, match=r"\bimages\b"):
        to_nchw(np.ones((2, 28, 28)))
