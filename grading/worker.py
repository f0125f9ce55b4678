"""The wire format between the grader and a worker, and the worker's entry point.

A message is plain data only: an 8-byte length, then a JSON header and the raw bytes of the
arrays it names (numeric dtypes only; never pickle). Values are None, bools, numbers, strings,
arrays, NumPy scalars and dtypes, random generators, tuples, lists, str-keyed dicts, and
handles: ``{"handle": n}`` names an object that stays inside the worker (a layer's cache, a model).

Run as a script (``python -I worker.py CODE_DIR``) this file is the worker: it sets its own
limits, says hello, then answers requests by calling the student's functions in
``CODE_DIR/helpers``. It runs next to the student's code, so the grader treats everything it
sends after the hello as untrusted data, decoded with the checks of :func:`decode`.
"""
from __future__ import annotations

import json
import struct

import numpy as np

HEADER = struct.Struct(">Q")
ARRAY_KINDS = "biufc"  # bool, signed and unsigned ints, floats, complex: no objects, strings or records
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
MAX_HEADER, MAX_VALUES, MAX_GENERATORS = 1 << 20, 100_000, 64  # per message: what decoding may build


class WireError(ValueError):
    """A message that is not plain data in this format."""


def encode(value, keep=None) -> bytes:
    """``value`` as one message. ``keep(obj) -> handle number`` stores what is not plain data; without it that raises."""
    arrays: list[np.ndarray] = []

    def tree(item):
        if item is None or isinstance(item, bool | int | float | str):
            return item
        if isinstance(item, np.ndarray | np.generic) and item.dtype.kind in ARRAY_KINDS:
            arrays.append(np.ascontiguousarray(item))
            return {"array": len(arrays) - 1, "scalar": isinstance(item, np.generic)}
        if isinstance(item, np.dtype) or (isinstance(item, type) and issubclass(item, np.generic)):
            return {"dtype": np.dtype(item).str}
        if isinstance(item, np.random.Generator) and type(item.bit_generator).__name__ in BIT_GENERATORS:
            return {"generator": item.bit_generator.state}
        if isinstance(item, tuple | list):
            return {type(item).__name__: [tree(x) for x in item]}
        if isinstance(item, dict) and all(isinstance(key, str) for key in item):
            return {"dict": {key: tree(x) for key, x in item.items()}}
        if isinstance(item, Handle):
            return {"handle": item.number}
        if keep is None:
            raise WireError(f"{type(item).__name__} is not plain data")
        return {"handle": keep(item)}

    header = json.dumps({"tree": tree(value), "arrays": [[a.dtype.str, a.shape] for a in arrays]}).encode()
    body = b"".join([HEADER.pack(len(header)), header, *(a.tobytes() for a in arrays)])
    return HEADER.pack(len(body)) + body


class Handle:
    """An object kept inside a worker, named by number: pass it back in later calls to that worker."""

    def __init__(self, number: int):
        self.number = number

    def __repr__(self):
        return f"Handle({self.number})"


def _header_and_arrays(body: bytes) -> tuple[dict, list[np.ndarray]]:
    """A message body's JSON header (at most MAX_HEADER bytes) and the arrays it names, each checked to fit."""
    try:
        (size,) = HEADER.unpack_from(body)
        if size > MAX_HEADER:
            raise WireError(f"a header of {size} bytes, over the {MAX_HEADER}-byte limit")
        header = json.loads(body[HEADER.size:HEADER.size + size])
        offset, arrays = HEADER.size + size, []
        for dtype, shape in header["arrays"]:
            dtype, shape = _plain_dtype(dtype), tuple(int(n) for n in shape)
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if count < 0 or offset + count * dtype.itemsize > len(body):
                raise WireError(f"array {dtype} {shape} does not fit the message")
            arrays.append(np.frombuffer(body, dtype, count, offset).reshape(shape).copy())
            offset += count * dtype.itemsize
    except (struct.error, ValueError, TypeError, KeyError, OverflowError, RecursionError) as err:
        raise WireError(f"malformed message: {err}") from None
    return header, arrays


def _plain_dtype(spec) -> np.dtype:
    """``np.dtype(spec)`` when it is a plain number type (no fields, no subarray, no objects); else WireError."""
    dtype = np.dtype(spec)
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"dtype {dtype} is not a plain number type")
    return dtype


def _generator(state: dict) -> np.random.Generator:
    """A generator in ``state``: a known bit generator, MT19937's position within its key."""
    name = state.get("bit_generator")
    if name not in BIT_GENERATORS:
        raise WireError(f"unknown bit generator {str(name)[:40]!r}")
    if name == "MT19937" and not 0 <= int(state["state"]["pos"]) <= len(state["state"]["key"]) == 624:
        raise WireError("MT19937 state with a position outside its key")
    generator = np.random.Generator(getattr(np.random, name)(0))
    generator.bit_generator.state = state
    return generator


