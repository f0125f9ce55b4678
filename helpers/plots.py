"""Figures the notebooks share."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


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
