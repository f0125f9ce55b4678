"""Autograder: run the graded tests against a student's copy or submission archive; points per function.

Usage: python scripts/grade.py [STUDENT_DIR | --submission ARCHIVE] [--only f1,f2] [--time-limit S]
       [--memory-limit GIB] [--json FILE]

The tests, the code that judges and the report are this tree's; only the student's ``helpers/``
runs, in worker processes (``grading/grader.py``, docs/GRADING.md). With ``--submission`` the
archive made by ``make submission`` is verified and extracted into a temporary folder and its
packed ``source/`` graded; results made by other code than the packed source are reported.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: helpers, grading
from grading.batch import grade_archive
from grading.grader import add_options, bound_s, grade, limits_of, table  # noqa: F401  (bound_s: for the tests)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("student", nargs="?", type=Path, default=Path.cwd(), help="root of the student's copy")
    parser.add_argument("--submission", type=Path, help="grade the source packed in this submission archive instead")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    add_options(parser.add_argument)
    args = parser.parse_args()
    limits = limits_of(args)
    if args.submission:
        record = grade_archive(args.submission, limits, args.only, args.hidden,
                               allow_weaker=args.allow_weaker_isolation)
        if record["status"] != "graded":
            print(f"grade: {args.submission} not graded ({record['status']}): {record['reason']}", file=sys.stderr)
            return 1
        results = record["results"]
        print(f"grade: results in the archive: {record['consistency']}", file=sys.stderr)
    else:
        try:
            results = grade(args.student, args.hidden, args.only, limits, log=sys.stderr,
                            allow_weaker=args.allow_weaker_isolation)
        except (FileNotFoundError, RuntimeError, ValueError) as err:  # ValueError: sandbox.UnsafeCopy
            print(f"grade: {err}", file=sys.stderr)
            return 1
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
