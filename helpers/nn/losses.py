"""Softmax, softmax cross-entropy and the L2 weight penalty."""

import numpy as np


def log_softmax(logits):
    """Row-wise log-probabilities: the logarithm of the softmax of each row of ``logits``.

    Inputs: logits (n, classes), any finite values (e.g. +-1e4).
    Returns (n, classes) log-probabilities of logits' dtype, all finite: no exp may overflow.

    BEGIN SOLUTION TEXT: Find how to compute it when the exponentials of the logits overflow (logits of 1e4).
    Via log-sum-exp: the row max is subtracted first, so exp never overflows.
    END SOLUTION TEXT
    """
    ### BEGIN SOLUTION: return the row-wise log-probabilities log(softmax(logits)), computed so that no exp overflows
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    ### END SOLUTION


def softmax(logits):
    """Row-wise class probabilities for ``logits`` of shape ``(n, classes)``."""
    return np.exp(log_softmax(logits))


def check_labels(y, n, num_classes, name="y"):
    """Raise ValueError unless ``y`` holds ``n`` integer labels in ``[0, num_classes)``."""
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]")


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of ``softmax(logits)`` against integer labels ``y``, and its gradient.

    Inputs: logits (n, classes), any finite values (e.g. +-1e4: no exp may overflow);
    y (n,) integer labels in [0, classes).
    Returns (loss, dlogits): loss, the mean over rows of ``-log softmax(logits)[i, y[i]]``;
    dlogits, its gradient with respect to logits, (n, classes) of logits' dtype.
    Raises: ValueError naming ``logits`` unless it is 2-D, naming ``y`` unless it holds n
    integer labels in range (checked before the part to write).

    BEGIN SOLUTION TEXT: Derive dlogits (the softmax and the log simplify together); check it against finite differences.
    ``dlogits = (softmax(logits) - onehot(y)) / n``.
    END SOLUTION TEXT
    """
    logits = np.asarray(logits)
    y = np.asarray(y)
    if logits.ndim != 2:
        raise ValueError(f"logits must be 2-D (n, classes), got shape {logits.shape}")
    n = logits.shape[0]
    check_labels(y, n, logits.shape[1])
    ### BEGIN SOLUTION: return (loss, dlogits): the mean cross-entropy of softmax(logits) against the labels y, and its gradient with respect to logits; stable for logits of +-1e4
    rows = np.arange(n)
    log_probs = log_softmax(logits)
    loss = -log_probs[rows, y].sum() / n
    dlogits = np.exp(log_probs)
    dlogits[rows, y] -= 1
    dlogits /= n
    return loss, dlogits
    ### END SOLUTION


def l2_penalty(params, reg):
    """L2 penalty ``reg * sum(W**2)`` over the weights: the arrays in ``params`` with ndim >= 2.

    1-D arrays (biases) are not penalised and there is no 0.5 factor. Returns ``(loss, grads)``
    with ``grads[name] = 2 * reg * W`` for each weight; the matching PyTorch SGD
    ``weight_decay`` is therefore ``2 * reg``.
    """
    weights = {name: W for name, W in params.items() if W.ndim >= 2}
    loss = reg * sum(float(np.vdot(W, W)) for W in weights.values())
    grads = {name: (2 * reg) * W for name, W in weights.items()}
    return loss, grads
