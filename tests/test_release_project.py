"""The student release is a project of its own (instructor-only, run by CI in `make test`).

Its README's test command, run in a fresh copy of the release with instructor/plain's functions
copied in, passes (lint included); run on the stubs, it fails only tests that run a graded function,
each with the stub's message naming the function. Every file of the release is on the allow-list
(instructor/manifest.py), and nothing in it imports a module that is not shipped.

What CI runs: the README's unit-test command (``python -m pytest tests -q``), once on each copy of
the default level (derive), without the notebooks; for the guided level, which differs in docstrings,
stub messages and the README only, the same command on the lint and docs tests of its stubbed copy (``make test``'s nbval pass over the release would double CI's time; the
notebooks of a release are run by tests/test_release.py up to their first stub). The correct copy runs
only the test files that fail on the stubs (the others ran no graded function and passed on the same files;
see ``FreshRuns``), and the guided run goes beside the stubs' run.
"""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from xml.etree import ElementTree

import pytest

from helpers.core import config
from instructor import manifest, plain_copy, release

STUB_MESSAGE = "is yours to write"
# the README's fenced lines, "python -m pytest ..." being the unit-test command
COMMAND = re.compile(r"^(python -m pytest [^#\n]*?)\s*(?:#.*)?$", re.M)


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    stubs = root / "stubs"
    release.build(stubs)
    plain_copy.build(root / "plain")
    return stubs, root / "plain"


def readme_test_command(out):
    """The unit-test command the release's README gives (its first ``python -m pytest`` line)."""
    found = COMMAND.search((out / "README.md").read_text(encoding="utf-8"))
    assert found, "the release's README gives no `python -m pytest` command"
    return found.group(1).split()


def start_in_fresh_copy(out, folder, *only):
    """Start the README's test command in a copy of ``out`` (as a student's clone: no caches, no artifacts), with
    this Python standing for the student's environment and the copy's own packages first; :func:`finish` awaits it."""
    copy = folder / "fresh"
    shutil.copytree(out, copy)
    command = readme_test_command(copy)
    if only:  # the README's command on some of its test files
        command = [part for part in command if part != "tests"] + list(only)
    report = folder / "report.xml"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BUNDLE_", "PYTEST_", "NBVAL"))}
    env.update(PYTHONPATH=str(copy), FEATURE_WEIGHTS="random", PYTHONDONTWRITEBYTECODE="1")
    with open(folder / "stdout", "w") as stdout, open(folder / "stderr", "w") as stderr:
        process = subprocess.Popen([sys.executable, *command[1:], "-p", "no:xdist", f"--junitxml={report}"],
                                   cwd=copy, env=env, stdout=stdout, stderr=stderr, text=True)
    return process, folder


def finish(started, timeout=1500):
    """The finished process of :func:`start_in_fresh_copy` (its output as ``stdout`` and ``stderr``) and
    ``[{nodeid, outcome, message}]`` from pytest's JUnit XML."""
    process, folder = started
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    done = subprocess.CompletedProcess(process.args, process.returncode, (folder / "stdout").read_text(),
                                       (folder / "stderr").read_text())
    report = folder / "report.xml"
    return done, outcomes(report) if report.exists() else []


def stub_failure_files(outcomes):
    """The test files in which some test failed on the stubs: those that run a graded function."""
    return sorted({o["nodeid"].split("::")[0] for o in outcomes if o["outcome"] == "failed"})


class FreshRuns:
    """The README's unit-test command once over the whole stubbed release and once over the correct copy's files
    that run a graded function, and the guided release's lint and docs tests (started beside the stubs' run).

    The correct copy differs from the stubs only in the graded functions' bodies, so a test file with no failure on
    the stubs runs no graded function: it passed there, on the same files, and it is not run again. The correct
    copy runs every file with a stub failure, and the lint test (its own check of the files that differ).
    """

    def __init__(self, stubs, plain, root):
        self.plain, self.root, self.done = plain, root, {}
        self.guided = root / "guided-release"
        self.regions = release.build(self.guided, level="guided")
        self.started = {name: start_in_fresh_copy(out, self._folder(name), *only) for name, out, only in (
            ("stubs", stubs, ()), ("guided", self.guided, ("tests/test_lint.py", "tests/test_docs.py")))}

    def _folder(self, name):
        (self.root / name).mkdir()
        return self.root / name

    def result(self, name):
        if name == "plain" and name not in self.started:
            files = stub_failure_files(self.result("stubs")[1])
            self.started[name] = start_in_fresh_copy(self.plain, self._folder(name),
                                                     *sorted({*files, "tests/test_lint.py"}))
        if name not in self.done:
            self.done[name] = finish(self.started[name])
        return self.done[name]

    def close(self):
        for process, _ in self.started.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def fresh_runs(releases, tmp_path_factory):
    runs = FreshRuns(*releases, tmp_path_factory.mktemp("fresh"))
    yield runs
    runs.close()


