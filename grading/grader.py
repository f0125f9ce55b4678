"""The autograder's core: run the graded tests against a student's copy; points per function.

The tests, the code that judges (torch, the reference implementations) and the report are this
tree's and run here; only the student's ``helpers/`` is taken, copied into worker processes
that run one graded function each (see ``grading/boundary.py`` and docs/GRADING.md). The graded
tests are this tree's ``tests/*.py`` marked ``@pytest.mark.graded`` plus the hidden ones
(``instructor/hidden_tests``, not shipped to students). ``scripts/grade.py`` is its command line.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from grading import sandbox
from grading.boundary import GIB, Limits
from helpers.core.config import REPO_ROOT

REPO = REPO_ROOT  # the instructor's tree: its tests, hidden tests and reference helpers/

HIDDEN = REPO / "instructor" / "hidden_tests"
STARTUP_S = 300  # the grader's own start: importing torch, collecting the tests
FUNCTION_OVERHEAD_S = 20  # per function beyond its time limit: starting workers, torch's side of the comparisons


PARSING = threading.Lock()  # CPython 3.11's ast.parse is not thread-safe ("AST constructor recursion depth
# mismatch" when grade-all's threads parse at once)


def _marks_graded(source: str) -> bool:
    """Whether code (not a string in it) uses ``pytest.mark.graded``."""
    with PARSING:
        tree = ast.parse(source)
    return any(isinstance(node, ast.Attribute) and node.attr == "graded" and isinstance(node.value, ast.Attribute)
               and node.value.attr == "mark" for node in ast.walk(tree))


def graded_files(folder: Path) -> list[str]:
    """The test files of ``folder`` with graded tests."""
    return [str(file) for file in sorted(folder.glob("test_*.py")) if _marks_graded(file.read_text("utf-8"))]


def _read_report(path: Path) -> tuple[dict, dict]:
    """``(collected: {nodeid: function}, results: {nodeid: record})`` from the JSON lines written so far."""
    collected, results = {}, {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "collected" in record:
                collected = record
            else:
                results[record.pop("nodeid")] = record
    return collected, results


@dataclass(frozen=True)
class Option:
    """One grading option, declared once for every grading command, the pytest plugin and docs/GRADING.md."""

    flag: str
    meaning: str
    env: str = ""
    default: object = None
    type: type = str
    commands_only: bool = False  # not an option of the pytest plugin

    def default_now(self):
        return self.type(os.environ[self.env]) if self.env and os.environ.get(self.env) else self.default

    def row(self) -> str:
        """Its row in docs/GRADING.md's options table."""
        shown = ("" if self.type is bool else "all" if self.default == "" else f"{self.default:g}"
                 if isinstance(self.default, float) else f"`{Path(self.default).relative_to(REPO).as_posix()}`")
        return f"| `{self.flag}` | {f'`{self.env}`' if self.env else ''} | {shown} | {self.meaning} |"


OPTIONS = (
    Option("--only", "grade only these comma-separated functions (names as in the table)", "GRADE_ONLY", ""),
    Option("--time-limit", "seconds of worker time per graded function, all its tests together", "GRADE_TIME_LIMIT",
           Limits.time_s, float),
    Option("--memory-limit", "GiB of memory per worker process (and, with a cgroup, for the sandbox's whole tree)",
           "GRADE_MEMORY_LIMIT", Limits.memory / GIB, float),
    Option("--hidden", "the hidden tests", default=HIDDEN, type=Path, commands_only=True),
    Option("--allow-weaker-isolation", "grade even where workers are confined less than this platform allows "
           "(the gradebook records the level)", type=bool, commands_only=True),
)


def add_options(add, commands: bool = True) -> None:
    """Declare :data:`OPTIONS` with ``add``: argparse's ``add_argument`` or pytest's ``addoption``
    (``commands=False``: only those the pytest plugin takes)."""
    for option in OPTIONS:
        if option.commands_only and not commands:
            continue
        if option.type is bool:
            add(option.flag, action="store_true", help=option.meaning)
        else:
            add(option.flag, type=option.type, default=option.default_now(),
                help=option.meaning + (f" (env {option.env})" if option.env else ""))


def limits_of(args: argparse.Namespace) -> Limits:
    """The limits :func:`add_options`' arguments ask for."""
    return Limits(time_s=args.time_limit, memory=int(args.memory_limit * GIB))


def bound_s(functions: int, limits: Limits) -> float:
    """The longest a grade of ``functions`` graded functions may take before it is stopped."""
    return STARTUP_S + functions * (limits.time_s + FUNCTION_OVERHEAD_S)


