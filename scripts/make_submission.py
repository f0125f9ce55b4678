"""Pack the current profile's artifacts into a submission archive for a grader.

Usage: python scripts/make_submission.py [--out DIR]   (profile and paths from BUNDLE_PROFILE / BUNDLE_ARTIFACTS)
"""
from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from helpers.core import config
from helpers.handin import submission


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=config.project_dir() / "dist", help="folder for the archive (default dist/)")
    args = parser.parse_args()
    try:
        archive = submission.build(out_dir=args.out)
    except submission.SubmissionError as err:
        print(f"make submission: {err}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
    raw = sum(info.file_size for info in infos)
    print(f"{archive}: {len(infos)} members, {archive.stat().st_size / 1e6:.2f} MB "
          f"({raw / 1e6:.2f} MB before compression)")
    for info in sorted(infos, key=lambda info: -info.compress_size)[:5]:
        print(f"  {info.compress_size / 1e6:7.2f} MB  {info.filename}")
    print(f"A grader runs: make inference SUBMISSION={archive}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
