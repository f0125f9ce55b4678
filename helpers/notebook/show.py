"""Show the library's own code in a notebook, right after the equations it implements."""

import inspect
import textwrap
from pathlib import Path

from IPython.display import Code

from helpers.core import config

# nbgrader-style markers around the parts a student writes (see instructor/release.py): code, and
# passages of text (docstrings, notebook markdown) stating what a student derives; not shown
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
TEXT_BEGIN, TEXT_END = "BEGIN SOLUTION TEXT", "END SOLUTION TEXT"


def _unwrapped(line: str) -> str:
    return line.strip().removeprefix("<!--").removesuffix("-->").strip()


def text_marker(line: str) -> tuple[str, str] | None:
    """``("begin", task)`` or ``("end", "")`` for a text marker line (bare or in an HTML comment), else None."""
    stripped = _unwrapped(line)
    if stripped.startswith(TEXT_BEGIN):
        return "begin", stripped[len(TEXT_BEGIN):].lstrip(" :").strip()
    return ("end", "") if stripped == TEXT_END else None


def is_marker(line):
    """Whether ``line`` is a code or text solution marker (a text marker may sit in an HTML comment)."""
    return _unwrapped(line).startswith((SOLUTION_BEGIN, SOLUTION_END)) or text_marker(line) is not None


def source(*objects):
    """The live source of functions, classes or methods, as highlighted Python (``IPython.display.Code``).

    Each piece is headed by the file and line it comes from, so a reader can find it in ``helpers/``;
    solution markers (code and text) are left out.
    """
    pieces = []
    for obj in objects:
        lines, start = inspect.getsourcelines(obj)
        where = Path(inspect.getsourcefile(obj)).resolve()
        where = where.relative_to(config.REPO_ROOT) if where.is_relative_to(config.REPO_ROOT) else where
        lines = [line for line in lines if not is_marker(line)]
        pieces.append(f"# {where}, line {start}: {obj.__qualname__}\n" + textwrap.dedent("".join(lines)).rstrip())
    return Code("\n\n\n".join(pieces), language="python")
