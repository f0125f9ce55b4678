"""Write the Gradescope autograder: dist/autograder.zip (setup.sh, run_autograder, grading code, tests, reference).

Usage: python scripts/make_autograder.py [--out dist/autograder.zip]   (see docs/GRADING.md)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from grading.gradescope import build  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "autograder.zip")
    args = parser.parse_args()
    print(f"autograder: {build(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
