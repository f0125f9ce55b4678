"""Grade every submission archive in a folder, in parallel: gradebook.csv and one feedback file per student.

Usage: python scripts/grade_all.py FOLDER [--out DIR] [--workers N] [--regrade] [--inference]
       [--only f1,f2] [--time-limit S] [--memory-limit GIB] [--max-mib M] [--roster FILE]

Writes FOLDER/grades/ (or --out): gradebook.csv, feedback/<student>.md and grades.json (every
record, keyed by the archive's name: a rerun skips archives graded unchanged unless --regrade;
identical archives are flagged in the gradebook's identical_to column); then the class report
(report.html, report/: figures and their numbers), the similar pairs (the gradebook's similar_to
column; similarity/ keeps what the next run reuses) and the exports canvas.csv and grades_by_id.csv
(--roster, default FOLDER/roster.csv when there is one: archive,student_id[,name,section]).
See grading/batch.py and docs/GRADING.md.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: helpers, grading
from grading import report
from grading.batch import GRADEBOOK, grade_all
from grading.boundary import MIB
from grading.export import RosterError
from grading.grader import add_options, limits_of
from helpers.handin.submission import MAX_BYTES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of submission archives (*.zip), one per student")
    parser.add_argument("--out", type=Path, help="where the gradebook and feedback go (default: FOLDER/grades)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS") or 0) or os.cpu_count(),
                        help="submissions graded at once (env WORKERS; default: the CPU count)")
    parser.add_argument("--regrade", action="store_true", help="grade again archives already in the gradebook")
    parser.add_argument("--inference", action="store_true",
                        help="also run the quick-inference notebook on each archive with results (about 30 s each)")
    parser.add_argument("--max-mib", type=float, default=MAX_BYTES / MIB, help="largest unpacked archive, MiB (default 1024)")
    parser.add_argument("--roster", type=Path, help="CSV of archive,student_id[,name,section] (default: FOLDER/roster.csv if any)")
    add_options(parser.add_argument)
    args = parser.parse_args()
    limits = limits_of(args)
    roster = args.roster or (args.folder / "roster.csv" if (args.folder / "roster.csv").is_file() else None)
    try:
        records = grade_all(args.folder, args.out, args.workers, args.regrade, limits, args.only, args.hidden,
                            args.inference, int(args.max_mib * MIB), allow_weaker=args.allow_weaker_isolation,
                            finish=lambda *finished: report.finish(*finished, roster=roster))
    except (FileNotFoundError, RuntimeError, RosterError) as err:  # RuntimeError: sandbox.IsolationError
        print(f"grade-all: {err}", file=sys.stderr)
        return 1
    graded, out = sum(record["status"] == "graded" for record in records), args.out or args.folder / "grades"
    similar = sum(bool(record.get("similar_to")) for record in records)
    print(f"grade-all: {graded} of {len(records)} archives graded, {similar} with similar code; {out / GRADEBOOK}; "
          f"class report {out / report.PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
