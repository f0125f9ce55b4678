"""A held-out set of plausible student mistakes (instructor-only): each redefines one graded function wrongly, the way
a student gets it wrong, and says what a failure of its graded tests must tell. ``tests/test_graded_messages.py``
appends each mistake's code to its module in a copy of this tree's helpers/ and grades that copy.

Each entry: the mistake -> ``Mistake(file under helpers/, code appended to it, the graded function, the outputs a
failure must name, what each such message must also say)``. Every message must state numbers (the error, the
entries that differ, or the dtype); ``hidden=True``: only a hidden test can see it (ties in a max pool), so the
student is told a count and the instructor the message.
"""
from __future__ import annotations

from dataclasses import dataclass

GRADIENT = ("max relative error", "against finite differences: max relative error", "first differs at [", "shape (")
VALUES = ("max relative error", "first differs at [", "shape (")
ENTRIES = ("differs from the expected values in", "first differs at [")


@dataclass(frozen=True)
class Mistake:
    file: str
    code: str
    function: str
    outputs: tuple[str, ...]
    says: tuple[str, ...] = ()
    hidden: bool = False
    passes: tuple[str, ...] = ()  # outputs that stay right: no failure may name them


MISTAKES = {
    "batch norm's backward drops the x_hat * mean(g * x_hat) term": Mistake("nn/batchnorm.py", """
        def batchnorm_backward(dout, cache):
            x_hat, gamma, std, training = cache
            g = dout * gamma
            if training:
                g = g - g.mean(axis=0)  # the variance's path forgotten
            return g / std, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
    """, "nn.batchnorm.batchnorm_backward", ("batchnorm_backward's dx in training mode",), GRADIENT,
        passes=("dgamma", "dbeta", "evaluation mode")),
    "dropout keeps the units but does not rescale them": Mistake("nn/dropout.py", """
        def dropout_forward(x, p, rng, training=True):
            if not training or p == 0:
                return x, None
            mask = (rng.random(x.shape, dtype=x.dtype) >= p).astype(x.dtype)  # no / (1 - p)
            return x * mask, mask
    """, "nn.dropout.dropout_forward", ("dropout_forward's mask holds",), ("expected 1 / (1 - p) = 1.42857",)),
    "log-softmax without the max shift overflows": Mistake("nn/losses.py", """
        def log_softmax(logits):
            return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    """, "nn.losses.log_softmax", ("log_softmax's out has",), ("NaN or infinite entries",)),
    "the mean forgotten in the loss's gradient": Mistake("nn/losses.py", """
        _softmax_cross_entropy = softmax_cross_entropy

        def softmax_cross_entropy(logits, y):
            loss, dlogits = _softmax_cross_entropy(logits, y)
            return loss, dlogits * len(logits)
    """, "nn.losses.softmax_cross_entropy", ("softmax_cross_entropy's dlogits",), VALUES),
    "the convolution's dx taken with the kernel flipped": Mistake("nn/conv.py", """
        def conv2d_forward(x, W, b, stride=1, padding=0):
            _check_conv_arguments(x, W, b, stride, padding)
            n, _, height, width = x.shape
            filters, _, kh, kw = W.shape
            oh, ow = conv_output_size(height, kh, stride, padding), conv_output_size(width, kw, stride, padding)
            padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
            out = np.zeros((n, filters, oh, ow), dtype=x.dtype) + b[None, :, None, None]
            for p in range(kh):
                for q in range(kw):
                    taps = padded[:, :, p:p + stride * oh:stride, q:q + stride * ow:stride]
                    out += np.einsum("nchw,fc->nfhw", taps, W[:, :, p, q])
            return out, (padded, W, stride, padding, x.shape)

        def conv2d_backward(dout, cache, need_dx=True):
            padded, W, stride, padding, x_shape = cache
            _, _, kh, kw = W.shape
            oh, ow = dout.shape[2:]
            dW, dpadded = np.zeros_like(W), np.zeros_like(padded)
            for p in range(kh):
                for q in range(kw):
                    rows, cols = slice(p, p + stride * oh, stride), slice(q, q + stride * ow, stride)
                    dW[:, :, p, q] = np.einsum("nfhw,nchw->fc", dout, padded[:, :, rows, cols])
                    flipped = W[:, :, kh - 1 - p, kw - 1 - q]  # a convolution's flip, where torch's has none
                    dpadded[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, flipped)
            dx = dpadded[:, :, padding:padding + x_shape[2], padding:padding + x_shape[3]]
            return (dx if need_dx else None), dW, dout.sum(axis=(0, 2, 3))
    """, "nn.conv.conv2d_backward", ("conv2d_backward's dx",), GRADIENT, passes=("'s dw", "'s db")),
    "max pool's backward routes a tied window's gradient to every maximum": Mistake("nn/conv.py", """
        def maxpool2d_forward(x, size=2, stride=2):
            offsets, views = _pool_windows(x, size, stride)
            out = views[0].copy()
            for view in views[1:]:
                np.maximum(out, view, out=out)
            return out, (views, out, offsets, x.shape, stride)

        def maxpool2d_backward(dout, cache):
            views, out, offsets, x_shape, stride = cache
            return _scatter_windows([dout * (view == out) for view in views], offsets, x_shape, stride)
    """, "nn.conv.maxpool2d_backward", ("maxpool2d_backward's dx for one window of four tied maxima",),
        ("expected 5.0 on one element",), hidden=True),
    "average pool's backward does not share the gradient": Mistake("nn/conv.py", """
        _avgpool2d_backward = avgpool2d_backward

        def avgpool2d_backward(dout, cache):
            return _avgpool2d_backward(dout, cache) * len(cache[1])  # every element gets the window's whole gradient
    """, "nn.conv.avgpool2d_backward", ("avgpool2d_backward's dx",), GRADIENT),
    "the linear layer's db averaged over the rows": Mistake("nn/layers.py", """
        _linear_backward = linear_backward

        def linear_backward(dout, cache, need_dx=True):
            dx, dW, db = _linear_backward(dout, cache, need_dx)
            return dx, dW, db / len(dout)  # dout.mean(axis=0)
    """, "nn.layers.linear_backward", ("linear_backward's db",), GRADIENT, passes=("'s dx", "'s dW")),
    "tanh's derivative without the square": Mistake("nn/layers.py", """
        def tanh_backward(dout, cache):
            return dout * (1 - cache)  # 1 - tanh(x), not 1 - tanh(x)**2
    """, "nn.layers.tanh_backward", ("tanh_backward's dx",), GRADIENT),
    "the sigmoid computed in float64 for float32 input": Mistake("nn/layers.py", """
        _sigmoid_forward = sigmoid_forward

        def sigmoid_forward(x):
            return _sigmoid_forward(x.astype(float))  # float64, where float32 was promised to stay float32
    """, "nn.layers.sigmoid_forward", ("sigmoid_forward's out for float32 x has dtype float64",), ("expected float32",)),
    "SGD's momentum subtracts the gradient (cs231n's sign) but steps like torch": Mistake("nn/optim.py", """
        def _sgd_step(self, grads):
            for name, param in self.params.items():
                if self.momentum:
                    self.velocity[name] *= self.momentum
                    self.velocity[name] -= grads[name]
                    param -= self.lr * self.velocity[name]
                else:
                    param -= self.lr * grads[name]

        SGD.step = _sgd_step
    """, "nn.optim.SGD.step", ("SGD's params['w'] after 4 steps",), VALUES),
    "RMSProp's step makes new arrays instead of updating the caller's": Mistake("nn/optim.py", """
        _rmsprop_step = RMSProp.step

        def _rmsprop_new_arrays(self, grads):
            for name in list(self.params):
                self.params[name] = self.params[name].copy()  # as p = p - ...: the caller's arrays left behind
            _rmsprop_step(self, grads)

        RMSProp.step = _rmsprop_new_arrays
    """, "nn.optim.RMSProp.step", ("(the array given, updated in place) differs from the expected values in",),
        ENTRIES),
    "crop pads one pixel too many": Mistake("augment.py", """
        def crop(images, offsets, padding, mode="reflect", fill=0):
            offsets = np.broadcast_to(np.asarray(offsets), (len(images), 2))
            extra = padding + 1  # off by one
            options = {"constant_values": fill} if mode == "constant" else {}
            padded = np.pad(images, ((0, 0), (extra, extra), (extra, extra), (0, 0)), mode=mode, **options)
            height, width = images.shape[1:3]
            return np.stack([p[dy:dy + height, dx:dx + width] for p, (dy, dx) in zip(padded, offsets)])
    """, "augment.crop", ("crop's out differs from the expected values in",), ENTRIES),
    "hflip mirrors up-down": Mistake("augment.py", """
        def hflip(images, mask):
            mask = np.broadcast_to(np.asarray(mask, dtype=bool), (len(images),))
            out = images.copy()
            out[mask] = images[mask][:, ::-1]  # the rows reversed, not the columns
            return out
    """, "augment.hflip", ("hflip's out differs from the expected values in",), ENTRIES),
}


def planted_code() -> dict[str, str]:
    """``{file under helpers/: the code of every mistake in it}``: the mistakes of one file target different
    functions, so one copy of the tree carries them all."""
    code: dict[str, str] = {}
    for mistake in MISTAKES.values():
        code[mistake.file] = code.get(mistake.file, "") + "\n" + mistake.code
    return code
