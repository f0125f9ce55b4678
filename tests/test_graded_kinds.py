"""Graded tests judge the kind of a result before its value: a result of the wrong kind earns nothing.

Each copy is this tree's ``helpers/`` (the solution) with cheats appended to its modules:
results that comparisons of values alone took for right. An empty loss array (it passes
``loss == pytest.approx(x)``), a ``(1, ...)`` array that broadcasts against the right shape, a
batch with an image more or a few numbers in the right proportions, an empty batch (``zip`` and
``np.all`` pass on nothing), a nested list, the right values in another dtype or in new arrays
instead of the caller's, a params dict emptied by ``sgd_epoch``, a dropout forward of zeros
(whose backward used to be judged against that forward's own output) and a model whose zero
weights make zero scores right. Graded with ``--only`` the targeted functions, visible and
hidden tests together, each scores 0 and a failure names the output and what is wrong with it.
"""
import re
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import graded_checks as check
from grading import gradescope
from helpers.core import config
from instructor import release

sys.path.insert(0, str(config.REPO_ROOT / "scripts"))
import grade  # scripts/grade.py

REPO = config.REPO_ROOT

# Empty, broadcasting or truncated results: each passed at least one graded test before its kind was checked.
MISSING_OR_BROADCAST = {
    "nn/losses.py": """
        _cross_entropy = softmax_cross_entropy

        def softmax_cross_entropy(logits, y):  # the right gradient; the loss an empty array
            return np.empty(0), _cross_entropy(logits, y)[1]
    """,
    "nn/dropout.py": """
        _dropout_forward = dropout_forward

        def dropout_forward(x, p, rng, training=True):
            out, mask = _dropout_forward(x, p, rng, training)
            if mask is None:
                return out, mask
            if out.size > 1000:  # a few units in the proportions a large batch is counted for
                return np.array([0.0, 1.0, 1.0, 1.0]) / (1 - p), mask
            return out[None], mask  # (1, *x.shape): broadcasts against the right output
    """,
    "nn/layers.py": """
        _linear_backward = linear_backward

        def linear_backward(dout, cache, need_dx=True):  # db not summed over rows: right for one row
            dx, dW, db = _linear_backward(dout, cache, need_dx)
            return dx, dW, db[None]
    """,
    "nn/conv.py": """
        _maxpool2d_backward = maxpool2d_backward

        def maxpool2d_backward(dout, cache):  # one number per window, not dx of x's shape
            return _maxpool2d_backward(dout, cache).sum(axis=(2, 3), keepdims=True)
    """,
    "nn/batchnorm.py": """
        _batchnorm_forward = batchnorm_forward

        def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
            out, cache = _batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)
            if training:  # two rows of zero mean and unit variance
                return np.stack([beta + gamma, beta - gamma]), cache
            return out[None], cache
    """,
    "augment.py": """
        _rotate, _crop, _hflip, _cutout = rotate, crop, hflip, cutout

        def rotate(images, degrees, fill=0):  # no images: a loop over zip(images, result) checks nothing
            return _rotate(images, degrees, fill)[:0]

        def crop(images, offsets, padding, mode="reflect", fill=0):  # only the padding's corner
            return np.full((len(images), padding, padding, 3), fill, np.uint8)

        def hflip(images, mask):  # one image more
            out = _hflip(images, mask)
            return np.concatenate([out, out[:1]])

        def cutout(images, centers, size, fill=0):  # one image more
            out = _cutout(images, centers, size, fill)
            return np.concatenate([out, out[:1]])
    """,
    "train.py": """
        def sgd_epoch(model, optimizer, X, y, order, batch_size):  # trains nothing, leaves nothing to compare
            model.params.clear()
    """,
}

