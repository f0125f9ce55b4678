"""Raw-pixel preprocessing and a seeded random search sampler for the two-layer-net notebook."""
from __future__ import annotations

import numpy as np


def centred_pixels(train_images: np.ndarray, *other_images: np.ndarray, dtype=np.float32):
    """Images as rows of pixels, minus the training mean image, divided by the training pixels' std.

    Every statistic comes from ``train_images`` only and is applied unchanged to
    ``other_images`` (validation, test). Returns ``[train_rows, *other_rows]``, each of
    shape ``(n, H*W*C)``; the mean image is subtracted pixel by pixel, the std is one number.
    """
    rows = [np.asarray(images).reshape(len(images), -1).astype(dtype) for images in (train_images, *other_images)]
    mean_image = rows[0].mean(axis=0, dtype=np.float64).astype(dtype)
    for block in rows:
        block -= mean_image
    scale = dtype(rows[0].std(dtype=np.float64))
    for block in rows:
        block /= scale
    return rows


def random_configurations(space: dict, trials: int, seed: int = 0) -> list[dict]:
    """``trials`` random settings from ``space``, reproducibly from ``default_rng(seed)``.

    ``space`` maps a name to a list (one item drawn uniformly) or to a tuple ``(low, high)``
    of positive numbers (drawn log-uniformly, the usual choice for rates and strengths).
    """
    rng = np.random.default_rng(seed)
    configurations = []
    for _ in range(trials):
        drawn = {}
        for name, values in space.items():
            if isinstance(values, list):
                drawn[name] = values[rng.integers(len(values))]
            elif isinstance(values, tuple) and len(values) == 2 and 0 < values[0] <= values[1]:
                drawn[name] = float(np.exp(rng.uniform(np.log(values[0]), np.log(values[1]))))
            else:
                raise ValueError(f"{name}: give a list of choices or a (low, high) tuple of positive numbers, got {values!r}")
        configurations.append(drawn)
    return configurations
