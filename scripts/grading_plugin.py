"""pytest plugin of the autograder: records each ``@pytest.mark.graded`` test's outcome and points.

Loaded by ``scripts/grade.py`` with ``-p grading_plugin``; writes the JSON report named by
GRADE_REPORT, and stops at once if ``helpers`` is not imported from GRADE_ROOT (the copy graded).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_graded: dict[str, tuple[str, float]] = {}
_results: dict[str, dict] = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "graded(function, points=1): a test that counts for the named function")


def pytest_sessionstart(session):
    import helpers

    root = Path(os.environ["GRADE_ROOT"]).resolve()
    if not Path(helpers.__file__).resolve().is_relative_to(root):
        pytest.exit(f"helpers was imported from {helpers.__file__}, not from the copy being graded ({root})", 3)


def pytest_itemcollected(item):
    marker = item.get_closest_marker("graded")
    if marker:
        _graded[item.nodeid] = (marker.args[0], float(marker.kwargs.get("points", 1)))


def pytest_runtest_logreport(report):
    if report.nodeid not in _graded or (report.when != "call" and report.passed):
        return
    function, points = _graded[report.nodeid]
    failed = report.failed or (report.when != "call" and report.skipped)
    message = str(report.longrepr.reprcrash.message).splitlines()[0] if failed and hasattr(report.longrepr, "reprcrash") else ""
    _results.setdefault(report.nodeid, {"function": function, "points": points, "passed": True, "message": ""})
    if failed or report.skipped:
        _results[report.nodeid].update(passed=False, message=message or report.outcome)


def pytest_sessionfinish(session):
    Path(os.environ["GRADE_REPORT"]).write_text(json.dumps(_results, indent=2))
