"""Failure messages teach: plausible mistakes, each graded, get a message naming the wrong output, its error, where
it first differs and the case (instructor-only: it grades copies of the solution with mistakes planted)."""
import sys

import pytest

from helpers.core import config
from test_graded_kinds import planted_copy

sys.path.insert(0, str(config.REPO_ROOT / "scripts"))
import grade  # scripts/grade.py

MISTAKES = {  # a mistake students make -> (the function, what its failures must name)
    "dx slightly off in batch norm's backward": ("nn/batchnorm.py", """
        _batchnorm_backward = batchnorm_backward

        def batchnorm_backward(dout, cache):
            dx, dgamma, dbeta = _batchnorm_backward(dout, cache)
            return dx * 1.01, dgamma, dbeta
    """, "nn.batchnorm.batchnorm_backward", ["batchnorm_backward's dx in training mode",
                                             "batchnorm_backward's dx in evaluation mode"]),
    "the mean forgotten in the loss's gradient": ("nn/losses.py", """
        _softmax_cross_entropy = softmax_cross_entropy

        def softmax_cross_entropy(logits, y):
            loss, dlogits = _softmax_cross_entropy(logits, y)
            return loss, dlogits * len(logits)
    """, "nn.losses.softmax_cross_entropy", ["softmax_cross_entropy's dlogits"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("mistakes")
    copy = planted_copy(root, {file: code for file, code, _, _ in MISTAKES.values()})
    return grade.grade(copy, hidden=None, only=",".join(function for _, _, function, _ in MISTAKES.values()))


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_plausible_mistake_is_told_which_output_is_wrong_by_how_much_and_where(graded, mistake):
    _, _, function, outputs = MISTAKES[mistake]
    messages = [r["message"] for r in graded.values() if r["function"] == function and not r["passed"]]
    assert messages, f"{mistake}: no graded test of {function} failed"
    for output in outputs:
        told = [m for m in messages if output in m]
        assert told, f"{mistake}: no failure names {output!r}: {messages}"
        assert all("max relative error" in m and "first differs at [" in m and "float64, shape (" in m for m in told), told
