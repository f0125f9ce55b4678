"""The rubric: how many points each graded function is worth, the one table to edit.

Points reflect the work, not the number of tests: a function's points are split across its graded
tests (visible and hidden) in proportion to their weights (``@pytest.mark.graded(function,
points=w)``, default 1), so adding a test to a function moves no points between functions. The
grade (``scripts/grade.py``), the class gradebook and feedback, and Gradescope's results.json all
take each test's points from :func:`points_per_test`.

The default below, 100 points, is weighted by difficulty: a derivation (batch norm's and the
convolution's backward passes) weighs most, then the vectorised passes, the optimizers and the
loss, then the one-line element-wise layers and image operations.
"""
from __future__ import annotations

RUBRIC = {
    # layers: the element-wise pairs are one line each; the affine backward needs its three gradients
    "nn.layers.linear_forward": 1, "nn.layers.linear_backward": 2,
    "nn.layers.relu_forward": 1, "nn.layers.relu_backward": 1,
    "nn.layers.sigmoid_forward": 1, "nn.layers.sigmoid_backward": 1,
    "nn.layers.tanh_forward": 1, "nn.layers.tanh_backward": 1,
    # the loss: numerical stability, then the gradient to derive
    "nn.losses.log_softmax": 3, "nn.losses.softmax_cross_entropy": 5,
    "nn.dropout.dropout_forward": 2, "nn.dropout.dropout_backward": 1,
    # batch norm: the backward pass is the derivation courses weigh most
    "nn.batchnorm.batchnorm_forward": 6, "nn.batchnorm.batchnorm_backward": 10,
    # convolution and pooling, vectorised
    "nn.conv.conv2d_forward": 8, "nn.conv.conv2d_backward": 12,
    "nn.conv.maxpool2d_forward": 3, "nn.conv.maxpool2d_backward": 4,
    "nn.conv.avgpool2d_forward": 2, "nn.conv.avgpool2d_backward": 3,
    "nn.model.Classifier.forward": 2, "nn.model.Classifier.backward": 3,
    "nn.optim.SGD.step": 3, "nn.optim.RMSProp.step": 3, "nn.optim.Adam.step": 5,
    "train.sgd_epoch": 3,
    # image operations: the bilinear rotation is the most work
    "augment.crop": 4, "augment._rotate_block": 5, "augment.cutout": 2, "augment._contrast_block": 1,
    "augment.hflip": 1,
}


def points_per_test(tests: dict[str, tuple[str, float]], rubric: dict[str, float] = RUBRIC) -> dict[str, float]:
    """``{nodeid: points}`` for ``tests`` (``{nodeid: (function, weight)}``): each function's rubric points
    split in proportion to its tests' weights; a function missing from the rubric keeps the weights as points."""
    totals: dict[str, float] = {}
    for function, weight in tests.values():
        totals[function] = totals.get(function, 0.0) + weight
    return {nodeid: (rubric[function] * weight / totals[function] if function in rubric and totals[function] else weight)
            for nodeid, (function, weight) in tests.items()}
