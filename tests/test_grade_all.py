"""A class graded from one hand-in per student: grade-all, one by one, and the simulated Gradescope run.

The archives are packed from student copies without running any notebook (:func:`pack_source`:
the ``source/helpers/`` part of ``make submission``'s format); a grade covers two functions
(``ONLY``), one of them with a hidden test, with a short time limit for the copy that hangs.
"""
import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from grading import batch, gradescope, report, sandbox
from grading.boundary import Limits
from helpers.core import config
from helpers.handin import submission
from helpers.store import artifacts
from instructor import release

sys.path.insert(0, str(config.REPO_ROOT / "tests"))
from test_grader_isolation import PATCHING_CHEATS, student_copy

REPO = config.REPO_ROOT
ONLY = "nn.layers.relu_backward,nn.layers.linear_backward"  # relu_backward: 1 visible; linear_backward: 1 visible + 1 hidden
LIMITS = Limits(time_s=15)  # the cheater's worker imports torch within its time
HANGS = """
def linear_backward(*args, **kwargs):
    while True:
        pass
"""
# points on ONLY: relu_backward 1, linear_backward 2 (one hidden)
EXPECTED = {"solution": 3, "partly_right": 2, "release": 0, "cheater": 2, "hangs": 1, "spy": 2, "twin": 3}
SPYING_CHEATS = """
import glob, json, os
for _path in glob.glob("/tmp/**/layers.py", recursive=True):  # a classmate's extracted source
    if "relu_backward" in open(_path).read() and _path != __file__:
        _theirs = {}
        exec(open(_path).read(), _theirs)
        import helpers.nn.layers as _layers
        _layers.relu_backward = _theirs["relu_backward"]
for _path in glob.glob("/tmp/**/*.json*", recursive=True) + glob.glob("/tmp/**/*.csv", recursive=True):
    try:
        open(_path, "w").write("")  # another grade's report, gradebook or records
    except OSError:
        pass
"""
REFUSED = {"corrupt": "not a zip archive", "truncated": "not a zip archive", "tampered": "does not match",
           "unsafe": "unsafe path", "oversized": "over the limit"}


def pack_source(copy: Path, archive: Path, members: dict[str, bytes] | None = None) -> Path:
    """A source-only submission archive of ``copy``'s ``helpers/`` (plus ``members``), listed in submission.json."""
    package = copy / "helpers"
    data = {f"{submission.SOURCE}/helpers/{file.relative_to(package).as_posix()}": file.read_bytes()
            for file in artifacts.code_files(package)} | (members or {})
    top = {"format": submission.FORMAT, "code": artifacts.code_digest(package),
           "members": {name: {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)} for name, body in data.items()}}
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(submission.TOP_MANIFEST, json.dumps(top))
        for name, body in data.items():
            zf.writestr(name, body)
    return archive


