"""Loop-style losses."""
import numpy as np


def log_softmax(logits):
    out = np.empty_like(logits)
    for i in range(logits.shape[0]):
        row = logits[i]
        biggest = row.max()
        out[i] = row - biggest - np.log(np.exp(row - biggest).sum())
    return out


def softmax_cross_entropy(logits, y):
    batch, classes = logits.shape
    total = 0.0
    grad = np.zeros_like(logits)
    for i in range(batch):
        row = logits[i] - logits[i].max()
        denom = np.exp(row).sum()
        total -= row[y[i]] - np.log(denom)
        grad[i] = np.exp(row) / denom
        grad[i, y[i]] -= 1.0
    return total / batch, grad / batch
