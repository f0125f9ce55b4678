"""The convolution and pooling passes are vectorised, as helpers/nn/conv.py asks: no Python loop over images or
pixels (a loop over the kernel's rows and columns, or over window offsets, is fine).

Checked without a clock: the number of Python lines the pass runs in helpers/ (traced) does not grow with the
batch or the image size, which it would with a loop over either.
"""
import gc
import sys
from pathlib import Path

import numpy as np
import pytest

import helpers
from helpers.nn import conv

HELPERS = str(Path(helpers.__file__).resolve().parent)


def lines_run(function, *args, **kwargs):
    """How many lines of helpers/ ``function(*args, **kwargs)`` runs (Python's trace events), and its result.

    The garbage collector is off meanwhile: a collection could run some earlier object's finaliser (a
    progress bar's close, say) inside the traced call and count lines the function never ran."""
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        if not frame.f_code.co_filename.startswith(HELPERS):
            return None
        if event == "line":
            count += 1
        return trace

    collecting = gc.isenabled()
    gc.disable()
    sys.settrace(trace)
    try:
        result = function(*args, **kwargs)
    finally:
        sys.settrace(None)
        if collecting:
            gc.enable()
    return count, result


def small_and_large(rng, channels=3):
    return [rng.standard_normal(shape) for shape in ((2, channels, 6, 6), (8, channels, 12, 12))]


def test_conv2d_passes_run_as_many_python_lines_for_any_batch_or_image_size():
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    counts = {}
    for x in small_and_large(rng):
        forward, (out, cache) = lines_run(conv.conv2d_forward, x, W, b, stride=1, padding=1)
        backward, _ = lines_run(conv.conv2d_backward, rng.standard_normal(out.shape), cache)
        counts[x.shape] = forward, backward
    small, large = counts.values()
    assert large == small, (f"conv2d_forward and conv2d_backward ran {small} Python lines on a batch of 2 6x6 images "
                            f"and {large} on 8 12x12 ones: loop over the kernel's offsets, not over images or pixels")


@pytest.mark.parametrize("kind", ["maxpool2d", "avgpool2d"])
def test_pooling_passes_run_as_many_python_lines_for_any_batch_or_image_size(kind):
    rng = np.random.default_rng(1)
    counts = {}
    for x in small_and_large(rng):
        forward, (out, cache) = lines_run(getattr(conv, f"{kind}_forward"), x, size=2, stride=2)
        backward, _ = lines_run(getattr(conv, f"{kind}_backward"), rng.standard_normal(out.shape), cache)
        counts[x.shape] = forward, backward
    small, large = counts.values()
    assert large == small, (f"{kind}_forward and _backward ran {small} Python lines on a batch of 2 6x6 images and "
                            f"{large} on 8 12x12 ones: loop over window offsets, not over images or pixels")


def test_the_line_count_sees_a_loop_over_images():
    def looped(x):
        out = np.empty_like(x)
        for i in range(len(x)):
            out[i] = x[i] * 2
        return out

    looped.__code__ = looped.__code__.replace(co_filename=str(Path(HELPERS) / "looped.py"))
    assert lines_run(looped, np.zeros((2, 3)))[0] < lines_run(looped, np.zeros((8, 3)))[0]