def decode(body: bytes, lookup=Handle):
    """The value of one message body (without its length); ``lookup(n)`` resolves handle ``n``. At most
    MAX_VALUES values and MAX_GENERATORS generators: a reply cannot make its reader build or work much."""
    header, arrays = _header_and_arrays(body)
    counts = {"values": 0, "generators": 0}

    def value(item):
        counts["values"] += 1
        if counts["values"] > MAX_VALUES:
            raise WireError(f"over {MAX_VALUES} values in one message")
        if item is None or isinstance(item, bool | int | float | str):
            return item
        if not isinstance(item, dict) or len(item) not in (1, 2):
            raise WireError(f"malformed value {str(item)[:80]}")
        (kind, content), *_ = item.items()
        if kind == "array":
            array = arrays[content]
            return array[()] if item.get("scalar") else array
        if kind == "dtype":
            return _plain_dtype(content)
        if kind == "generator":
            counts["generators"] += 1
            if counts["generators"] > MAX_GENERATORS:
                raise WireError(f"over {MAX_GENERATORS} generators in one message")
            return _generator(content)
        if kind in ("tuple", "list") and isinstance(content, list):
            return (tuple if kind == "tuple" else list)(value(x) for x in content)
        if kind == "dict" and isinstance(content, dict):
            return {str(key): value(x) for key, x in content.items()}
        if kind == "handle":
            return lookup(int(content))
        raise WireError(f"unknown kind {kind!r}")

    try:
        return value(header["tree"])
    except WireError:
        raise
    except Exception as err:  # whatever a crafted value raises (OverflowError, RecursionError, ...) is malformed
        raise WireError(f"malformed message: {type(err).__name__}: {str(err)[:200]}") from None


def read_message(stream, limit: int) -> bytes | None:
    """One message body from a binary stream; None at its end. A length over ``limit`` raises WireError."""
    prefix = stream.read(HEADER.size)
    if len(prefix) < HEADER.size:
        return None
    (size,) = HEADER.unpack(prefix)
    if size > limit:
        raise WireError(f"a reply of {size} bytes, over the {limit}-byte limit")
    body = stream.read(size)
    return body if len(body) == size else None


# ----------------------------------------------------------------------------- the worker process
def _apply_limits(memory: int, cpu_s: int, file_size: int, processes: int) -> list[str]:
    """Set what this platform allows (soft = hard, so the student cannot raise them); name what is set."""
    try:
        import resource
    except ImportError:  # Windows
        return []
    applied = []
    for name, limit in (("RLIMIT_AS", memory), ("RLIMIT_CPU", cpu_s), ("RLIMIT_FSIZE", file_size),
                        ("RLIMIT_NPROC", processes), ("RLIMIT_CORE", 0)):
        if (limit or name == "RLIMIT_CORE") and hasattr(resource, name):
            try:
                resource.setrlimit(getattr(resource, name), (limit, limit))
                applied.append(name)
            except (ValueError, OSError):
                pass
    return applied


def _resolve(name: str):
    """``helpers.<name>``: the longest importable module prefix, then attributes (``nn.optim.SGD.step``)."""
    import importlib

    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(["helpers", *parts[:split]]))
        except ModuleNotFoundError as err:
            if not (err.name or "").startswith("helpers"):
                raise
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(f"helpers.{name} not found")


def _answer(request: dict, kept: dict):
    """The reply to one decoded request (the student's code runs here)."""
    def keep(obj):
        kept[len(kept)] = obj
        return len(kept) - 1

    op, target = request["op"], request["target"]
    if op == "put":
        reply = {"value": Handle(keep(target))}
    elif op == "attribute":
        reply = {"value": Handle(keep(getattr(target, request["attribute"])))}
    elif op == "get":
        reply = {"value": target if request["attribute"] is None else getattr(target, request["attribute"])}
    else:
        function = _resolve(target) if op == "call" else getattr(target, request["attribute"])
        reply = {"value": function(*request["args"], **request["kwargs"])}
    return encode({"id": request["id"], **reply}, None if op == "get" else keep)


def serve_requests(requests, send, code_dir: str, limits: dict) -> None:
    """One worker: set its limits, say hello, then answer requests until the grader closes the channel."""
    import sys

    send(encode({"hello": _apply_limits(**limits)}))
    sys.path.insert(0, code_dir)
    kept: dict[int, object] = {}
    while (body := read_message(requests, 1 << 34)) is not None:
        number = None
        try:
            request = decode(body, kept.__getitem__)
            number = request["id"]
            message = _answer(request, kept)
        except Exception as err:  # the student's error is the answer
            message = encode({"id": number, "error": [type(err).__name__, str(err)[:2000]]})
        send(message)


