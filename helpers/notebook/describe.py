"""Text alternatives for the notebooks' figures, written from the data each figure plots.

Every function returns one or two sentences a screen-reader user can act on: what the figure
shows and the finding a sighted reader would take from it (a trend, the largest value, a
comparison), with the numbers. ``helpers.notebook.plots`` attaches them to the figures.
"""
from __future__ import annotations

import numpy as np


def names(items, limit: int = 10) -> str:
    """``a, b and c`` (at most ``limit`` names, then how many more)."""
    items = [str(item) for item in items]
    if len(items) > limit:
        items = [*items[:limit], f"{len(items) - limit} more"]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def titled(title: str | None, text: str) -> str:
    """``text`` preceded by the figure's title, when it has one."""
    return f"{title.strip()}: {text}" if title and title.strip() else text


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def main_split(splits) -> str:
    """The split a reader judges a run by: test, else validation, else the first one."""
    return next((split for split in ("test", "validation") if split in splits), next(iter(splits)))


def run_sentence(name: str, history, split: str) -> str:
    """How one run's accuracy on ``split`` went: start, end, best epoch when it is not the last."""
    acc = np.asarray(history.acc[split], dtype=float)
    text = f"{name}: {split} accuracy goes from {percent(acc[0])} to {percent(acc[-1])}"
    best = int(np.argmax(acc))
    if acc[best] > acc[-1]:
        text += f" (highest {percent(acc[best])} at epoch {best + 1})"
    loss = np.asarray(history.loss[split], dtype=float)
    return text + f", {split} loss from {loss[0]:.3g} to {loss[-1]:.3g}"


def training_curves(runs: dict, title: str | None = None) -> str:
    """Loss and accuracy per epoch of named runs; the final accuracies compared."""
    epochs = sorted({len(next(iter(h.acc.values()))) for h in runs.values()})
    span = f"{epochs[0]} epochs" if len(epochs) == 1 else f"{epochs[0]} to {epochs[-1]} epochs"
    splits = sorted({split for h in runs.values() for split in h.acc})
    quoted = names([f"“{name}”" for name in runs])  # run names may hold commas
    text = (f"Training curves over {span}, loss and accuracy per epoch for {quoted} "
            f"(splits: {names(splits)}). ")
    text += "; ".join(run_sentence(f"“{name}”", h, main_split(h.acc)) for name, h in runs.items()) + "."
    finals = {name: h.acc[main_split(h.acc)][-1] for name, h in runs.items()}
    if len(finals) > 1:
        order = sorted(finals, key=finals.get, reverse=True)
        gap = 100 * (finals[order[0]] - finals[order[1]])
        text += f" “{order[0]}” ends highest, {gap:.1f} points above “{order[1]}”."
    changes = sorted({int(c) + 1 for h in runs.values() for c in np.flatnonzero(np.diff(h.lr))})
    if changes:
        text += f" The learning rate changes after epoch{'s' if len(changes) > 1 else ''} {names(changes)}."
    return titled(title, text)


def confusion(counts: np.ndarray, class_names: list[str], title: str, views) -> str:
    """A confusion matrix: accuracy, the best and worst recalled classes, the most frequent mistake."""
    counts = np.asarray(counts)
    total = counts.sum()
    recall = np.diag(counts) / np.maximum(counts.sum(axis=1), 1)
    off = counts.astype(float).copy()
    np.fill_diagonal(off, -1)
    true, predicted = np.unravel_index(int(np.argmax(off)), off.shape)
    text = (f"Confusion matrix ({names(views)}) of {total:,} examples over {len(class_names)} classes, true class "
            f"in rows, predicted class in columns, each cell's value printed in it. Accuracy {percent(np.trace(counts) / max(total, 1))}; "
            f"best recalled class {class_names[int(np.argmax(recall))]} ({percent(recall.max())}), "
            f"worst {class_names[int(np.argmin(recall))]} ({percent(recall.min())})")
    if off[true, predicted] > 0:
        text += (f"; most frequent mistake: {class_names[true]} taken for {class_names[predicted]} "
                 f"({int(counts[true, predicted])} times)")
    return titled(title, text + ".")


def per_class_difference(difference: np.ndarray, class_names: list[str], label: str) -> str:
    """A bar per class: how many above and below zero, the extremes, the mean."""
    points = 100 * np.asarray(difference, dtype=float)
    up, down = int((points > 0).sum()), int((points < 0).sum())
    text = (f"Bar chart of {label} in percentage points, one bar per class: {up} of {len(points)} classes above zero, "
            f"{down} below. Largest {class_names[int(np.argmax(points))]} ({points.max():+.1f}), smallest "
            f"{class_names[int(np.argmin(points))]} ({points.min():+.1f}); mean {points.mean():+.2f} points.")
    return text


