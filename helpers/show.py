"""Show the library's own code in a notebook, right after the equations it implements."""

import inspect
import textwrap
from pathlib import Path

from IPython.display import Code

from helpers import config


def source(*objects):
    """The live source of functions, classes or methods, as highlighted Python (``IPython.display.Code``).

    Each piece is headed by the file and line it comes from, so a reader can find it in ``helpers/``.
    """
    pieces = []
    for obj in objects:
        lines, start = inspect.getsourcelines(obj)
        where = Path(inspect.getsourcefile(obj)).resolve()
        where = where.relative_to(config.REPO_ROOT) if where.is_relative_to(config.REPO_ROOT) else where
        pieces.append(f"# {where}, line {start}: {obj.__qualname__}\n" + textwrap.dedent("".join(lines)).rstrip())
    return Code("\n\n\n".join(pieces), language="python")
