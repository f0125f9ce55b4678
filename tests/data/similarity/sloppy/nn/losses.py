"""Partly wrong losses."""
import numpy as np


def log_softmax(logits):
    e = np.exp(logits)  # overflows for large logits
    return np.log(e / e.sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits, y):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    N = logits.shape[0]
    loss = -np.log(p[range(N), y]).sum() / N
    dlogits = p
    dlogits[range(N), y] -= 1
    return loss, dlogits