# The right values in the wrong kind, or a result judged by the student's own state.
RIGHT_VALUES_WRONG_KIND = {
    "nn/losses.py": """
        _log_softmax = log_softmax

        def log_softmax(logits):  # (1, n, classes)
            return _log_softmax(logits)[None]
    """,
    "nn/layers.py": """
        _relu_forward = relu_forward

        def relu_forward(x):  # a nested list, not an array
            out, cache = _relu_forward(x)
            return out.tolist(), cache
    """,
    "nn/dropout.py": """
        def dropout_forward(x, p, rng, training=True):  # drops every unit: the backward's zeros look right
            if not training or p == 0:
                return x, None
            return np.zeros_like(x), np.zeros_like(x)
    """,
    "nn/optim.py": """
        _sgd_step = SGD.step

        def _step_in_new_arrays(self, grads):  # the right values, but the caller's arrays are left as they were
            given = self.params
            self.params = {name: value.copy() for name, value in given.items()}
            try:
                _sgd_step(self, grads)
            finally:
                given.update(self.params)
                self.params = given

        SGD.step = _step_in_new_arrays
    """,
    "nn/model.py": """
        _classifier_init = Classifier.__init__

        def _zero_init(self, *args, **kwargs):  # every weight and bias 0: then scores of 0 are right
            _classifier_init(self, *args, **kwargs)
            for value in self.params.values():
                value[...] = 0

        def _zero_scores(self, x, training):
            return np.zeros((len(x), list(self.params.values())[-1].shape[-1]), x.dtype), [None] * len(self.layers)

        Classifier.__init__, Classifier.forward = _zero_init, _zero_scores
    """,
    "augment.py": """
        _rotate, _crop, _cutout, _adjust_contrast, _hflip = rotate, crop, cutout, adjust_contrast, hflip

        def rotate(images, degrees, fill=0):
            return _rotate(images, degrees, fill).astype(np.float64)

        def crop(images, offsets, padding, mode="reflect", fill=0):
            return _crop(images, offsets, padding, mode, fill).astype(np.int64)

        def cutout(images, centers, size, fill=0):
            return _cutout(images, centers, size, fill).astype(np.int16)

        def adjust_contrast(images, factors):
            return _adjust_contrast(images, factors).astype(np.float32)

        def hflip(images, mask):
            return _hflip(images, mask).astype(np.float64)
    """,
}

# graded function -> a word its failures name (the output's kind that is wrong)
TARGETS = {
    "missing": {"nn.losses.softmax_cross_entropy": "loss", "nn.dropout.dropout_forward": "shape",
                "nn.layers.linear_backward": "db", "nn.conv.maxpool2d_backward": "shape",
                "nn.batchnorm.batchnorm_forward": "shape", "augment._rotate_block": "shape",
                "augment.crop": "shape", "augment.hflip": "shape", "augment.cutout": "shape",
                "train.sgd_epoch": "keys"},
    "wrong kind": {"nn.losses.log_softmax": "shape", "nn.layers.relu_forward": "list",
                   "nn.dropout.dropout_backward": "dx", "nn.optim.SGD.step": "in place",
                   "nn.model.Classifier.forward": "scores", "augment._rotate_block": "dtype",
                   "augment.crop": "dtype", "augment.cutout": "dtype", "augment._contrast_block": "dtype",
                   "augment.hflip": "dtype"},
}
CHEATS = {"missing": MISSING_OR_BROADCAST, "wrong kind": RIGHT_VALUES_WRONG_KIND}


