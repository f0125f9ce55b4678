"""Google Colab simulated offline, for the notebooks' Colab cell.

The cell runs in a fresh Python process (so ``helpers`` is imported afresh, as in a new Colab
runtime) with a stand-in ``google.colab`` module whose ``drive.mount`` records the call and, when
asked, puts the student's copy in My Drive; ``subprocess.run`` records every command, and a
``git clone`` copies the student's copy instead of reaching a network. Colab's ``/content`` is a
temporary folder.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

DRIVER = r'''
import json, os, pathlib, shutil, subprocess, sys, types
cell, root, copy, on_colab, drive_holds_copy, returncode = json.loads(sys.argv[1])
ran = []

def run(command, **kwargs):
    ran.append([str(part) for part in command])
    if command[:2] == ["git", "clone"]:
        shutil.copytree(copy, command[-1])
    return subprocess.CompletedProcess(command, returncode, "", "ERROR: no network")

def mount(path):
    ran.append(["drive.mount", path])
    drive = pathlib.Path(root + "/content/drive/MyDrive")
    drive.mkdir(parents=True, exist_ok=True)
    if drive_holds_copy:
        shutil.copytree(copy, drive / "dl-from-scratch")

subprocess.run = run
google, colab, drive = (types.ModuleType(name) for name in ("google", "google.colab", "google.colab.drive"))
drive.mount, colab.drive, google.colab = mount, drive, colab
if on_colab:
    sys.modules.update({"google": google, "google.colab": colab, "google.colab.drive": drive})
is_dir = pathlib.Path.is_dir
pathlib.Path.is_dir = lambda path: is_dir(pathlib.Path(root + str(path)) if str(path).startswith("/content") else path)
error = None
try:
    exec(compile(cell.replace('"/content', '"' + root + '/content'), "colab-cell", "exec"), {})
except BaseException as err:
    error = f"{type(err).__name__}: {err}"
helpers = sys.modules.get("helpers")
print(json.dumps({"ran": ran, "helpers": helpers and helpers.__file__, "error": error,
                  "artifacts": os.environ.get("BUNDLE_ARTIFACTS")}))
'''


def student_copy(source: Path, out: Path) -> Path:
    """A stand-in for a student's copy: ``source``'s helpers/ and pyproject.toml."""
    shutil.copytree(source / "helpers", out / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(source / "pyproject.toml", out / "pyproject.toml")
    return out


def run_cell(cell: str, root: Path, copy: Path, on_colab=True, drive_holds_copy=False, returncode=0) -> dict:
    """What the cell did: ``ran`` (commands, ``drive.mount`` included), ``helpers`` (its file), ``error``, ``artifacts``."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "BUNDLE_ARTIFACTS")}
    done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps([cell, str(root), str(copy), on_colab, drive_holds_copy, returncode])],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    report["stdout"] = "\n".join(done.stdout.splitlines()[:-1])
    return report
