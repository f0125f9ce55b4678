"""A class for measuring similarity detection: independent submissions and planted, disguised copies.

Independent authors: the solution (``helpers/``), ``instructor/plain/``, and the authors of
``tests/data/similarity/`` (``loops``, ``einsum``, ``sloppy``: partly wrong), each filling the
release's stubs it wrote (the others stay stubs), plus two students who hand in the release
untouched. Planted copies: every author's code under each disguise (:data:`DISGUISES`: renamed
variables, reordered functions, changed comments and formatting, inserted dead code, all four),
and a copy of ``plain`` renamed with two mistakes put in. A submission is ``{file: text}`` of the
graded files; :func:`origin` names whose code a submission is.

    python tests/similarity_class.py --out DIR   # DIR/*.zip, one archive per student, and DIR/roster.csv
"""
from __future__ import annotations

import ast
import io
import itertools
import shutil
import sys
import tokenize
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from grading import similarity
from helpers.core.config import REPO_ROOT as REPO
from instructor import plain_copy, release

AUTHORS = REPO / "tests" / "data" / "similarity"
INDEPENDENT = ("solution", "plain", "loops", "einsum", "sloppy")
UNTOUCHED = ("release_a", "release_b")  # two students who hand in nothing of their own


def _regions() -> list[release.Region]:
    texts = {unit.file: (REPO / unit.file).read_text(encoding="utf-8") for unit in similarity.release_code()[0]}
    return release.find_markers(texts)[0]


def authored(folder: Path | None) -> dict[str, str]:
    """The release's graded files with each stub whose function ``folder`` (plain's layout) has replaced by it;
    ``None``: the solution itself."""
    units, release_texts = similarity.release_code()
    if folder is None:
        return {file: (REPO / file).read_text(encoding="utf-8") for file in release_texts}
    texts = {}
    for file, text in release_texts.items():
        own = folder / Path(file).relative_to("helpers")
        bodies = plain_copy.plain_bodies(own) if own.is_file() else {}
        lines = text.splitlines(keepends=True)
        for region in (r for r in _regions() if r.file == file and r.function in bodies):
            [index] = [i for i, line in enumerate(lines) if line.strip() == region.stub("").strip()]
            lines[index] = "".join(release.indent_of(lines[index]) + line if line.strip() else line
                                   for line in bodies[region.function].splitlines(keepends=True))
        texts[file] = "".join(lines)
    return texts


def _functions(tree: ast.AST, file: str) -> list[ast.FunctionDef]:
    """The graded functions of ``file`` defined in ``tree`` (and written: no stub left)."""
    defined = dict(release.functions(tree))
    wanted = [unit.qualname for unit in similarity.release_code()[0] if unit.file == file]
    return [defined[name] for name in wanted if name in defined
            and "NotImplementedError" not in ast.unparse(defined[name])]


