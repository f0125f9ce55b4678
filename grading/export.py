"""Grades in the formats instructors upload: a Canvas-style gradebook CSV and a plain CSV by student id.

The roster (a CSV file with the columns ``archive``, ``student_id`` and optionally ``name`` and
``section``) says whose each submission archive is. An archive not on the roster gets a row in
the plain CSV saying it was refused (and no grade is exported for it); a student on the roster
with no archive gets a row saying so. Without a roster, each archive's student id is the one
grade-all gives it (its file name, see :func:`grading.batch.student_id`).

Canvas's import format: the columns ``Student, ID, SIS User ID, SIS Login ID, Section`` and one
per assignment named ``<assignment>``, with a second row ``Points Possible``; this file fills the
SIS User ID with the roster's student id (Canvas matches rows on it) and leaves ``ID`` empty.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from grading.grader import totals

CANVAS = "canvas.csv"
BY_ID = "grades_by_id.csv"
NOT_ON_ROSTER = "refused: the archive is not on the roster"


class RosterError(ValueError):
    """A roster that cannot be read, with what is wrong in it."""


def read_roster(path: Path) -> dict[str, dict]:
    """``{archive file name: {"student_id", "name", "section"}}`` from a roster CSV."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not {"archive", "student_id"} <= set(rows[0]):
        raise RosterError(f"{path}: the roster needs the columns archive and student_id (found {', '.join(rows[0])})")
    roster = {}
    for number, row in enumerate(rows, start=2):
        archive, student = (row.get("archive") or "").strip(), (row.get("student_id") or "").strip()
        if not archive or not student:
            raise RosterError(f"{path}:{number}: an archive and a student_id are both needed")
        if archive in roster:
            raise RosterError(f"{path}:{number}: {archive} is listed twice")
        roster[archive] = {"student_id": student, "name": (row.get("name") or "").strip(),
                           "section": (row.get("section") or "").strip()}
    return roster


def rows(records: list[dict], roster: dict[str, dict] | None) -> list[dict]:
    """One row per archive and per rostered student without one: student_id, name, section, archive, score,
    possible, status, note."""
    out, seen = [], set()
    for record in sorted(records, key=lambda r: r["archive"]):
        entry = (roster or {}).get(record["archive"]) if roster is not None else {"student_id": record["student"]}
        earned, possible = totals(record["results"])
        graded = record["status"] == "graded"
        row = {"student_id": "", "name": "", "section": "", "archive": record["archive"], "score": "", "possible": "",
               "status": record["status"], "note": record.get("reason", "")}
        if entry is None:
            row.update(status="refused", note=NOT_ON_ROSTER)
        else:
            seen.add(record["archive"])
            row.update(student_id=entry["student_id"], name=entry.get("name", ""), section=entry.get("section", ""),
                       score=f"{earned:g}" if graded else "", possible=f"{possible:g}" if graded else "")
        out.append(row)
    for archive, entry in sorted((roster or {}).items()):
        if archive not in seen:
            out.append({**{k: entry.get(k, "") for k in ("student_id", "name", "section")}, "archive": archive,
                        "score": "", "possible": "", "status": "missing", "note": "no archive handed in"})
    return out


def plain_csv(table: list[dict]) -> str:
    """The plain CSV: one row per student id (and per refused archive), sorted by id."""
    out = io.StringIO()
    writer = csv.DictWriter(out, ["student_id", "name", "section", "archive", "score", "possible", "status", "note"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(table, key=lambda row: (row["student_id"] == "", row["student_id"], row["archive"])))
    return out.getvalue()


def canvas_csv(table: list[dict], assignment: str = "Autograder") -> str:
    """Canvas's gradebook import: students with a grade (graded archives on the roster), points possible first."""
    graded = [row for row in table if row["student_id"] and row["score"] != ""]
    possible = max((float(row["possible"]) for row in graded), default=0.0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
    writer.writerow(["Points Possible", "", "", "", "", f"{possible:g}"])
    for row in sorted(graded, key=lambda row: row["student_id"]):
        writer.writerow([row["name"] or row["student_id"], "", row["student_id"], "", row["section"], row["score"]])
    return out.getvalue()
