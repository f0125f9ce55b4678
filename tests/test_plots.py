"""Tests for helpers.notebook.plots: curves drawn by split name, confusion views."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.notebook.plots import confusion_heatmaps, training_curves
from helpers.train import History


def history(model_epoch=3):
    return History(loss={"train": [2.0, 1.5, 1.2, 1.0], "validation": [2.1, 1.7, 1.6, 1.65]},
                   acc={"train": [0.2, 0.4, 0.5, 0.6], "validation": [0.2, 0.35, 0.4, 0.38]},
                   lr=[0.1, 0.1, 0.01, 0.01], best_epoch=2, model_epoch=model_epoch)


def lines(ax):
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


def test_training_curves_label_and_style_each_split_by_name():
    fig = training_curves({"run": history(), "saved": history().to_dict()})
    loss_ax, acc_ax = fig.axes
    drawn = lines(acc_ax)
    assert set(drawn) == {"run train", "run validation", "saved train", "saved validation"}
    assert drawn["run validation"].get_linestyle() == ":" and drawn["run train"].get_linestyle() == "-"
    np.testing.assert_array_equal(drawn["saved validation"].get_ydata(), [0.2, 0.35, 0.4, 0.38])
    assert [line.get_xdata()[0] for line in loss_ax.get_lines() if line.get_linestyle() == ":" and
            line.get_label().startswith("_") and line.get_color() == "grey"] == [2.5, 2.5]  # lr change
    plt.close(fig)


def test_training_curves_per_run_picks_splits_and_marks_the_returned_epoch():
    fig = training_curves({"a": history(model_epoch=2), "b": history()}, splits=["validation"], per_run=True)
    assert len(fig.axes) == 4  # loss and accuracy for each run
    acc_a = fig.axes[2]
    assert set(lines(acc_a)) == {"validation"}
    stars = [line for line in acc_a.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 1 and stars[0].get_xdata()[0] == 3 and stars[0].get_ydata()[0] == 0.4
    assert not [line for line in fig.axes[3].get_lines() if line.get_marker() == "*"]  # b: last epoch
    plt.close(fig)


@pytest.mark.parametrize("views", [("counts", "row-normalised"), ("row-normalised",)])
def test_confusion_heatmaps_draw_the_views_asked_for(views):
    counts = np.array([[8, 2], [1, 9]])
    fig = confusion_heatmaps(counts, ["a", "b"], title="t", views=views)
    assert [ax.get_title() for ax in fig.axes] == [f"t ({view})" for view in views]
    plt.close(fig)
