"""Autograder: run the graded tests against a student's copy and print points per function.

Usage: python scripts/grade.py [STUDENT_DIR] [--hidden DIR] [--json FILE]

Only the student's ``helpers/`` is taken; the tests are this bundle's own (``tests/``, the
visible ones, marked ``@pytest.mark.graded``) plus the hidden ones (``instructor/hidden_tests``,
not shipped to students). They run in a fresh temporary folder, in a separate process with a
minimal environment and, where Linux allows it (``unshare``), without any network.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HIDDEN = REPO / "instructor" / "hidden_tests"
TIMEOUT_S = 900


def _isolation() -> list[str]:
    """A command prefix that runs without network (Linux user + network namespaces), or [] announced."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "--map-root-user", "true"], capture_output=True).returncode == 0:
        return [unshare, "--net", "--map-root-user"]
    print("grade: network isolation (unshare) is not available here; the tests run with proxies set to a "
          "closed port instead", file=sys.stderr)
    return []


def _copy_tests(source: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for file in sorted(source.glob("*.py")):
        if file.name == "conftest.py" or "pytest.mark.graded" in file.read_text(encoding="utf-8"):
            shutil.copy2(file, target / file.name)


def grade(student: Path, hidden: Path | None = HIDDEN) -> dict:
    """``{nodeid: {function, points, passed, message, hidden}}`` for every graded test."""
    student = Path(student).resolve()
    if not (student / "helpers").is_dir():
        raise FileNotFoundError(f"{student} has no helpers/ folder: pass the root of the student's copy")
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        work = Path(tmp)
        shutil.copytree(student / "helpers", work / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        _copy_tests(REPO / "tests", work / "tests")
        folders = ["tests"]
        if hidden and Path(hidden).is_dir():
            _copy_tests(Path(hidden), work / "hidden_tests")
            folders.append("hidden_tests")
        shutil.copy2(REPO / "scripts" / "grading_plugin.py", work / "grading_plugin.py")
        report = work / "report.json"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "PYTHONPATH": tmp, "PYTHONNOUSERSITE": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "GRADE_ROOT": tmp, "GRADE_REPORT": str(report),
               "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "MPLBACKEND": "Agg"}
        if "SYSTEMROOT" in os.environ:  # Windows needs it to start Python
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        command = [*_isolation(), sys.executable, "-m", "pytest", *folders, "-m", "graded", "-p", "grading_plugin",
                   "-p", "no:cacheprovider", "-q", "--rootdir", tmp, "-W", "ignore::pytest.PytestUnknownMarkWarning"]
        done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        if not report.exists():
            raise RuntimeError(f"the graded tests did not run (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        results = json.loads(report.read_text())
    for nodeid, result in results.items():
        result["hidden"] = nodeid.startswith("hidden_tests/")
    return results


def table(results: dict) -> str:
    """Per function: tests passed, points, pass/fail; then the total."""
    by_function = defaultdict(list)
    for result in results.values():
        by_function[result["function"]].append(result)
    width = max([len(name) for name in by_function] + [8])
    lines = [f"{'function':<{width}}  {'tests':>7}  {'points':>9}  result"]
    earned = possible = 0.0
    for name, rows in sorted(by_function.items()):
        got, total = sum(r["points"] for r in rows if r["passed"]), sum(r["points"] for r in rows)
        earned, possible = earned + got, possible + total
        passed = sum(r["passed"] for r in rows)
        hidden = sum(r["hidden"] for r in rows)
        first_failure = next((r["message"] for r in rows if not r["passed"]), "")
        result = "pass" if passed == len(rows) else f"FAIL ({first_failure.split(':')[0]})"
        lines.append(f"{name:<{width}}  {passed:>3}/{len(rows):<3}  {got:>4g}/{total:<4g}  {result}"
                     + (f"  ({hidden} hidden)" if hidden else ""))
    lines.append(f"{'total':<{width}}  {'':>7}  {earned:>4g}/{possible:<4g}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("student", nargs="?", type=Path, default=Path.cwd(), help="root of the student's copy")
    parser.add_argument("--hidden", type=Path, default=HIDDEN, help="folder of hidden tests (default: instructor/hidden_tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    try:
        results = grade(args.student, args.hidden)
    except (FileNotFoundError, RuntimeError) as err:
        print(f"grade: {err}", file=sys.stderr)
        return 1
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