def rename(text: str, file: str) -> str:
    """Every local name and argument of the written graded functions renamed (comments and layout kept)."""
    tree = ast.parse(text)
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    edits = []
    for number, function in enumerate(_functions(tree, file)):
        names = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)} - {"self"}
        names |= {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        new = {name: f"{'abcdefgh'[i % 8]}{number}_{i}" for i, name in enumerate(sorted(names))}
        edits += [(tok.start, tok.string, new[tok.string]) for previous, tok in zip(tokens, tokens[1:])
                  if tok.type == tokenize.NAME and tok.string in new and previous.string != "."
                  and function.lineno <= tok.start[0] <= function.end_lineno]
    lines = text.splitlines(keepends=True)
    for (row, column), old, replacement in sorted(edits, reverse=True):
        lines[row - 1] = lines[row - 1][:column] + replacement + lines[row - 1][column + len(old):]
    return "".join(lines)


def reorder(text: str, file: str) -> str:
    """Each run of consecutive top-level functions in reverse order."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)

    def span(node):
        return min([node.lineno, *[d.lineno for d in node.decorator_list]]) - 1, node.end_lineno

    out, cursor = [], 0
    for is_function, group in itertools.groupby(tree.body, key=lambda n: isinstance(n, ast.FunctionDef)):
        group = list(group)
        if not is_function or len(group) < 2:
            continue
        spans = [span(node) for node in group]
        out.append("".join(lines[cursor:spans[0][0]]))
        out.append("\n\n".join("".join(lines[a:b]).rstrip("\n") + "\n" for a, b in reversed(spans)))
        cursor = spans[-1][1]
    return "".join(out) + "".join(lines[cursor:])


def reformat(text: str, file: str) -> str:
    """Comments and docstrings of the graded functions replaced by others, the whole file laid out anew (ast.unparse)."""
    tree = ast.parse(text)
    for function in _functions(tree, file):
        body = function.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and len(body) > 1:
            function.body = body[1:]
    lines = []
    for line in ast.unparse(tree).splitlines():
        if line.lstrip().startswith("def "):
            lines.append(line[:len(line) - len(line.lstrip())] + "# my own work, see the lecture notes")
        lines.append(line)
    return "\n".join(lines) + "\n"


def dead_code(text: str, file: str) -> str:
    """Code that never runs or whose result is never used, put at the start of every written graded function,
    and an unused helper at the end of the file."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    for number, function in sorted(enumerate(_functions(tree, file)), key=lambda f: -f[1].lineno):
        body = function.body
        first = body[1] if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else body[0]
        indent = release.indent_of(lines[first.lineno - 1])
        block = [f"debug_{number} = []\n", "if False:\n", f"    debug_{number}.append({number})\n",
                 f"scratch = {number} * 2 + 1\n", "pass\n"]
        lines[first.lineno - 1:first.lineno - 1] = [indent + line for line in block]
    return "".join(lines) + "\n\ndef _unused_helper(value):\n    return value * 2 + 1\n"


def combined(text: str, file: str) -> str:
    return reformat(reorder(dead_code(rename(text, file), file), file), file)


DISGUISES = {"renamed": rename, "reordered": reorder, "reformatted": reformat, "dead_code": dead_code,
             "all_four": combined}


def with_mistakes(texts: dict[str, str]) -> dict[str, str]:
    """Two mistakes put in: a sum that becomes a mean, a sign that flips."""
    out = dict(texts)
    layers, losses = "helpers/nn/layers.py", "helpers/nn/losses.py"
    out[layers] = out[layers].replace("np.sum(dout, axis=0)", "np.mean(dout, axis=0)", 1)
    out[losses] = out[losses].replace("dlogits[np.arange(n), y] -= 1", "dlogits[np.arange(n), y] += 1", 1)
    return out


def disguise(texts: dict[str, str], how) -> dict[str, str]:
    return {file: how(text, file) for file, text in texts.items()}


def build_class() -> dict[str, dict[str, str]]:
    """``{student: {graded file: text}}``: 7 independent submissions, 25 disguised copies, 1 copy with mistakes."""
    own = {"solution": authored(None), "plain": authored(plain_copy.PLAIN),
           **{name: authored(AUTHORS / name) for name in INDEPENDENT[2:]}}
    students = {**own, **{name: authored(AUTHORS / "none") for name in UNTOUCHED}}
    for author, texts in own.items():
        for name, how in DISGUISES.items():
            students[f"{author}__{name}"] = disguise(texts, how)
    students["plain__renamed_with_mistakes"] = with_mistakes(disguise(own["plain"], rename))
    return students


def origin(student: str) -> str:
    """Whose code a student of :func:`build_class` handed in (the untouched releases: each their own)."""
    return student.split("__")[0]


def write_archives(students: dict[str, dict[str, str]], out: Path) -> list[Path]:
    """One source-only submission archive per student (the release with the student's graded files), and roster.csv."""
    from test_grade_all import pack_source

    out.mkdir(parents=True, exist_ok=True)
    copy = out / ".build"
    release.build(copy / "release")
    archives = []
    for student, texts in students.items():
        for file, text in texts.items():
            (copy / "release" / file).write_text(text, encoding="utf-8")
        archives.append(pack_source(copy / "release", out / f"{student}.zip"))
    shutil.rmtree(copy)
    roster = ["archive,student_id,name"] + [f"{student}.zip,s{number:04d},{student.replace('_', ' ').title()}"
                                            for number, student in enumerate(students)]
    (out / "roster.csv").write_text("\n".join(roster) + "\n")
    return archives


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(REPO / "tests"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(f"{len(write_archives(build_class(), args.out))} archives and roster.csv in {args.out}")
