"""Run-time configuration, read from the environment in this one place.

| variable          | meaning                                                      | default        |
|-------------------|--------------------------------------------------------------|----------------|
| BUNDLE_PROFILE    | ``smoke`` (small stratified subset, few epochs) or ``full``  | ``full``       |
| BUNDLE_ARTIFACTS  | where generated files go                                     | ``artifacts/`` |
| CIFAR10_DIR       | CIFAR-10 source: batches folder, image-folder tree or archive | download      |
| MNIST_DIR         | MNIST source: ``mnist.npz`` or a folder holding it           | download       |
| FEATURE_WEIGHTS   | ResNet18 weights: ``imagenet``, a ``.pth`` path or ``random`` | ``imagenet``  |
| SUBMISSION        | a ``submission-*.zip`` for the quick-inference notebook       | none           |

Values are read when asked for, not at import, so a test can change them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Profile:
    """How much data and how many epochs a run uses."""

    name: str
    train_per_class: int | None  # None: every image
    test_per_class: int | None
    mlp_epochs: int
    lr_step: int  # divide the learning rate by 10 every lr_step epochs
    seed: int = 0


PROFILES = {
    # on 1,000 features an MLP epoch takes milliseconds: smoke keeps the seed schedule
    "smoke": Profile("smoke", train_per_class=100, test_per_class=50, mlp_epochs=300, lr_step=100),
    "full": Profile("full", train_per_class=None, test_per_class=None, mlp_epochs=300, lr_step=100),
}


def profile() -> Profile:
    """The profile named by BUNDLE_PROFILE (default ``full``)."""
    name = os.environ.get("BUNDLE_PROFILE", "full").strip().lower()
    if name not in PROFILES:
        raise ValueError(
            f"BUNDLE_PROFILE={name!r} is not a known profile: set it to one of {sorted(PROFILES)}"
        )
    return PROFILES[name]


def artifacts_root() -> Path:
    """Top folder for every generated file (BUNDLE_ARTIFACTS, default ``artifacts/``)."""
    return Path(os.environ.get("BUNDLE_ARTIFACTS", REPO_ROOT / "artifacts")).expanduser().resolve()


def run_dir() -> Path:
    """Outputs of the current profile, kept apart so a smoke run never overwrites a full one."""
    return artifacts_root() / profile().name


def cache_dir() -> Path:
    """Decoded data sets and feature caches, shared by every profile."""
    return artifacts_root() / "cache"


def _optional_path(variable: str) -> Path | None:
    value = os.environ.get(variable, "").strip()
    return Path(value).expanduser() if value else None


def cifar10_source() -> Path | None:
    """The CIFAR-10 source named by CIFAR10_DIR, if any."""
    return _optional_path("CIFAR10_DIR")


def mnist_source() -> Path | None:
    """The MNIST source named by MNIST_DIR, if any."""
    return _optional_path("MNIST_DIR")


def feature_weights() -> str:
    """FEATURE_WEIGHTS: ``imagenet`` (default), a local state_dict path, or ``random``."""
    return os.environ.get("FEATURE_WEIGHTS", "imagenet").strip() or "imagenet"


def submission() -> Path | None:
    """SUBMISSION: a submission archive for the quick-inference notebook to check, if any."""
    return _optional_path("SUBMISSION")