def _copies(root: Path) -> dict[str, Path]:
    """The student copies: the solution, a partly right one, the release, a cheater, one that hangs."""
    solution = root / "solution"
    shutil.copytree(REPO / "helpers", solution / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    release.build(root / "release")
    hangs = root / "hangs"
    shutil.copytree(solution, hangs)
    layers = hangs / "helpers" / "nn" / "layers.py"
    layers.write_text(layers.read_text() + textwrap.dedent(HANGS))
    return {"solution": solution, "partly_right": student_copy(root / "partly_right"), "release": root / "release",
            "cheater": student_copy(root / "cheater", PATCHING_CHEATS), "hangs": hangs,
            "spy": student_copy(root / "spy", SPYING_CHEATS)}


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    """``(folder of archives, student copies)``: seven gradable archives (two identical) and five refused ones."""
    root = tmp_path_factory.mktemp("class")
    copies = _copies(root / "copies")
    folder = root / "submissions"
    folder.mkdir()
    for name, copy in copies.items():
        pack_source(copy, folder / f"{name}.zip")
    solution_zip = (folder / "solution.zip").read_bytes()
    (folder / "twin.zip").write_bytes(solution_zip)  # two students hand in the very same archive
    (folder / "corrupt.zip").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    (folder / "truncated.zip").write_bytes(solution_zip[: len(solution_zip) // 2])
    pack_source(copies["solution"], folder / "tampered.zip")
    with zipfile.ZipFile(folder / "tampered.zip", "a") as zf:  # a second, altered copy of a listed member
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr(f"{submission.SOURCE}/helpers/nn/layers.py", "relu_backward = lambda *a: 0\n")
    pack_source(copies["solution"], folder / "unsafe.zip", {"../escaped.py": b"print('out')\n"})
    pack_source(copies["solution"], folder / "oversized.zip", {"source/padding.bin": bytes(3 << 20)})
    return folder, copies


@pytest.fixture(scope="module")
def graded(class_folder):
    """grade-all on the class folder, two workers, oversized meaning over 2 MiB; ``(records, output folder)``."""
    folder, _ = class_folder
    out = folder / "grades"
    records = batch.grade_all(folder, out, workers=2, limits=LIMITS, only=ONLY, max_bytes=2 << 20, log=None,
                              finish=report.finish)
    return {record["student"]: record for record in records}, out


def test_grade_all_gives_each_archive_its_score_or_the_reason_it_was_refused(graded):
    records, out = graded
    assert set(records) == set(EXPECTED) | set(REFUSED)
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO((out / batch.GRADEBOOK).read_text()))}
    for name, points in EXPECTED.items():
        assert rows[name]["status"] == "graded" and float(rows[name]["total"]) == points, rows[name]
        assert float(rows[name]["possible"]) == 3 and rows[name]["results"] == "no results"
    for name, reason in REFUSED.items():
        assert rows[name]["status"] == "refused" and reason in rows[name]["reason"], rows[name]
        assert rows[name]["total"] == ""
    assert rows["partly_right"]["failed"] == "nn.layers.relu_backward" == rows["cheater"]["failed"]
    assert rows["hangs"]["failed"] == "nn.layers.linear_backward"
    assert rows["partly_right"]["nn.layers.linear_backward"] == "2" and rows["partly_right"]["nn.layers.relu_backward"] == "0"
    hang_messages = [r["message"] for r in records["hangs"]["results"].values() if not r["passed"]]
    assert hang_messages and "timed out" in hang_messages[0]
    durations = [float(row["seconds"]) for row in rows.values()]  # recorded, not judged: no timing bound
    assert min(durations) >= 0 and all(len(row["sha256"]) == 64 for row in rows.values())


def test_identical_archives_keep_a_row_each_and_are_flagged(graded):
    _, out = graded
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO((out / batch.GRADEBOOK).read_text()))}
    assert rows["solution"]["identical_to"] == "twin" and rows["twin"]["identical_to"] == "solution"
    assert rows["solution"]["sha256"] == rows["twin"]["sha256"] and rows["twin"]["total"] == "3"
    assert all(row["identical_to"] == "" for name, row in rows.items() if name not in ("solution", "twin"))
    assert {row["isolation"] for row in rows.values()} == {sandbox.probe().level}


def test_a_spy_neither_uses_a_classmates_code_nor_touches_another_grade(graded):
    records, out = graded
    assert records["spy"]["results"] and score_of(records["spy"]) == EXPECTED["spy"]
    assert json.loads((out / batch.RECORDS).read_text())  # the records, gradebook and feedback are whole
    assert len(list(csv.DictReader(io.StringIO((out / batch.GRADEBOOK).read_text())))) == len(records)


def score_of(record: dict) -> float:
    return sum(r["points"] for r in record["results"].values() if r["passed"])


def test_names_that_differ_only_in_symbols_or_case_get_their_own_feedback(tmp_path):
    names = ["erin.zip", "erin!.zip", "Erin.zip", "er in.zip"]
    for name in names:
        (tmp_path / name).write_bytes(b"not a zip")  # refused at once: what matters is where each row goes
    records = batch.grade_all(tmp_path, workers=1, limits=LIMITS, only=ONLY, log=None)
    ids = [record["student"] for record in records]
    assert len(set(ids)) == 4 and len({i.casefold() for i in ids}) == 4
    assert len(list((tmp_path / "grades" / batch.FEEDBACK).glob("*.md"))) == 4
    assert {record["archive"] for record in records} == set(names)


