"""Classification metrics shared by the compare and quick-inference notebooks."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import classification_report as _sklearn_report


def _check_labels(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> None:
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be 1-D of equal length")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} holds labels outside 0..{n_classes - 1}")


def classification_report(y_true, y_pred, class_names: list[str]) -> dict:
    """scikit-learn's report as a dict (precision, recall, f1, support per class and averages)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _check_labels(y_true, y_pred, len(class_names))
    return _sklearn_report(y_true, y_pred, labels=range(len(class_names)), target_names=class_names,
                           output_dict=True, zero_division=0)


def report_frame(report: dict):
    """A report dict as a table (rows: classes, accuracy, averages), for display side by side."""
    import pandas as pd

    rows = {name: value if isinstance(value, dict) else {"f1-score": value} for name, value in report.items()}
    return pd.DataFrame(rows).T[["precision", "recall", "f1-score", "support"]]


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts [true, predicted] as int64."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _check_labels(y_true, y_pred, n_classes)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes**2).reshape(n_classes, n_classes)


def row_normalise(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its total (rows with no examples stay zero)."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)


def per_class_accuracy(counts: np.ndarray) -> np.ndarray:
    """Recall of each class: the diagonal of the row-normalised confusion matrix."""
    return np.diag(row_normalise(counts))


def most_confident_mistakes(probabilities: np.ndarray, y_true, k: int = 16) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest probability, most confident first."""
    y_true = np.asarray(y_true)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")[:k]]


# Probabilities recomputed on another machine (another BLAS kernel or CPU) round differently in
# float32: they must agree with the saved ones within PROBABILITY_TOLERANCE. A prediction may then
# only change where the saved top-2 margin is below twice that tolerance (a near tie): any larger
# margin would need a larger probability difference.
PROBABILITY_TOLERANCE = 1e-4


def top2_margin(probabilities: np.ndarray) -> np.ndarray:
    """Per row: highest probability minus the second highest."""
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def compare_predictions(fresh_probabilities: np.ndarray, saved_probabilities: np.ndarray,
                        saved_predictions: np.ndarray, tolerance: float = PROBABILITY_TOLERANCE) -> dict:
    """Check recomputed probabilities against saved ones, portably across machines.

    Returns ``max_difference``, ``changed`` (rows whose prediction differs, each with its saved and
    fresh class and saved top-2 margin), ``tie_bound`` (``2 * tolerance``) and ``ok``: every
    probability within ``tolerance`` and every changed prediction a near tie below ``tie_bound``.
    """
    fresh, saved = np.asarray(fresh_probabilities, np.float64), np.asarray(saved_probabilities, np.float64)
    if fresh.shape != saved.shape or len(saved_predictions) != len(saved):
        raise ValueError(f"fresh {fresh.shape}, saved {saved.shape} probabilities and "
                         f"{len(saved_predictions)} saved predictions do not line up")
    max_difference = float(np.abs(fresh - saved).max()) if fresh.size else 0.0
    fresh_predictions = fresh.argmax(axis=1)
    margins = top2_margin(saved)
    changed = [{"index": int(i), "saved": int(saved_predictions[i]), "fresh": int(fresh_predictions[i]),
                "margin": float(margins[i])} for i in np.flatnonzero(fresh_predictions != saved_predictions)]
    tie_bound = 2 * tolerance
    ok = max_difference <= tolerance and all(row["margin"] < tie_bound for row in changed)
    return {"max_difference": max_difference, "changed": changed, "tie_bound": tie_bound,
            "tolerance": tolerance, "ok": ok}