def _prctl(option: int, value: int) -> None:
    """Linux's prctl (elsewhere nothing: macOS has no such call)."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36


def _worker_child(channel, output: int, code_dir: str, limits: dict, number: int) -> None:
    """In a forked child: become a worker (own session and folder, first in line for the OOM killer)."""
    import os
    import socket
    import sys

    os.setsid()
    _prctl(PR_SET_DUMPABLE, 1)  # to write its own oom_score_adj; then not traceable again
    try:
        with open("/proc/self/oom_score_adj", "w") as adjust:
            adjust.write("1000")
    except OSError:
        pass
    _prctl(PR_SET_DUMPABLE, 0)
    folder = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"worker-{number}")
    os.makedirs(folder, exist_ok=True)
    os.chdir(folder)
    os.environ.update(HOME=folder, TMPDIR=folder)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    sys.stdout = sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    sock = socket.socket(fileno=channel)
    serve_requests(sock.makefile("rb"), sock.sendall, code_dir, limits)


def _descendants(roots: set[int]) -> set[int]:
    """Every process below ``roots`` (this sandbox's /proc), the roots included."""
    import os

    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = open(f"/proc/{entry}/status").read()
            except OSError:
                continue
            parents[int(entry)] = int(status.split("PPid:")[1].split()[0])
    found, grew = set(roots), True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def _end(pid: int, workers: set[int]) -> int | None:
    """Kill worker ``pid``, its descendants and orphans left to this zygote; its exit status (Popen's sign)."""
    import os
    import signal
    import time

    me = os.getpid()
    try:
        os.killpg(pid, signal.SIGKILL)  # its session (it called setsid)
    except (ProcessLookupError, PermissionError):
        pass
    if os.path.isdir("/proc/self"):  # and what left the session: its descendants, and orphans left to the zygote
        spared = _descendants(workers - {pid}) | {me, 1}
        for victim in (_descendants({pid}) | _descendants({me})) - spared:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
    status = None
    for _ in range(200):
        try:
            done, code = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            break
        if done:
            status = os.waitstatus_to_exitcode(code)
            break
        time.sleep(0.005)
    workers.discard(pid)
    while True:  # reap the orphans too
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    return status


def zygote(code_dir: str, limits: dict, control_fd: int) -> int:
    """Serve the grader's control socket: ``spawn`` forks a worker on the two descriptors sent with it,
    ``end`` kills one. Runs only this file's code: the student's code runs in the forked children."""
    import os
    import socket

    _prctl(PR_SET_DUMPABLE, 0)  # children cannot trace it or read its memory
    _prctl(PR_SET_CHILD_SUBREAPER, 1)  # what a worker leaves behind is its to end
    control = socket.socket(fileno=control_fd)  # SOCK_SEQPACKET: one message a packet
    control.send(encode({"hello": []}))
    workers: set[int] = set()
    spawned = 0
    while True:
        message, fds, _, _ = socket.recv_fds(control, 1 << 16, 2)
        if not message:
            return 0
        request = decode(message[HEADER.size:])
        if request["op"] == "spawn" and len(fds) == 2:
            spawned += 1
            pid = os.fork()
            if pid == 0:
                control.close()
                try:
                    _worker_child(fds[0], fds[1], code_dir, limits, spawned)
                finally:
                    os._exit(0)
            for fd in fds:
                os.close(fd)
            workers.add(pid)
            control.send(encode({"pid": pid}))
        elif request["op"] == "end":
            control.send(encode({"status": _end(int(request["pid"]), workers)}))
        else:
            for fd in fds:
                os.close(fd)
            control.send(encode({"error": "unknown request"}))


def main(argv: list[str]) -> int:
    """``serve CODE_DIR LIMITS CONTROL_FD``: the zygote; ``one CODE_DIR LIMITS``: one worker on stdin/stdout."""
    import os
    import sys

    mode, code_dir, limits = argv[0], argv[1], json.loads(argv[2])
    if mode == "serve":
        import importlib

        for name in ["numpy", *json.loads(argv[4])]:  # imported once, shared by every forked worker
            try:
                importlib.import_module(name)
            except Exception:  # the worker that needs it will say why
                pass
        return zygote(code_dir, limits, int(argv[3]))
    protocol = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve_requests(sys.stdin.buffer, protocol.write, code_dir, limits)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