def test_feedback_shows_visible_failures_and_counts_hidden_tests_without_their_content(graded):
    records, out = graded
    assert {file.stem for file in (out / batch.FEEDBACK).glob("*.md")} == set(records)
    partly = (out / batch.FEEDBACK / "partly_right.md").read_text()
    assert "**Total: 2 / 3 points**" in partly and "| `nn.layers.relu_backward` | failed | 0/1 |" in partly
    assert "| `nn.layers.linear_backward` | passed | 2/2 | 1/1 | 1/1 |" in partly
    hangs = (out / batch.FEEDBACK / "hangs.md").read_text()
    assert "timed out" in hangs and "| 0/1 | 0/1 |" in hangs
    hidden_nodeids = [nodeid for record in records.values() for nodeid, r in record["results"].items() if r["hidden"]]
    assert hidden_nodeids
    for file in (out / batch.FEEDBACK).glob("*.md"):
        text = file.read_text()
        assert not any(nodeid.split("::")[-1] in text for nodeid in hidden_nodeids)
    assert "Not graded** (refused)" in (out / batch.FEEDBACK / "tampered.md").read_text()


def test_a_rerun_skips_what_was_graded_and_a_new_archive_is_graded(graded, class_folder, tmp_path):
    records, out = graded
    folder, copies = class_folder
    before = (out / batch.GRADEBOOK).read_text()
    again = batch.grade_all(folder, out, workers=2, limits=LIMITS, only=ONLY, max_bytes=2 << 20, log=None)
    assert (out / batch.GRADEBOOK).read_text() == before
    kept, first = ({r["sha256"]: r["seconds"] for r in run} for run in (again, records.values()))
    assert kept == first  # the skipped archives keep their first grading's records
    # an output folder carrying the old records: the known archive is skipped, the new one graded
    later = tmp_path / "later"
    later.mkdir()
    shutil.copy(folder / "corrupt.zip", later / "corrupt.zip")
    (later / "late.zip").write_bytes(b"not an archive")
    shutil.copytree(out, later / "grades")
    late = {r["student"]: r for r in batch.grade_all(later, workers=1, limits=LIMITS, only=ONLY, log=None)}
    assert late["corrupt"] == records["corrupt"] and late["late"]["status"] == "refused"
    assert [row["student"] for row in csv.DictReader((later / "grades" / batch.GRADEBOOK).open())] == ["corrupt", "late"]


def test_archives_graded_one_by_one_score_as_in_the_batch(graded, class_folder, tmp_path):
    records, _ = graded
    folder, _ = class_folder
    for name in ("solution", "cheater"):
        report = tmp_path / f"{name}.json"
        run = subprocess.run([sys.executable, str(REPO / "scripts" / "grade.py"), "--submission", str(folder / f"{name}.zip"),
                              "--only", ONLY, "--time-limit", str(LIMITS.time_s), "--json", str(report)],
                             capture_output=True, text=True, cwd=REPO)
        assert run.returncode == 0, run.stderr
        assert "results in the archive: no results" in run.stderr
        alone = json.loads(report.read_text())
        assert {n: r["passed"] for n, r in alone.items()} == {n: r["passed"] for n, r in records[name]["results"].items()}
        assert run.stdout.splitlines()[-1].split()[-1] == f"{EXPECTED[name]:g}/3"
    refused = subprocess.run([sys.executable, str(REPO / "scripts" / "grade.py"), "--submission", str(folder / "unsafe.zip")],
                             capture_output=True, text=True, cwd=REPO)
    assert refused.returncode == 1 and "unsafe path" in refused.stderr


# ----------------------------------------------------------------------------- Gradescope
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
# https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format"): field -> accepted types
TOP_FIELDS = {"score": (int, float), "execution_time": (int, float), "output": str, "output_format": str,
              "test_output_format": str, "test_name_format": str, "visibility": str, "stdout_visibility": str,
              "extra_data": dict, "tests": list, "leaderboard": list}
TEST_FIELDS = {"score": (int, float), "max_score": (int, float), "status": str, "name": str, "name_format": str,
               "number": str, "output": str, "output_format": str, "tags": list, "visibility": str, "extra_data": dict}


