"""Progress bars that also read well in saved notebooks.

Inside Jupyter, ``tqdm.auto`` draws widgets, and an executed notebook file keeps no widget
state: its copy would show ``features (bf16): 0%| 0/50000`` for work that finished. The headless
runner (``scripts/run_notebooks.py``) therefore sets ``BUNDLE_PROGRESS=text``; bars are then plain
text on stdout, and the saved output keeps each bar's final line.
"""
from __future__ import annotations

import sys

from tqdm import std
from tqdm.auto import tqdm as auto_tqdm

from helpers.core import config


def tqdm(*args, **kwargs) -> std.tqdm:
    """A tqdm bar: plain text on stdout when BUNDLE_PROGRESS=text, else ``tqdm.auto``'s choice."""
    if config.text_progress():
        return std.tqdm(*args, **{"file": sys.stdout, **kwargs})
    return auto_tqdm(*args, **kwargs)
