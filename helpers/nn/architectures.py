"""Every architecture form this project has recorded, read as the list of layers ``Classifier`` records.

Older manifests record a model by its arguments (``{"model": "MLP", ...}``, ``{"model": "CNN", ...}``);
:func:`generic_architecture` turns them into ``{"model": "Classifier", "input_shape", "layers"}``.
"""
from __future__ import annotations

from .cnn import cnn_layers
from .model import architecture_of, mlp_layers

# the arguments each older form records, besides "model"
MODEL_ARGUMENTS = {
    "MLP": ("layer_sizes", "activation"),
    "CNN": ("input_shape", "conv_channels", "kernel_size", "pool", "pool_size", "hidden", "num_classes", "activation"),
}


def generic_architecture(recorded: dict) -> dict:
    """``{"model": "Classifier", "input_shape", "layers"}`` for a recorded architecture, in any form this project wrote.

    Raises: ValueError naming the form when ``recorded`` is none of them or lacks an argument.
    """
    kind = recorded.get("model") if isinstance(recorded, dict) else None
    if kind == "Classifier":
        return recorded
    if kind not in MODEL_ARGUMENTS:
        raise ValueError(f"unknown model architecture {recorded!r}: 'model' must be one of "
                         f"{sorted(['Classifier', *MODEL_ARGUMENTS])}")
    missing = [name for name in MODEL_ARGUMENTS[kind] if name not in recorded]
    if missing:
        raise ValueError(f"the {kind} architecture {recorded!r} lacks {', '.join(missing)}")
    if kind == "MLP":
        sizes = [int(size) for size in recorded["layer_sizes"]]
        return architecture_of(sizes[:1], mlp_layers(sizes, recorded["activation"]))
    arguments = {name: recorded[name] for name in MODEL_ARGUMENTS[kind]}
    return architecture_of(recorded["input_shape"], cnn_layers(**arguments))