def schema_errors(payload: dict) -> list[str]:
    """What in ``payload`` does not follow Gradescope's documented results.json fields."""
    errors = [f"unknown field {key}" for key in payload if key not in TOP_FIELDS]
    errors += [f"{key} is not {kind}" for key, kind in TOP_FIELDS.items() if key in payload and not isinstance(payload[key], kind)]
    tests = payload.get("tests", [])
    if "score" not in payload and not all("score" in test for test in tests):
        errors.append("no score: on the submission or on every test")
    for key in ("visibility", "stdout_visibility"):
        if key in payload and payload[key] not in VISIBILITIES:
            errors.append(f"{key} {payload[key]!r} is not one of {sorted(VISIBILITIES)}")
    for i, test in enumerate(tests):
        errors += [f"tests[{i}]: unknown field {key}" for key in test if key not in TEST_FIELDS]
        errors += [f"tests[{i}].{key} is not {kind}" for key, kind in TEST_FIELDS.items()
                   if key in test and not isinstance(test[key], kind)]
        if test.get("visibility", "visible") not in VISIBILITIES or test.get("status", "passed") not in ("passed", "failed"):
            errors.append(f"tests[{i}]: visibility or status not one of the documented values")
    return errors


def test_the_schema_check_catches_what_gradescope_would_not_read():
    assert schema_errors({"score": 1, "tests": [{"score": 1, "max_score": 1, "visibility": "visible"}]}) == []
    errors = schema_errors({"scores": 1, "visibility": "all", "tests": [{"score": "1", "visibility": "students"}]})
    assert errors == ["unknown field scores", "visibility 'all' is not one of ['after_due_date', 'after_published', "
                      "'hidden', 'visible']", "tests[0].score is not (<class 'int'>, <class 'float'>)",
                      "tests[0]: visibility or status not one of the documented values"]
    assert schema_errors({"tests": [{"max_score": 1}]}) == ["no score: on the submission or on every test"]


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """dist/autograder.zip, written into a temporary folder and unpacked like Gradescope: ``<root>/source``."""
    root = tmp_path_factory.mktemp("gradescope")
    archive = gradescope.build(root / "autograder.zip")
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        zf.extractall(root / "image" / "source")
    assert {"setup.sh", "run_autograder", "grading/gradescope.py", "instructor/hidden_tests/test_hidden.py"} <= set(names)
    assert not any(name.startswith(("notebooks/", "instructor/plain", ".git")) for name in names)
    return root / "image"


