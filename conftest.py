"""nbval over the notebooks (`make test`), robust under load.

- nbval waits a fixed 5 s for a cell's output messages once the cell has finished
  (``IPyNbCell.output_timeout``, set in its constructor and not an option); on a loaded machine the
  kernel can take longer to send them, and the cell then fails with "Timeout of 5 seconds exceeded
  waiting for output" and a stopped kernel. Each notebook cell's wait is raised here to
  ``NBVAL_OUTPUT_TIMEOUT`` seconds (default :data:`OUTPUT_TIMEOUT_S`).
- After a notebook's first failing cell, its later cells are skipped (they would fail on what the
  failed cell did not define, or on a stopped kernel), and so are the later notebooks that read what
  it saves (a notebook reads those named as ``producer="NN_name"`` in its source): each skip names the
  failure it follows. Notebooks that do not read it still run.

Loaded by pytest from the repository root for every run; it acts on nbval's cells only.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

OUTPUT_TIMEOUT_S = 120.0
PRODUCER = re.compile(r'producer=\\?"(\d\d_\w+)\\?"')

_failed: dict[str, str] = {}  # notebook stem -> the cell that failed first


def output_timeout() -> float:
    """The wait for a finished cell's output messages: NBVAL_OUTPUT_TIMEOUT seconds, else OUTPUT_TIMEOUT_S."""
    return float(os.environ.get("NBVAL_OUTPUT_TIMEOUT") or OUTPUT_TIMEOUT_S)


def reads(notebook: Path) -> set[str]:
    """The notebooks (stems) whose saved artifacts ``notebook`` loads: the producers its source names."""
    return set(PRODUCER.findall(notebook.read_text(encoding="utf-8"))) - {notebook.stem}


def _is_notebook_cell(item) -> bool:
    return hasattr(item, "output_timeout") and str(getattr(item, "path", "")).endswith(".ipynb")


def pytest_collection_modifyitems(items):
    for item in items:
        if _is_notebook_cell(item):
            item.output_timeout = output_timeout()


def pytest_runtest_setup(item):
    if not _is_notebook_cell(item):
        return
    notebook = Path(item.path)
    if notebook.stem in _failed:
        pytest.skip(f"{notebook.stem} failed at {_failed[notebook.stem]}: its later cells are not run")
    upstream = sorted(reads(notebook) & set(_failed))
    if upstream:
        pytest.skip(f"{upstream[0]} failed earlier in this run ({_failed[upstream[0]]}), and {notebook.stem} "
                    "reads what it saves")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _is_notebook_cell(item) and report.failed:
        _failed.setdefault(Path(item.path).stem, item.name)
