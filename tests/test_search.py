"""Tests for helpers.search: raw-pixel preprocessing and the random search sampler."""
import numpy as np
import pytest

from helpers.search import centred_pixels, random_configurations


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


def test_random_configurations_are_seeded_and_in_range():
    space = {"hidden": [50, 100], "lr": (1e-4, 1e-2)}
    first = random_configurations(space, trials=30, seed=3)
    assert first == random_configurations(space, trials=30, seed=3)
    assert first != random_configurations(space, trials=30, seed=4)
    assert {c["hidden"] for c in first} == {50, 100}
    assert all(1e-4 <= c["lr"] <= 1e-2 for c in first)


@pytest.mark.parametrize("bad", [(0.0, 1.0), (2.0, 1.0), "abc", (1, 2, 3)])
def test_random_configurations_reject_bad_ranges(bad):
    with pytest.raises(ValueError, match="lr"):
        random_configurations({"lr": bad}, trials=1)
