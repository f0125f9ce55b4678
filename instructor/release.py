"""Build the student version of the bundle: solution regions become stubs, and no solution text is left.

A solution region is a block of a function's body between ``### BEGIN SOLUTION: <hint>`` and
``### END SOLUTION`` (nbgrader's markers, with a hint saying what the function must return). In
the release the block becomes ``raise NotImplementedError("<function> ... is yours to write:
<hint>")``. The markers are comments, so the solution behaves the same with or without them.

A solution passage is text a student must find for themselves (a derivation, the method of a
vectorised pass): the lines between ``BEGIN SOLUTION TEXT: <task>`` and ``END SOLUTION TEXT`` in
a Python file (typically inside a docstring), a Markdown file or a notebook's Markdown cell
(there each marker line may be an HTML comment, ``<!-- END SOLUTION TEXT -->``, so that it does
not render). In the release the passage becomes its task, e.g. "Derive dx for training mode".
The leak check covers passages as it covers code.

Usage: python -m instructor.release [--out dist/release] [--student-repo ADDRESS]
"""
from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

from helpers.core.config import REPO_ROOT as REPO
from helpers.notebook.show import SOLUTION_BEGIN, SOLUTION_END, TEXT_BEGIN, TEXT_END, is_marker, text_marker
from instructor import manifest
from instructor import student_repo as addresses

BEGIN, END = SOLUTION_BEGIN, SOLUTION_END
STUDENT_README = REPO / "instructor" / "student_readme.md"
MIN_LEAK_LENGTH = 12  # shorter lines ("return out") say nothing about a solution
MIN_SUBSTRING_LENGTH = 20  # long enough to be found inside other text; shorter ones only as whole lines
MIN_LEAK_LETTERS = 6  # a secret line says something: rules of dashes or "$$" alone are not secrets
TEXT_SUFFIXES = (".py", ".md", ".ipynb")  # files whose passages can be marked
TASK_WIDTH = 96  # a passage's task is wrapped to this width in the release
RELEASE_MARK = ".student-release"
# How much the starter gives (make release LEVEL=...): "derive", the default for a university course, keeps
# the contract only; "guided" keeps every hint (docs/STARTER.md shows both, per function).
LEVELS = {
    "derive": "each graded function's docstring (and its class's) keeps its summary and its Inputs, Returns "
              "and Raises blocks; the stub names the function and no method; helpers that do a task's core are "
              "left out",
    "guided": "docstrings keep their method notes, and each stub's message says how to compute the result",
}
DEFAULT_LEVEL = "derive"
CONTRACT_BLOCKS = ("Inputs", "Returns", "Raises")
# Helpers (module-level functions, by file) that do the core of a graded task: the derive level leaves them out
# of the release (the guided level keeps them, its hints name them), and its leak check holds their lines secret.
WITHHELD = {"helpers/nn/conv.py": ("_pool_windows", "_scatter_windows")}  # both pooling passes in one call
DERIVE_HINT = "its docstring states what it takes, returns and raises"


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

    def stub(self, indent: str, level: str = DEFAULT_LEVEL) -> str:
        message = f"{self.name} ({self.file}) is yours to write: {self.hint if level == 'guided' else DERIVE_HINT}"
        return f"{indent}raise NotImplementedError({message!r})\n"


def functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function, its classes (and enclosing functions) in the name."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield name, node
            yield from functions(node, f"{name}.")


def find_regions(file: str, text: str) -> list[Region]:
    """The solution regions of one Python file; malformed markers raise ReleaseError naming file:line."""
    lines = text.splitlines(keepends=True)
    regions, start, hint = [], None, ""
    defined = None
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
            defined = defined if defined is not None else list(functions(ast.parse(text, file)))
            inside = [(node.end_lineno - node.lineno, name) for name, node in defined
                      if node.lineno < start <= node.end_lineno]
            if not inside:
                raise ReleaseError(f"{file}:{start}: a solution region must lie inside a function")
            regions.append(Region(file, min(inside)[1], start, number, hint, tuple(lines[start:number - 1])))
            start = None
    if start is not None:
        raise ReleaseError(f"{file}:{start}: {BEGIN} is never closed by {END}")
    return regions


