"""A hostile student against the autograder: planted cheats earn nothing, leak nothing, harm no other grade.

Each copy is this tree's ``helpers/`` (the solution) with the three activation backward passes
made wrong, plus cheats. A grade of a few functions (``--only``) compares it with the same copy
without the cheats. The probes (``helpers/probe.py`` in a copy) run attacks from inside a worker
and report what they achieved. Those that need the sandbox (bubblewrap) or a cgroup skip where
this machine has neither; ``grading.sandbox.probe()`` says which (CI has both, as root).
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
from grading import sandbox
from grading.boundary import MIB, Limits, Pool, StudentError, WorkerFailure
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
needs_sandbox = pytest.mark.skipif(not sandbox.probe().sandbox, reason="no bubblewrap sandbox here")
needs_cgroup = pytest.mark.skipif(not sandbox.probe().cgroup.startswith("cgroup"), reason="no cgroup for the grader here")


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
ESCAPE = """
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
for _line in open("/proc/self/mountinfo").read().splitlines()[::-1]:  # unmount what hides the host
    _libc.umount2(_line.split()[4].encode(), 2)
_libc.unshare(0x10000000 | 0x00020000)  # CLONE_NEWUSER | CLONE_NEWNS: a namespace of its own
for _line in open("/proc/self/mountinfo").read().splitlines()[::-1]:
    _libc.umount2(_line.split()[4].encode(), 2)
for _target in ("/", "/grade", "/tmp"):  # remount read-write
    _libc.mount(b"none", _target.encode(), None, 32 | 4096 | 16384, None)  # MS_REMOUNT | MS_BIND | MS_REC
os.system("mount -t proc proc /proc 2>/dev/null; umount -l /proc 2>/dev/null")
"""
PEEKING_CHEATS = ESCAPE + f"""
import os, glob
_SOLUTION = None
for _path in [{str(REPO)!r}] + glob.glob("/proc/*/cwd") + glob.glob("/proc/*/root" + {str(REPO)!r}):
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
    pytest.param(PEEKING_CHEATS, id="escape-then-read-solution-and-hidden-tests-write-outside",
                 marks=needs_sandbox),
    pytest.param("import os\nif os.path.isdir('/grade') or os.getuid() == 65534:  # graded: cheat\n"
                 + textwrap.indent(PEEKING_CHEATS, "    "), id="cheat-only-when-it-detects-the-grader",
                 marks=needs_sandbox),
])
def test_import_time_cheats_earn_nothing(tmp_path, planted):
    planted_files = [REPO / "conftest.py", REPO / "tests" / "planted_by_a_student.py"]
    before = {path: path.read_bytes() if path.exists() else None for path in planted_files}
    try:
        results = grade.grade(student_copy(tmp_path, planted), only=PAIR)
        assert score(results) == 1 and len(results) == 2  # exactly the honest score: relu_forward only
        assert all(not r["message"].startswith("not run") for r in results.values())
        assert {path: path.read_bytes() if path.exists() else None for path in planted_files} == before
    finally:
        for path, content in before.items():
            if path.exists() and "planted by tests/test_grader_isolation.py" in path.read_text():
                path.write_bytes(content) if content is not None else path.unlink()


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
                    os.setsid()  # leaves the worker's session too
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
    assert "sleep 600.4242" not in host_processes()  # the forked children went with their worker


def host_processes() -> str:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


