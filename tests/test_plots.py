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


# Every figure a notebook draws carries a text alternative written from its data, in the output itself.
RNG = np.random.default_rng(0)
CLASSES = ["cat", "dog", "ship"]
FIGURES = {
    "image_grid": lambda p: p.image_grid(RNG.random((12, 8, 8, 3)), np.repeat([0, 1, 2], 4), CLASSES, per_class=2),
    "feature_projection": lambda p: p.feature_projection(RNG.normal(size=(30, 6)), np.repeat([0, 1, 2], 10), CLASSES),
    "training_curves": lambda p: p.training_curves({"a": history(), "b": history(2)}),
    "confusion_heatmaps": lambda p: p.confusion_heatmaps(np.array([[5, 1, 0], [2, 6, 1], [0, 0, 9]]), CLASSES, title="t"),
    "per_class_difference": lambda p: p.per_class_difference(np.array([0.02, -0.01, 0.0]), CLASSES, "aug minus unaug"),
    "prediction_gallery": lambda p: p.prediction_gallery(RNG.random((3, 8, 8, 3)), np.array([0, 1, 2]), np.array([0, 2, 2]),
                                                         np.array([0.9, 0.6, 0.7]), CLASSES),
    "image_with_probabilities": lambda p: p.image_with_probabilities(RNG.random((8, 8, 3)), np.array([0.1, 0.7, 0.2]), CLASSES),
    "augmentation_grid": lambda p: p.augmentation_grid({"original": RNG.random((3, 8, 8, 3)), "flip": RNG.random((3, 8, 8, 3))}),
    "cosine_histograms": lambda p: p.cosine_histograms({"same": RNG.random(50), "other": RNG.random(50)}),
    "weight_images": lambda p: p.weight_images(RNG.normal(size=(48, 4)), shape=(4, 4, 3), columns=2),
    "show_tiles": lambda p: p.show_tiles(RNG.normal(size=(4, 5, 5)), ncols=2, titles=list("abcd"), title="filters"),
    "image": lambda p: p.image(RNG.random((8, 8)), "digit 3", "A handwritten 3, 8x8 greyscale pixels, from the test set."),
    "heatmap": lambda p: p.heatmap(__import__("pandas").DataFrame([[0.4, 0.5], [0.45, np.nan]], index=["r1", "r2"],
                                                                   columns=["c1", "c2"]), "accuracy", xlabel="lr",
                                   ylabel="L2 $\\lambda$", title="search"),
    "line_chart": lambda p: p.line_chart(__import__("pandas").DataFrame({"2 layers": [1e-3, 1e-4], "3 layers": [1e-5, 1e-7]}),
                                         {"decay $\\lambda w$": 1e-6}, xlabel="layer", ylabel="rms", title="gradients", logy=True),
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_plot_is_shown_once_with_a_text_alternative_from_its_data(name, monkeypatch):
    from helpers.notebook import plots

    shown = []
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "module://matplotlib_inline.backend_inline")
    monkeypatch.setattr("IPython.display.display", lambda data, raw, metadata: shown.append((data, metadata)))
    fig = FIGURES[name](plots)
    assert len(shown) == 1 and not plt.fignum_exists(fig.number)  # displayed by the helper, closed: not drawn twice
    data, metadata = shown[0]
    alt = metadata["image/png"]["alt"]
    assert data["image/png"] and data["text/plain"] == alt == fig.alt_text
    assert alt != plots.PLACEHOLDER_ALT and len(alt) > 30 and any(ch.isdigit() for ch in alt), alt
    assert "$" not in alt and "\\" not in alt, alt  # no TeX left in what a screen reader reads


def test_a_text_alternative_states_the_trend_and_the_comparison():
    fig = training_curves({"unaugmented": History(loss={"test": [2.3, 1.6]}, acc={"test": [0.1, 0.464]}, lr=[0.1, 0.1]),
                           "augmented": History(loss={"test": [2.3, 1.5]}, acc={"test": [0.1, 0.47]}, lr=[0.1, 0.1])})
    assert "over 2 epochs" in fig.alt_text
    assert "“augmented”: test accuracy goes from 10.0% to 47.0%" in fig.alt_text
    assert "“augmented” ends highest, 0.6 points above “unaugmented”" in fig.alt_text
    plt.close(fig)


def test_show_figure_refuses_an_empty_or_placeholder_description():
    from helpers.notebook.plots import PLACEHOLDER_ALT, show_figure

    fig = plt.figure()
    for alt in ("", "  ", PLACEHOLDER_ALT):
        with pytest.raises(ValueError):
            show_figure(fig, alt)
    plt.close(fig)


def test_the_notebooks_draw_every_figure_through_the_plot_helpers():
    """A figure drawn in a cell (plt, seaborn, pandas .plot) would have no text alternative."""
    import json

    from helpers.core.config import REPO_ROOT

    for notebook in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code":
                drawn = [call for call in ("plt.", "sns.", ".plot(", ".imshow(", ".hist(") if call in source]
                assert not drawn, f"{notebook.name}: a cell draws with {drawn}; use helpers.notebook.plots:\n{source}"
