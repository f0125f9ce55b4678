"""pytest plugin of the autograder: the ``student`` fixture and one JSON line per graded test.

A graded test (``@pytest.mark.graded("module.function", points=1)``) asks for the ``student``
fixture and calls the student's code only through it (``grading.boundary.Student``); it judges
the results with the instructor's own code. Loaded with ``-p grading.plugin`` by
``scripts/grade.py``; ``tests/conftest.py`` imports the fixtures so that ``make test`` runs the
same tests against this tree's ``helpers/``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grading import rubric
from grading.boundary import Limits, Pool, StudentError, WorkerFailure
from grading.grader import add_options, limits_of
from grading.sandbox import probe


def pytest_addoption(parser):
    group = parser.getgroup("grading")
    add_options(group.addoption, commands=False)
    group.addoption("--student", type=Path, help="root of the copy whose helpers/ is graded (default: this tree)")
    group.addoption("--grade-report", type=Path, help="append one JSON line per graded test to this file")
    group.addoption("--hidden-tests", type=Path, help="the hidden tests' folder: its tests run last, in a phase of their own")


NEXT = pytest.StashKey[dict]()  # (hidden, graded function) -> the function graded after it in the same phase
POINTS = pytest.StashKey[dict]()  # nodeid -> the test's points (grading/rubric.py)


def _function(item) -> str | None:
    marker = item.get_closest_marker("graded")
    return marker.args[0] if marker else None


def _hidden(item) -> bool:
    folder = item.config.getoption("hidden_tests", None)
    return bool(folder) and Path(item.path).resolve().is_relative_to(Path(folder).resolve())


def _weight(item) -> float:
    return float(item.get_closest_marker("graded").kwargs.get("points", 1))


def _points(item) -> float:
    """The test's share of its function's points in the rubric (grading/rubric.py), from the collection."""
    return item.config.stash.get(POINTS, {}).get(item.nodeid, _weight(item))


def _write(config, record: dict):
    path = config.getoption("grade_report", None)
    if path:
        with open(path, "a", encoding="utf-8") as report:
            report.write(json.dumps(record) + "\n")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Keep the ``--only`` functions; run each function's tests together (one worker each, in turn), every
    visible test before any hidden one."""
    only = {name.strip() for name in config.getoption("only", "").split(",") if name.strip()}
    known = {_function(item) for item in items} - {None}
    if only - known:
        raise pytest.UsageError(f"--only: no graded tests for {sorted(only - known)}; graded functions: {sorted(known)}")
    if only:
        config.hook.pytest_deselected(items=[item for item in items if _function(item) not in only])
        items[:] = [item for item in items if _function(item) in only]
    order = list(dict.fromkeys(_function(item) for item in items))
    items.sort(key=lambda item: (_hidden(item), order.index(_function(item))))
    steps = list(dict.fromkeys((_hidden(item), _function(item)) for item in items))
    config.stash[NEXT] = {step: after[1] for step, after in zip(steps, steps[1:]) if step[0] == after[0]}
    config.stash[POINTS] = rubric.points_per_test({item.nodeid: (_function(item), _weight(item))
                                                   for item in items if _function(item)})


def pytest_collection_finish(session):
    graded = {item.nodeid: {"function": _function(item), "points": _points(item), "path": os.fspath(item.path)}
              for item in session.items if _function(item)}
    _write(session.config, {"collected": graded, "isolation": probe().describe(), "level": probe().level})


@pytest.fixture(scope="session")
def grading_pool(request):
    """The workers of this session, on ``--student`` (default: the tree these tests are in)."""
    config = request.config
    limits = limits_of(config.option) if hasattr(config.option, "time_limit") else Limits()  # make test: no options
    pool = Pool(config.getoption("student", None) or config.rootpath, limits)
    yield pool
    pool.close()


@pytest.fixture
def student(request, grading_pool):
    """The student's copy, as seen by this graded test's function (its own worker process)."""
    function = _function(request.node)
    if function is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses the student fixture but has no graded marker")
    hidden = _hidden(request.node)
    grading_pool.enter_phase("hidden" if hidden else "visible")
    upcoming = request.config.stash.get(NEXT, {}).get((hidden, function))
    if upcoming:
        grading_pool.prestart(upcoming)
    return grading_pool.student_for(function)


_results: dict[str, dict] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Fold a graded test's setup, call and teardown into one record; write it after teardown."""
    report = yield
    function = _function(item)
    if function:
        record = _results.setdefault(item.nodeid, {
            "function": function, "points": _points(item),
            "path": os.fspath(item.path), "passed": True, "message": ""})
        if (report.failed or report.skipped) and record["passed"]:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = str(crash.message).splitlines()[0] if crash else report.outcome
            for boundary_error in (StudentError, WorkerFailure):
                message = message.removeprefix(f"{boundary_error.__module__}.{boundary_error.__name__}: ")
            record.update(passed=False, message=message[:500])
        if report.when == "teardown":
            _write(item.config, {"nodeid": item.nodeid, **record})
    return report