def grade(student: Path, hidden: Path | None = HIDDEN, only: str = "", limits: Limits = Limits(),
          log=None, allow_weaker: bool = False) -> dict:
    """``{nodeid: {function, points, passed, message, hidden}}`` for every graded test.

    IsolationError when this machine confines workers less than its platform allows (see
    ``grading.sandbox.probe``) and ``allow_weaker`` is off.
    """
    student = Path(student).resolve()
    if not (student / "helpers").is_dir() or (student / "helpers").is_symlink():
        raise FileNotFoundError(f"{student} has no helpers/ folder: pass the root of the student's copy")
    sandbox.require(allow_weaker)
    files = graded_files(REPO / "tests") + (graded_files(Path(hidden)) if hidden and Path(hidden).is_dir() else [])
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        copy, report, output = Path(tmp) / "student", Path(tmp) / "report.jsonl", Path(tmp) / "pytest.log"
        sandbox.copy_tree(student / "helpers", copy / "helpers")  # UnsafeCopy names a link or special file
        command = [sys.executable, "-m", "pytest", *files, "-m", "graded", "-p", "grading.plugin", "-q",
                   "-p", "no:cacheprovider", "-p", "no:unraisableexception",  # its full collections cost 0.3 s
                   "--rootdir", str(REPO), "--student", str(copy), "--grade-report", str(report),
                   "--time-limit", str(limits.time_s), "--memory-limit", str(limits.memory / GIB), "--only", only,
                   *(["--hidden-tests", str(hidden)] if hidden else [])]
        returncode, bound = _run_bounded(command, report, output, limits, log)
        collected, results = _read_report(report)
        if not collected or returncode not in (0, 1, None):  # 1: some tests failed; None: stopped at the bound
            tail = output.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the graded tests did not run (exit {returncode}):\n{tail}")
    not_run = "not run" if returncode is not None else f"not run: the grade stopped at its bound of {bound:.0f} s"
    return outcomes(collected["collected"], results, hidden, not_run)


def _run_bounded(command: list[str], report: Path, output: Path, limits: Limits, log) -> tuple[int | None, float]:
    """Run the graded tests' pytest until it ends or passes its bound (known once it has collected):
    ``(its exit code, None if it was stopped; the bound in seconds)``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONNOUSERSITE": "1",
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # only grading.plugin: no installed plugin runs, none costs time
    with open(output, "wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    started, bound, collected = time.monotonic(), STARTUP_S, {}
    while process.poll() is None and time.monotonic() < started + bound:
        try:
            process.wait(timeout=0.05 if not collected else max(0.0, started + bound - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        if not collected and (collected := _read_report(report)[0]):
            bound = bound_s(len({test["function"] for test in collected["collected"].values()}), limits)
            if log:
                print(f"grade: {len(collected['collected'])} graded tests; limits: {limits.describe()}; "
                      f"this grade ends within {bound:.0f} s\ngrade: {collected['isolation']}", file=log)
    if process.poll() is None:
        process.kill()
        process.wait()
        return None, bound
    return process.returncode, bound


def outcomes(collected: dict, results: dict, hidden: Path | None, not_run: str = "not run") -> dict:
    """Every collected graded test's record, ``hidden`` when its file lies in ``hidden``; one that did not run fails
    with ``not_run`` (its path, hence whether it is hidden, comes from the collection)."""
    records = {nodeid: results.get(nodeid, {**test, "passed": False, "message": not_run}) for nodeid, test in collected.items()}
    for record in records.values():
        record["hidden"] = bool(hidden) and Path(record.pop("path")).resolve().is_relative_to(Path(hidden).resolve())
    return records


def by_function(results: dict) -> dict[str, dict]:
    """Per graded function (sorted): points earned and possible, tests passed, hidden tests, first visible failure."""
    rows = defaultdict(list)
    for result in results.values():
        rows[result["function"]].append(result)
    summary = {}
    for name, tests in sorted(rows.items()):
        failed = [test for test in tests if not test["passed"]]
        hidden = [test for test in tests if test["hidden"]]
        summary[name] = {
            "points": sum(test["points"] for test in tests if test["passed"]),
            "possible": sum(test["points"] for test in tests),
            "tests": len(tests), "passed": len(tests) - len(failed),
            "hidden": len(hidden), "hidden_passed": sum(test["passed"] for test in hidden),
            "first_failure": next((test["message"] for test in failed if not test["hidden"]), ""),
            "first_failure_any": next((test["message"] for test in failed), ""),
        }
    return summary


def totals(results: dict) -> tuple[float, float]:
    """``(points earned, points possible)`` of a grade's results."""
    summary = by_function(results).values()
    return sum(row["points"] for row in summary), sum(row["possible"] for row in summary)


def table(results: dict) -> str:
    """Per function: tests passed, points, pass/fail; then the total."""
    summary = by_function(results)
    width = max([len(name) for name in summary] + [8])
    lines = [f"{'function':<{width}}  {'tests':>7}  {'points':>9}  result"]
    for name, row in summary.items():
        result = "pass" if row["passed"] == row["tests"] else f"FAIL: {row['first_failure_any'][:90]}"
        lines.append(f"{name:<{width}}  {row['passed']:>3}/{row['tests']:<3}  {row['points']:>4g}/{row['possible']:<4g}  "
                     f"{result}" + (f"  ({row['hidden']} hidden)" if row["hidden"] else ""))
    earned, possible = totals(results)
    lines.append(f"{'total':<{width}}  {'':>7}  {earned:>4g}/{possible:<4g}")
    return "\n".join(lines)
