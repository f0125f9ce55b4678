"""A seeded random search sampler for the two-layer-net notebook."""
from __future__ import annotations

import numpy as np


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
