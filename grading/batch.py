"""Grading a class: every submission archive of a folder, in parallel, into a gradebook and feedback.

:func:`grade_archive` grades one archive (``make submission``'s, or any with ``source/helpers/``):
it is opened with :func:`helpers.handin.submission.open_source` into its own temporary folder and its
``source/`` graded by :func:`grading.grader.grade` in its own grader process. A refused archive
(corrupt, truncated, oversized, altered, unsafe) gives a record saying why. :func:`grade_all`
runs :func:`grade_archive` for every ``*.zip`` of a folder on a pool of threads (each waits on
its own grader process), keeps one record per archive (keyed by its file name; identical
archives are flagged as possible copying, never merged) in ``grades.json`` and rewrites
``gradebook.csv`` and the student's ``feedback/<student>.md`` after each archive, atomically,
so an interrupted run loses nothing and a rerun grades only what is new or changed. Each
archive is unpacked into a private folder (mode 700) that only its own sandbox reads.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grading.grader import HIDDEN, REPO, by_function, grade, totals
from grading import sandbox
from grading.boundary import Limits
from helpers.handin import submission as submissions
from helpers.store import artifacts

RECORDS = "grades.json"
GRADEBOOK = "gradebook.csv"
FEEDBACK = "feedback"
INFERENCE_NOTEBOOK = REPO / "notebooks" / "05_quick_inference.ipynb"


def student_id(archive: Path) -> str:
    """The student's id: the archive's name without ``.zip`` when it is letters, digits, ``.``, ``_`` and ``-``
    only; otherwise those characters of it plus a digest of the whole name, so no two names give one id."""
    stem = Path(archive).stem
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "unnamed"
    return safe if safe == stem else f"{safe}-{hashlib.sha256(stem.encode()).hexdigest()[:8]}"


def student_ids(archives: list[Path]) -> dict[Path, str]:
    """:func:`student_id` of each archive, made unique (also where names differ only in case) with ever longer
    digests of the archive names that clash."""
    ids = {archive: student_id(archive) for archive in archives}
    for length in (8, 16, 64):
        counts = Counter(name.casefold() for name in ids.values())
        clashing = [archive for archive, name in ids.items() if counts[name.casefold()] > 1]
        for archive in clashing:
            ids[archive] = f"{student_id(archive)}-{hashlib.sha256(archive.name.encode()).hexdigest()[:length]}"
    return ids


def check_inference(archive: Path) -> str:
    """Run the quick-inference notebook on ``archive`` alone (``make inference``): ``reproduced`` or why not."""
    with tempfile.TemporaryDirectory(prefix="inference-") as out:
        env = {**os.environ, "CIFAR10_DIR": "", "MNIST_DIR": "", "SUBMISSION": str(Path(archive).resolve()),
               "BUNDLE_ARTIFACTS": str(Path(out) / "artifacts")}  # what the notebook saves stays out of the checkout
        run = subprocess.run([sys.executable, str(REPO / "scripts" / "run_notebooks.py"), "--out", out,
                              str(INFERENCE_NOTEBOOK)], cwd=REPO, env=env, capture_output=True, text=True)
        if run.returncode == 0:
            return "reproduced"
        return f"failed: {_notebook_error(Path(out) / INFERENCE_NOTEBOOK.name) or _last_line(run)}"[:300]


def _notebook_error(executed: Path) -> str:
    """``Type: message`` of the first error an executed notebook holds ('' when it holds none or is absent)."""
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return ""
    errors = (output for cell in cells for output in cell.get("outputs", []) if output.get("output_type") == "error")
    error = next(errors, None)
    return f"{error['ename']}: {error['evalue']}" if error else ""


def _last_line(run: subprocess.CompletedProcess) -> str:
    lines = (run.stderr or run.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {run.returncode}"


def grade_archive(archive: Path, limits: Limits = Limits(), only: str = "", hidden: Path | None = HIDDEN,
                  inference: bool = False, max_bytes: int = submissions.MAX_BYTES, sha256: str | None = None,
                  student: str | None = None, allow_weaker: bool = False) -> dict:
    """One submission's record: student, sha256, status (graded/refused/error), reason, results, consistency,
    isolation, seconds.

    ``sha256``, ``student``: the archive's digest and id, when the caller has them already.
    """
    archive = Path(archive)
    started = time.monotonic()
    record = {"student": student or student_id(archive), "archive": archive.name,
              "sha256": sha256 or artifacts.sha256_of(archive), "status": "graded", "reason": "", "results": {},
              "consistency": "", "inference": "not checked", "isolation": sandbox.probe().level, "identical_to": []}
    with tempfile.TemporaryDirectory(prefix="grade-submission-") as tmp:  # mode 700: no other user reads it
        try:
            opened = submissions.open_source(archive, Path(tmp) / "submission", max_bytes=max_bytes)
            has_results = any(opened.root.rglob("*.manifest.json"))
            foreign = opened.foreign_artifacts
            record["consistency"] = ("no results" if not has_results else
                                     f"made by other code: {', '.join(foreign)}" if foreign else "consistent")
            record["results"] = grade(opened.source, hidden, only, limits, allow_weaker=allow_weaker)
            if inference:
                record["inference"] = check_inference(archive) if has_results else "no results"
        except (submissions.SubmissionError, sandbox.UnsafeCopy) as err:
            record.update(status="refused", reason=str(err).replace(str(archive), archive.name))
        except Exception as err:  # one bad submission must never stop the batch
            record.update(status="error", reason=f"{type(err).__name__}: {err}"[:2000])
    record["seconds"] = round(time.monotonic() - started, 2)
    return record


def _cell(value):
    """A gradebook cell that no spreadsheet reads as a formula (a leading = + - @ is quoted away)."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def gradebook_csv(records: list[dict]) -> str:
    """The gradebook: one row per record, one points column per graded function."""
    functions = sorted({test["function"] for record in records for test in record["results"].values()})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "archive", "status", "total", "possible", *functions, "failed", "reason",
                     "identical_to", "similar_to", "results", "inference", "isolation", "seconds", "sha256"])
    for record in sorted(records, key=lambda r: (r["student"], r["archive"])):
        summary = by_function(record["results"])
        earned, possible = totals(record["results"])
        failed = [name for name, row in summary.items() if row["passed"] < row["tests"]]
        graded = record["status"] == "graded"
        writer.writerow([_cell(cell) for cell in [record["student"], record["archive"], record["status"],
                         f"{earned:g}" if graded else "", f"{possible:g}" if graded else "",
                         *[f"{summary[name]['points']:g}" if name in summary else "" for name in functions],
                         " ".join(failed), record["reason"], " ".join(record.get("identical_to", [])),
                         " ".join(record.get("similar_to", [])),
                         record["consistency"], record["inference"], record.get("isolation", ""),
                         record["seconds"], record["sha256"]]])
    return out.getvalue()