def prediction_gallery(true, predicted, confidence, class_names: list[str], title: str | None) -> str:
    """Images with their predictions: how many are right, and each image's true and predicted class."""
    right = int(np.sum(np.asarray(true) == np.asarray(predicted)))
    items = [f"{class_names[t]} predicted {class_names[p]} {c:.0%}" for t, p, c in zip(true, predicted, confidence)]
    text = (f"{len(items)} images, each titled with its true class, the predicted class and the predicted "
            f"probability; {right} of {len(items)} predictions are right. In order: {names(items, limit=16)}.")
    return titled(title, text)


def probabilities(probabilities: np.ndarray, class_names: list[str], title: str) -> str:
    """An image and its class probabilities: the three most probable classes."""
    order = np.argsort(-np.asarray(probabilities))[:3]
    ranked = names([f"{class_names[i]} {percent(probabilities[i])}" for i in order])
    return titled(title, f"An image beside a bar chart of its predicted probability for each of "
                         f"{len(class_names)} classes; the most probable: {ranked}.")


def image_rows(rows: dict, what: str = "images") -> str:
    """A grid of images with one named row per group."""
    sizes = {len(images) for images in rows.values()}
    per_row = f"{sizes.pop()} {what}" if len(sizes) == 1 else what
    return f"A grid of {what}, one row of {per_row} per {names(rows)}, in that order."


def histograms(groups: dict[str, np.ndarray], quantity: str) -> str:
    """Overlaid histograms: each group's mean and middle 90 %."""
    parts = [f"{name}: mean {np.mean(v):.3f}, 90% between {np.quantile(v, 0.05):.3f} and {np.quantile(v, 0.95):.3f}"
             for name, v in groups.items()]
    return f"Overlaid histograms of {quantity} for {len(groups)} groups. " + "; ".join(parts) + "."


def tiles(tiles: np.ndarray, titles, title: str | None) -> str:
    """Small images side by side: how many, their size, their labels, the strongest one."""
    tiles = np.asarray(tiles, dtype=float)
    shape = "x".join(str(side) for side in tiles.shape[-2:])
    kind = "colour images" if tiles.ndim == 4 else "signed maps (red positive, blue negative, white zero)"
    strength = np.abs(tiles.reshape(len(tiles), -1)).max(axis=1)
    strongest = int(np.argmax(strength))
    label = titles[strongest] if titles is not None else f"number {strongest + 1}"
    text = f"{len(tiles)} tiles of {shape} {kind}"
    if titles is not None:
        text += f", labelled {names(titles, limit=12)}"
    return titled(title, text + f". The largest absolute value, {strength.max():.3g}, is in {label}.")


def heatmap(table, value: str, rows: str, columns: str, title: str | None) -> str:
    """A table as a heat map: its shape, the highest and lowest cell."""
    values = table.to_numpy(dtype=float)
    if np.isnan(values).all():
        return titled(title, f"Heat map of {value} by {rows} and {columns}; every cell is empty.")
    hi, lo = np.unravel_index(np.nanargmax(values), values.shape), np.unravel_index(np.nanargmin(values), values.shape)
    cell = lambda i, j: f"{rows} {table.index[i]}, {columns} {table.columns[j]}"  # noqa: E731
    text = (f"Heat map of {value}, {values.shape[0]} rows of {rows} by {values.shape[1]} columns of {columns}, each "
            f"value printed in its cell ({int(np.isnan(values).sum())} empty). Highest {values[hi]:.3g} at {cell(*hi)}; "
            f"lowest {values[lo]:.3g} at {cell(*lo)}.")
    return titled(title, text)


def lines(table, references: dict[str, float], ylabel: str, title: str | None) -> str:
    """One line per column of ``table`` against its index, and horizontal reference lines."""
    drawn = {name: series.dropna() for name, series in table.items()}
    parts = [f"{name} from {series.iloc[0]:.2g} at {series.index[0]} to {series.iloc[-1]:.2g} at {series.index[-1]} "
             f"(largest {series.max():.2g})" for name, series in drawn.items() if len(series)]
    text = f"Line chart of {ylabel} by {table.index.name or 'position'}, one line per {names(table.columns)}: "
    text += "; ".join(parts) + "."
    for label, level in references.items():
        above = [str(name) for name, series in drawn.items() if series.max() > level]
        reach = f"{names(above)} reach{'es' if len(above) == 1 else ''}" if above else "no line reaches"
        text += f" Reference line {label} at {level:.2g}: {reach} above it."
    return titled(title, text)