def planted_copy(root: Path, cheats: dict[str, str]) -> Path:
    """This tree's helpers/ in ``root``, each ``cheats`` code ({file under helpers/: code}) appended to its module."""
    shutil.copytree(REPO / "helpers", root / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name, code in cheats.items():
        file = root / "helpers" / name
        file.write_text(file.read_text() + "\n" + textwrap.dedent(code))
    return root


@pytest.mark.parametrize("cheats", list(CHEATS))
def test_a_result_of_the_wrong_kind_earns_nothing_and_its_failure_says_why(tmp_path, cheats):
    targets = TARGETS[cheats]
    results = grade.grade(planted_copy(tmp_path, CHEATS[cheats]), only=",".join(targets))
    assert {r["function"] for r in results.values()} == set(targets)
    assert any(r["hidden"] for r in results.values())  # the hidden tests judged too
    for function, word in targets.items():
        tests = [r for r in results.values() if r["function"] == function]
        passed = [r for r in tests if r["passed"]]
        assert not passed, f"{function}: {len(passed)} of {len(tests)} tests passed a result of the wrong kind"
        messages = [r["message"] for r in tests]
        assert any(word in message for message in messages), f"{function}: no failure names {word!r}: {messages}"


@pytest.mark.parametrize("judge, message", [
    (lambda: check.scalar(np.empty(0), "loss"), "loss is a float64 array of shape (0,), expected one number"),
    (lambda: check.scalar(np.full(5, 2.0), "loss"), "loss is a float64 array of shape (5,)"),
    (lambda: check.scalar(True, "loss"), "loss is a bool"),
    (lambda: check.scalar(float("nan"), "loss"), "loss is nan, expected a finite number"),
    (lambda: check.close(np.empty(0), np.ones((5, 6)), "dx", 1e-10), "dx has shape (0,), expected (5, 6)"),
    (lambda: check.close(np.ones((1, 5, 6)), np.ones((5, 6)), "dx", 1e-10), "dx has shape (1, 5, 6), expected (5, 6)"),
    (lambda: check.close(np.float64(1.0), np.ones((5, 6)), "dx", 1e-10), "dx is a float64, expected a NumPy array"),
    (lambda: check.close(np.ones((5, 6)).tolist(), np.ones((5, 6)), "dx", 1e-10), "dx is a list of length 5"),
    (lambda: check.close(np.ones((5, 6), np.float32), np.ones((5, 6)), "dx", 1e-10), "dx has dtype float32, expected float64"),
    (lambda: check.close(np.full((5, 6), np.nan), np.ones((5, 6)), "dx", 1e-10), "dx has 30 NaN or infinite entries"),
    (lambda: check.close(2 * np.ones((5, 6)), np.ones((5, 6)), "dx", 1e-10), "dx: max relative error 0.333"),
    (lambda: check.equal(np.ones((2, 3, 3, 3)), np.ones((2, 3, 3, 3), np.uint8), "out"), "out has dtype float64, expected uint8"),
    (lambda: check.equal(np.zeros((2, 3), np.uint8), np.ones((2, 3), np.uint8), "out"), "out differs from the expected values in 6 of 6"),
    (lambda: check.results([1, 2], "f", 2), "f returned a list of length 2, expected a tuple of 2"),
    (lambda: check.results((1, 2, 3), "f", 2), "f returned 3 results, expected 2"),
    (lambda: check.same_keys({}, {"W1": 1, "b1": 2}, "params"), "params has keys [], expected ['W1', 'b1']"),
    (lambda: check.close_arrays({"W1": np.ones(2), "extra": 0}, {"W1": np.ones(2)}, "grads", 1e-10),
     "grads has keys ['W1', 'extra'], expected ['W1']"),
])
def test_each_check_names_the_output_and_what_is_wrong(judge, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        judge()


def test_the_right_kind_passes_and_comes_back():
    assert check.scalar(np.float64(1.5), "loss") == 1.5 and check.scalar(np.array(2.0), "loss") == 2.0
    value = np.arange(1.0, 7.0).reshape(2, 3)
    assert check.close(value, value + 1e-14, "out", 1e-10) is value and check.equal(value, value.copy(), "out") is value
    assert check.close_arrays({"b": value}, {"b": value}, "grads", 1e-12) == {"b": value}


def test_the_checks_ship_with_the_visible_tests_and_in_the_gradescope_bundle():
    assert "tests/graded_checks.py" in release.released_files()
    assert REPO / "tests" / "graded_checks.py" in gradescope.packed_files()
