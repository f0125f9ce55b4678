"""The first cells of every notebook: the title, the Colab cell, the settings cell, the setup call.

The Colab cell is run here offline, with Colab simulated: a stand-in ``google.colab`` module and
a recording ``subprocess.run``, so what it would run on Colab is checked without Colab.
"""
import ast
import json
import os
import re
import subprocess
import sys
import tomllib

import colab_simulation
import numpy as np
import pytest

from helpers.core import config
from helpers.store import artifacts
from helpers.notebook import colab as colab_module
from helpers.core.config import REPO_ROOT
from helpers.notebook.run import notebook_setup

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
# the instructor's address; in a release the student repository's, or none
REPOSITORY = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"].get("urls", {}).get("Repository")
MAX_COLAB_LINES = 6  # code lines of the Colab cell (comments not counted)
MAX_CELL_LINES = 20  # lines of any code cell, comments and blank lines included: one idea per cell
MAX_START_LINES = 15  # code lines before the first markdown cell after the title: Colab, settings, setup
DRIVE = "/content/drive/MyDrive"


def code_cells(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def source(cell):
    return "".join(cell["source"])


def code_lines(text):
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "%"))]


GITHUB = REPOSITORY.startswith("https://github.com/") if REPOSITORY else False
BADGE = "[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_a_title_cell_with_its_badge_then_the_colab_cell(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and source(cells[0]).startswith("# "), f"{notebook.name}: no title cell"
    if GITHUB:
        owner_name = REPOSITORY.removeprefix("https://github.com/")
        link = f"(https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/{notebook.name})"
        assert f"{BADGE}{link}" in source(cells[0]), f"{notebook.name}: its title cell has no Colab badge to {REPOSITORY}"
    assert source(code_cells(notebook)[0]) == colab_module.CELL, f"{notebook.name}: its first code cell is not helpers.notebook.colab.CELL"


def test_the_colab_cell_is_short():
    assert len(code_lines(colab_module.CELL)) <= MAX_COLAB_LINES


def lines_before_the_subject(notebook):
    """Code lines before the first markdown cell after the title cell."""
    cells = json.loads(notebook.read_text())["cells"][1:]
    start = next(i for i, cell in enumerate(cells) if cell["cell_type"] == "markdown")
    return sum(len(code_lines(source(cell))) for cell in cells[:start])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_the_first_idea_comes_after_a_short_start(notebook):
    lines = lines_before_the_subject(notebook)
    assert lines <= MAX_START_LINES, f"{notebook.name}: {lines} lines of code before its first markdown cell after the title"


