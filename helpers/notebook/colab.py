"""Google Colab: install the student's own copy of the course, and keep artifacts on Drive.

Each notebook's first cell makes the copy reachable (the folder ``dl-from-scratch`` in the
student's Google Drive, or a clone of the repository the release names in ``STUDENT_REPO``) and
runs :func:`setup` from this file of the copy, which installs it and imports ``helpers`` from it.
Never the instructor's repository: that one holds the solutions.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DRIVE = Path("/content/drive/MyDrive")
ARTIFACTS_ON_DRIVE = "dl-from-scratch-artifacts"
STUDENT_REPO_LINE = "STUDENT_REPO = None"  # the line `make release STUDENT_REPO=...` fills in
# Every notebook's first code cell (tests/test_notebook_cells.py checks they are all this one).
CELL = f"""\
# Google Colab only (elsewhere nothing happens): installs YOUR copy of the course, cloned from
# STUDENT_REPO when set, else the folder dl-from-scratch in your Google Drive. See docs/INSTALL.md.
import runpy, subprocess, sys
{STUDENT_REPO_LINE}
if "google.colab" in sys.modules:
    if STUDENT_REPO: COPY = "/content/dl-from-scratch"; subprocess.run(["git", "clone", "--quiet", STUDENT_REPO, COPY])
    else: COPY = "/content/drive/MyDrive/dl-from-scratch"; from google.colab import drive; drive.mount("/content/drive")
    runpy.run_path(f"{{COPY}}/helpers/notebook/colab.py")["setup"](COPY)"""


def install_command(copy: Path) -> list[str]:
    """pip's command that installs ``copy`` editable, with pyproject.toml's ranges (Colab's numpy and torch stay)."""
    return [sys.executable, "-m", "pip", "install", "--quiet", "-e", str(copy)]


def setup(copy: str | os.PathLike, drive: Path = DRIVE) -> Path:
    """Install ``copy`` editable, import ``helpers`` from it, send artifacts to Drive when it is mounted."""
    copy = Path(copy)
    if not (copy / "pyproject.toml").is_file():
        raise FileNotFoundError(
            f"{copy} has no pyproject.toml: it is not a copy of the course. Put the whole folder of your "
            f"copy there (docs/INSTALL.md, 'On Google Colab')"
        )
    command = install_command(copy)
    installed = subprocess.run(command, capture_output=True, text=True)
    if installed.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{installed.stdout}{installed.stderr}")
    if drive.is_dir():  # each Colab notebook runs on its own machine: Drive carries results to the next
        os.environ.setdefault("BUNDLE_ARTIFACTS", str(drive / ARTIFACTS_ON_DRIVE))
    if str(copy) not in sys.path:  # this session started before the install: its .pth is not read
        sys.path.insert(0, str(copy))
    import helpers

    used = Path(helpers.__file__).resolve().parent
    if used != (copy / "helpers").resolve():
        raise RuntimeError(f"helpers was imported from {used}, not from your copy {copy}: restart the runtime "
                           "(Runtime > Restart session) and run this cell first")
    print(f"helpers from {used} (your copy, installed editable); artifacts go to "
          f"{os.environ.get('BUNDLE_ARTIFACTS', '/content/artifacts')}")
    return used
