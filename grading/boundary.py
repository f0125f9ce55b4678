"""The trusted side of the grader's boundary: workers that run the student's functions.

Each graded function gets its own worker, forked on first use by the graded copy's sandbox
(``grading/sandbox.py``: one zygote per copy, bubblewrap and a cgroup on Linux), reused for
that function's tests and replaced after a failure. A worker imports the copy's ``helpers/``
and exchanges plain data only (``grading.worker``'s format) over its own socket: one request,
then exactly one reply of at most ``Limits.reply`` bytes, read and decoded within the
function's time budget. Its output goes to a pipe the grader reads up to ``Limits.output``.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grading import worker as wire
from grading.sandbox import Isolation, ProcessSandbox, Sandbox, probe

GIB, MIB = 1 << 30, 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one graded function's worker may use, over all of that function's tests."""

    time_s: float = 60.0
    memory: int = 2 * GIB  # per process (address space) and, with a cgroup, for the sandbox's whole tree
    output: int = 1 * MIB  # bytes printed (stdout and stderr together)
    reply: int = 64 * MIB  # bytes of one reply
    file_size: int = 64 * MIB  # one file, and the sandbox's private /tmp
    processes: int = 64  # the sandbox's whole tree (cgroup), else per process where the platform counts them

    def describe(self) -> str:
        return (f"{self.time_s:g} s per graded function, {self.memory / GIB:g} GiB of memory, "
                f"{self.processes} processes, {self.output / MIB:g} MiB of output, {self.file_size / MIB:g} MiB of disk")


class StudentError(Exception):
    """The student's function raised: ``type: message`` as the worker reported it."""


class WorkerFailure(Exception):
    """The worker timed out, was killed, crashed or broke the protocol; its state is gone."""


