"""The first cells of every notebook: the Colab cell, the settings cell, the call that applies it.

The Colab cell is run here offline, with Colab simulated: a stand-in ``google.colab`` module and
a recording ``subprocess.run``, so what it would run on Colab is checked without Colab.
"""
import ast
import json
import os
import pathlib
import subprocess
import sys
import tomllib
import types

import pytest

from helpers import config
from helpers.config import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
REPOSITORY = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
DRIVE = "/content/drive/MyDrive"


def code_cells(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def source(cell):
    return "".join(cell["source"])


COLAB_CELL = source(code_cells(NOTEBOOKS[0])[0])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_the_first_code_cell_is_the_same_colab_cell_everywhere(notebook):
    assert source(code_cells(notebook)[0]) == COLAB_CELL, f"{notebook.name}: its first code cell is not the Colab cell of {NOTEBOOKS[0].name}"
    assert f'REPOSITORY = "{REPOSITORY}"' in COLAB_CELL, "the Colab cell must install pyproject.toml's [project.urls] Repository"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_the_settings_cell_is_tagged_and_applied_by_the_next_cell(notebook):
    cells = code_cells(notebook)
    tagged = [i for i, cell in enumerate(cells) if "parameters" in cell["metadata"].get("tags", [])]
    assert tagged == [1], f"{notebook.name}: the second code cell, and only it, must be tagged 'parameters'"
    statements = ast.parse(source(cells[1])).body
    assigned = [s.targets[0].id for s in statements if isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant)
                and s.value.value is None]
    assert len(assigned) == len(statements), f"{notebook.name}: the settings cell may only assign None defaults"
    uses_weights = any("config.feature_weights()" in source(cell) for cell in cells)
    assert assigned[:2] == (["PROFILE", "WEIGHTS"] if uses_weights else ["PROFILE"]), notebook.name
    assert {name.lower() for name in assigned} <= set(config.SETTINGS), f"{notebook.name}: a setting config does not know"
    call = ", ".join(f"{name.lower()}={name}" for name in assigned)
    applying = next(source(cell) for cell in cells[2:] if "config." in source(cell))
    assert applying.find("config.") == applying.find(f"config.apply_settings({call})"), \
        f"{notebook.name}: the first code cell using config must apply the settings before anything else"


def run_colab_cell(monkeypatch, on_colab, drive=False, returncode=0):
    """Execute the Colab cell; return the commands it ran."""
    ran = []

    def fake_run(command, **kwargs):
        ran.append(command)
        return subprocess.CompletedProcess(command, returncode, stdout="", stderr="ERROR: no network")

    monkeypatch.setattr(subprocess, "run", fake_run)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    is_dir = pathlib.Path.is_dir
    monkeypatch.setattr(pathlib.Path, "is_dir", lambda path: (drive and str(path) == DRIVE) or is_dir(path))
    monkeypatch.delenv("BUNDLE_ARTIFACTS", raising=False)
    exec(compile(COLAB_CELL, "colab-cell", "exec"), {})
    return ran


def test_outside_colab_the_cell_does_nothing(monkeypatch, capsys):
    assert run_colab_cell(monkeypatch, on_colab=False) == []
    assert capsys.readouterr().out == "" and "BUNDLE_ARTIFACTS" not in os.environ


def test_on_colab_it_pip_installs_the_repository_with_its_ranges(monkeypatch, capsys):
    ran = run_colab_cell(monkeypatch, on_colab=True)
    assert ran == [[sys.executable, "-m", "pip", "install", "--quiet", f"git+{REPOSITORY}"]]
    assert "artifacts go to /content/artifacts" in capsys.readouterr().out
    assert "BUNDLE_ARTIFACTS" not in os.environ  # config's default: artifacts/ in the current folder, /content


def test_on_colab_with_drive_mounted_the_artifacts_go_to_drive(monkeypatch):
    run_colab_cell(monkeypatch, on_colab=True, drive=True)
    assert config.artifacts_root() == pathlib.Path(DRIVE, "dl-from-scratch-artifacts").resolve()


def test_a_failed_install_shows_what_pip_said(monkeypatch):
    with pytest.raises(RuntimeError, match="pip install --quiet git\\+.*failed:\nERROR: no network"):
        run_colab_cell(monkeypatch, on_colab=True, returncode=1)


def test_readme_has_an_open_in_colab_badge_per_notebook():
    readme = (REPO_ROOT / "README.md").read_text()
    owner_name = REPOSITORY.removeprefix("https://github.com/")
    for notebook in NOTEBOOKS:
        link = f"(https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/{notebook.name})"
        assert f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]{link}" in readme, \
            f"README.md has no Open-in-Colab badge for {notebook.name} pointing at {REPOSITORY}"
