import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from sklearn.metrics import confusion_matrix as sklearn_confusion

from helpers import metrics


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 500)
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 10, 500))
    return y_true, y_pred


def test_confusion_matrix_matches_sklearn(predictions):
    y_true, y_pred = predictions
    counts = metrics.confusion_matrix(y_true, y_pred, 10)
    np.testing.assert_array_equal(counts, sklearn_confusion(y_true, y_pred, labels=range(10)))
    assert counts.sum() == 500


def test_row_normalised_and_per_class_accuracy(predictions):
    y_true, y_pred = predictions
    counts = metrics.confusion_matrix(y_true, y_pred, 10)
    normalised = metrics.row_normalise(counts)
    np.testing.assert_allclose(normalised.sum(axis=1), 1.0)
    for label, accuracy in enumerate(metrics.per_class_accuracy(counts)):
        assert accuracy == pytest.approx(np.mean(y_pred[y_true == label] == label))
    empty = metrics.row_normalise(np.zeros((3, 3), int))
    assert not empty.any()


def test_report_accuracy_and_table(predictions):
    y_true, y_pred = predictions
    names = [f"c{i}" for i in range(10)]
    report = metrics.classification_report(y_true, y_pred, names)
    assert report["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert sum(report[name]["support"] for name in names) == 500
    table = metrics.report_frame(report)
    assert list(table.index[:10]) == names and table.loc["accuracy", "f1-score"] == report["accuracy"]


def test_most_confident_mistakes():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95], [0.5, 0.5]])
    y_true = np.array([1, 1, 1, 0, 0])
    np.testing.assert_array_equal(metrics.most_confident_mistakes(probabilities, y_true, k=2), [3, 0])
    np.testing.assert_array_equal(metrics.most_confident_mistakes(probabilities, y_true, k=10), [3, 0, 2])


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match="y_pred holds labels outside 0..2"):
        metrics.confusion_matrix(np.array([0, 1]), np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="must be 1-D of equal length"):
        metrics.classification_report(np.array([0, 1]), np.array([0]), ["a", "b"])
