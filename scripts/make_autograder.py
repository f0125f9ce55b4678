"""Write the Gradescope autograder: dist/autograder.zip (setup.sh, run_autograder, grading code, tests, reference).

Usage: python scripts/make_autograder.py [--out dist/autograder.zip]   (see docs/GRADING.md)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: helpers, grading
from helpers.core.config import REPO_ROOT as REPO
from grading.gradescope import build


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "autograder.zip")
    args = parser.parse_args()
    print(f"autograder: {build(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
