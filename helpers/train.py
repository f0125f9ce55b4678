"""Minibatch SGD training loop for ``helpers.nn.MLP`` with per-epoch evaluation.

Reproducibility: ``train(..., seed=s)`` shuffles epoch ``e`` with the ``e``-th
``permutation`` drawn from ``np.random.default_rng(s)`` (see ``epoch_orders``); the
optional validation split comes from a separate generator (see ``split_indices``),
so a reference implementation (e.g. PyTorch) can replay the same batches.

Splits have names: ``"train"`` (the rows the steps use), ``"validation"`` (held out with
``val_fraction`` or passed in ``eval_sets``) and any other set passed in ``eval_sets``
(usually ``"test"``). ``History`` records each under its name.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from helpers.core.progress import end_early, tqdm
from helpers.nn import make_optimizer, softmax_cross_entropy, step_lr

TRAIN, VALIDATION = "train", "validation"  # split names that train() gives meaning to


@dataclass
class History:
    """Per-epoch metrics of one run, each split under its name (``"train"``, ``"validation"``, ...).

    ``loss[split]`` is the mean cross-entropy on the whole split (no L2 term) after each
    epoch, ``acc[split]`` the accuracy; ``lr`` the learning rate of each epoch and
    ``epoch_time`` its wall seconds, evaluation included. ``best_epoch`` is the 0-based
    epoch with the lowest validation loss (None without a validation split);
    ``model_epoch`` the epoch whose parameters the trained model holds (see ``train``).
    A history filled by another loop (notebook 06's PyTorch runs) may leave ``lr`` and
    ``epoch_time`` empty.
    """

    loss: dict = field(default_factory=dict)
    acc: dict = field(default_factory=dict)
    lr: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    best_epoch: int | None = None
    model_epoch: int | None = None

    def to_dict(self):
        """Plain dicts and lists of floats (epochs as ints or None), for JSON or pickle."""
        return {"loss": {split: [float(v) for v in values] for split, values in self.loss.items()},
                "acc": {split: [float(v) for v in values] for split, values in self.acc.items()},
                "lr": [float(v) for v in self.lr], "epoch_time": [float(v) for v in self.epoch_time],
                "best_epoch": self.best_epoch, "model_epoch": self.model_epoch}

    @classmethod
    def from_dict(cls, data):
        """The ``History`` that ``to_dict`` (or its JSON) describes."""
        if not {"loss", "acc"} <= set(data):
            raise ValueError("not a History.to_dict(): histories saved before splits had names (keys "
                             "such as 'train_loss') are out of date; rerun the notebook that saved it")
        return cls(**data)


def batch_slices(n, batch_size):
    """Consecutive ``slice`` objects covering ``range(n)``; the last one may be shorter."""
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def epoch_orders(n, epochs, seed):
    """The sample orders ``train`` uses: one ``permutation(n)`` per epoch from ``default_rng(seed)``.

    With a validation split, ``n`` is the number of training (fit) rows and the orders
    index into ``X_train[split_indices(...)[0]]``.
    """
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def split_indices(n, val_fraction, seed):
    """Sorted ``(fit_idx, val_idx)``; ``round(n * val_fraction)`` rows go to validation.

    Uses ``default_rng([seed, 1])`` so the split does not consume the shuffling stream.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_val = int(round(n * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def evaluate(model, X, y, chunk_size=512):
    """Mean cross-entropy (without the L2 term) and accuracy of ``model`` on ``(X, y)``, in chunks.

    Small chunks keep every temporary at or below 128 KiB, which malloc recycles; larger
    ones page-fault fresh memory on each chunk and measured about 25% slower.
    """
    X, y = model.check_inputs(X, y), np.asarray(y)
    total_loss, correct = 0.0, 0
    for chunk in batch_slices(X.shape[0], chunk_size):
        scores = model.scores(X[chunk])
        chunk_loss, _ = softmax_cross_entropy(scores, y[chunk])
        total_loss += float(chunk_loss) * len(scores)
        correct += int((scores.argmax(axis=1) == y[chunk]).sum())
    return total_loss / X.shape[0], correct / X.shape[0]


def sgd_epoch(model, optimizer, X, y, order, batch_size):
    """One SGD pass over the rows of ``X`` in the given ``order``, ``batch_size`` rows per step.

    Inputs: model (a Classifier); optimizer (its ``step(grads)`` updates model.params); X (n, ...)
    and y (n,); order, the row indices in the order to visit; batch_size.
    Returns nothing: for each run of batch_size consecutive entries of ``order`` (the last may be
    shorter; see batch_slices), one ``model.loss(X_rows, y_rows)`` on those rows, then one
    ``optimizer.step`` with its gradients. Call ``loss`` with the two arrays only: it trains by
    default (``augment.FlipAugmented`` and a student's own wrappers need take no mode argument).

    BEGIN SOLUTION TEXT: Optional, not graded: measure which is faster, gathering each batch as it comes or the whole shuffled epoch up front.
    Each batch is gathered with ``np.take`` into one reused buffer: it then stays in
    cache for the forward and the weight-gradient products, which measured faster than
    gathering the whole shuffled epoch up front and slicing it.
    END SOLUTION TEXT
    """
    ### BEGIN SOLUTION: for each batch of rows of `order` (see batch_slices), take model.loss on those rows of X and y, then optimizer.step with its gradients
    X_batch = np.empty((batch_size, *X.shape[1:]), dtype=X.dtype)
    y_batch = np.empty(batch_size, dtype=y.dtype)
    for batch in batch_slices(len(order), batch_size):
        rows = order[batch]
        size = len(rows)
        _, grads = model.loss(X.take(rows, axis=0, out=X_batch[:size]), y.take(rows, out=y_batch[:size]))
        optimizer.step(grads)
    ### END SOLUTION


def _named_sets(model, eval_sets):
    """``eval_sets`` checked and cast: ``{name: (X, y)}``, ``"train"`` being reserved."""
    checked = {}
    for name, (X, y) in (eval_sets or {}).items():
        if name == TRAIN:
            raise ValueError("eval_sets: 'train' names the training rows; give the other sets other names")
        X = model.check_inputs(X, y, f"eval_sets[{name!r}] X", f"eval_sets[{name!r}] y")
        checked[name] = X, np.asarray(y)
    return checked


def make_splits(model, X_train, y_train, eval_sets=None, val_fraction=0.0, seed=0):
    """``{"train": (X, y), **others}``: the training rows first, then each set of ``eval_sets`` and, when
    ``val_fraction > 0``, the ``"validation"`` rows held out of ``X_train`` (see ``split_indices``)."""
    X_train = model.check_inputs(X_train, y_train, "X_train", "y_train")
    y_train = np.asarray(y_train)
    splits = _named_sets(model, eval_sets)
    fit_idx, val_idx = split_indices(len(X_train), val_fraction, seed)
    if len(val_idx):
        if VALIDATION in splits:
            raise ValueError("val_fraction and eval_sets['validation'] both give a validation split: pass one")
        splits[VALIDATION] = X_train[val_idx], y_train[val_idx]
        X_train, y_train = X_train[fit_idx], y_train[fit_idx]
    return {TRAIN: (X_train, y_train), **splits}


def record_epoch(history, model, splits, lr, start):
    """Append one epoch to ``history``: loss and accuracy of every split (``evaluate``), the rate, and the
    wall seconds since ``start`` (a ``time.perf_counter()`` reading), evaluation included."""
    for name, (X, y) in splits.items():
        loss, acc = evaluate(model, X, y)
        history.loss[name].append(loss)
        history.acc[name].append(acc)
    history.lr.append(lr)
    history.epoch_time.append(time.perf_counter() - start)
    history.model_epoch = len(history.lr) - 1


class BestEpoch:
    """Keeps the epoch with the lowest validation loss, and (``restore``) a copy of its params and state."""

    def __init__(self, model, restore=True):
        self.model, self.restore, self.loss, self.saved = model, restore, np.inf, None

    def improved(self, history, epoch):
        """Whether ``epoch``'s validation loss is the lowest yet; if so, record it (and copy the model)."""
        if not history.loss[VALIDATION][-1] < self.loss:
            return False
        self.loss, history.best_epoch = history.loss[VALIDATION][-1], epoch
        if self.restore:
            self.saved = {name: p.copy() for name, p in {**self.model.params, **self.model.state}.items()}
        return True

    def put_back(self, history):
        """Give the model the kept epoch's params and state, if another epoch ran after it."""
        if self.saved is not None and history.best_epoch != history.model_epoch:
            for name, p in {**self.model.params, **self.model.state}.items():
                p[...] = self.saved[name]
            history.model_epoch = history.best_epoch


def _postfix(history):
    """The bar's short postfix: the latest epoch's loss and accuracy on the split that decides (validation, else train)."""
    split = VALIDATION if VALIDATION in history.loss else TRAIN
    return f"{split} loss {history.loss[split][-1]:.3f}, acc {history.acc[split][-1]:.1%}"


def _stop_early(bar, history, patience, progress):
    """End the bar as finished with the epochs run and, when showing progress, say why training stopped."""
    end_early(bar, "stopped early")
    bar.close()
    if progress:
            print(f"stopped after {len(history.lr)} epochs: no lower validation loss for {patience} epochs "
              f"(lowest at epoch {history.best_epoch + 1})", flush=True)


def train(model, X_train, y_train, *, epochs, batch_size=64, lr=0.01, lr_step=100, lr_gamma=0.1,
          momentum=0.0, seed=0, eval_sets=None, val_fraction=0.0, patience=None, restore_best=True,
          progress=True, optimizer="sgd"):
    """Train ``model`` in place with minibatch SGD and return a ``History``.

    The learning rate is ``step_lr(epoch, lr, lr_step, lr_gamma)``; ``optimizer``: a name in
    ``helpers.nn.OPTIMIZERS`` or a factory ``(params, lr) -> optimizer`` (``momentum`` applies to "sgd").
    After every epoch every split is evaluated whole: ``"train"``, each ``(X, y)`` of ``eval_sets``
    under its name, and ``"validation"``, the share ``val_fraction`` of ``X_train`` held out (``make_splits``).
    With a validation split and ``restore_best`` the model ends with the params (and ``model.state``)
    of the epoch with the lowest validation loss, else with the last epoch's (``BestEpoch``;
    ``History.model_epoch`` says which); ``patience`` stops after that many epochs without a lower
    one. Steps run in training mode (``model.loss``), evaluation in evaluation mode (``model.scores``).
    Threads are the caller's: ``with helpers.core.runtime.blas_limit(): train(...)``, or a notebook's
    ``notebook_setup(threads=True)``.
    """
    splits = make_splits(model, X_train, y_train, eval_sets, val_fraction, seed)
    if patience is not None and VALIDATION not in splits:
        raise ValueError("patience needs a validation split: set val_fraction so that it holds rows, "
                         "or pass eval_sets['validation']")
    (X, y), rng = splits[TRAIN], np.random.default_rng(seed)
    optimizer = make_optimizer(optimizer, model.params, lr, momentum)
    history = History(loss={name: [] for name in splits}, acc={name: [] for name in splits})
    best = BestEpoch(model, restore_best)
    bar = tqdm(total=epochs, desc="epochs", unit="epoch", disable=not progress)
    for epoch in range(epochs):
        start = time.perf_counter()
        optimizer.lr = step_lr(epoch, lr, lr_step, lr_gamma)
        sgd_epoch(model, optimizer, X, y, rng.permutation(len(X)), batch_size)
        record_epoch(history, model, splits, optimizer.lr, start)
        bar.set_postfix_str(_postfix(history), refresh=False)
        bar.update()
        if VALIDATION in splits and best.improved(history, epoch):
            continue
        if patience is not None and epoch - history.best_epoch >= patience:
            _stop_early(bar, history, patience, progress)
            break
    bar.close()
    best.put_back(history)
    return history
