"""The autograder as a Gradescope assignment: ``dist/autograder.zip`` and the run inside its container.

:func:`build` writes the zip Gradescope expects (its "Autograder Specifications"): ``setup.sh``
and ``run_autograder`` at the root, then this tree's grading code, graded and hidden tests and
reference ``helpers/``, which Gradescope unpacks into ``/autograder/source``. For each
submission Gradescope runs ``run_autograder``, which runs :func:`main`: the student's upload in
``<root>/submission`` (their submission archive, the archive unpacked, or a copy with
``helpers/``) is graded like ``make grade`` and ``<root>/results/results.json`` written, with one
entry per graded test (name, score, max_score, status, output, visibility). Hidden tests show
their function and result only after the grades are published, never their name or message.
The root is ``/autograder`` unless ``AUTOGRADER_ROOT`` says otherwise (for the offline tests).
"""
from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from grading import sandbox
from grading.boundary import Limits
from grading.grader import HIDDEN, REPO, add_options, grade, graded_files, limits_of, table, totals
from helpers.handin import submission as submissions
from helpers.store import artifacts

HIDDEN_VISIBILITY = "after_published"
SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
set -euo pipefail
cd /autograder/source
apt-get install -y --no-install-recommends python3 python3-venv python3-pip util-linux bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \\
    -r requirements.txt
"""
RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grades <root>/submission into <root>/results/results.json.
# AUTOGRADER_ROOT (default /autograder) and AUTOGRADER_PYTHON let the tests run it elsewhere;
# GRADE_TIME_LIMIT, GRADE_ONLY, ...: the grading options' variables (docs/GRADING.md).
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source"
PYTHONPATH="$ROOT/source" exec "$PYTHON" -m grading.gradescope --root "$ROOT"
"""


def packed_files() -> list[Path]:
    """This tree's files the autograder needs: grading code, reference helpers/, graded and hidden tests, pins."""
    files = [*artifacts.code_files(REPO / "helpers"), *sorted((REPO / "grading").glob("*.py")),
             REPO / "tests" / "conftest.py", REPO / "tests" / "graded_checks.py", *map(Path, graded_files(REPO / "tests")),
             *map(Path, graded_files(HIDDEN)), REPO / "requirements.txt", REPO / "pyproject.toml"]
    return list(dict.fromkeys(files))


def _executable(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build(out: Path) -> Path:
    """Write the Gradescope autograder zip to ``out``."""
    def write(fh):
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_executable("setup.sh"), SETUP_SH)
            zf.writestr(_executable("run_autograder"), RUN_AUTOGRADER)
            for file in packed_files():
                zf.write(file, file.relative_to(REPO).as_posix())

    artifacts.atomic_write(Path(out), write)
    return Path(out)


def find_student(upload: Path, scratch: Path) -> tuple[Path, str]:
    """``(root of the copy to grade, note on its results)`` from Gradescope's submission folder.

    Accepted: one submission archive (``*.zip``: verified and extracted into ``scratch``), the
    archive already unpacked (``source/helpers/``), or a copy with ``helpers/`` at the top or one
    folder down.
    """
    archives = sorted(archive for archive in upload.glob("*.zip") if _inside(archive, upload))
    if len(archives) == 1:
        opened = submissions.open_source(archives[0], scratch / "submission")
        foreign = opened.foreign_artifacts
        return opened.source, f"results made by other code: {', '.join(foreign)}" if foreign else ""
    candidates = [upload / submissions.SOURCE, upload, *sorted(path for path in upload.iterdir() if path.is_dir())]
    for candidate in candidates:
        if _inside(candidate, upload) and (candidate / "helpers" / "__init__.py").is_file():
            return candidate, ""
    raise submissions.SubmissionError(
        f"found {len(archives)} .zip files and no helpers/ package in the upload: upload the archive made by "
        "`make submission` (one file) or your copy's helpers/ folder")


def _inside(path: Path, upload: Path) -> bool:
    """``path`` is no link and lies in the upload (a link could name the autograder's own solution)."""
    return not path.is_symlink() and path.resolve().is_relative_to(upload.resolve())


def results_json(results: dict, seconds: float, note: str = "") -> dict:
    """Gradescope's results.json for a grade: one test entry per graded test; hidden ones without content."""
    tests, hidden_count = [], {}
    for nodeid, result in sorted(results.items(), key=lambda item: (item[1]["function"], item[0])):
        entry = {"score": result["points"] if result["passed"] else 0.0, "max_score": result["points"],
                 "status": "passed" if result["passed"] else "failed"}
        if result["hidden"]:
            hidden_count[result["function"]] = hidden_count.get(result["function"], 0) + 1
            entry |= {"name": f"{result['function']}: hidden test {hidden_count[result['function']]}",
                      "output": "", "visibility": HIDDEN_VISIBILITY}
        else:
            entry |= {"name": f"{result['function']}: {nodeid.split('::')[-1]}",
                      "output": result["message"], "visibility": "visible"}
        tests.append(entry)
    earned, possible = totals(results)
    hidden = sum(hidden_count.values())
    summary = (f"{earned:g} of {possible:g} points. {hidden} hidden tests: their results appear when the grades "
               "are published, never their content.")
    return {"score": earned, "execution_time": round(seconds), "output": summary + (f"\n{note}" if note else ""),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def run(root: Path, limits: Limits = Limits(), only: str = "", hidden: Path = HIDDEN, allow_weaker: bool = False) -> dict:
    """Grade ``root/submission`` and write ``root/results/results.json``; the JSON written."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gradescope-") as scratch:
        try:
            student, note = find_student(root / "submission", Path(scratch))
            results = grade(student, hidden, only, limits, log=sys.stdout, allow_weaker=allow_weaker)
            note = "\n".join(filter(None, [note, sandbox.probe().describe()]))
            payload = results_json(results, time.monotonic() - started, note)
            print(table(results))
        except Exception as err:  # whatever the upload does, a results.json says why it was not graded
            known = isinstance(err, (submissions.SubmissionError, sandbox.UnsafeCopy, FileNotFoundError, RuntimeError))
            reason = str(err) if known else f"the autograder failed ({type(err).__name__}); ask your instructor"
            payload = {"score": 0.0, "execution_time": round(time.monotonic() - started),
                       "output": f"Not graded: {reason}", "visibility": "visible", "tests": []}
            print(payload["output"])
    out = root / "results" / "results.json"
    artifacts.atomic_write(out, lambda fh: fh.write(json.dumps(payload, indent=1).encode()))
    return payload


def main() -> int:
    parser = argparse.ArgumentParser(description="Grade Gradescope's submission folder into results.json")
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    add_options(parser.add_argument)
    args = parser.parse_args()
    run(args.root, limits_of(args), args.only, args.hidden, args.allow_weaker_isolation)
    return 0


if __name__ == "__main__":
    sys.exit(main())