def feedback_markdown(record: dict) -> str:
    """The student's feedback: per function passed/failed, points, the first visible failure; hidden tests as counts."""
    lines = [f"# Autograder feedback: {record['student']}", "", f"Submission: `{record['archive']}` "
             f"(sha256 {record['sha256'][:16]}…)", ""]
    if record["status"] != "graded":
        return "\n".join(lines + [f"**Not graded** ({record['status']}): {record['reason']}", ""])
    earned, possible = totals(record["results"])
    lines += [f"**Total: {earned:g} / {possible:g} points**", "",
              "| function | result | points | tests passed | hidden tests passed |", "|---|---|---|---|---|"]
    failures = []
    for name, row in by_function(record["results"]).items():
        visible, visible_passed = row["tests"] - row["hidden"], row["passed"] - row["hidden_passed"]
        result = "passed" if row["passed"] == row["tests"] else "failed"
        hidden = f"{row['hidden_passed']}/{row['hidden']}" if row["hidden"] else "-"
        lines.append(f"| `{name}` | {result} | {row['points']:g}/{row['possible']:g} | {visible_passed}/{visible} | {hidden} |")
        if row["first_failure"]:
            failures.append(f"- `{name}`: {row['first_failure']}")
        elif row["hidden_passed"] < row["hidden"]:
            failures.append(f"- `{name}`: {row['hidden'] - row['hidden_passed']} hidden test(s) failed")
    if failures:
        lines += ["", "## First failure per function", "", *failures]
    lines += ["", f"Results in the archive: {record['consistency']}.", "",
              "Hidden tests are counted, never shown: their names, inputs and messages stay with the instructor.", ""]
    return "\n".join(lines)


