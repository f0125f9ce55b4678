"""Array-expression losses: logsumexp by hand."""
import numpy as np


def log_softmax(logits):
    peak = logits.max(axis=-1)[:, None]
    return logits - (peak + np.log(np.exp(logits - peak).sum(axis=-1))[:, None])


def softmax_cross_entropy(logits, y):
    logp = log_softmax(logits)
    onehot = np.eye(logits.shape[1], dtype=logits.dtype)[y]
    batch = len(y)
    return -np.einsum("nc,nc->", onehot, logp) / batch, (np.exp(logp) - onehot) / batch