def outcomes(report):
    """``[{nodeid, outcome, message}]`` of every test case in a JUnit XML report."""
    found = []
    for case in ElementTree.parse(report).iter("testcase"):
        problem = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        nodeid = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        outcome = "passed" if problem is None else "skipped" if problem.tag == "skipped" else "failed"
        message = "" if problem is None else f"{problem.get('message', '')}\n{problem.text or ''}"
        found.append({"nodeid": nodeid, "outcome": outcome, "message": message})
    return found


def test_every_tracked_file_is_either_shipped_or_instructor_only():
    assert manifest.unclassified(release.tracked_files()) == []
    for name in ("instructor/hidden_tests/test_hidden.py", "docs/GRADING.md", "docs/INSTRUCTORS.md",
                 "scripts/make_autograder.py", "instructor/release.py", "tests/test_release.py"):
        assert not manifest.ships(name), name


def test_the_release_holds_the_allow_list_and_nothing_else(releases):
    stubs, _ = releases
    shipped = sorted(p.relative_to(stubs).as_posix() for p in stubs.rglob("*") if p.is_file())
    assert shipped == sorted({*release.released_files(), *manifest.GENERATED})
    assert all(manifest.ships(name) or name in manifest.GENERATED for name in shipped)
    assert not any(name.startswith(("instructor/", ".ci/")) for name in shipped)
    makefile = (stubs / "Makefile").read_text()
    assert "instructor.release" not in makefile and "make_autograder" not in makefile and "INSTRUCTOR" not in makefile
    developing = (stubs / "docs/DEVELOPING.md").read_text()
    assert ".ci/run" not in developing and "INSTRUCTOR" not in developing and "## Tests" in developing


def _imports(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _code(file):
    if file.suffix == ".py":
        return file.read_text(encoding="utf-8")
    cells = json.loads(file.read_text(encoding="utf-8"))["cells"]
    lines = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    return "\n".join(line for text in lines for line in text.splitlines() if not line.lstrip().startswith(("%", "!")))


def _resolves(stubs, name, packages):
    """Whether the import ``name`` finds a module in the release: in one of our packages, or a script, benchmark
    or test module that its importer puts on sys.path."""
    parts = name.split(".")
    if parts[0] not in packages:
        return any((stubs / folder / f"{parts[0]}.py").is_file() for folder in ("scripts", "benchmarks", "tests"))
    path = stubs.joinpath(*parts)
    parent = stubs.joinpath(*parts[:-1])  # ``from package import name``: name may be an attribute of the package
    init = parent / "__init__.py"
    return (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() or parent.with_suffix(".py").is_file()
            or init.is_file() and re.search(rf"\b{parts[-1]}\b", init.read_text(encoding="utf-8")) is not None)


def test_nothing_in_the_release_imports_what_is_not_shipped(releases):
    stubs, _ = releases
    packages = {"helpers", "grading", "instructor"}
    local = {p.stem for folder in ("scripts", "benchmarks", "tests") for p in (config.REPO_ROOT / folder).glob("*.py")}
    missing = [f"{file.relative_to(stubs)}: {name}" for file in sorted([*stubs.rglob("*.py"), *stubs.rglob("*.ipynb")])
               for name in _imports(_code(file)) if name.split(".")[0] in packages | local
               and not _resolves(stubs, name, packages)]
    assert missing == []


def test_the_readme_opens_with_its_own_set_up_and_test_commands(releases):
    stubs, _ = releases
    readme = (stubs / "README.md").read_text()
    head = readme.split("## What is yours to write")[0]
    for command in ("pip install -r requirements.txt", "conda env create -f environment.yml", "Colab",
                    "python -m pytest tests", "python scripts/grade.py", "make test"):
        assert command in head, command


def test_the_readme_test_command_passes_on_a_correct_copy(fresh_runs):
    done, outcomes = fresh_runs.result("plain")
    ran = {o["nodeid"].split("::")[0] for o in outcomes}
    assert set(stub_failure_files(fresh_runs.result("stubs")[1])) <= ran, "a file that runs a graded function was not run"
    failed = [o["nodeid"] for o in outcomes if o["outcome"] == "failed"]
    assert done.returncode == 0 and not failed, (failed, done.stdout[-4000:], done.stderr[-2000:])
    assert any(o["nodeid"].startswith("tests/test_lint.py") and o["outcome"] == "passed" for o in outcomes)


def test_the_readme_test_command_fails_on_the_stubs_only_where_a_graded_function_runs(fresh_runs):
    regions = release.find_markers(release.marked_sources())[0]
    done, outcomes = fresh_runs.result("stubs")
    failed = [o for o in outcomes if o["outcome"] == "failed"]
    assert done.returncode == 1 and failed, done.stdout[-3000:]
    names = {region.name for region in regions}
    other = [f"{o['nodeid']}: {o['message'][-300:]}" for o in failed
             if STUB_MESSAGE not in o["message"] or not any(f"{name} (" in o["message"] for name in names)]
    assert other == []


def test_the_guided_release_passes_its_own_lint_and_docs_tests(fresh_runs):
    guided, regions = fresh_runs.guided, fresh_runs.regions
    assert all(region.hint in (guided / region.file).read_text() for region in regions)
    done, results = fresh_runs.result("guided")
    assert done.returncode == 0 and results and all(r["outcome"] != "failed" for r in results), done.stdout[-3000:]
