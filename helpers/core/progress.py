"""Progress bars that tell the truth live and read well in saved notebooks.

Inside Jupyter, ``tqdm.auto`` draws widgets, and a notebook file keeps no widget state: reopened,
it shows "Error displaying widget: model not found" where a bar was. :class:`NotebookBar` therefore
replaces its widget by the bar's final line of text when it closes, so a saved notebook shows what
the work did. The headless runner (``scripts/run_notebooks.py``) sets ``BUNDLE_PROGRESS=text``: bars
are then plain text on stdout from the start. :func:`end_early` marks a loop that stopped early by
design (early stopping) as finished, not failed.
"""
from __future__ import annotations

import sys

from tqdm import std
from tqdm.auto import tqdm as auto_tqdm
from tqdm.notebook import tqdm as notebook_tqdm

from helpers.core import config


class NotebookBar(notebook_tqdm):
    """A widget bar that leaves its final line as text when it closes (a bar with ``leave=False``: nothing)."""

    def __init__(self, *args, **kwargs):
        from IPython.display import display  # only widget bars need IPython
        super().__init__(*args, **{**kwargs, "display": False})
        self._handle = None if self.disable else display(self.container, display_id=True)
        self.displayed = True

    def close(self):
        """Close as tqdm does, then put the final line of text in the widget's place."""
        closing = self._handle is not None and not self.disable
        super().close()
        if closing:
            line = self.format_meter(**self.format_dict) if self.leave else ""
            self._handle.update({"text/plain": line}, raw=True)
            self._handle = None


def tqdm(*args, **kwargs) -> std.tqdm:
    """A tqdm bar: plain text on stdout when BUNDLE_PROGRESS=text, a :class:`NotebookBar` in Jupyter, else tqdm's."""
    if config.text_progress():
        return std.tqdm(*args, **{"file": sys.stdout, **kwargs})
    if issubclass(auto_tqdm, notebook_tqdm):  # tqdm.auto found a Jupyter kernel with widgets
        return NotebookBar(*args, **kwargs)
    return auto_tqdm(*args, **kwargs)


def end_early(bar: std.tqdm, why: str) -> None:
    """Mark ``bar`` finished at its count, for work that stopped early by design; ``why``: a short postfix."""
    bar.total = bar.n
    if isinstance(bar, notebook_tqdm) and not bar.disable:
        bar.container.children[1].max = bar.n  # the widget's own total
    bar.set_postfix_str(why, refresh=True)
