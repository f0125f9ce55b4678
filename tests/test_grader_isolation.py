"""A hostile student against the autograder: planted cheats earn nothing and stop nothing.

Each copy is this tree's ``helpers/`` (the solution) with the three activation backward passes
made wrong, plus cheats. A grade of a few functions (``--only``) compares it with the same copy
without the cheats. The sandbox probes need Linux user namespaces (``unshare``) and skip elsewhere.
"""
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from grading import worker as wire
from grading.boundary import Limits, Pool, StudentError, WorkerFailure, sandbox_prefix
from helpers.core import config

sys.path.insert(0, str(config.REPO_ROOT / "scripts"))
import grade  # scripts/grade.py

REPO = config.REPO_ROOT
BROKEN_BACKWARDS = """
def _doubled(backward):
    return lambda dout, cache: 2 * backward(dout, cache)

relu_backward, sigmoid_backward, tanh_backward = map(_doubled, (relu_backward, sigmoid_backward, tanh_backward))
"""
ACTIVATIONS = [f"nn.layers.{name}_{way}" for name in ("relu", "sigmoid", "tanh") for way in ("forward", "backward")]
PAIR = "nn.layers.relu_forward,nn.layers.relu_backward"  # honest score on the broken copy: 1 of 2
needs_sandbox = pytest.mark.skipif(not sandbox_prefix(), reason="no Linux user namespaces (unshare) here")


