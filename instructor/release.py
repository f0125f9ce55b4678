"""Build the student version of the bundle: solution regions become stubs, and no solution text is left.

A solution region is a block of a function's body between ``### BEGIN SOLUTION: <hint>`` and
``### END SOLUTION`` (nbgrader's markers, with a hint saying what the function must return). In
the release the block becomes ``raise NotImplementedError("<function> ... is yours to write:
<hint>")``. The markers are comments, so the solution behaves the same with or without them.

Usage: python -m instructor.release [--out dist/release] [--student-repo ADDRESS]
"""
from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.show import SOLUTION_BEGIN, SOLUTION_END
from instructor import student_repo as addresses

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = SOLUTION_BEGIN, SOLUTION_END
# instructor-only: these tools and the hidden tests, CI, the tests of this tool
EXCLUDED = ("instructor/", ".ci/", "tests/test_release.py")
STUDENT_README = REPO / "instructor" / "student_readme.md"
MIN_LEAK_LENGTH = 12  # shorter lines ("return out") say nothing about a solution
MIN_SUBSTRING_LENGTH = 20  # long enough to be found inside other text; shorter ones only as whole lines
RELEASE_MARK = ".student-release"


class ReleaseError(RuntimeError):
    """The solution's markers are malformed, or the release would leak solution text."""


@dataclass(frozen=True)
class Region:
    """One solution block: lines ``start``..``end`` (1-based, markers included) of ``file``."""

    file: str
    function: str
    start: int
    end: int
    hint: str
    lines: tuple[str, ...]

    @property
    def name(self) -> str:
        """``module.function`` inside helpers, e.g. ``augment.crop``: what graded tests name."""
        module = self.file.removesuffix(".py").split("/")
        return ".".join(module[1:] if module[0] == "helpers" else module) + f".{self.function}"

    def stub(self, indent: str) -> str:
        message = f"{self.name} ({self.file}) is yours to write: {self.hint}"
        return f"{indent}raise NotImplementedError({message!r})\n"


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, first line, last line) of every function, classes included in the name."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield name, node.lineno, node.end_lineno
            yield from _functions(node, f"{name}.")


def find_regions(file: str, text: str) -> list[Region]:
    """The solution regions of one Python file; malformed markers raise ReleaseError naming file:line."""
    lines = text.splitlines(keepends=True)
    regions, start, hint = [], None, ""
    functions = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if start is not None:
                raise ReleaseError(f"{file}:{number}: {BEGIN} inside the region opened at line {start}")
            start, hint = number, stripped[len(BEGIN):].lstrip(" :").strip()
            if not hint:
                raise ReleaseError(f"{file}:{number}: write what the function must return after '{BEGIN}:'")
        elif stripped.startswith(END):
            if start is None:
                raise ReleaseError(f"{file}:{number}: {END} without {BEGIN}")
            functions = functions if functions is not None else list(_functions(ast.parse(text, file)))
            inside = [(last - first, name) for name, first, last in functions if first < start <= last]
            if not inside:
                raise ReleaseError(f"{file}:{start}: a solution region must lie inside a function")
            regions.append(Region(file, min(inside)[1], start, number, hint, tuple(lines[start:number - 1])))
            start = None
    if start is not None:
        raise ReleaseError(f"{file}:{start}: {BEGIN} is never closed by {END}")
    return regions


def stub_source(text: str, regions: list[Region]) -> str:
    """``text`` with every region replaced by its stub (same indentation as the begin marker)."""
    lines = text.splitlines(keepends=True)
    for region in sorted(regions, key=lambda r: r.start, reverse=True):
        marker = lines[region.start - 1]
        indent = marker[:len(marker) - len(marker.lstrip())]
        lines[region.start - 1:region.end] = [region.stub(indent)]
    return "".join(lines)


def tracked_files(repo: Path = REPO) -> list[str]:
    """The files git knows (tracked, or new and not ignored), as repository-relative POSIX paths."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return sorted(name for name in listed if (repo / name).is_file())


def released_files(repo: Path = REPO) -> list[str]:
    """What a release copies: the tracked files but the instructor-only ones."""
    return [name for name in tracked_files(repo) if not name.startswith(EXCLUDED)]


def python_sources(repo: Path = REPO) -> dict[str, str]:
    """The text of every released Python file, by repository-relative path."""
    return {name: (repo / name).read_text(encoding="utf-8") for name in released_files(repo) if name.endswith(".py")}


def _text_lines(file: Path) -> list[str]:
    """Stripped lines of a text file; for a notebook, of its cells' sources."""
    try:
        text = file.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []
    if file.suffix == ".ipynb":
        text = "\n".join("".join(cell.get("source", "")) for cell in json.loads(text).get("cells", []))
    return [line.strip() for line in text.splitlines()]


