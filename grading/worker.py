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


def decode(body: bytes, lookup=Handle):
    """The value of one message body (without its length); ``lookup(n)`` resolves handle ``n``."""
    try:
        (size,) = HEADER.unpack_from(body)
        header = json.loads(body[HEADER.size:HEADER.size + size])
        offset, arrays = HEADER.size + size, []
        for dtype, shape in header["arrays"]:
            dtype, shape = np.dtype(dtype), tuple(int(n) for n in shape)
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if dtype.kind not in ARRAY_KINDS or count < 0 or offset + count * dtype.itemsize > len(body):
                raise WireError(f"array {dtype} {shape} does not fit the message")
            arrays.append(np.frombuffer(body, dtype, count, offset).reshape(shape).copy())
            offset += count * dtype.itemsize
    except (struct.error, ValueError, TypeError, KeyError, OverflowError, RecursionError) as err:
        raise WireError(f"malformed message: {err}") from None

    def value(item):
        if item is None or isinstance(item, bool | int | float | str):
            return item
        if not isinstance(item, dict) or len(item) not in (1, 2):
            raise WireError(f"malformed value {str(item)[:80]}")
        (kind, content), *_ = item.items()
        if kind == "array":
            array = arrays[content]
            return array[()] if item.get("scalar") else array
        if kind == "dtype":
            return np.dtype(content)
        if kind == "generator" and content.get("bit_generator") in BIT_GENERATORS:
            generator = np.random.Generator(getattr(np.random, content["bit_generator"])())
            generator.bit_generator.state = content
            return generator
        if kind in ("tuple", "list"):
            return (tuple if kind == "tuple" else list)(value(x) for x in content)
        if kind == "dict":
            return {str(key): value(x) for key, x in content.items()}
        if kind == "handle":
            return lookup(int(content))
        raise WireError(f"unknown kind {kind!r}")

    try:
        return value(header["tree"])
    except WireError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as err:
        raise WireError(f"malformed message: {err}") from None


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
                        ("RLIMIT_NPROC", processes)):
        if limit and hasattr(resource, name):
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


def main(argv: list[str]) -> int:
    """Serve requests on stdin, replies on the original stdout (print() goes to stderr)."""
    import os
    import sys

    code_dir, limits = argv[0], json.loads(argv[1])
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    applied = _apply_limits(**limits)
    protocol.write(encode({"hello": applied}))
    protocol.flush()
    sys.path.insert(0, code_dir)
    kept: dict[int, object] = {}

    def keep(obj):
        kept[len(kept)] = obj
        return len(kept) - 1

    while (body := read_message(requests, 1 << 34)) is not None:
        try:
            request = decode(body, kept.__getitem__)
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
            message = encode(reply, None if op == "get" else keep)
        except Exception as err:  # the student's error is the answer
            message = encode({"error": [type(err).__name__, str(err)[:2000]]})
        protocol.write(message)
        protocol.flush()
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
