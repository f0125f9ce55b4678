"""A student copy written plainly: the release with every stub replaced by instructor/plain's version.

``instructor/plain/<path>`` holds, for ``helpers/<path>``, one plain function (or method, in a
class of the same name) per graded function; its body takes the place of the stub. Grading this
copy shows the tests accept a correct implementation that rounds differently from the solution.

Usage: python -m instructor.plain_copy [--out dist/plain]
"""
from __future__ import annotations

import argparse
import ast
import sys
import textwrap
from pathlib import Path

from instructor import release

PLAIN = Path(__file__).resolve().parent / "plain"


def plain_bodies(file: Path) -> dict[str, str]:
    """``{qualified name: body source, dedented}`` of every function of a plain file."""
    text = file.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    bodies = {}
    for name, node in release.functions(ast.parse(text, str(file))):
        bodies[name] = textwrap.dedent("".join(lines[node.body[0].lineno - 1:node.end_lineno]))
    return bodies


def build(out: Path, plain: Path = PLAIN, level: str = release.DEFAULT_LEVEL) -> list[release.Region]:
    """Write the release (at ``level``) into ``out``, then put each plain body where its stub is."""
    regions = release.build(out, level=level)
    for file in sorted({region.file for region in regions}):
        plain_file = plain / Path(file).relative_to("helpers")
        bodies = plain_bodies(plain_file)
        target = Path(out) / file
        lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
        for region in (r for r in regions if r.file == file):
            if region.function not in bodies:
                raise release.ReleaseError(f"{plain_file} has no {region.function}")
            [index] = [i for i, line in enumerate(lines) if line.strip() == region.stub("", level).strip()]
            lines[index] = textwrap.indent(bodies[region.function], release.indent_of(lines[index]))
        text = "".join(lines)
        compile(text, file, "exec")
        target.write_text(text, encoding="utf-8")
    return regions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=release.REPO / "dist" / "plain")
    args = parser.parse_args()
    try:
        regions = build(args.out)
    except release.ReleaseError as err:
        print(f"plain_copy: {err}", file=sys.stderr)
        return 1
    print(f"{args.out}: {len(regions)} functions written plainly; grade it with scripts/grade.py {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
