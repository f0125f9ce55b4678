"""Figures the notebooks share, each shown with a text alternative written from its data.

Every function here ends with :func:`show_figure`: in a notebook it displays the figure as a PNG
whose output carries the description (``metadata["image/png"]["alt"]``, which the HTML export
writes into ``<img alt=...>``, and ``text/plain``, which screen readers and text views show), and
closes it so the inline backend does not draw it a second time. Colours come from the Okabe-Ito
palette, which people with any common colour-vision deficiency tell apart, and lines and classes
differ also by marker or line style; heat maps use viridis, with their numbers printed in the cells.
"""
from __future__ import annotations

import base64
import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from helpers.data.datasets import random_subset
from helpers.notebook import describe
from helpers.metrics import row_normalise
from helpers.train import History

# Okabe & Ito (2008), "Color Universal Design", told apart with every common colour-vision deficiency:
# blue, vermillion, bluish green, reddish purple, black. Their orange, sky blue and yellow are left out:
# under 3:1 against white, the contrast WCAG 1.4.11 asks of lines and marks. Markers tell the rest apart.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p")
STYLE = {"axes.prop_cycle": plt.cycler(color=PALETTE), "image.cmap": "viridis", "font.size": 11,
         "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
         "legend.fontsize": 10, "text.color": "black", "axes.labelcolor": "black", "xtick.color": "black",
         "ytick.color": "black", "axes.edgecolor": "#333333", "figure.facecolor": "white"}
plt.rcParams.update(STYLE)
TEXT_WARNING = "#A63A00"  # a darker vermillion for text: 6.5:1 on white, where the palette's is 3.9:1
PLACEHOLDER_ALT = "No description has been provided for this image"  # nbconvert's, never ours