def test_setup_sh_and_run_autograder_are_valid_bash(autograder):
    for script in ("setup.sh", "run_autograder"):
        check = subprocess.run(["bash", "-n", str(autograder / "source" / script)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def _gradescope_run(image: Path, root: Path, upload) -> dict:
    """Gradescope's run on one upload: ``<root>/source`` from the image, ``upload(<root>/submission)``, then run_autograder."""
    shutil.copytree(image / "source", root / "source")
    (root / "submission").mkdir()
    upload(root / "submission")
    env = {"PATH": "/usr/bin:/bin", "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable,
           "GRADE_ONLY": ONLY, "GRADE_TIME_LIMIT": str(LIMITS.time_s), "HOME": str(root)}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, cwd=root, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.parametrize("name, upload", [("solution", "archive"), ("release", "folder"), ("cheater", "archive")])
def test_a_simulated_gradescope_run_scores_like_grade_all(autograder, class_folder, graded, tmp_path, name, upload):
    folder, copies = class_folder
    records, _ = graded

    def put(target: Path):
        if upload == "archive":
            shutil.copy(folder / f"{name}.zip", target / "submission.zip")
        else:
            shutil.copytree(copies[name] / "helpers", target / "helpers")

    payload = _gradescope_run(autograder, tmp_path, put)
    assert schema_errors(payload) == []
    assert payload["score"] == EXPECTED[name] == sum(test["score"] for test in payload["tests"])
    assert sum(test["max_score"] for test in payload["tests"]) == 3
    hidden = [test for test in payload["tests"] if test["visibility"] != "visible"]
    assert len(hidden) == 1 and hidden[0]["visibility"] == "after_published" and hidden[0]["output"] == ""
    hidden_names = [n.split("::")[-1] for n, r in records[name]["results"].items() if r["hidden"]]
    assert not any(test_name in json.dumps(payload) for test_name in hidden_names)
    assert f"isolation [{sandbox.probe().level}]" in payload["output"]  # the sandbox in force, said to all


def test_gradescope_says_why_an_upload_is_not_graded(autograder, tmp_path):
    payload = _gradescope_run(autograder, tmp_path, lambda target: (target / "notes.txt").write_text("no code"))
    assert schema_errors(payload) == [] and payload["score"] == 0 and "Not graded" in payload["output"]


def test_progress_lines_show_a_refusal_whole_or_visibly_cut():
    short = {"student": "bob", "status": "refused", "reason": "bob.zip is not a zip archive: ask for the file made by "
             "`make submission`", "results": {}, "seconds": 0.0}
    long = {**short, "reason": "x" * 300}
    line = batch._progress(1, 2, short, 1, [0.0], 1)
    assert short["reason"] in line and line.startswith("[1/2] bob: refused: ")
    assert f"refused: {'x' * 119}… (0.0 s)" in batch._progress(2, 2, long, 2, [0.0, 0.0], 1)


def test_the_class_report_matches_the_gradebook(graded):
    from grading import export, report

    records, out = graded
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO((out / batch.GRADEBOOK).read_text()))}
    page = (out / report.PAGE).read_text()
    graded_rows = [row for row in rows.values() if row["status"] == "graded"]
    assert f"{len(rows)} archives: {len(graded_rows)} graded, {len(rows) - len(graded_rows)} not graded" in page
    scores = {row["student"]: float(row["points"]) for row in csv.DictReader((out / report.FIGURES / "scores.csv").open())}
    assert scores == {row["student"]: float(row["total"]) for row in graded_rows}
    functions = {row["function"]: row for row in csv.DictReader((out / report.FIGURES / "functions.csv").open())}
    for name, row in functions.items():
        points = [float(r[name]) for r in graded_rows]
        assert int(row["students"]) == len(points) and float(row["mean_points"]) == pytest.approx(sum(points) / len(points), rel=1e-3)
        assert int(row["passed_all"]) == sum(name not in r["failed"].split() for r in graded_rows)
        assert f"<code>{name}</code></td><td>{row['passed_all']}/{row['students']}</td>" in page
    assert int(functions["nn.layers.linear_backward"]["hidden"]) == len(graded_rows)  # one hidden test each, counted
    hidden_names = [n.split("::")[-1] for r in records.values() for n, t in r["results"].items() if t["hidden"]]
    assert hidden_names and not any(name in page for name in hidden_names)
    assert "timed out" in functions["nn.layers.linear_backward"]["top_reasons"]  # the tests' own messages
    assert f"Isolation: {sandbox.probe().level} ({len(graded_rows)} submissions)" in page
    assert f"Limits: {LIMITS.describe()}" in page and "<script" not in page
    assert all((out / report.FIGURES / name).stat().st_size > 1000 for name in ("scores.png", "functions.png", "similarity.png"))
    assert "twin" in rows["solution"]["similar_to"].split() and rows["release"]["similar_to"] == ""
    canvas = list(csv.reader((out / export.CANVAS).open()))
    assert canvas[1][-1] == "3" and {r[2]: r[-1] for r in canvas[2:]} == {r["student"]: r["total"] for r in graded_rows}
    by_id = {r["student_id"]: r for r in csv.DictReader((out / export.BY_ID).open())}
    assert by_id["corrupt"]["status"] == "refused" and by_id["solution"]["score"] == "3"


def test_the_grading_options_table_is_the_declaration():
    """docs/GRADING.md's table of options (instructor-only, as this file) is grading.grader.OPTIONS, row for row."""
    from grading.grader import OPTIONS
    text = (REPO / "docs" / "GRADING.md").read_text()
    missing = [option.row() for option in OPTIONS if option.row() not in text]
    assert not missing, "docs/GRADING.md's options table differs from grading.grader.OPTIONS; its rows are:\n" + "\n".join(missing)
