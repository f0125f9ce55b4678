"""The trusted side of the grader's boundary: worker processes that run the student's functions.

Each graded function gets its own worker (started on first use, reused for that function's
tests, restarted after a failure). A worker imports a private copy of the student's
``helpers/`` and nothing of the instructor's tree, runs in an empty temporary folder with a
minimal environment, and exchanges plain data only (``grading.worker``'s format). On Linux
with user namespaces (``unshare``) it also has no network and its own process tree; it sees
the instructor's tree (every entry but the Python environment hidden), the Python environment
and the home folder read-only, and not the grader's temporary files. Everywhere, the grader
enforces each function's time budget and an output cap and kills the worker's whole process group past them; where ``resource``
exists, the worker caps its own memory, CPU time, file size and (in a namespace) processes.
"""
from __future__ import annotations

import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from grading import worker as wire

REPO = Path(__file__).resolve().parents[1]
GIB, MIB = 1 << 30, 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one graded function's worker may use, over all of that function's tests."""

    time_s: float = 60.0
    memory: int = 2 * GIB
    output: int = 1 * MIB  # bytes printed (stdout and stderr together)
    reply: int = 64 * MIB  # bytes of one reply
    file_size: int = 64 * MIB
    processes: int = 64  # in a namespace only: elsewhere RLIMIT_NPROC counts all of the user's processes

    def describe(self) -> str:
        return (f"{self.time_s:g} s per graded function, {self.memory / GIB:g} GiB of memory, "
                f"{self.output / MIB:g} MiB of output")


class StudentError(Exception):
    """The student's function raised: ``type: message`` as the worker reported it."""


class WorkerFailure(Exception):
    """The worker timed out, was killed, crashed or broke the protocol; its state is gone."""


@cache
def sandbox_prefix() -> tuple[str, ...]:
    """The ``unshare`` command that gives a worker its own user, network, mount and process namespaces, or ()."""
    unshare = shutil.which("unshare")
    if not unshare or not sys.platform.startswith("linux"):
        return ()
    prefix = (unshare, "--net", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc")
    probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs tmpfs /mnt || mount -t tmpfs tmpfs /tmp"],
                           capture_output=True)
    return prefix if probe.returncode == 0 else ()


def isolation_note() -> str:
    """One line for the grade's output: what isolates the workers on this machine, and what is missing."""
    if sandbox_prefix():
        return ("isolation: each function in its own worker process: no network, instructor tree hidden and "
                "read-only, own process tree (Linux namespaces), memory/CPU/file/process limits, time budget")
    missing = "resource limits, " if os.name == "nt" else ""
    return ("isolation: each function in its own worker process with a time budget and output cap; "
            f"NOT available here: {missing}network isolation, hiding the instructor's files, process-tree "
            "containment (these need Linux user namespaces, `unshare`)")


def _mount_script(code_dir: Path, hidden: list[Path]) -> str:
    """Shell lines run inside the namespaces before the worker starts: read-only and hidden paths."""
    keep = {Path(sys.prefix).resolve(), code_dir.resolve()}
    lines = ["set -e"]
    readonly = {REPO, Path(sys.prefix).resolve(), Path.home().resolve()}  # nothing there to plant for later runs
    for path in sorted(p for p in readonly if p.is_dir() and not code_dir.resolve().is_relative_to(p)):
        lines.append(f"mount --bind {shlex.quote(str(path))} {shlex.quote(str(path))}")
        lines.append(f"mount -o remount,bind,ro {shlex.quote(str(path))}")
    covered = [entry for entry in sorted(REPO.iterdir())
               if not any(entry == k or entry in k.parents or k in entry.parents for k in keep)]
    for path in [*covered, *hidden]:
        if path.is_dir():
            lines.append(f"mount -t tmpfs -o size=16k tmpfs {shlex.quote(str(path))}")
        elif path.exists():
            lines.append(f"mount --bind /dev/null {shlex.quote(str(path))}")
    lines.append('exec "$@"')
    return "\n".join(lines)


