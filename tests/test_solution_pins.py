"""Instructor-only (not in the student release): the solution reproduces the seed runs bit for bit.

A student's correct code may round differently; tests/test_nn.py checks the same runs to rounding.
"""
import numpy as np
import pytest

from test_nn import SEED_RECIPES, seed_run


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init, sizes, recipe", SEED_RECIPES)
def test_seed_runs_reproduce_the_hand_written_loop_bit_for_bit(dtype, init, sizes, recipe):
    model, expected = seed_run(dtype, init, sizes, recipe)
    for name, value in expected.items():
        np.testing.assert_array_equal(model.params[name], value, err_msg=name)
