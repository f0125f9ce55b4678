"""Figures the notebooks share."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from helpers.data.datasets import random_subset
from helpers.metrics import row_normalise
from helpers.train import History


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
        row[0].set_ylabel(class_names[label], rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def feature_projection(features: np.ndarray, labels: np.ndarray, class_names: list[str],
                       tsne_points: int = 2000, seed: int = 0, title: str | None = None):
    """Two scatter plots of ``features`` coloured by class: PCA of all points, t-SNE of a random subset.

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
    colours = plt.get_cmap("tab10")
    for ax, points, point_labels, panel_title in panels:
        for label in np.unique(labels):
            mine = point_labels == label
            ax.scatter(points[mine, 0], points[mine, 1], s=6, alpha=0.6, color=colours(label % 10),
                       label=class_names[label])
        ax.set_title(panel_title)
        ax.set_xticks([]), ax.set_yticks([])
    axes[1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=3, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


SPLIT_STYLES = {"train": "-", "validation": ":", "test": "--"}  # other split names get dash-dot


def training_curves(histories: dict, splits: list[str] | None = None, *, per_run: bool = False,
                    title: str | None = None):
    """Loss and accuracy per epoch of named runs, each split by its name (train solid, validation dotted, test dashed).

    ``histories`` maps a run's name to its ``History`` or ``History.to_dict()``; ``splits``
    picks the splits to draw (default: every split a run has). ``per_run=False`` draws one
    loss and one accuracy panel with a colour per run; ``per_run=True`` a column per run (loss
    above, accuracy below). Grey lines mark learning-rate changes; a star marks the epoch of the
    returned model (``History.model_epoch``) when it is not the last one.
    """
    runs = {name: History.from_dict(h) if isinstance(h, dict) else h for name, h in histories.items()}
    rows, columns = (2, len(runs)) if per_run else (1, 2)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 6.5) if per_run else (12, 4), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, history) in enumerate(runs.items()):
        loss_ax, acc_ax = axes[:, index] if per_run else axes[0]
        drawn = [split for split in (splits or history.loss) if split in history.loss]
        for split_index, split in enumerate(drawn):
            colour = colours[(split_index if per_run else index) % len(colours)]
            style = dict(ls=SPLIT_STYLES.get(split, "-."), color=colour, label=split if per_run else f"{name} {split}")
            for ax, values in ((loss_ax, history.loss[split]), (acc_ax, history.acc[split])):
                ax.plot(np.arange(1, len(values) + 1), values, **style)
                if history.model_epoch is not None and history.model_epoch < len(values) - 1:
                    ax.plot(history.model_epoch + 1, values[history.model_epoch], "*", ms=10, color=style["color"])
        for ax in (loss_ax, acc_ax):
            for change in np.flatnonzero(np.diff(history.lr)) + 1:
                ax.axvline(change + 0.5, color="grey", ls=":", lw=1)
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title=f"{name}: loss" if per_run else "loss")
        acc_ax.set(xlabel="epoch", ylabel="accuracy", title=f"{name}: accuracy" if per_run else "accuracy")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_heatmaps(counts: np.ndarray, class_names: list[str], title: str = "",
                       views: tuple[str, ...] = ("counts", "row-normalised")):
    """The confusion matrix as counts and/or row-normalised (recall on the diagonal), side by side."""
    import seaborn as sns


    drawn = {"counts": (counts, "d", {}), "row-normalised": (row_normalise(counts), ".2f", {"vmin": 0, "vmax": 1})}
    fig, axes = plt.subplots(1, len(views), figsize=(7.5 * len(views), 6), squeeze=False)
    for ax, view in zip(axes[0], views):
        data, fmt, scale = drawn[view]
        sns.heatmap(data, annot=True, fmt=fmt, cmap="Blues", cbar=False, square=True, ax=ax, annot_kws={"fontsize": 7},
                    xticklabels=class_names, yticklabels=class_names, **scale)
        ax.set(xlabel="predicted", ylabel="true", title=f"{title} ({view})".strip())
    fig.tight_layout()
    return fig


def per_class_difference(difference: np.ndarray, class_names: list[str], label: str):
    """A bar per class, green above zero and red below."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.bar(class_names, difference * 100, color=np.where(difference >= 0, "tab:green", "tab:red"))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(ylabel="percentage points", title=label)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig


def prediction_gallery(images: np.ndarray, true: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
                       class_names: list[str], columns: int = 8, title: str | None = None):
    """Images with their true class, predicted class and the predicted probability."""
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, t, p, c in zip(axes.flat, images, true, predicted, confidence):
        ax.imshow(image, interpolation="nearest")
        ax.set_title(f"true {class_names[t]}\npred {class_names[p]} {c:.0%}", fontsize=8,
                     color="black" if t == p else "tab:red")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_with_probabilities(image: np.ndarray, probabilities: np.ndarray, class_names: list[str], title: str = ""):
    """One image beside a bar chart of its class probabilities."""
    fig, (image_ax, bar_ax) = plt.subplots(1, 2, figsize=(10, 3.5), gridspec_kw={"width_ratios": [1, 2.2]})
    image_ax.imshow(image, interpolation="nearest")
    image_ax.axis("off")
    image_ax.set_title(title)
    best = int(np.argmax(probabilities))
    bar_ax.barh(class_names, probabilities, color=["tab:orange" if i == best else "tab:blue" for i in range(len(class_names))])
    bar_ax.invert_yaxis()
    bar_ax.set(xlim=(0, 1), xlabel="probability")
    fig.tight_layout()
    return fig


def augmentation_grid(rows: dict[str, np.ndarray]):
    """One row per named batch of images (e.g. original, each augmentation, the pipeline)."""
    columns = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(rows), columns, figsize=(columns * 1.1, len(rows) * 1.15), squeeze=False)
    for row, (name, images) in zip(axes, rows.items()):
        for ax, image in zip(row, images):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def cosine_histograms(groups: dict[str, np.ndarray]):
    """Overlaid histograms of cosine similarities, one per named group."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, values in groups.items():
        ax.hist(values, bins=50, alpha=0.6, density=True, label=f"{name} (mean {np.mean(values):.3f})")
    ax.set(xlabel="cosine similarity", ylabel="density")
    ax.legend()
    fig.tight_layout()
    return fig


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
    return fig


def show_tiles(tiles, ncols=12, titles=None, title=None, tile_inches=0.9):
    """Draw small images side by side: filters, response maps or learned kernels.

    ``tiles`` is (K, H, W), drawn with a diverging colour map centred on zero per tile
    (red positive, blue negative), or (K, 3, H, W), drawn as colour images each
    stretched to [0, 1]. Returns the figure.
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
            ax.set_title(titles[k], fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
