"""The ResNet18 backbone and its weights: ImageNet, a state_dict file, or random (only when asked, and loudly).

``"imagenet"``: torchvision's IMAGENET1K_V1 through the usual torch hub cache
(``$TORCH_HOME/hub/checkpoints``); a path to a ResNet18 state_dict (such as the downloaded
``resnet18-f37072fd.pth``); or ``"random"``, only when asked for by that word, always announced.
The backbone's classifier (``fc``) is the identity, so it returns the 512-d global average pool.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import torch
import torchvision

from helpers.core import config
from helpers.core.device import pick_device
from helpers.store import artifacts

IMAGENET_WEIGHTS = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
IMAGENET_FILE = Path(IMAGENET_WEIGHTS.url).name  # resnet18-f37072fd.pth
IMAGENET_SHA256_PREFIX = torch.hub.HASH_REGEX.search(IMAGENET_FILE).group(1)  # f37072fd: torchvision's check
RANDOM_SEED = 0

_BANNER_LINES = (
    "RANDOM WEIGHTS: features are not ImageNet features; accuracies will be far below the seeds'.",
    "Set FEATURE_WEIGHTS=imagenet (or the path of a ResNet18 .pth file) for real features.",
)
RANDOM_BANNER = "\n".join(["!" * 100, *(f"!!  {line:<94}!!" for line in _BANNER_LINES), "!" * 100])


class WeightsError(RuntimeError):
    """The ResNet18 weights asked for cannot be loaded."""


# ----------------------------------------------------------------------------- weights
def weights_source(weights: str | os.PathLike) -> str | Path:
    """'imagenet', 'random' or the Path of an existing state_dict file."""
    if not isinstance(weights, str | os.PathLike):
        raise TypeError(f"weights={weights!r}: pass 'imagenet', 'random' or a path to a .pth file")
    word = str(weights).strip()
    if word.lower() in ("imagenet", "random"):
        return word.lower()
    file = Path(word).expanduser()
    if not file.is_file():
        raise WeightsError(
            f"weights file {file} does not exist: weights (FEATURE_WEIGHTS) must be 'imagenet', "
            f"'random' or the path of a ResNet18 state_dict such as {IMAGENET_FILE}"
        )
    return file


def describe_weights(weights: str | os.PathLike) -> str:
    """The weights in words, for printing (loud when random)."""
    source = weights_source(weights)
    if source == "imagenet":
        return f"ImageNet-1k (torchvision ResNet18 {IMAGENET_WEIGHTS.name})"
    if source == "random":
        return f"RANDOM (seed {RANDOM_SEED}): NOT ImageNet features, accuracies will be far below the seeds'"
    return f"state_dict file {source}"


def weights_kind(weights: str | os.PathLike) -> str:
    """``'imagenet'``, ``'random'`` or ``'file'`` (any other state_dict): what the weights are, not what they are called.

    A local file counts as ImageNet when its sha256 starts with the prefix torchvision puts
    in the file name and checks after downloading (``resnet18-f37072fd.pth``), whatever the
    file is called; a file of that name with other contents does not.
    """
    source = weights_source(weights)
    if isinstance(source, Path):
        return "imagenet" if artifacts.sha256_of(source).startswith(IMAGENET_SHA256_PREFIX) else "file"
    return source


def weights_id(weights: str | os.PathLike) -> str:
    """Short identity of the weights for cache keys and manifests."""
    source = weights_source(weights)
    if source == "imagenet":
        return IMAGENET_WEIGHTS.name.lower()
    if source == "random":
        return f"random:seed{RANDOM_SEED}"
    return f"file:{artifacts.sha256_of(source)[:12]}"


def local_weights(recorded_id: str) -> str | Path | None:
    """Weights on this machine that give features with ``recorded_id`` (see :func:`weights_id`), or None.

    Looked for without any download: ``random`` for the seeded random id; otherwise the file named by
    FEATURE_WEIGHTS or torchvision's cached ``resnet18-f37072fd.pth``, matched by checksum (the
    ImageNet file's sha256 starts with the hex digits in its name).
    """
    if recorded_id == weights_id("random"):
        return "random"
    candidates = [Path(torch.hub.get_dir()) / "checkpoints" / IMAGENET_FILE]
    if config.feature_weights().lower() not in ("imagenet", "random"):
        candidates.insert(0, Path(config.feature_weights()).expanduser())
    for file in candidates:
        if file.is_file():
            digest = artifacts.sha256_of(file)
            if recorded_id == f"file:{digest[:12]}" or (recorded_id == weights_id("imagenet")
                                                         and digest.startswith(IMAGENET_SHA256_PREFIX)):
                return file
    return None


@functools.cache
def announce_random_weights() -> None:
    """Print the random-weights banner (to stderr, so notebooks show it in red), once per process."""
    print(RANDOM_BANNER, file=sys.stderr, flush=True)


def _headless_resnet18() -> torch.nn.Module:
    model = torchvision.models.resnet18(weights=None)
    model.fc = torch.nn.Identity()
    return model


def _imagenet_state_dict() -> dict:
    try:
        return IMAGENET_WEIGHTS.get_state_dict(progress=True, check_hash=True)
    except Exception as err:  # any download failure gets the same advice
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        raise WeightsError(
            f"could not get the ImageNet ResNet18 weights ({type(err).__name__}: {err}). Without "
            f"internet, fetch {IMAGENET_WEIGHTS.url} elsewhere and either set "
            f"FEATURE_WEIGHTS=/path/to/{IMAGENET_FILE} or place the file in {hub}/ "
            "(TORCH_HOME moves that folder); or opt into untrained features with FEATURE_WEIGHTS=random"
        ) from err


def _file_state_dict(file: Path) -> dict:
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # pickles fail in many ways
        raise WeightsError(f"{file} is not a readable PyTorch state_dict ({err})") from err
    if not isinstance(state, dict):
        raise WeightsError(f"{file} holds a {type(state).__name__}, not a state_dict (a dict of tensors)")
    return state


def _load_into(model: torch.nn.Module, state: dict, where: str) -> None:
    """Strict loading of every key but the classifier's (fc.*), which the features do not use."""
    state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    try:
        # not strict: batch norm itself fills in num_batches_tracked, absent from old files
        keys = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes that do not fit
        raise WeightsError(f"{where} does not fit ResNet18: {err}") from err
    missing, unexpected = keys.missing_keys, keys.unexpected_keys
    if missing or unexpected:
        raise WeightsError(
            f"{where} is not a torchvision ResNet18 state_dict: missing keys {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}, unexpected keys {unexpected[:5]}"
            f"{' ...' if len(unexpected) > 5 else ''}"
        )


def backbone(source: str | Path, device: torch.device) -> torch.nn.Module:
    if source == "random":
        with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's RNG
            torch.manual_seed(RANDOM_SEED)
            model = _headless_resnet18()
    else:
        model = _headless_resnet18()
        state = _imagenet_state_dict() if source == "imagenet" else _file_state_dict(source)
        _load_into(model, state, "the ImageNet download" if source == "imagenet" else str(source))
    return model.eval().to(device)


def load_backbone(weights: str | os.PathLike, device: torch.device | str | None = None):
    """(ResNet18 with fc = Identity, in eval mode on ``device``, weights_id); loud when random."""
    source = weights_source(weights)
    if source == "random":
        announce_random_weights()
    return backbone(source, pick_device(device)), weights_id(weights)