def indent_of(line: str) -> str:
    """The leading white space of ``line``."""
    return line[:len(line) - len(line.lstrip())]


def stub_source(text: str, regions: list[Region], passages: tuple = (), level: str = DEFAULT_LEVEL) -> str:
    """``text`` with every region replaced by its stub and every passage by its task (indented like the begin marker)."""
    lines = text.splitlines(keepends=True)
    spans = sorted([*regions, *passages], key=lambda r: r.start, reverse=True)
    for later, earlier in zip(spans, spans[1:]):
        if earlier.end >= later.start:
            raise ReleaseError(f"{later.file}:{later.start}: a solution passage and a solution region overlap")
    for span in spans:
        indent = indent_of(lines[span.start - 1])
        lines[span.start - 1:span.end] = [span.stub(indent, level) if isinstance(span, Region) else span.text(indent)]
    return "".join(lines)


@dataclass(frozen=True)
class TextRegion:
    """One solution passage: lines ``start``..``end`` (1-based, markers included) of ``file``.

    Line numbers count the lines of a Python or Markdown file, or of a notebook's cells one after
    the other (see :func:`text_lines`).
    """

    file: str
    start: int
    end: int
    task: str
    lines: tuple[str, ...]

    def text(self, indent: str) -> str:
        """What the release says instead: the task, wrapped at TASK_WIDTH columns."""
        return textwrap.fill(self.task, TASK_WIDTH, initial_indent=indent, subsequent_indent=indent) + "\n"


def find_text_regions(file: str, lines: list[str], offset: int = 0) -> list[TextRegion]:
    """The solution passages among ``lines`` (numbered from ``offset + 1``); malformed markers raise ReleaseError."""
    regions, start, task = [], None, ""
    for number, line in enumerate(lines, start=offset + 1):
        marker = text_marker(line)
        if marker is None:
            continue
        if marker[0] == "begin":
            if start is not None:
                raise ReleaseError(f"{file}:{number}: {TEXT_BEGIN} inside the passage opened at line {start}")
            start, task = number, marker[1]
            if not task:
                raise ReleaseError(f"{file}:{number}: write what the student must find after '{TEXT_BEGIN}:'")
        elif start is None:
            raise ReleaseError(f"{file}:{number}: {TEXT_END} without {TEXT_BEGIN}")
        else:
            regions.append(TextRegion(file, start, number, task, tuple(lines[start - offset:number - offset - 1])))
            start = None
    if start is not None:
        raise ReleaseError(f"{file}:{start}: {TEXT_BEGIN} is never closed by {TEXT_END}")
    return regions


def _cells(notebook: dict):
    """(cell, its source lines, the number of lines before it) for every cell of a notebook."""
    offset = 0
    for cell in notebook.get("cells", []):
        lines = "".join(cell.get("source", "")).splitlines(keepends=True)
        yield cell, lines, offset
        offset += len(lines)


def text_lines(file: str, text: str) -> list[str]:
    """The lines a passage's numbers count: a file's, or for a notebook its cells' lines one after the other."""
    if file.endswith(".ipynb"):
        return [line for _, lines, _ in _cells(json.loads(text)) for line in lines]
    return text.splitlines(keepends=True)


def find_passages(file: str, text: str) -> list[TextRegion]:
    """The solution passages of a Python or Markdown file, or of a notebook's Markdown cells."""
    if not file.endswith(".ipynb"):
        return find_text_regions(file, text.splitlines(keepends=True))
    return [region for cell, lines, offset in _cells(json.loads(text)) if cell.get("cell_type") == "markdown"
            for region in find_text_regions(file, lines, offset)]