PROBE = '''
import ctypes, errno, glob, os, signal, socket, stat, time

_libc = ctypes.CDLL(None, use_errno=True)


def _error(call):
    try:
        call()
        return "done"
    except OSError as err:
        return type(err).__name__


def read(path):
    try:
        return len(open(path, "rb").read())
    except OSError as err:
        return type(err).__name__


def write(path):
    return _error(lambda: open(path, "w").write("planted"))


def connect():
    return _error(lambda: socket.create_connection(("192.0.2.1", 80), timeout=2))


def environment():
    return dict(os.environ), os.getcwd(), sorted(os.listdir("."))


def processes():
    """Every process this worker sees, by its command line."""
    seen = []
    for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            seen.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode()[:200])
        except OSError:
            seen.append("?")
    return seen


def credentials():
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    return {key: status[key].strip() for key in ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs")}


def escape(secrets):
    """Every way out tried, then the secrets read: what each step gave."""
    tried = {"umount": [], "mount": _libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None)}
    for line in open("/proc/self/mountinfo").read().splitlines()[::-1]:
        tried["umount"].append(_libc.umount2(line.split()[4].encode(), 2))
    tried["unshare"] = _libc.unshare(0x10000000 | 0x00020000)
    tried["unshare_mount"] = _libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None)
    for line in open("/proc/self/mountinfo").read().splitlines()[::-1]:
        tried["umount"].append(_libc.umount2(line.split()[4].encode(), 2))
    tried["remount_rw"] = _libc.mount(b"none", b"/grade", None, 32 | 4096, None)
    tried["chroot"] = _libc.chroot(b"/proc/1/root")
    tried["read"] = {path: read(path) for path in secrets}
    tried["write"] = write("/grade/helpers/planted.py")
    return tried


def ptrace():
    """PTRACE_ATTACH on the zygote (the parent) and on pid 1; /proc/<parent>/mem opened for writing."""
    parent = os.getppid()
    attached = [_libc.ptrace(16, pid, None, None) for pid in (parent, 1)]
    return attached, _error(lambda: open(f"/proc/{parent}/mem", "wb"))


def kill_parent():
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(1)
    return "killed"


def daemon(marker):
    """A double-forked daemon that would outlive its worker."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", marker])
        os._exit(0)
    time.sleep(0.2)
    return "started"


def fill_disk():
    """Write to the private /tmp until something stops it: ``(bytes written, what stopped it)``."""
    written, block = 0, b"x" * (1 << 20)
    try:
        with open("/tmp/fill", "wb") as out:
            while written < (8 << 30):
                out.write(block)
                out.flush()
                written += len(block)
    except OSError as err:
        return written, errno.errorcode.get(err.errno, "?")
    return written, "nothing"


def hog(count, mib):
    """Fork ``count`` children that each hold ``mib`` MiB: ``(forked, refused)``."""
    forked = refused = 0
    for _ in range(count):
        try:
            pid = os.fork()
        except OSError:
            refused += 1
            continue
        if pid == 0:
            try:
                hold = bytearray(mib << 20)
                hold[::4096] = b"x" * len(hold[::4096])
                time.sleep(60)
            finally:
                os._exit(0)
        forked += 1
    time.sleep(3)
    return forked, refused


def flood(mib, count):
    """Valid replies nobody asked for, written straight to the worker's channel, then a normal answer."""
    import numpy as np
    import grading_worker as wire

    channel = next(fd for fd in range(3, 64) if _is_socket(fd))
    message = wire.encode({"id": 10 ** 6, "value": np.zeros(mib << 17)})
    for _ in range(count):
        os.write(channel, message)
    return "flooded"


def _is_socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def big_reply(mib):
    import numpy as np
    return np.zeros(mib << 17)
'''


def copy_with_probe(root: Path, probe: str) -> Path:
    """The solution's helpers/ in ``root`` with ``helpers/probe.py`` holding ``probe``: attacks to call."""
    shutil.copytree(REPO / "helpers", root / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "helpers" / "probe.py").write_text(probe)
    return root


@pytest.fixture(scope="module")
def probe_copy(tmp_path_factory):
    return copy_with_probe(tmp_path_factory.mktemp("probe"), PROBE)


@pytest.fixture(scope="module")
def pool(probe_copy):
    pool = Pool(probe_copy, Limits(time_s=30, memory=1 << 30, processes=32))
    yield pool
    pool.close()


@pytest.fixture
def probe(pool):
    return pool.student_for("probe")