class Worker:
    """One worker serving calls of the student's functions, within a shared time budget."""

    def __init__(self, sandbox: Sandbox, limits: Limits, budget_s: float):
        self.sandbox, self.limits, self.budget_s = sandbox, limits, budget_s
        self.channel, output, self.pid = sandbox.spawn()
        self.cpu_start, self.waited, self.taken = None, 0.0, 0.0  # for _charge, from hello() on
        self.output = os.fdopen(output, "rb", buffering=0)
        self.printed, self.output_tail, self.failure, self.status, self.applied = 0, b"", "", None, None
        self.requests = 0
        threading.Thread(target=self._read_output, daemon=True).start()

    def _read_output(self):
        try:
            while chunk := self.output.read(65536):
                self.printed += len(chunk)
                self.output_tail = (self.output_tail + chunk)[-2000:]
                if self.printed > self.limits.output:
                    self.failure = self.failure or f"killed: printed over {self.limits.output / MIB:g} MiB"
                    self.kill()
                    return
        except (OSError, ValueError):
            pass

    def hello(self):
        """Wait (once) for the worker's first message, sent before any student code runs: the limits it set.
        Called when its function's turn comes (the worker before is retired by then): from here on the
        sandbox's CPU is this worker's to pay, not while it waited prestarted."""
        if self.applied is None:
            self.cpu_start = self.sandbox.cpu_seconds()
            self.applied = self._receive(None).get("hello") or []

    def kill(self):
        """End the worker and everything it started; keep its exit status for the failure message."""
        if self.pid is not None:
            pid, self.pid = self.pid, None
            self.status = self.sandbox.end(pid)
            try:
                self.channel.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.kill()
        self.channel.close()
        self.output.close()

    def _why_dead(self) -> str:
        if self.failure:
            return self.failure
        self.kill()
        code = self.status
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            reason = {"SIGXCPU": f"killed: over {self.limits.time_s:g} s of CPU time",
                      "SIGXFSZ": f"killed: wrote a file over {self.limits.file_size / MIB:g} MiB",
                      "SIGKILL": "killed (SIGKILL: over the memory or process limit, or ended)"}
            return reason.get(name, f"crashed ({name})")
        tail = self.output_tail.decode(errors="replace").strip().splitlines()[-1:] or [""]
        code = "unknown" if code is None else code
        return f"exited with code {code}" + (f": {tail[0][:300]}" if tail[0] else "")

    def _charge(self, waited: float):
        """Take from the budget the time waited for the worker, or the CPU its sandbox used meanwhile (where a
        cgroup counts it) when that is more: processes left computing between requests are paid for too."""
        self.waited += waited
        used = self.waited
        if self.cpu_start is not None:
            used = max(used, self.sandbox.cpu_seconds() - self.cpu_start)
        self.budget_s -= used - self.taken
        self.taken = used

    def _fail(self, reason: str):
        self.failure = self.failure or reason
        self.kill()
        raise WorkerFailure(self.failure)

    def _read_exactly(self, size: int, deadline: float) -> bytes | None:
        chunks, left = [], size
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"timed out after {self.limits.time_s:g} s")
            self.channel.settimeout(remaining)
            try:
                chunk = self.channel.recv(min(left, 1 << 20))
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _receive(self, number: int | None) -> dict:
        """The reply to request ``number`` (None: the hello), read and decoded within the remaining budget."""
        started = time.monotonic()
        try:
            prefix = self._read_exactly(wire.HEADER.size, started + max(self.budget_s, 0.0))
            if prefix is None:
                raise WorkerFailure(self._why_dead())
            (size,) = wire.HEADER.unpack(prefix)
            if size > self.limits.reply:
                self._fail(f"sent a reply of {size / MIB:.0f} MiB, over the {self.limits.reply / MIB:g} MiB limit")
            body = self._read_exactly(size, started + max(self.budget_s, 0.0))
            if body is None:
                raise WorkerFailure(self._why_dead())
            try:
                reply = wire.decode(body)
            except wire.WireError as err:
                self._fail(f"sent a malformed reply ({err})")
        finally:
            self._charge(time.monotonic() - started)  # decoding counts too
        if self.budget_s < 0:
            self._fail(f"timed out after {self.limits.time_s:g} s")
        if not isinstance(reply, dict) or (number is not None and reply.get("id") != number):
            self._fail("sent a reply nobody asked for")
        return reply

    def request(self, **request):
        """Send one request; its value, or StudentError with the student's exception."""
        if self.pid is None or self.failure:
            raise WorkerFailure(self._why_dead())
        self._charge(0.0)
        if self.budget_s < 0:  # its processes computed while the grader was not waiting for it
            self._fail(f"timed out after {self.limits.time_s:g} s (its CPU time, counted between requests too)")
        self.requests += 1
        message = wire.encode({"id": self.requests, **request})
        started = time.monotonic()
        try:
            self.channel.settimeout(max(self.budget_s, 0.001))
            self.channel.sendall(message)
        except socket.timeout:
            self._fail(f"timed out after {self.limits.time_s:g} s")
        except OSError:
            raise WorkerFailure(self._why_dead()) from None
        finally:
            self._charge(time.monotonic() - started)
        reply = self._receive(self.requests)
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
    """The workers of one graded copy, one per graded function, forked by the copy's sandbox.

    A function whose time budget is spent stays failed: its later tests fail at once.
    :meth:`enter_phase` ends every worker: the grader runs the hidden tests in a phase of their
    own, after every visible test, so nothing a worker learns from them reaches a visible message.
    """

    live = 2  # workers kept at once: the function being graded and the next one

    def __init__(self, student: Path, limits: Limits = Limits(), isolation: Isolation | None = None):
        self.student, self.limits = Path(student).resolve(), limits
        self.isolation = isolation or probe()
        self.sandbox = (Sandbox if hasattr(os, "fork") else ProcessSandbox)(self.student, limits, self.isolation)
        self.workers: dict[str, Worker] = {}  # least recently used first
        self.budget: dict[str, float] = {}
        self.spent: dict[str, str] = {}
        self.phase = "visible"

    def prestart(self, function: str):
        """Start the worker of ``function`` before its first call."""
        if function not in self.workers and function not in self.spent:
            for retired in list(self.workers)[:max(0, len(self.workers) - self.live + 1)]:
                self.retire(retired)
            self.workers[function] = Worker(self.sandbox, self.limits, self.budget.get(function, self.limits.time_s))

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

    def enter_phase(self, phase: str):
        """From a new phase on, end every worker (and what they left running): later calls start fresh ones."""
        if phase != self.phase:
            self.phase = phase
            for function in list(self.workers):
                self.retire(function)

    def student_for(self, function: str) -> Student:
        return Student(self, function)

    def close(self):
        for function in list(self.workers):
            self.retire(function)
        self.sandbox.close()