class Worker:
    """One worker process serving calls of the student's functions, within a shared time budget."""

    def __init__(self, student: Path, limits: Limits, hidden: list[Path], budget_s: float):
        self.limits, self.budget_s = limits, budget_s
        self.folder = Path(tempfile.mkdtemp(prefix="grade-worker-"))
        code = self.folder / "code"
        shutil.copytree(student / "helpers", code / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(Path(wire.__file__), code / "grading_worker.py")
        run = self.folder / "run"
        run.mkdir()
        rlimits = {"memory": limits.memory, "cpu_s": int(limits.time_s) + 1, "file_size": limits.file_size,
                   "processes": limits.processes if sandbox_prefix() else 0}
        command = [sys.executable, "-I", str(code / "grading_worker.py"), str(code), wire.json.dumps(rlimits)]
        if sandbox_prefix():
            command = [*sandbox_prefix(), "sh", "-c", _mount_script(self.folder, hidden), "sh", *command]
        env = {"PATH": os.defpath, "HOME": str(run), "TMPDIR": str(run), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
        if "SYSTEMROOT" in os.environ:  # Windows needs it to start Python
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        self.process = subprocess.Popen(command, cwd=run, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, start_new_session=os.name == "posix")
        self.replies: queue.Queue = queue.Queue()
        self.printed, self.output_tail, self.failure, self.applied = 0, b"", "", None
        threading.Thread(target=self._read_replies, daemon=True).start()
        threading.Thread(target=self._read_output, daemon=True).start()

    def hello(self):
        """Wait (once) for the worker's first message, sent before any student code runs: the limits it set."""
        if self.applied is None:
            self.applied = self._wait().get("hello") or []

    def _read_replies(self):
        try:
            while (body := wire.read_message(self.process.stdout, self.limits.reply)) is not None:
                self.replies.put(body)
        except (wire.WireError, OSError, ValueError) as err:
            self.failure = self.failure or str(err)
            self.kill()
        self.replies.put(None)

    def _read_output(self):
        while chunk := self.process.stderr.read1(65536):
            self.printed += len(chunk)
            self.output_tail = (self.output_tail + chunk)[-2000:]
            if self.printed > self.limits.output:
                self.failure = self.failure or f"killed: printed over {self.limits.output / MIB:g} MiB"
                self.kill()
                return

    def kill(self):
        """End the worker and everything it started (its process group; in a namespace, its process tree)."""
        if self.process.poll() is None:
            try:
                if os.name == "posix":
                    os.killpg(self.process.pid, signal.SIGKILL)
                else:
                    self.process.kill()
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self):
        self.kill()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _why_dead(self) -> str:
        if self.failure:
            return self.failure
        code = self.process.poll()
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            reason = {"SIGXCPU": f"killed: over {self.limits.time_s:g} s of CPU time",
                      "SIGXFSZ": f"killed: wrote a file over {self.limits.file_size / MIB:g} MiB"}
            return reason.get(name, f"crashed ({name})")
        tail = self.output_tail.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return f"exited with code {code}" + (f": {tail[0][:300]}" if tail[0] else "")

    def _wait(self):
        """The next reply within the remaining budget, decoded; WorkerFailure when there is none."""
        started = time.monotonic()
        try:
            body = self.replies.get(timeout=max(self.budget_s, 0.0))
        except queue.Empty:
            self.failure = self.failure or f"timed out after {self.limits.time_s:g} s"
            self.kill()
            raise WorkerFailure(self.failure) from None
        finally:
            self.budget_s -= time.monotonic() - started
        if body is None:
            self.kill()
            raise WorkerFailure(self._why_dead())
        try:
            reply = wire.decode(body)
        except wire.WireError as err:
            self.failure = f"sent a malformed reply ({err})"
            self.kill()
            raise WorkerFailure(self.failure) from None
        if not isinstance(reply, dict):
            raise WorkerFailure("sent a malformed reply")
        return reply

    def request(self, **request):
        """Send one request; its value, or StudentError with the student's exception."""
        if self.process.poll() is not None or self.failure:
            raise WorkerFailure(self._why_dead())
        message = wire.encode(request)

        def send():
            try:
                self.process.stdin.write(message)
                self.process.stdin.flush()
            except (OSError, ValueError):
                pass  # the worker is gone: _wait says why

        threading.Thread(target=send, daemon=True).start()
        reply = self._wait()
        if "error" in reply:
            kind, text = (list(reply["error"]) + ["", ""])[:2]
            if kind == "MemoryError":
                text = f"over the {self.limits.memory / GIB:g} GiB memory limit {text}".strip()
            raise StudentError(f"{str(kind)[:100]}: {str(text)[:500]}")
        return reply.get("value")


class Student:
    """Calls into the student's copy for one graded function, through its worker."""

    def __init__(self, pool: Pool, function: str):
        self.pool, self.function = pool, function

    def _request(self, **request):
        try:
            return self.pool.worker(self.function).request(**request)
        except WorkerFailure as err:
            self.pool.retire(self.function)
            raise WorkerFailure(f"{self.function}: {err}") from None

    def call(self, name: str, *args, **kwargs):
        """``helpers.<name>(*args, **kwargs)`` in the worker, e.g. ``call("nn.layers.relu_forward", x)``."""
        return self._request(op="call", target=name, attribute=None, args=args, kwargs=kwargs)

    def method(self, handle: wire.Handle, name: str, *args, **kwargs):
        """``handle.<name>(*args, **kwargs)`` on an object kept in the worker."""
        return self._request(op="method", target=handle, attribute=name, args=args, kwargs=kwargs)

    def put(self, value) -> wire.Handle:
        """Keep ``value`` in the worker (e.g. a params dict its functions update in place)."""
        return self._request(op="put", target=value, attribute=None, args=(), kwargs={})

    def attribute(self, handle: wire.Handle, name: str) -> wire.Handle:
        """A handle on ``handle.<name>`` (e.g. a model's params dict, to give to an optimizer)."""
        return self._request(op="attribute", target=handle, attribute=name, args=(), kwargs={})

    def get(self, handle: wire.Handle, attribute: str | None = None):
        """The plain-data value of a kept object, or of one of its attributes."""
        return self._request(op="get", target=handle, attribute=attribute, args=(), kwargs={})


class Pool:
    """The workers of one grading session, one per graded function, the few most recently used kept alive.

    A function whose time budget is spent stays failed: its later tests fail at once.
    """

    live = 3  # workers kept at once: the function being graded, the next one starting, one more

    def __init__(self, student: Path, limits: Limits = Limits(), hidden: list[Path] = ()):
        self.student, self.limits, self.hidden = Path(student).resolve(), limits, list(hidden)
        if not (self.student / "helpers").is_dir():
            raise FileNotFoundError(f"{self.student} has no helpers/ folder: pass the root of the student's copy")
        self.workers: dict[str, Worker] = {}  # least recently used first
        self.budget: dict[str, float] = {}
        self.spent: dict[str, str] = {}

    def prestart(self, function: str):
        """Start the worker of ``function`` without waiting for it (it loads while other tests run)."""
        if function not in self.workers and function not in self.spent:
            for retired in list(self.workers)[:max(0, len(self.workers) - self.live + 1)]:
                self.retire(retired)
            self.workers[function] = Worker(self.student, self.limits, self.hidden,
                                            self.budget.get(function, self.limits.time_s))

    def worker(self, function: str) -> Worker:
        if function in self.spent:
            raise WorkerFailure(f"not run: {self.spent[function]} earlier")
        self.prestart(function)
        self.workers[function] = self.workers.pop(function)  # now the most recently used
        self.workers[function].hello()
        return self.workers[function]

    def retire(self, function: str):
        """Stop the worker of ``function``, keeping what is left of its budget; once spent, the function fails."""
        worker = self.workers.pop(function, None)
        if worker is None:
            return
        self.budget[function] = worker.budget_s
        if worker.budget_s <= 0:
            self.spent[function] = worker.failure or f"timed out after {self.limits.time_s:g} s"
        worker.close()

    def student_for(self, function: str) -> Student:
        return Student(self, function)

    def close(self):
        for function in list(self.workers):
            self.retire(function)