SECRETS = [REPO / "helpers/nn/layers.py", REPO / "instructor/hidden_tests/test_hidden.py", REPO / "tests/test_graded.py",
           REPO / ".git" / "HEAD" if (REPO / ".git").is_dir() else REPO / ".git", Path.home() / ".bash_history"]


@needs_sandbox
def test_the_worker_cannot_read_the_solution_hidden_tests_or_grader_files(probe, tmp_path):
    (tmp_path / "report.jsonl").write_text("{}")  # as the grader's own temporary files are
    for secret in [*SECRETS[:4], tmp_path / "report.jsonl"]:
        assert secret.exists() and probe.call("probe.read", str(secret)) in ("FileNotFoundError", "PermissionError"), secret
    seen = probe.call("probe.processes")
    assert all("bwrap" in line or "grading_worker" in line for line in seen), seen  # its own sandbox only
    assert str(os.getpid()) not in " ".join(seen)


@needs_sandbox
def test_the_worker_cannot_write_outside_its_folder_or_reach_the_network(probe):
    assert probe.call("probe.write", str(REPO / "planted_by_a_student.txt")) != "done"
    assert probe.call("probe.write", str(Path(sys.prefix) / "planted_by_a_student.pth")) != "done"
    assert probe.call("probe.write", "/grade/helpers/planted.py") != "done"  # its own code is read-only too
    assert not (REPO / "planted_by_a_student.txt").exists() and not (Path(sys.prefix) / "planted_by_a_student.pth").exists()
    assert probe.call("probe.connect") != "done"


@needs_sandbox
def test_the_worker_holds_no_privilege(probe):
    credentials = probe.call("probe.credentials")
    assert credentials["NoNewPrivs"] == "1" and int(credentials["CapEff"], 16) == 0 == int(credentials["CapPrm"], 16)
    if os.geteuid() == 0:  # a root grader's workers run as an unprivileged user on the host
        assert int(credentials["Uid"].split()[0]) in sandbox.UIDS and int(credentials["CapBnd"], 16) == 0


@needs_sandbox
def test_mount_unmount_unshare_and_chroot_reveal_nothing(probe):
    tried = probe.call("probe.escape", [str(path) for path in SECRETS])
    assert all(size in ("FileNotFoundError", "PermissionError") for size in tried["read"].values()), tried["read"]
    assert tried["write"] != "done" and not (REPO / "helpers" / "planted.py").exists()
    assert tried["mount"] == -1 and tried["remount_rw"] == -1 and tried["chroot"] == -1


@needs_sandbox
def test_ptrace_and_the_parents_memory_are_out_of_reach(probe):
    attached, memory = probe.call("probe.ptrace")
    assert attached == [-1, -1] and memory != "done"
    assert probe.call("probe.read", os.devnull) == 0  # the zygote, and this worker, go on


def test_killing_the_zygote_fails_only_the_function_that_did_it(pool):
    try:
        pool.student_for("probe").call("probe.kill_parent")
    except WorkerFailure:
        pass  # its own worker may go with the zygote
    pool.retire("probe")
    out, _ = pool.student_for("nn.layers.relu_forward").call("nn.layers.relu_forward", np.array([-1.0, 3.0]))
    assert np.array_equal(out, [0.0, 3.0])  # the next function gets a new zygote


def test_a_daemon_does_not_outlive_its_function_or_the_grade(pool):
    marker = "600.4343"
    assert pool.student_for("probe").call("probe.daemon", marker) == "started"
    assert f"sleep {marker}" in host_processes()
    pool.retire("probe")
    assert f"sleep {marker}" not in host_processes()
    assert pool.student_for("probe").call("probe.read", os.devnull) == 0  # a fresh worker serves the function


def test_filling_the_disk_stops_at_the_private_tmp(probe):
    written, stopped = probe.call("probe.fill_disk")
    assert written <= 64 * MIB and stopped in ("ENOSPC", "EFBIG"), (written, stopped)


