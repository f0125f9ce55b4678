"""The graded tests' judging of a student's result: its kind first (type, length, keys, shape, dtype, finite), then its value.

A graded test gets plain data back from the student's worker (``grading.boundary.Student``)
and must not let a result of the wrong kind pass a comparison meant for values: an empty array
passes ``loss == pytest.approx(x)`` and ``np.all(...)``; ``np.allclose`` and
``np.testing.assert_allclose`` broadcast a ``(1, ...)`` array or a scalar against a full one;
``zip`` stops at the shorter sequence; a loop over the student's keys checks nothing when the
dict comes back empty; ``np.array_equal`` takes float values for uint8 images. Every check
here takes the expected kind from the test's own reference (never from the student's result)
and fails with a message that names the output, e.g. ``dx has shape (0,), expected (5, 6)``.

Imported by the graded tests, visible (``tests/``) and hidden (``instructor/hidden_tests/``);
it ships with the visible tests and is packed for Gradescope (``grading/gradescope.py``).
"""
from __future__ import annotations

import numpy as np

from helpers.nn import max_relative_error


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return f"a {type(value).__name__}" + (f" of length {len(value)}" if isinstance(value, tuple | list | dict) else "")


def array(value, name: str, shape, dtype=np.float64, finite: bool = True) -> np.ndarray:
    """``value`` after checking that it is a NumPy array of ``shape`` and ``dtype`` (None: any), finite unless told."""
    shape = tuple(shape)
    assert isinstance(value, np.ndarray), f"{name} is {_kind(value)}, expected a NumPy array of shape {shape}"
    assert value.shape == shape, f"{name} has shape {value.shape}, expected {shape}"
    if dtype is not None:
        assert value.dtype == np.dtype(dtype), f"{name} has dtype {value.dtype}, expected {np.dtype(dtype)}"
    if finite and value.dtype.kind in "fc":
        bad = int(np.size(value) - np.isfinite(value).sum())
        assert not bad, f"{name} has {bad} NaN or infinite entries"
    return value


def like(value, expected, name: str, finite: bool = True) -> np.ndarray:
    """``value`` after checking that it is an array of ``expected``'s shape and dtype."""
    expected = np.asarray(expected)
    return array(value, name, expected.shape, expected.dtype, finite)


def first_difference(value: np.ndarray, expected: np.ndarray, tolerance: float) -> str:
    """Where ``value`` first leaves ``expected`` by ``tolerance`` or more (``max_relative_error``'s measure, entry by
    entry, row-major order), with both values there: ``; first differs at [0, 3]: 1.25 instead of 0.75 (...)``."""
    value, expected = np.asarray(value, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    gap = np.abs(value - expected) / np.maximum(1e-8, np.abs(value) + np.abs(expected))
    wrong = np.argwhere(gap >= tolerance)
    if not len(wrong):
        return ""
    index = tuple(int(i) for i in wrong[0])
    return (f"; first differs at {list(index)}: {value[index]:.6g} instead of {expected[index]:.6g}"
            f" ({len(wrong)} of {expected.size} entries differ)")


def against_finite_differences(value, expected, numeric) -> str:
    """``; against finite differences: ...``: the gradient ``value``'s and the reference ``expected``'s max relative
    error from ``numeric()`` (finite differences of the reference function, computed only when asked), or ``""``."""
    if numeric is None:
        return ""
    estimate = np.asarray(numeric(), dtype=np.float64)
    return (f"; against finite differences: max relative error {max_relative_error(value, estimate):.3g} "
            f"(the reference's {max_relative_error(expected, estimate):.3g})")


def close(value, expected, name: str, tolerance: float, numeric=None) -> np.ndarray:
    """``value`` of ``expected``'s kind, within ``tolerance`` of it in ``max_relative_error``; a failure says by how
    much, where it first differs (see :func:`first_difference`), and the array's shape and dtype; for a gradient,
    ``numeric`` (a function of no arguments giving the finite-difference estimate) adds its error against that."""
    like(value, expected, name)
    error = max_relative_error(value, expected)
    expected = np.asarray(expected)
    assert error < tolerance, (f"{name}: max relative error {error:.3g} from the expected values (tolerance "
                               f"{tolerance:g}){against_finite_differences(value, expected, numeric)}"
                               f"{first_difference(value, expected, tolerance)}; {expected.dtype}, shape {expected.shape}")
    return value


def equal(value, expected, name: str) -> np.ndarray:
    """``value`` of ``expected``'s kind (shape and dtype) and equal to it entry for entry; a failure says in how many
    entries it differs and where first, with both values there."""
    expected = np.asarray(expected)
    like(value, expected, name, finite=False)
    wrong = value != expected
    if np.any(wrong):
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        raise AssertionError(f"{name} differs from the expected values in {int(wrong.sum())} of {expected.size} entries; "
                             f"first differs at {list(index)}: {value[index]} instead of {expected[index]}; "
                             f"{expected.dtype}, shape {expected.shape}")
    return value


def scalar(value, name: str) -> float:
    """``value`` as a float after checking that it is one finite real number (a Python or NumPy scalar, or a 0-d array)."""
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)
    zero_d = isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf"
    assert number or zero_d, f"{name} is {_kind(value)}, expected one number"
    assert np.isfinite(value), f"{name} is {value}, expected a finite number"
    return float(value)


def results(value, name: str, count: int) -> tuple:
    """``value`` after checking that it is a tuple of ``count`` results (what ``return a, b`` gives)."""
    assert isinstance(value, tuple), f"{name} returned {_kind(value)}, expected a tuple of {count}"
    assert len(value) == count, f"{name} returned {len(value)} results, expected {count}"
    return value


def same_keys(value, expected, name: str) -> dict:
    """``value`` after checking that it is a dict with exactly ``expected``'s keys."""
    assert isinstance(value, dict), f"{name} is {_kind(value)}, expected a dict"
    assert set(value) == set(expected), f"{name} has keys {sorted(value)}, expected {sorted(expected)}"
    return value


def close_arrays(value, expected: dict, name: str, tolerance: float) -> dict:
    """A dict with ``expected``'s keys, each array of its kind and within ``tolerance`` (``max_relative_error``)."""
    same_keys(value, expected, name)
    for key in expected:
        close(value[key], expected[key], f"{name}[{key!r}]", tolerance)
    return value
