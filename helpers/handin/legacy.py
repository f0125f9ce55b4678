"""Reading the layouts this project reads but no longer writes: older model manifests and the seeds' pickles.

- older model manifests (an architecture recorded by the model's arguments): read beside the models,
  by ``helpers.nn.architectures.generic_architecture``, which ``helpers.store.artifacts.load_model`` uses.
- :func:`load_student_params`: a bare parameter pickle in one of the seeds' layouts (no manifest),
  converted to the project's layout, with a loud warning that it is unverified.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from helpers.nn.model import Classifier, mlp_layers
from helpers.store import artifacts

UNVERIFIED_BANNER = "UNVERIFIED: {file} has no manifest; its origin and integrity cannot be checked."


def _layer_shapes(params: dict, file: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    keys = sorted(params, key=str)
    layers = len(params) // 2
    expected = sorted(f"{kind}{i}" for i in range(1, layers + 1) for kind in "Wb")
    if layers < 1 or keys != expected:
        raise ValueError(f"{file}: keys {keys} are not W1, b1, ..., WL, bL")
    pairs = [(np.asarray(params[f"W{i}"]), np.asarray(params[f"b{i}"])) for i in range(1, layers + 1)]
    for W, b in pairs:
        if W.ndim != 2 or b.ndim not in (1, 2) or not (np.issubdtype(W.dtype, np.floating)
                                                       and np.issubdtype(b.dtype, np.floating)):
            raise ValueError(f"{file}: {_shapes(pairs)} are not floating weight matrices and bias vectors")
    return pairs


def _shapes(pairs) -> str:
    return ", ".join(f"W{i} {tuple(W.shape)} b{i} {tuple(b.shape)}" for i, (W, b) in enumerate(pairs, 1))


def _fits(pairs, layout: str, in_features: int | None, num_classes: int | None) -> bool:
    """Whether every layer reads as ``rows`` (W (in, out), b (out,) or (1, out)) or ``columns`` (W (out, in))."""
    sizes = []
    for W, b in pairs:
        fan_in, fan_out = W.shape if layout == "rows" else W.shape[::-1]
        bias_ok = b.shape == (fan_out,) or b.shape == ((1, fan_out) if layout == "rows" else (fan_out, 1))
        if not bias_ok or (sizes and sizes[-1] != fan_in):
            return False
        sizes += [fan_in, fan_out] if not sizes else [fan_out]
    return (in_features is None or sizes[0] == in_features) and (num_classes is None or sizes[-1] == num_classes)


def load_student_params(file: str | os.PathLike, in_features: int | None = 512, num_classes: int | None = 10,
                        activation: str = "relu"):
    """``(model, layout)``: the MLP (a ``Classifier``) in a bare pickle of a seed layout, ``rows`` (seed 001:
    W1 (512, 64), b1 (1, 64)) or ``columns`` (seed 000: W1 (64, 512), b1 (64, 1)).

    The pickle goes through the restricted unpickler; the layout is recognised from the shapes, and
    ambiguous or inconsistent shapes are refused naming the file and the shapes. Such a file has no
    manifest, so a loud warning says it is unverified; its activation cannot be known and is taken as
    ``activation`` (the seeds used ReLU).
    """
    file = Path(file)
    raw = artifacts.safe_unpickle(file)
    if not isinstance(raw, dict):
        raise ValueError(f"{file} holds a {type(raw).__name__}, not a dict of parameters")
    params = {key.decode() if isinstance(key, bytes) else key: value for key, value in raw.items()}
    pairs = _layer_shapes(params, file)
    layouts = [layout for layout in ("rows", "columns") if _fits(pairs, layout, in_features, num_classes)]
    if len(layouts) != 1:
        problem = "fit both the row and the column layout (ambiguous)" if layouts else "fit neither layout"
        raise ValueError(f"{file}: shapes {_shapes(pairs)} {problem}; expected W1 ({in_features}, hidden) with "
                         f"b1 (1, hidden) or (hidden,), or W1 (hidden, {in_features}) with b1 (hidden, 1)")
    layout = layouts[0]
    dtype = np.result_type(*[array.dtype for pair in pairs for array in pair])
    converted = {}
    for i, (W, b) in enumerate(pairs, 1):
        converted[f"W{i}"] = np.ascontiguousarray(W if layout == "rows" else W.T, dtype=dtype)
        converted[f"b{i}"] = np.ascontiguousarray(b.reshape(-1), dtype=dtype)
    print("!" * 100 + "\n" + UNVERIFIED_BANNER.format(file=file) + f"\nread as the {layout} layout with "
          f"{activation} hidden units: {_shapes(pairs)}\n" + "!" * 100, file=sys.stderr, flush=True)
    sizes = [converted["W1"].shape[0]] + [converted[f"W{i}"].shape[1] for i in range(1, len(pairs) + 1)]
    return Classifier.from_params(converted, sizes[:1], mlp_layers(sizes, activation)), layout