def test_lines_before_the_subject_counts_code_up_to_the_first_section(tmp_path):
    cells = [{"cell_type": "markdown", "source": ["# Title"]},
             {"cell_type": "code", "source": ["# a comment\n", "%matplotlib inline\n", "x = 1\n", "\n", "y = 2"]},
             {"cell_type": "code", "source": ["z = 3"]},
             {"cell_type": "markdown", "source": ["## The data"]},
             {"cell_type": "code", "source": ["data = 4"]}]
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells}))
    assert lines_before_the_subject(tmp_path / "nb.ipynb") == 3


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_the_setup_call_follows_the_colab_cell_and_a_settings_cell_holds_only_the_notebooks_own(notebook):
    """Profile and weights come from settings.toml (one place for every notebook); a notebook's own settings
    (05's SUBMISSION) sit in a cell tagged 'parameters' just before the setup call, which applies them."""
    cells = code_cells(notebook)
    tagged = [i for i, cell in enumerate(cells) if "parameters" in cell["metadata"].get("tags", [])]
    assert tagged in ([], [1]), f"{notebook.name}: only the second code cell may be tagged 'parameters'"
    assigned = []
    if tagged:
        statements = ast.parse(source(cells[1])).body
        assigned = [s.targets[0].id for s in statements if isinstance(s, ast.Assign)
                    and isinstance(s.value, ast.Constant) and s.value.value is None]
        assert assigned and len(assigned) == len(statements), f"{notebook.name}: the settings cell may only assign None"
        own = {name for name, setting in config.SETTINGS.items() if not setting.in_file}
        assert {name.lower() for name in assigned} <= own, f"{notebook.name}: settings.toml chooses profile and weights"
    uses_weights = any("config.feature_weights()" in source(cell) for cell in cells)
    applying = source(cells[1 + len(tagged)]) + "\n"
    setup = re.search(r"notebook = notebook_setup\(\"(\w+)\"(.*)\)\n", applying)
    assert setup, f"{notebook.name}: the setup cell (after the Colab and settings cells) must call notebook = notebook_setup(...)"
    own_call = "".join(f", {name.lower()}={name}" for name in assigned)
    assert setup.group(1) == notebook.stem and setup.group(2).endswith(own_call), notebook.name
    assert ("uses_weights=True" in setup.group(2)) == uses_weights, f"{notebook.name}: uses_weights=True iff it uses them"
    assert "PROFILE" not in "".join(map(source, cells)).replace("BUNDLE_PROFILE", ""), notebook.name


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_a_notebook_opens_unmodified_and_says_what_to_do_first(notebook):
    """Complete language metadata (JupyterLab marks a notebook modified when the kernel fills it in), and the
    title cell says where the profile is chosen and in which order to run."""
    data = json.loads(notebook.read_text())
    info = data["metadata"]["language_info"]
    assert {"name", "version", "mimetype", "file_extension", "pygments_lexer", "codemirror_mode",
            "nbconvert_exporter"} <= set(info), notebook.name
    title = source(data["cells"][0])
    assert "settings.toml" in title and "Run All" in title and "01 to 07" in title, notebook.name


def test_notebook_setup_applies_settings_threads_and_saves_with_them(capsys, monkeypatch):
    from threadpoolctl import threadpool_info
    monkeypatch.setenv("FEATURE_WEIGHTS", "random")
    run = notebook_setup("03_mlp_from_scratch", threads=True, uses_weights=True)
    out = capsys.readouterr().out
    assert "PROFILE = 'smoke' (from BUNDLE_PROFILE), WEIGHTS = 'random' (from FEATURE_WEIGHTS)" in out and f"{config.blas_threads()} BLAS thread(s)" in out
    assert all(pool["num_threads"] == config.blas_threads() for pool in threadpool_info() if pool["user_api"] == "blas")
    file = run.save_arrays("x.npz", {"epochs": 3}, values=np.arange(3))
    manifest = artifacts.read_manifest(file)
    assert manifest["producer"] == "03_mlp_from_scratch"
    assert manifest["config"] == {"profile": "smoke", "weights": "random", "epochs": 3}
    assert run.save_results({"test accuracy": np.float64(0.5)}) is None  # no stray Out: in the notebook
    results = artifacts.path("results/03_mlp_from_scratch.json")
    assert f"headline results saved: {results}" in capsys.readouterr().out
    assert artifacts.load_json(results, producer="03_mlp_from_scratch") == {"test accuracy": 0.5}
    assert results.name == "03_mlp_from_scratch.json" and results.parent.name == "results"  # where make run reads it
    assert notebook_setup("07_cnn_from_scratch").settings == {"profile": "smoke"}


def test_a_deterministic_setup_limits_torch_threads_too():
    """torch, imported by the setup for determinism, gets the thread limit even when the notebook did not import it."""
    script = ("from helpers.core import config\n"
              "from helpers.notebook.run import notebook_setup\n"
              "notebook_setup('06_two_layer_net', threads=True, deterministic=True)\n"
              "import torch\n"
              "print(torch.get_num_threads(), config.blas_threads(), torch.are_deterministic_algorithms_enabled())")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "BUNDLE_BLAS_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 torch thread(s)" in done.stdout and done.stdout.splitlines()[-1] == "1 1 True"


@pytest.fixture
def colab(tmp_path):
    """Run a Colab cell with Colab simulated; the student's copy is a copy of this tree's helpers."""
    copy = colab_simulation.student_copy(REPO_ROOT, tmp_path / "student-copy")
    (tmp_path / "root").mkdir()
    return lambda cell=colab_module.CELL, **kwargs: colab_simulation.run_cell(cell, tmp_path / "root", copy, **kwargs)


