"""Grade exports (grading/export.py): the roster, the Canvas-style CSV and the plain CSV by student id."""
import csv
import io

import pytest

from grading import export


def record(archive, points, status="graded"):
    results = {} if status != "graded" else {
        f"t{i}": {"function": "nn.layers.relu_forward", "points": 1, "passed": i < points, "hidden": False, "message": ""}
        for i in range(3)}
    return {"student": archive.removesuffix(".zip"), "archive": archive, "status": status, "results": results,
            "reason": "" if status == "graded" else "not a zip archive"}


def test_archives_not_on_the_roster_are_refused_and_missing_students_listed(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("archive,student_id,name,section\nann.zip,s1,Ann A,A\nbob.zip,s2,Bob B,B\ncid.zip,s3,Cid C,A\n")
    table = export.rows([record("ann.zip", 2), record("bob.zip", 0, "refused"), record("eve.zip", 3)],
                        export.read_roster(roster))
    rows = {row["archive"]: row for row in csv.DictReader(io.StringIO(export.plain_csv(table)))}
    assert rows["ann.zip"]["student_id"] == "s1" and rows["ann.zip"]["score"] == "2" and rows["ann.zip"]["possible"] == "3"
    assert rows["bob.zip"]["status"] == "refused" and rows["bob.zip"]["score"] == "" and rows["bob.zip"]["student_id"] == "s2"
    assert rows["eve.zip"]["status"] == "refused" and rows["eve.zip"]["note"] == export.NOT_ON_ROSTER
    assert rows["eve.zip"]["student_id"] == "" and rows["eve.zip"]["score"] == ""
    assert rows["cid.zip"]["status"] == "missing" and rows["cid.zip"]["student_id"] == "s3"
    canvas = list(csv.reader(io.StringIO(export.canvas_csv(table, "A1"))))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "A1"]
    assert canvas[1][0] == "Points Possible" and canvas[1][-1] == "3"
    assert canvas[2:] == [["Ann A", "", "s1", "", "A", "2"]]  # only graded students on the roster


def test_without_a_roster_the_archive_names_are_the_ids():
    table = export.rows([record("ann.zip", 1)], None)
    assert table[0]["student_id"] == "ann" and table[0]["status"] == "graded"


@pytest.mark.parametrize("text, message", [("name,id\na,b\n", "columns"), ("archive,student_id\na.zip,\n", "both"),
                                           ("archive,student_id\na.zip,1\na.zip,2\n", "twice")])
def test_a_bad_roster_says_what_is_wrong(tmp_path, text, message):
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(export.RosterError, match=message):
        export.read_roster(tmp_path / "r.csv")