def strip_notebook(text: str, regions: list[TextRegion]) -> str:
    """A notebook's JSON with each passage replaced by its task (nbformat's layout kept)."""
    notebook = json.loads(text)
    for cell, lines, offset in _cells(notebook):
        own = [replace(r, start=r.start - offset, end=r.end - offset) for r in regions
               if offset < r.start <= offset + len(lines)]
        if own:
            cell["source"] = stub_source("".join(lines), [], own).rstrip("\n").splitlines(keepends=True)
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def tracked_files(repo: Path = REPO) -> list[str]:
    """The files git knows (tracked, or new and not ignored), as repository-relative POSIX paths."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return sorted(name for name in listed if (repo / name).is_file())


def released_files(repo: Path = REPO) -> list[str]:
    """What a release copies: the tracked files on the allow-list (instructor/manifest.py)."""
    return [name for name in tracked_files(repo) if manifest.ships(name)]


def python_sources(repo: Path = REPO) -> dict[str, str]:
    """The text of every released Python file, by repository-relative path."""
    return {name: (repo / name).read_text(encoding="utf-8") for name in released_files(repo) if name.endswith(".py")}


def marked_sources(repo: Path = REPO, files: list[str] | None = None) -> dict[str, str]:
    """The text of every released file (``files``: :func:`released_files` when None) that may hold solution
    markers (Python, Markdown, notebooks)."""
    return {name: (repo / name).read_text(encoding="utf-8") for name in (released_files(repo) if files is None else files)
            if name.endswith(TEXT_SUFFIXES)}


def _text_lines(file: Path) -> list[str]:
    """Stripped lines of a text file; for a notebook, of its cells' sources."""
    try:
        return [line.strip() for line in text_lines(file.name, file.read_text(encoding="utf-8"))]
    except (UnicodeDecodeError, OSError, ValueError):
        return []


def _says_something(line: str) -> bool:
    return sum(character.isalnum() for character in line) >= MIN_LEAK_LETTERS


def leaks(release: Path, regions: list, solution_files: dict[str, list[str]]) -> list[str]:
    """``file:line`` of every release line that contains solution text (or is a marker).

    Solution text: a line of some region or passage, at least MIN_LEAK_LENGTH long and with some
    letters or digits, that appears nowhere outside the regions and passages in the solution tree
    (so shared lines such as ``n = len(x)`` do not count), found as a whole line, or inside any
    line when at least MIN_SUBSTRING_LENGTH long. ``solution_files``: stripped lines by file,
    numbered as the regions are (see :func:`text_lines`).
    """
    inside = {line.strip() for region in regions for line in region.lines}
    outside = set()
    for name, lines in solution_files.items():
        spans = [(r.start, r.end) for r in regions if r.file == name]
        outside.update(line for number, line in enumerate(lines, 1) if not any(a <= number <= b for a, b in spans))
    secret = {line for line in inside - outside if len(line) >= MIN_LEAK_LENGTH and _says_something(line)}
    long_secret = [line for line in secret if len(line) >= MIN_SUBSTRING_LENGTH]
    found = []
    for file in sorted(p for p in release.rglob("*") if p.is_file()):
        for number, line in enumerate(_text_lines(file), 1):
            if line in secret or is_marker(line) or any(text in line for text in long_secret):
                found.append(f"{file.relative_to(release).as_posix()}:{number}")
    return found


def _student_readme(regions: list[Region], level: str = DEFAULT_LEVEL) -> str:
    if level == "guided":
        table = "| file | function | what it must do |\n|---|---|---|\n" + "\n".join(
            f"| `{r.file}` | `{r.name}` | {r.hint} |" for r in regions)
    else:
        table = "| file | function (its docstring states the contract) |\n|---|---|\n" + "\n".join(
            f"| `{r.file}` | `{r.name}` |" for r in regions)
    return STUDENT_README.read_text().replace("{{STUBS}}", table)


def contract_docstring(docstring: str, tasks: tuple[str, ...] = ()) -> str:
    """The contract of a (cleaned) docstring: its first paragraph, its Inputs, Returns and Raises paragraphs,
    and the paragraphs that are one of ``tasks`` (a solution passage's task: "Derive dx ...")."""
    paragraphs = [p for p in docstring.strip().split("\n\n") if p.strip()]
    tasks = {" ".join(task.split()) for task in tasks}
    kept = paragraphs[:1] + [p for p in paragraphs[1:]
                             if p.lstrip().startswith(CONTRACT_BLOCKS) or " ".join(p.split()) in tasks]
    return "\n\n".join(kept)


