"""Notebooks are committed without outputs, in the bundle's order."""
import json

import pytest

from helpers.core.config import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def test_the_bundle_has_its_notebooks_in_order():
    stems = [nb.stem for nb in NOTEBOOKS]
    assert stems[:5] == ["01_features", "02_augmentation", "03_mlp_from_scratch", "04_compare", "05_quick_inference"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_notebook_has_no_outputs(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    dirty = [i for i, cell in enumerate(cells) if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))]
    assert not dirty, f"{notebook.name}: cells {dirty} have outputs; clear them before committing"
