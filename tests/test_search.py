"""Tests for helpers.studies.search: the random search sampler."""
import pytest

from helpers.studies.search import random_configurations


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