def student_copy(root: Path, planted: str = "", appended: dict[str, str] | None = None) -> Path:
    """The broken copy in ``root``: ``planted`` appended to helpers/__init__.py (it runs at import time),
    ``appended`` ({file under helpers/: code}) to other modules, after breaking the three backward passes."""
    shutil.copytree(REPO / "helpers", root / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name, code in [("nn/layers.py", BROKEN_BACKWARDS), ("__init__.py", planted), *(appended or {}).items()]:
        file = root / "helpers" / name
        file.write_text(file.read_text() + "\n" + textwrap.dedent(code))
    return root


def score(results: dict) -> float:
    return sum(r["points"] for r in results.values() if r["passed"])


def test_a_partly_right_copy_scores_exactly_its_right_functions(tmp_path):
    results = grade.grade(student_copy(tmp_path), only=",".join(ACTIVATIONS))
    passed = {r["function"] for r in results.values() if r["passed"]}
    assert passed == {name for name in ACTIVATIONS if name.endswith("forward")}
    assert score(results) == 3 and len(results) == 6


REPORT_CHEATS = """
import atexit, glob, json, os, sys

def _forge():
    for path in glob.glob("/tmp/grade-*/report.json*") + glob.glob(os.path.expanduser("~/report*")):
        lines = [json.loads(line) for line in open(path)]
        with open(path, "w") as report:
            for line in lines:
                line.update(passed=True, message="")
                report.write(json.dumps(line) + "\\n")
atexit.register(_forge)
try:
    import _pytest.config, gc
    for obj in gc.get_objects():
        if isinstance(obj, _pytest.config.Config):
            class _Pass:
                def pytest_runtest_logreport(self, report):
                    report.outcome = "passed"
            obj.pluginmanager.register(_Pass())
except Exception:
    pass
"""
PATCHING_CHEATS = """
import numpy, numpy.testing
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
import helpers.nn.gradcheck as _gradcheck
_gradcheck.max_relative_error = lambda a, b: 0.0
try:
    import pytest
    pytest.approx = lambda expected, **k: expected
except Exception:
    pass
try:
    import torch
    torch.autograd.backward = lambda *a, **k: None
except Exception:
    pass
"""
PEEKING_CHEATS = f"""
import os, glob
_SOLUTION = None
for _path in [{str(REPO)!r}] + glob.glob("/proc/*/cwd"):
    try:
        _SOLUTION = open(os.path.join(_path, "helpers/nn/layers.py")).read()
        open(os.path.join(_path, "instructor/hidden_tests/test_hidden.py")).read()
        break
    except OSError:
        pass
if _SOLUTION:
    import helpers.nn.layers as _layers
    _solved = {{}}
    exec(compile(_SOLUTION, "solution", "exec"), _solved)
    _layers.relu_backward = _solved["relu_backward"]
for _target in [{str(REPO / "conftest.py")!r}, {str(REPO / "tests" / "planted_by_a_student.py")!r}]:
    try:
        open(_target, "w").write("# planted by tests/test_grader_isolation.py\\n")
    except OSError:
        pass
"""


@pytest.mark.parametrize("planted", [
    pytest.param(REPORT_CHEATS, id="forge-report-atexit-and-pytest-hooks"),
    pytest.param(PATCHING_CHEATS, id="patch-numpy-torch-pytest-gradcheck"),
    pytest.param(PEEKING_CHEATS, id="read-solution-and-hidden-tests-write-outside",
                 marks=needs_sandbox),
])
def test_import_time_cheats_earn_nothing(tmp_path, planted):
    planted_files = [REPO / "conftest.py", REPO / "tests" / "planted_by_a_student.py"]
    try:
        results = grade.grade(student_copy(tmp_path, planted), only=PAIR)
        assert score(results) <= 1 and len(results) == 2
        assert all(not r["message"].startswith("not run") for r in results.values())
        assert not any(path.exists() for path in planted_files)
    finally:
        for path in planted_files:
            if path.exists() and "planted by tests/test_grader_isolation.py" in path.read_text():
                path.unlink()


WORKER_CHEATS = {  # one graded function each; the three forward passes stay honest
    "nn/layers.py": """
        def relu_backward(dout, cache):
            while True:
                pass

        def sigmoid_backward(dout, cache):
            return bytearray(3 << 30)

        def tanh_backward(dout, cache):
            import os
            os._exit(0)

        def linear_backward(dout, cache, need_dx=True):
            import os
            for _ in range(40):  # a small fork bomb: its children outlive it unless the grader ends them
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "600.4242"])
            while True:
                pass
        """,
    "nn/losses.py": """
        def log_softmax(logits):
            print("x" * (8 << 20))
        """,
}


def test_runaway_functions_fail_alone_with_a_reason_within_the_bound(tmp_path):
    copy = student_copy(tmp_path, appended=WORKER_CHEATS)
    functions = [*ACTIVATIONS, "nn.layers.linear_backward", "nn.losses.log_softmax"]
    limits = Limits(time_s=4, memory=1 << 30)
    started = time.monotonic()
    results = grade.grade(copy, hidden=None, only=",".join(functions), limits=limits)
    assert time.monotonic() - started < grade.bound_s(len(functions), limits)
    messages = {r["function"]: r["message"] for r in results.values()}
    assert {r["function"] for r in results.values() if r["passed"]} == {
        "nn.layers.relu_forward", "nn.layers.sigmoid_forward", "nn.layers.tanh_forward"}
    assert "timed out after 4 s" in messages["nn.layers.relu_backward"]
    assert "MemoryError" in messages["nn.layers.sigmoid_backward"] and "1 GiB" in messages["nn.layers.sigmoid_backward"]
    assert "exited with code 0" in messages["nn.layers.tanh_backward"]
    assert "timed out" in messages["nn.layers.linear_backward"]
    assert "printed over 1 MiB" in messages["nn.losses.log_softmax"]
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "sleep 600.4242" not in processes  # the forked children went with their worker


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """A worker on a copy with ``helpers.probe``: functions that report what the sandbox lets them do."""
    root = tmp_path_factory.mktemp("probe")
    shutil.copytree(REPO / "helpers", root / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "helpers" / "probe.py").write_text(textwrap.dedent("""
        import os, socket

        def read(path):
            try:
                return len(open(path, "rb").read())
            except OSError as err:
                return type(err).__name__

        def write(path):
            try:
                open(path, "w").write("planted")
                return "written"
            except OSError as err:
                return type(err).__name__

        def connect():
            try:
                socket.create_connection(("192.0.2.1", 80), timeout=2)
                return "connected"
            except OSError as err:
                return type(err).__name__

        def environment():
            return dict(os.environ), os.getcwd(), sorted(os.listdir("."))

        def processes():
            return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    """))
    pool = Pool(root, Limits(time_s=20), hidden=[tmp_path_factory.getbasetemp()])
    yield pool.student_for("probe")
    pool.close()


@needs_sandbox
def test_the_worker_cannot_read_the_solution_hidden_tests_or_grader_files(probe, tmp_path_factory):
    git = REPO / ".git" / "HEAD" if (REPO / ".git").is_dir() else REPO / ".git"  # a worktree's .git is a file
    for secret in (REPO / "helpers/nn/layers.py", REPO / "instructor/hidden_tests/test_hidden.py", git):
        assert secret.exists() and probe.call("probe.read", str(secret)) in ("FileNotFoundError", "NotADirectoryError", 0), secret
    assert probe.call("probe.processes") == [1]  # it sees its own process tree only


@needs_sandbox
def test_the_worker_cannot_write_outside_its_folder_or_reach_the_network(probe):
    assert probe.call("probe.write", str(REPO / "planted_by_a_student.txt")) != "written"
    assert probe.call("probe.write", str(Path(sys.prefix) / "planted_by_a_student.pth")) != "written"
    assert not (REPO / "planted_by_a_student.txt").exists() and not (Path(sys.prefix) / "planted_by_a_student.pth").exists()
    assert probe.call("probe.connect") != "connected"


def test_the_worker_starts_empty_with_a_minimal_environment(probe):
    environment, folder, files = probe.call("probe.environment")
    assert files == [] and "grade-worker-" in folder
    assert set(environment) <= {"PATH", "HOME", "TMPDIR", "LANG", "MPLBACKEND", "OPENBLAS_NUM_THREADS",
                                "OMP_NUM_THREADS", "MKL_NUM_THREADS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                                "SYSTEMROOT", "LC_CTYPE", "PWD", "SHLVL", "_"}  # sh adds the last three


def test_an_exception_in_student_code_is_reported_and_the_worker_goes_on(probe):
    with pytest.raises(StudentError, match="ModuleNotFoundError"):
        probe.call("no_such_module.f")
    assert probe.call("probe.read", os.devnull) == 0


@pytest.mark.parametrize("forged, problem", [
    ({"tree": {"array": 0}, "arrays": [["<f8", [1 << 40]]]}, "does not fit"),
    ({"tree": {"array": 0}, "arrays": [["|O", [1]]]}, "does not fit"),
    ({"tree": {"pickle": "gASV"}, "arrays": []}, "unknown kind"),
])
def test_replies_that_are_not_plain_data_are_refused(forged, problem):
    header = wire.json.dumps(forged).encode()
    with pytest.raises(wire.WireError, match=problem):
        wire.decode(wire.HEADER.pack(len(header)) + header + b"\0" * 64)


def test_plain_data_survives_the_round_trip():
    value = {"x": np.arange(6.0).reshape(2, 3), "t": (1, 2.5, None, "s", True), "d": np.float32,
             "g": np.random.default_rng(3), "s": np.float32(1.5), "l": [np.zeros(0, np.uint8)]}
    decoded = wire.decode(wire.encode(value)[wire.HEADER.size:])
    assert np.array_equal(decoded["x"], value["x"]) and decoded["t"] == value["t"] and decoded["d"] == np.float32
    assert decoded["g"].random() == np.random.default_rng(3).random() and decoded["s"].dtype == np.float32
    with pytest.raises(wire.WireError, match="not plain data"):
        wire.encode(object())


def test_a_time_limit_ends_a_worker_that_never_answers(tmp_path):
    copy = student_copy(tmp_path, "while True:\n    pass\n")
    pool = Pool(copy, Limits(time_s=1))
    try:
        with pytest.raises(WorkerFailure, match="timed out after 1 s"):
            pool.student_for("nn.layers.relu_forward").call("nn.layers.relu_forward", np.ones(2))
        with pytest.raises(WorkerFailure, match="not run: timed out"):
            pool.student_for("nn.layers.relu_forward").call("nn.layers.relu_forward", np.ones(2))
    finally:
        pool.close()


def test_hidden_tests_that_never_ran_stay_hidden(tmp_path, monkeypatch):
    """A grade stopped at its bound (here at once) still reports its unrun hidden tests as hidden."""
    from grading import grader
    monkeypatch.setattr(grader, "bound_s", lambda functions, limits: 0)
    results = grader.grade(student_copy(tmp_path), only="nn.layers.linear_backward")
    assert any(nodeid.startswith("instructor/hidden_tests/") for nodeid in results)
    assert all(not r["passed"] and r["message"].startswith("not run: the grade stopped") for r in results.values())
    assert {nodeid: r["hidden"] for nodeid, r in results.items()} == {
        nodeid: nodeid.startswith("instructor/hidden_tests/") for nodeid in results}