def test_outside_colab_the_cell_does_nothing(colab):
    report = colab(on_colab=False)
    assert report["ran"] == [] and report["helpers"] is None and report["stdout"] == "" and report["error"] is None


def test_on_colab_it_mounts_drive_and_installs_the_students_copy_from_it(colab, tmp_path):
    report = colab(drive_holds_copy=True)
    copy = tmp_path / "root/content/drive/MyDrive/dl-from-scratch"
    assert report["error"] is None
    assert report["ran"] == [["drive.mount", str(tmp_path / "root/content/drive")],
                             [sys.executable, "-m", "pip", "install", "--quiet", "-e", str(copy)]]
    assert report["helpers"] == str(copy / "helpers" / "__init__.py")  # the student's copy, not this tree
    assert report["artifacts"] == "/content/drive/MyDrive/dl-from-scratch-artifacts"
    assert f"helpers from {copy / 'helpers'} (your copy" in report["stdout"]


def test_without_the_copy_in_drive_it_says_where_to_put_it(colab, tmp_path):
    report = colab(drive_holds_copy=False)
    copy = tmp_path / "root/content/drive/MyDrive/dl-from-scratch"
    assert report["error"] == f"FileNotFoundError: [Errno 2] No such file or directory: '{copy}/helpers/notebook/colab.py'"
    assert report["ran"] == [["drive.mount", str(tmp_path / "root/content/drive")]] and report["helpers"] is None


def test_with_student_repo_set_it_clones_that_repository_and_installs_the_clone(colab, tmp_path):
    cell = colab_module.CELL.replace(colab_module.STUDENT_REPO_LINE, 'STUDENT_REPO = "https://example.org/student-7.git"')
    report = colab(cell)
    clone = tmp_path / "root/content/dl-from-scratch"
    assert report["error"] is None
    assert report["ran"] == [["git", "clone", "--quiet", "https://example.org/student-7.git", str(clone)],
                             [sys.executable, "-m", "pip", "install", "--quiet", "-e", str(clone)]]
    assert report["helpers"] == str(clone / "helpers" / "__init__.py") and report["artifacts"] is None


def test_a_failed_install_shows_what_pip_said(colab):
    report = colab(drive_holds_copy=True, returncode=1)
    assert report["error"].startswith("RuntimeError: ") and "pip install --quiet -e" in report["error"]
    assert report["error"].endswith("failed:\nERROR: no network")


@pytest.mark.skipif(not GITHUB, reason="a release without a GitHub repository has no badges")
def test_readme_has_an_open_in_colab_badge_per_notebook():
    readme = (REPO_ROOT / "README.md").read_text()
    owner_name = REPOSITORY.removeprefix("https://github.com/")
    for notebook in NOTEBOOKS:
        link = f"(https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/{notebook.name})"
        assert f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]{link}" in readme, \
            f"README.md has no Open-in-Colab badge for {notebook.name} pointing at {REPOSITORY}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_no_code_cell_is_longer_than_20_lines(notebook):
    long = [f"code cell {number}: {len(source(cell).splitlines())} lines"
            for number, cell in enumerate(code_cells(notebook), 1) if len(source(cell).splitlines()) > MAX_CELL_LINES]
    assert not long, f"{notebook.name}: split these cells, one idea each:\n" + "\n".join(long)


CLOSING_CHECKS = tuple(nb.name for nb in NOTEBOOKS)  # every notebook


@pytest.mark.parametrize("notebook", [nb for nb in NOTEBOOKS if nb.name in CLOSING_CHECKS], ids=lambda nb: nb.name)
def test_the_checks_close_the_notebook(notebook):
    """A "## Checks" section holds the asserts of the results, just before the headline figures are saved."""
    cells = json.loads(notebook.read_text())["cells"]
    assert source(cells[-3]).startswith("## Checks"), f"{notebook.name}: no closing '## Checks' section"
    assert "assert " in source(cells[-2]) and "save_results(" in source(cells[-1]), notebook.name