def _write_text(file: Path, text: str) -> None:
    artifacts.atomic_write(file, lambda fh: fh.write(text.encode("utf-8")))


def _progress(done: int, total: int, record: dict, failures: int, seconds: list[float], workers: int) -> str:
    earned, possible = totals(record["results"])
    reason = record["reason"] if len(record["reason"]) <= 120 else record["reason"][:119] + "…"  # whole in the gradebook
    outcome = f"{earned:g}/{possible:g}" if record["status"] == "graded" else f"{record['status']}: {reason}"
    left = (total - done) * (sum(seconds) / len(seconds)) / workers if seconds else 0.0
    return (f"[{done}/{total}] {record['student']}: {outcome} ({record['seconds']:.1f} s); "
            f"not full marks or not graded so far: {failures}; about {left:.0f} s left")


def _flag_identical(records: list[dict]) -> None:
    """Set each record's ``identical_to``: the other students whose archive has the same sha256."""
    by_digest: dict[str, list[str]] = {}
    for record in records:
        by_digest.setdefault(record["sha256"], []).append(record["student"])
    for record in records:
        record["identical_to"] = sorted(set(by_digest[record["sha256"]]) - {record["student"]})


def grade_all(folder: Path, out: Path | None = None, workers: int | None = None, regrade: bool = False,
              limits: Limits = Limits(), only: str = "", hidden: Path | None = HIDDEN, inference: bool = False,
              max_bytes: int = submissions.MAX_BYTES, log=sys.stderr, allow_weaker: bool = False,
              finish=None) -> list[dict]:
    """Grade every ``*.zip`` in ``folder`` into ``out`` (default ``folder/grades``); the records, one per archive.
    ``finish(folder, out, records, limits text)``, when given, then runs on every record (the instructor's class
    report, ``grading.report.finish``: similarity flags, exports, the page) and the records are saved again."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: pass the folder of the students' submission archives")
    isolation = sandbox.require(allow_weaker)
    out = Path(out) if out else folder / "grades"
    workers = max(1, workers or os.cpu_count() or 1)
    stored = json.loads((out / RECORDS).read_text()) if (out / RECORDS).is_file() else {}
    archives = sorted(file for file in folder.glob("*.zip") if file.is_file() and not file.is_symlink())
    digests = {archive: artifacts.sha256_of(archive) for archive in archives}
    ids = student_ids(archives)
    pending = [archive for archive in archives
               if regrade or stored.get(archive.name, {}).get("sha256") != digests[archive]]
    if log:
        print(f"grade-all: {len(archives)} archives in {folder}, {len(archives) - len(pending)} already graded, "
              f"{len(pending)} to grade with {workers} workers; limits: {limits.describe()}\n"
              f"grade-all: {isolation.describe()}", file=log)

    def save():
        current = [stored[archive.name] for archive in archives if archive.name in stored]
        _flag_identical(current)
        _write_text(out / RECORDS, json.dumps(stored, indent=1))
        _write_text(out / GRADEBOOK, gradebook_csv(current))

    save()
    jobs = [(archive, limits, only, hidden, inference, max_bytes, digests[archive], ids[archive], allow_weaker)
            for archive in pending]
    for record in _graded_in_parallel(jobs, workers, log):
        stored[record["archive"]] = record
        save()
        _write_text(out / FEEDBACK / f"{record['student']}.md", feedback_markdown(record))
    records = [stored[archive.name] for archive in archives]
    if finish:
        finish(folder, out, records, limits.describe())
        save()
    return records


def _graded_in_parallel(jobs: list[tuple], workers: int, log):
    """:func:`grade_archive`'s records for ``jobs`` (its arguments) as they finish, ``workers`` at a time, with
    a progress line each."""
    seconds, failures = [], 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(grade_archive, *job) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            record = future.result()
            earned, possible = totals(record["results"])
            failures += record["status"] != "graded" or earned < possible
            seconds.append(record["seconds"])
            yield record
            if log:
                print(_progress(done, len(jobs), record, failures, seconds, workers), file=log, flush=True)