def derive_docstrings(text: str, functions_: list[str], tasks: tuple[str, ...] = ()) -> str:
    """``text`` with the docstrings of ``functions_`` (qualified names) and of their classes cut to their contract
    (and the ``tasks`` of their solution passages)."""
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    nodes = dict(functions(tree))
    wanted = set(functions_)
    for node in (n for n in tree.body if isinstance(n, ast.ClassDef)):  # its methods (but dunders) all graded
        methods = [f"{node.name}.{m.name}" for m in node.body if isinstance(m, ast.FunctionDef) and not m.name.startswith("__")]
        if methods and set(methods) <= wanted:
            nodes[node.name] = node
            wanted.add(node.name)
    spans = []
    for name in wanted & set(nodes):
        node = nodes[name]
        docstring = ast.get_docstring(node)
        if docstring is None:
            continue
        first = node.body[0]
        indent = " " * first.col_offset
        body = contract_docstring(docstring, tasks).splitlines()
        new = [f'{indent}"""{body[0]}\n', *(f"{indent}{line}\n" if line.strip() else "\n" for line in body[1:])]
        new[-1] = new[-1].rstrip("\n") + ('"""\n' if len(body) == 1 else f'\n{indent}"""\n')
        spans.append((first.lineno, first.end_lineno, new))
    for start, end, new in sorted(spans, reverse=True):
        lines[start - 1:end] = new
    return "".join(lines)


def withheld_spans(name: str, text: str, level: str = DEFAULT_LEVEL) -> list[Region]:
    """The helpers of :data:`WITHHELD` in file ``name`` as spans (the whole function), none at the guided level."""
    if level == "guided" or name not in WITHHELD:
        return []
    nodes = {node.name: node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}
    missing = [helper for helper in WITHHELD[name] if helper not in nodes]
    if missing:
        raise ReleaseError(f"{name}: withheld helpers {', '.join(missing)} are not defined there")
    lines = text.splitlines(keepends=True)
    return [Region(name, helper, nodes[helper].lineno, nodes[helper].end_lineno, "withheld at level derive",
                   tuple(lines[nodes[helper].lineno - 1:nodes[helper].end_lineno])) for helper in WITHHELD[name]]


def without_functions(text: str, names: tuple[str, ...]) -> str:
    """``text`` without its module-level functions ``names`` (and the blank lines after each)."""
    lines = text.splitlines(keepends=True)
    nodes = [node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef) and node.name in names]
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        start, end = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1, node.end_lineno
        while end < len(lines) and not lines[end].strip():
            end += 1
        lines[start:end] = []
    return "".join(lines)


def find_markers(texts: dict[str, str]) -> tuple[list[Region], list[TextRegion]]:
    """The solution regions (Python files) and passages (Python, Markdown, notebooks) of ``texts``."""
    regions = [region for name, text in texts.items() if name.endswith(".py") for region in find_regions(name, text)]
    passages = [passage for name, text in texts.items() for passage in find_passages(name, text)]
    return regions, passages


def student_text(name: str, text: str, regions: list[Region], passages: list[TextRegion],
                 level: str = DEFAULT_LEVEL) -> str:
    """The release's version of one marked file: its regions stubbed, its passages replaced by their tasks."""
    if name.endswith(".ipynb"):
        return strip_notebook(text, passages)
    stubbed = stub_source(text, regions, passages, level)
    if level != "guided" and regions:
        stubbed = derive_docstrings(stubbed, [r.function for r in regions], tuple(p.task for p in passages))
        stubbed = without_functions(stubbed, WITHHELD.get(name, ()))
    if name.endswith(".py"):
        compile(stubbed, name, "exec")
    return stubbed


def build(out: Path, repo: Path = REPO, student_repo: str | None = None, level: str = DEFAULT_LEVEL) -> list[Region]:
    """Write the student version of ``repo`` into ``out`` (replacing an earlier release there).

    ``student_repo``: the address the notebooks' Colab cell installs from (else the student's Drive);
    ``level``: how much the starter gives (:data:`LEVELS`).
    """
    if level not in LEVELS:
        raise ReleaseError(f"level {level!r}: choose one of {', '.join(LEVELS)}")
    out = Path(out)
    if out.exists():
        if not (out / RELEASE_MARK).exists():
            raise ReleaseError(f"{out} exists and is not a student release: choose an empty or new folder")
        shutil.rmtree(out)
    files = released_files(repo)
    texts = marked_sources(repo, files)
    regions, passages = find_markers(texts)
    if not regions:
        raise ReleaseError(f"no {BEGIN} markers found under {repo}: nothing to hand out")
    for name in files:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        own = [r for r in regions if r.file == name]
        own_passages = [p for p in passages if p.file == name]
        if own or own_passages:
            target.write_text(student_text(name, texts[name], own, own_passages, level), encoding="utf-8")
        elif manifest.matches(name, manifest.STRIPPED):
            target.write_text(manifest.strip_instructor_blocks((repo / name).read_text(encoding="utf-8")), encoding="utf-8")
        else:
            shutil.copy2(repo / name, target)
    (out / "README.md").write_text(_student_readme(regions, level), encoding="utf-8")
    (out / RELEASE_MARK).write_text("made by python -m instructor.release\n")
    try:
        withheld = [span for name, text in texts.items() for span in withheld_spans(name, text, level)]
        _finish(out, repo, student_repo, [*regions, *passages], texts, withheld)
    except ReleaseError:
        shutil.rmtree(out)
        raise
    return regions