@needs_cgroup
def test_a_fork_bomb_holding_memory_is_bounded_as_a_whole_tree(probe_copy):
    limits = Limits(time_s=60, memory=1 << 30, processes=32)
    pool = Pool(probe_copy, limits)
    try:
        try:
            forked, refused = pool.student_for("probe").call("probe.hog", 100, 42)  # 4.2 GiB in 100 processes
            assert forked <= limits.processes + sandbox.SANDBOX_PROCESSES - 2 and forked + refused == 100  # 2: zygote, worker
        except WorkerFailure as failure:  # or the OOM killer ended the worker
            assert "SIGKILL" in str(failure)
        assert pool.sandbox.cgroup.peak() <= limits.memory + sandbox.ZYGOTE_MEMORY
    finally:
        pool.close()


def test_replies_nobody_asked_for_are_refused_without_being_read(pool):
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(WorkerFailure, match="nobody asked for"):
        pool.student_for("probe").call("probe.flood", 60, 10)  # 600 MiB of valid replies
    with pytest.raises(WorkerFailure, match="over the 64 MiB limit"):
        pool.student_for("probe").call("probe.big_reply", 65)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # ru_maxrss: KiB on Linux
    assert grown_mib < 200, grown_mib
    assert pool.student_for("probe").call("probe.read", os.devnull) == 0


def test_the_worker_starts_empty_and_sees_nothing_of_the_graders_environment(probe_copy, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "s3cret-token")
    pool = Pool(probe_copy, Limits(time_s=20))
    try:
        environment, folder, files = pool.student_for("probe").call("probe.environment")
    finally:
        pool.close()
    assert files == [] and "worker-" in folder
    assert "GRADER_SECRET" not in environment and "s3cret" not in str(environment)
    assert set(environment) <= {"PATH", "HOME", "TMPDIR", "LANG", "SYSTEMROOT", "LC_CTYPE", "PWD",
                                "KMP_DUPLICATE_LIB_OK"}  # set by Python, bwrap and threadpoolctl inside the worker


def test_an_exception_in_student_code_is_reported_and_the_worker_goes_on(probe):
    with pytest.raises(StudentError, match="ModuleNotFoundError"):
        probe.call("no_such_module.f")
    assert probe.call("probe.read", os.devnull) == 0


RECORDING = """
import os as _os

_SEEN = []

def _recorded(function):
    def wrapper(*args, **kwargs):
        _SEEN.append(repr(args)[:300])
        with open("/tmp/seen.txt", "a") as seen:
            seen.write(repr(args)[:300] + "\\n")
        shared = open("/tmp/seen.txt").read() if _os.path.exists("/tmp/seen.txt") else ""
        raise ValueError("seen: " + " | ".join(_SEEN) + " | shared: " + shared)
    return wrapper

relu_forward = _recorded(relu_forward)
relu_backward = _recorded(relu_backward)
"""
HIDDEN_PROBE = '''
import numpy as np
import pytest


@pytest.mark.graded("nn.layers.relu_forward")
def test_hidden_relu_forward(student):
    student.call("nn.layers.relu_forward", np.full(3, 4242.125))


@pytest.mark.graded("nn.layers.relu_backward")
def test_hidden_relu_backward(student):
    student.call("nn.layers.relu_backward", np.full(3, 4242.125), None)
'''


