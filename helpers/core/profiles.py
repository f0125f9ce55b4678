"""How much data and how many epochs each profile uses: settings that change results, hence in the code digest."""
from __future__ import annotations

from dataclasses import dataclass


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