STUB_LINT = ("F401", "F841")  # names the removed solution used: an import, or a variable of the given lines


def quiet_stub_lint(out: Path, files: list[str]) -> list[str]:
    """Mark with ``# noqa: <code>`` each line of ``files`` (stubbed, in the release ``out``) that ruff finds
    unused only because its solution is gone, so the release passes its own lint test; ``file:line code``
    of each. The names stay for the student's code to use; RUF100 in the same comment keeps the noqa silent
    once they do."""
    try:
        found = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "json",
                                "--select", ",".join(STUB_LINT), *files], cwd=out, capture_output=True, text=True)
        diagnostics = json.loads(found.stdout or "[]")
    except (OSError, ValueError) as err:
        raise ReleaseError(f"ruff (the test extra) is needed to check the stubbed files: {err}") from err
    marked = []
    for item in sorted(diagnostics, key=lambda d: (d["filename"], d["location"]["row"])):
        file = Path(item["filename"])
        lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
        row = item["location"]["row"] - 1
        line = lines[row].rstrip("\n")
        codes = f"{item['code']}, RUF100"  # RUF100: once the student's code uses the name, the noqa is not an error
        lines[row] = (line.replace("# noqa: ", f"# noqa: {codes}, ") if "# noqa: " in line
                      else f"{line}  # noqa: {codes} (the solution's; yours to use or remove)") + "\n"
        file.write_text("".join(lines), encoding="utf-8")
        marked.append(f"{file.relative_to(out.resolve()).as_posix()}:{row + 1} {item['code']}")
    return marked


def _finish(out: Path, repo: Path, student_repo: str | None, markers: list, texts: dict[str, str],
            withheld: list[Region] = ()) -> None:
    """Point the written release's Colab cells at ``student_repo``; refuse it if it names the instructor's
    repository or holds solution text (or the text of a ``withheld`` helper)."""
    quiet_stub_lint(out, sorted({m.file for m in markers if isinstance(m, Region)}))
    try:
        addresses.retarget(out, student_repo, repo)
    except ValueError as err:
        raise ReleaseError(str(err)) from err
    named = addresses.address_leaks(out, repo)
    if named:
        raise ReleaseError(f"the release would name the instructor's repository at {', '.join(named[:10])}: "
                           "nothing was written")
    solution_lines = {name: [line.strip() for line in text_lines(name, text)] for name, text in texts.items()}
    found = leaks(out, [*markers, *withheld], solution_lines)
    if found:
        raise ReleaseError(f"the release would contain solution text at {', '.join(found[:10])}: nothing was written")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "release")
    parser.add_argument("--level", choices=list(LEVELS), default=DEFAULT_LEVEL,
                        help="how much the starter gives: " + "; ".join(f"{k}: {v}" for k, v in LEVELS.items()))
    parser.add_argument("--student-repo", default=None,
                        help="address the Colab cells clone and install (default: the student's Google Drive copy)")
    args = parser.parse_args()
    try:
        regions = build(args.out, student_repo=args.student_repo or None, level=args.level)
    except ReleaseError as err:
        print(f"release: {err}", file=sys.stderr)
        return 1
    files = sorted({r.file for r in regions})
    print(f"{args.out}: {len(regions)} functions stubbed in {len(files)} files at level {args.level}; "
          "no solution text found in the release")
    for region in regions:
        print(f"  {region.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