def leaks(release: Path, regions: list[Region], solution_files: dict[str, list[str]]) -> list[str]:
    """``file:line`` of every release line that contains solution text (or is a marker).

    Solution text: a line of some region, at least MIN_LEAK_LENGTH long, that appears nowhere
    outside the regions in the solution tree (so shared lines such as ``n = len(x)`` do not count),
    found as a whole line, or inside any line when at least MIN_SUBSTRING_LENGTH long.
    """
    inside = {line.strip() for region in regions for line in region.lines}
    outside = set()
    for name, lines in solution_files.items():
        spans = [(r.start, r.end) for r in regions if r.file == name]
        outside.update(line for number, line in enumerate(lines, 1) if not any(a <= number <= b for a, b in spans))
    secret = {line for line in inside - outside if len(line) >= MIN_LEAK_LENGTH}
    long_secret = [line for line in secret if len(line) >= MIN_SUBSTRING_LENGTH]
    found = []
    for file in sorted(p for p in release.rglob("*") if p.is_file()):
        for number, line in enumerate(_text_lines(file), 1):
            if line in secret or line.startswith((BEGIN, END)) or any(text in line for text in long_secret):
                found.append(f"{file.relative_to(release).as_posix()}:{number}")
    return found


def _student_readme(regions: list[Region]) -> str:
    rows = "\n".join(f"| `{r.file}` | `{r.name}` | {r.hint} |" for r in regions)
    return STUDENT_README.read_text().replace("{{STUBS}}", "| file | function | what it must do |\n|---|---|---|\n" + rows)


def build(out: Path, repo: Path = REPO, student_repo: str | None = None) -> list[Region]:
    """Write the student version of ``repo`` into ``out`` (replacing an earlier release there).

    ``student_repo``: the address the notebooks' Colab cell installs from (else the student's Drive).
    """
    out = Path(out)
    if out.exists():
        if not (out / RELEASE_MARK).exists():
            raise ReleaseError(f"{out} exists and is not a student release: choose an empty or new folder")
        shutil.rmtree(out)
    files = released_files(repo)
    texts = python_sources(repo)
    regions = [region for name, text in texts.items() for region in find_regions(name, text)]
    if not regions:
        raise ReleaseError(f"no {BEGIN} markers found under {repo}: nothing to hand out")
    for name in files:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        own = [r for r in regions if r.file == name]
        if own:
            stubbed = stub_source(texts[name], own)
            compile(stubbed, name, "exec")
            target.write_text(stubbed, encoding="utf-8")
        else:
            shutil.copy2(repo / name, target)
    (out / "README.md").write_text(_student_readme(regions), encoding="utf-8")
    (out / RELEASE_MARK).write_text("made by python -m instructor.release\n")
    try:
        addresses.retarget(out, student_repo, repo)
    except ValueError as err:
        shutil.rmtree(out)
        raise ReleaseError(str(err)) from err
    named = addresses.address_leaks(out, repo)
    if named:
        shutil.rmtree(out)
        raise ReleaseError(f"the release would name the instructor's repository at {', '.join(named[:10])}: "
                           "nothing was written")
    solution_lines = {name: [line.strip() for line in text.splitlines()] for name, text in texts.items()}
    found = leaks(out, regions, solution_lines)
    if found:
        shutil.rmtree(out)
        raise ReleaseError(f"the release would contain solution text at {', '.join(found[:10])}: nothing was written")
    return regions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "release")
    parser.add_argument("--student-repo", default=None,
                        help="address the Colab cells clone and install (default: the student's Google Drive copy)")
    args = parser.parse_args()
    try:
        regions = build(args.out, student_repo=args.student_repo or None)
    except ReleaseError as err:
        print(f"release: {err}", file=sys.stderr)
        return 1
    files = sorted({r.file for r in regions})
    print(f"{args.out}: {len(regions)} functions stubbed in {len(files)} files; no solution text found in the release")
    for region in regions:
        print(f"  {region.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