def test_hidden_test_inputs_never_reach_a_visible_message(tmp_path):
    """Workers record every input (in memory and in /tmp) and raise with all they have seen: the visible
    failures, all run before any hidden test, carry none of the hidden tests' inputs."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_hidden_probe.py").write_text(HIDDEN_PROBE)
    copy = student_copy(tmp_path / "copy", appended={"nn/layers.py": RECORDING})
    results = grade.grade(copy, hidden=hidden, only=PAIR)
    visible = [r for r in results.values() if not r["hidden"]]
    assert visible and all(not r["passed"] and "seen:" in r["message"] for r in visible)
    assert not any("4242" in r["message"] for r in visible)
    assert sum(r["hidden"] for r in results.values()) == 2


@pytest.mark.parametrize("kind", ["link-to-solution", "linked-folder", "fifo"])
def test_links_and_special_files_in_a_copy_are_refused_by_name(tmp_path, kind):
    copy = student_copy(tmp_path / "copy")
    target = copy / "helpers" / "nn" / "layers.py"
    target.unlink()
    if kind == "link-to-solution":
        target.symlink_to(REPO / "helpers" / "nn" / "layers.py")
    elif kind == "linked-folder":
        shutil.rmtree(copy / "helpers" / "nn")
        (copy / "helpers" / "nn").symlink_to(REPO / "helpers" / "nn")
        target = copy / "helpers" / "nn"
    else:
        os.mkfifo(target)  # opening it would block the grader forever
    with pytest.raises(sandbox.UnsafeCopy, match=str(target.relative_to(copy))):
        grade.grade(copy, only="nn.layers.relu_forward")


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


def test_the_grade_refuses_weaker_isolation_than_the_platform_allows_unless_asked(tmp_path, monkeypatch):
    weaker = sandbox.Isolation("linux", missing=("the sandbox: bwrap is not installed",),
                               refusal="no sandbox: bwrap is not installed")
    monkeypatch.setattr(sandbox, "probe", lambda: weaker)
    with pytest.raises(sandbox.IsolationError, match="--allow-weaker-isolation"):
        grade.grade(student_copy(tmp_path), only="nn.layers.relu_forward")
    assert sandbox.require(allow_weaker=True) is weaker


def test_without_a_sandbox_the_workers_still_run_apart_and_the_grade_is_exact(tmp_path, monkeypatch):
    """The fallback where namespaces are forbidden: forked workers, rlimits, the unprivileged user where root can
    reach the interpreter as that user (here it may not: the checkout may lie under a private home)."""
    plain = sandbox.Isolation("linux", missing=("the sandbox",), refusal="no sandbox")
    pool = Pool(student_copy(tmp_path), Limits(time_s=20), isolation=plain)
    try:
        x = np.array([-1.0, 2.0])
        out, cache = pool.student_for("nn.layers.relu_forward").call("nn.layers.relu_forward", x)
        assert np.array_equal(out, [0.0, 2.0])
    finally:
        pool.close()


def test_without_fork_each_worker_is_a_process_of_its_own(tmp_path, monkeypatch):
    """Windows' path (no fork), run here: a process per worker, relayed to the same socket protocol."""
    monkeypatch.delattr(os, "fork")
    pool = Pool(student_copy(tmp_path), Limits(time_s=20), isolation=sandbox.Isolation("windows"))
    try:
        assert isinstance(pool.sandbox, sandbox.ProcessSandbox)
        relu = pool.student_for("nn.layers.relu_forward")
        out, cache = relu.call("nn.layers.relu_forward", np.array([-1.0, 2.0]))
        assert np.array_equal(out, [0.0, 2.0])
        with pytest.raises(StudentError, match="ModuleNotFoundError"):
            relu.call("no_such_module.f")
        pool.retire("nn.layers.relu_forward")
        assert pool.sandbox.workers == {}
    finally:
        pool.close()


@pytest.mark.parametrize("forged, problem", [
    ({"tree": {"array": 0}, "arrays": [["<f8", [1 << 40]]]}, "does not fit"),
    ({"tree": {"array": 0}, "arrays": [["|O", [1]]]}, "not a plain number type"),
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


def test_hidden_tests_that_never_ran_stay_hidden(tmp_path, monkeypatch):
    """A grade stopped at its bound (here at once) still reports its unrun hidden tests as hidden."""
    from grading import grader
    monkeypatch.setattr(grader, "bound_s", lambda functions, limits: 0)
    results = grader.grade(student_copy(tmp_path), only="nn.layers.linear_backward")
    assert any(nodeid.startswith("instructor/hidden_tests/") for nodeid in results)
    assert all(not r["passed"] and r["message"].startswith("not run: the grade stopped") for r in results.values())
    assert {nodeid: r["hidden"] for nodeid, r in results.items()} == {
        nodeid: nodeid.startswith("instructor/hidden_tests/") for nodeid in results}