def figure_output(fig, alt: str) -> tuple[dict, dict]:
    """The display data and metadata of ``fig`` as a PNG with the text alternative ``alt``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"image/png": png, "text/plain": alt}, {"image/png": {"alt": alt, "needs_background": "light"}}


def show_figure(fig, alt: str):
    """Attach the text alternative ``alt`` to ``fig`` (``fig.alt_text``) and, in a notebook, display and close it.

    Use it for every figure a notebook draws: ``show_figure(fig, f"... {data-derived numbers} ...")``.
    Outside a notebook's inline backend (tests, scripts) the figure is only labelled and stays open.
    """
    alt = " ".join(str(alt).split())
    if not alt or alt == PLACEHOLDER_ALT:
        raise ValueError("a figure needs a text alternative that says what it shows")
    fig.alt_text = alt
    if "inline" in matplotlib.get_backend():
        from IPython.display import display

        data, metadata = figure_output(fig, alt)
        display(data, raw=True, metadata=metadata)
        plt.close(fig)
    return fig


def image_grid(images: np.ndarray, labels: np.ndarray, class_names: list[str], per_class: int = 8,
               seed: int = 0, title: str | None = None):
    """A grid with one row per class and ``per_class`` random examples of it, labelled."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(per_class * 0.9, len(classes) * 0.95),
                             squeeze=False)
    cmap = "gray" if images.ndim == 3 else None
    for row, label in zip(axes, classes):
        picks = rng.choice(np.flatnonzero(labels == label), per_class, replace=False)
        for ax, index in zip(row, picks):
            ax.imshow(images[index], cmap=cmap, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
        row[0].set_ylabel(class_names[label], rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    size = "x".join(str(side) for side in images.shape[1:3])
    alt = (f"A grid of {size}-pixel {'greyscale' if cmap else 'colour'} images, {per_class} random examples in "
           f"each of {len(classes)} rows, one row per class: {describe.names([class_names[c] for c in classes])}.")
    return show_figure(fig, describe.titled(title, alt))


def class_style(label: int) -> dict:
    """Colour and marker of class ``label`` in scatter plots: the pair differs for each of the first 10 classes."""
    return {"color": PALETTE[label % len(PALETTE)], "marker": MARKERS[label % len(MARKERS)]}


def feature_projection(features: np.ndarray, labels: np.ndarray, class_names: list[str],
                       tsne_points: int = 2000, seed: int = 0, title: str | None = None):
    """Two scatter plots of ``features`` by class (colour and marker): PCA of all points, t-SNE of a random subset.

    t-SNE runs on at most ``tsne_points`` points (it is slow), after a PCA to 50 dimensions.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if len(features) != len(labels):
        raise ValueError(f"features has {len(features)} rows, labels {len(labels)}: pass one label per row")
    pca_2d = PCA(n_components=2, random_state=seed).fit_transform(features)
    subset = random_subset(len(features), tsne_points, seed)
    reduced = PCA(n_components=min(50, *features[subset].shape), random_state=seed).fit_transform(features[subset])
    tsne = TSNE(n_components=2, perplexity=min(30.0, (len(subset) - 1) / 3), init="pca", random_state=seed)
    tsne_2d = tsne.fit_transform(reduced)

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.8))
    sampled = "random " if len(subset) < len(features) else ""
    panels = [(axes[0], pca_2d, labels, f"PCA of all {len(features):,} points"),
              (axes[1], tsne_2d, labels[subset], f"t-SNE of {len(subset):,} {sampled}points")]
    for ax, points, point_labels, panel_title in panels:
        for label in np.unique(labels):
            mine = point_labels == label
            ax.scatter(points[mine, 0], points[mine, 1], s=8, alpha=0.6, label=class_names[label], **class_style(label))
        ax.set_title(panel_title)
        ax.set_xticks([]), ax.set_yticks([])
    axes[1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=2.5, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return show_figure(fig, describe.titled(title, projection_alt(features, panels[1][1], labels[subset], class_names)))


def projection_alt(features: np.ndarray, tsne_2d: np.ndarray, labels: np.ndarray, class_names: list[str]) -> str:
    """How well the classes separate in the t-SNE map: how often a point's nearest neighbour shares its class."""
    from sklearn.neighbors import NearestNeighbors

    _, nearest = NearestNeighbors(n_neighbors=2).fit(tsne_2d).kneighbors(tsne_2d)
    agree = labels[nearest[:, 1]] == labels
    per_class = {class_names[c]: agree[labels == c].mean() for c in np.unique(labels)}
    best, worst = max(per_class, key=per_class.get), min(per_class, key=per_class.get)
    return (f"Two scatter plots of {features.shape[1]}-dimensional features in 2-D, one colour and marker per class "
            f"({len(per_class)} classes): PCA of all {len(features):,} points, t-SNE of {len(tsne_2d):,}. In the t-SNE "
            f"map a point's nearest neighbour has its class for {describe.percent(agree.mean())} of points, most often "
            f"for {best} ({describe.percent(per_class[best])}), least for {worst} ({describe.percent(per_class[worst])}).")


SPLIT_STYLES = {"train": "-", "validation": ":", "test": "--"}  # other split names get dash-dot


def training_curves(histories: dict, splits: list[str] | None = None, *, per_run: bool = False,
                    title: str | None = None):
    """Loss and accuracy per epoch of named runs, each split by its name (train solid, validation dotted, test dashed).

    ``histories`` maps a run's name to its ``History`` or ``History.to_dict()``; ``splits``
    picks the splits to draw (default: every split a run has). ``per_run=False`` draws one
    loss and one accuracy panel with a colour and marker per run; ``per_run=True`` a column per run
    (loss above, accuracy below). Grey lines mark learning-rate changes; a star marks the epoch of
    the returned model (``History.model_epoch``) when it is not the last one.
    """
    runs = {name: History.from_dict(h) if isinstance(h, dict) else h for name, h in histories.items()}
    rows, columns = (2, len(runs)) if per_run else (1, 2)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 6.5) if per_run else (12, 4), squeeze=False)
    for index, (name, history) in enumerate(runs.items()):
        loss_ax, acc_ax = axes[:, index] if per_run else axes[0]
        drawn = [split for split in (splits or history.loss) if split in history.loss]
        for split_index, split in enumerate(drawn):
            key = split_index if per_run else index
            style = dict(ls=SPLIT_STYLES.get(split, "-."), color=PALETTE[key % len(PALETTE)], marker=MARKERS[key % len(MARKERS)],
                         markevery=max(1, len(history.loss[split]) // 8), ms=5, label=split if per_run else f"{name} {split}")
            for ax, values in ((loss_ax, history.loss[split]), (acc_ax, history.acc[split])):
                ax.plot(np.arange(1, len(values) + 1), values, **style)
                if history.model_epoch is not None and history.model_epoch < len(values) - 1:
                    ax.plot(history.model_epoch + 1, values[history.model_epoch], "*", ms=12, color=style["color"])
        for ax in (loss_ax, acc_ax):
            for change in np.flatnonzero(np.diff(history.lr)) + 1:
                ax.axvline(change + 0.5, color="grey", ls=":", lw=1)
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title=f"{name}: loss" if per_run else "loss")
        acc_ax.set(xlabel="epoch", ylabel="accuracy", title=f"{name}: accuracy" if per_run else "accuracy")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return show_figure(fig, describe.training_curves(runs, title))


def confusion_heatmaps(counts: np.ndarray, class_names: list[str], title: str = "",
                       views: tuple[str, ...] = ("counts", "row-normalised")):
    """The confusion matrix as counts and/or row-normalised (recall on the diagonal), side by side.

    Viridis (perceptually uniform, readable in greyscale), each cell's number printed in it.
    """
    import seaborn as sns

    drawn = {"counts": (counts, "d", {}), "row-normalised": (row_normalise(counts), ".2f", {"vmin": 0, "vmax": 1})}
    fig, axes = plt.subplots(1, len(views), figsize=(7.5 * len(views), 6.4), squeeze=False)
    for ax, view in zip(axes[0], views):
        data, fmt, scale = drawn[view]
        sns.heatmap(data, annot=True, fmt=fmt, cmap="viridis", cbar=False, square=True, ax=ax, annot_kws={"fontsize": 9},
                    xticklabels=class_names, yticklabels=class_names, **scale)
        ax.set(xlabel="predicted", ylabel="true", title=f"{title} ({view})".strip())
    fig.tight_layout()
    return show_figure(fig, describe.confusion(counts, class_names, title, views))


def per_class_difference(difference: np.ndarray, class_names: list[str], label: str):
    """A bar per class: blue and plain above zero, vermillion and hatched below, each labelled with its value."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    points = np.asarray(difference) * 100
    bars = ax.bar(class_names, points, color=np.where(points >= 0, PALETTE[0], PALETTE[1]), edgecolor="black")
    for bar, value in zip(bars, points):
        if value < 0:
            bar.set_hatch("//")
    ax.bar_label(bars, labels=[f"{value:+.1f}" for value in points], fontsize=9, padding=2)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.margins(y=0.2)
    ax.set(ylabel="percentage points", title=label)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return show_figure(fig, describe.per_class_difference(difference, class_names, label))


def prediction_gallery(images: np.ndarray, true: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
                       class_names: list[str], columns: int = 8, title: str | None = None):
    """Images with their true class, predicted class and the predicted probability (wrong ones marked in words too)."""
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.7, rows * 2.1), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, t, p, c in zip(axes.flat, images, true, predicted, confidence):
        ax.imshow(image, interpolation="nearest")
        verdict = "" if t == p else " (wrong)"
        ax.set_title(f"true {class_names[t]}\npred {class_names[p]} {c:.0%}{verdict}", fontsize=9,
                     color="black" if t == p else TEXT_WARNING)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return show_figure(fig, describe.prediction_gallery(true, predicted, confidence, class_names, title))


def image_with_probabilities(image: np.ndarray, probabilities: np.ndarray, class_names: list[str], title: str = ""):
    """One image beside a bar chart of its class probabilities (the most probable hatched, every bar labelled)."""
    fig, (image_ax, bar_ax) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1, 2.2]})
    image_ax.imshow(image, interpolation="nearest")
    image_ax.axis("off")
    image_ax.set_title(title)
    best = int(np.argmax(probabilities))
    bars = bar_ax.barh(class_names, probabilities, color=[PALETTE[1] if i == best else PALETTE[0] for i in range(len(class_names))],
                       hatch=["//" if i == best else "" for i in range(len(class_names))], edgecolor="black")
    bar_ax.bar_label(bars, labels=[f"{p:.0%}" for p in probabilities], fontsize=9, padding=2)
    bar_ax.invert_yaxis()
    bar_ax.set(xlim=(0, 1.12), xlabel="probability")
    fig.tight_layout()
    return show_figure(fig, describe.probabilities(probabilities, class_names, title))


def augmentation_grid(rows: dict[str, np.ndarray]):
    """One row per named batch of images (e.g. original, each augmentation, the pipeline)."""
    columns = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(rows), columns, figsize=(columns * 1.1, len(rows) * 1.15), squeeze=False)
    for row, (name, images) in zip(axes, rows.items()):
        for ax, image in zip(row, images):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    fig.tight_layout()
    changed = {name: float(np.mean(np.abs(np.asarray(images, float) - np.asarray(next(iter(rows.values())), float))))
               for name, images in list(rows.items())[1:]}
    alt = (describe.image_rows(rows) + " Each row holds the same images as the first; mean absolute pixel change from "
           "the first row: " + "; ".join(f"{name} {value:.3g}" for name, value in changed.items()) + ".")
    return show_figure(fig, alt)


def cosine_histograms(groups: dict[str, np.ndarray]):
    """Overlaid histograms of cosine similarities, one per named group (colour, hatch and outline differ)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for index, (name, values) in enumerate(groups.items()):
        ax.hist(values, bins=50, alpha=0.55, density=True, color=PALETTE[index % len(PALETTE)],
                hatch=("", "//", "..", "xx")[index % 4], edgecolor=PALETTE[index % len(PALETTE)],
                label=f"{name} (mean {np.mean(values):.3f})")
    ax.set(xlabel="cosine similarity", ylabel="density")
    ax.legend()
    fig.tight_layout()
    return show_figure(fig, describe.histograms(groups, "cosine similarity"))


def weight_images(W: np.ndarray, shape: tuple = (32, 32, 3), columns: int = 10, title: str | None = None):
    """Each column of a first-layer weight matrix ``W`` (pixels, units) as an image of ``shape``.

    Every image is stretched to the full colour range on its own, so the pattern shows, not the scale.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != np.prod(shape):
        raise ValueError(f"W must have shape ({int(np.prod(shape))}, units) for images of shape {shape}, got {W.shape}")
    rows = max(1, -(-W.shape[1] // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 0.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, weights in zip(axes.flat, W.T):
        low, high = weights.min(), weights.max()
        ax.imshow(((weights - low) / (high - low if high > low else 1)).reshape(shape), interpolation="nearest")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    norms = np.linalg.norm(W, axis=0)
    alt = (f"The weights of {W.shape[1]} first-layer units, each drawn as a {'x'.join(map(str, shape[:2]))} image "
           f"stretched to the full colour range on its own; weight vector lengths from {norms.min():.3g} to {norms.max():.3g}.")
    return show_figure(fig, describe.titled(title, alt))


def show_tiles(tiles, ncols=12, titles=None, title=None, tile_inches=0.9):
    """Draw small images side by side: filters, response maps or learned kernels.

    ``tiles`` is (K, H, W), drawn with a diverging colour map centred on zero per tile
    (red positive, blue negative: a pair every common colour-vision deficiency tells apart), or
    (K, 3, H, W), drawn as colour images each stretched to [0, 1]. Returns the figure.
    """
    tiles = np.asarray(tiles, dtype=np.float64)
    if not (tiles.ndim == 3 or (tiles.ndim == 4 and tiles.shape[1] == 3)):
        raise ValueError(f"tiles must be (K, H, W) or (K, 3, H, W), got shape {tiles.shape}")
    nrows = -(-len(tiles) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * tile_inches, nrows * tile_inches + (0.4 if title else 0)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= len(tiles):
            continue
        tile = tiles[k]
        if tile.ndim == 3:
            low, high = tile.min(), tile.max()
            ax.imshow(((tile - low) / (high - low if high > low else 1)).transpose(1, 2, 0), interpolation="nearest")
        else:
            limit = np.abs(tile).max() or 1
            ax.imshow(tile, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return show_figure(fig, describe.tiles(tiles, titles, title))


def image(picture: np.ndarray, title: str, alt: str, inches: float = 1.6):
    """One small image (greyscale when 2-D), titled, with the text alternative ``alt``."""
    fig, ax = plt.subplots(figsize=(inches, inches))
    ax.imshow(picture, cmap="gray" if np.ndim(picture) == 2 else None)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    return show_figure(fig, alt)


def heatmap(table, value: str, *, xlabel: str, ylabel: str, title: str, fmt: str = ".3f"):
    """A table (a pandas DataFrame) as a viridis heat map with each value printed in its cell."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(7, 4))
    sns.heatmap(table, annot=True, fmt=fmt, cmap="viridis", ax=ax, cbar_kws={"label": value})
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    plain = lambda text: text.replace("$", "").replace("\\", "")  # noqa: E731  (TeX in labels, not in the description)
    return show_figure(fig, describe.heatmap(table, value, plain(ylabel), plain(xlabel), title))


def line_chart(table, references: dict[str, float], *, xlabel: str, ylabel: str, title: str, logy: bool = False):
    """One line per column of a DataFrame (colour, marker and line style differ), horizontal reference lines."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for index, (name, series) in enumerate(table.items()):
        ax.plot(series.index, series.to_numpy(), label=str(name), color=PALETTE[index % len(PALETTE)],
                marker=MARKERS[index % len(MARKERS)], ls=("-", "--", "-.", ":")[index % 4])
    for index, (label, level) in enumerate(references.items()):
        ax.axhline(level, color=("black", "#555555")[index % 2], ls=("--", ":")[index % 2], label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, yscale="log" if logy else "linear")
    ax.legend(fontsize=9, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plain = {label.replace("$", "").replace("\\", ""): level for label, level in references.items()}
    return show_figure(fig, describe.lines(table, plain, ylabel, title))
