"""Similarity across a class's submissions, per graded function and per whole file, read as text only.

A submission's source is never imported or run here: its graded files (those of ``helpers/`` with
solution regions) are read from its archive and parsed with :mod:`ast` or tokenised. Two kinds of
fingerprints are taken per submission:

- per graded function (``nn.layers.relu_backward``): the function's AST, normalised: docstrings,
  ``pass``, bare constants, code after ``return``/``raise``, ``if``/``while`` on a constant and
  assignments to names never read are dropped (inserted dead code), local names become ``v0, v1, ...``
  in order of first use (renamed variables); comments and formatting are not in the AST, and each
  function is found by name wherever it lies in its file (reordered functions). Its pre-order
  tokens give k-grams of ``FUNCTION_K`` tokens;
- per whole file: copydetect's tokeniser (names, strings filtered) and winnowing, with this
  process's stable hash in place of Python's salted one, so that fingerprints can be cached.

The release's own code (each stub function with the checks before its stub, each released file) is
fingerprinted the same way and subtracted, so stubs and shared helpers make no two students similar.
Two submissions share ``shared`` function k-grams out of ``base`` = the sum over functions of the
smaller of their two counts; they are flagged when ``shared / base >= THRESHOLD`` and
``shared >= MIN_SHARED`` (short textbook functions written alike by chance do not add up to that).
All pairs come from one sparse matrix product; :func:`compare` reuses the pairs of an earlier run
and recomputes only the rows of new or changed submissions.
"""
from __future__ import annotations

import ast
import hashlib
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from grading.grader import REPO

FUNCTION_K = 12  # tokens per k-gram of a function (about five AST nodes)
FILE_K, FILE_WINDOW = 25, 6  # copydetect's noise threshold (25 characters); a guarantee threshold of 30
THRESHOLD = 0.6  # share of the smaller submission's function k-grams found in the other
MIN_SHARED = 40  # and at least this many k-grams in common
FUNCTION_SHOWN = 0.5  # a function's own share from which its two versions are shown side by side
MAX_FILE_BYTES = 1 << 20  # a larger graded file is not read
SOURCE_PREFIX = "source/"  # where a submission archive keeps the student's copy


@dataclass(frozen=True)
class Unit:
    """A graded function: its name in the gradebook, its file and its qualified name in the file."""

    name: str
    file: str
    qualname: str


@lru_cache(maxsize=1)
def release_code(repo: Path = REPO) -> tuple[tuple[Unit, ...], dict[str, str]]:
    """``(graded functions, {file: the release's text})`` of the files with solution regions."""
    from instructor import release

    texts = {name: (repo / name).read_text(encoding="utf-8") for name in release.released_files(repo)
             if name.startswith("helpers/") and name.endswith(".py")}
    regions, passages = release.find_markers(texts)
    files = sorted({region.file for region in regions})
    stubbed = {name: release.student_text(name, texts[name], [r for r in regions if r.file == name],
                                          [p for p in passages if p.file == name]) for name in files}
    return tuple(Unit(r.name, r.file, r.function) for r in regions), stubbed


def read_sources(archive: Path, files) -> dict[str, str]:
    """The text of each of ``files`` (``helpers/...``) in a submission archive, as far as it is there and readable."""
    texts = {}
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in files:
                try:
                    info = zf.getinfo(SOURCE_PREFIX + name)
                    if info.file_size <= MAX_FILE_BYTES:
                        texts[name] = zf.read(info).decode("utf-8")
                except (KeyError, UnicodeDecodeError, zipfile.BadZipFile, ValueError):
                    continue
    except (OSError, zipfile.BadZipFile):
        pass
    return texts


def _prune(body: list) -> list:
    """A block less what does nothing: ``pass``, bare constants (docstrings), code after a jump, ``if``/``while``
    on a constant (the branch that runs is kept)."""
    kept = []
    for statement in body:
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(statement, field, None), list):
                setattr(statement, field, _prune(getattr(statement, field)))
        for handler in getattr(statement, "handlers", []):
            handler.body = _prune(handler.body)
        if isinstance(statement, ast.Pass) or (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)):
            continue
        if isinstance(statement, ast.If | ast.While) and isinstance(statement.test, ast.Constant):
            if isinstance(statement, ast.If):
                kept += statement.body if statement.test.value else statement.orelse
            elif statement.test.value:
                kept.append(statement)
            continue
        kept.append(statement)
        if isinstance(statement, ast.Return | ast.Raise | ast.Break | ast.Continue):
            break
    return kept


def _unused(statement, read: set[str]) -> bool:
    """Whether ``statement`` only binds names nothing reads."""
    if isinstance(statement, ast.FunctionDef | ast.ClassDef):
        return statement.name not in read
    if not isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
        return False
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    nodes = [node for target in targets for node in ast.walk(target) if not isinstance(node, ast.expr_context)]
    return all(isinstance(node, ast.Name | ast.Tuple | ast.List) for node in nodes) and not any(
        isinstance(node, ast.Name) and node.id in read for node in nodes)


def _drop_unused(function: ast.AST) -> None:
    """Remove, until none is left, the assignments and definitions whose names are never read."""
    while True:
        read = {node.id for node in ast.walk(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        dropped = False
        for node in ast.walk(function):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(node, field, None)
                if isinstance(block, list):
                    kept = [statement for statement in block if not _unused(statement, read)]
                    dropped |= len(kept) < len(block)
                    setattr(node, field, kept)
        if not dropped:
            return


def _preorder(node: ast.AST):
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _preorder(child)


def tokens(function: ast.AST) -> list[str]:
    """The normalised function's tokens: node types, local names as ``v<n>`` by first use, other names,
    attributes, numbers (strings as ``S``)."""
    function.body = _prune(function.body)
    _drop_unused(function)
    local = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)} | {
        node.id for node in ast.walk(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    order: dict[str, int] = {}
    out = []
    for node in _preorder(function):
        if isinstance(node, ast.expr_context):
            continue
        out.append(type(node).__name__)
        name = node.id if isinstance(node, ast.Name) else node.arg if isinstance(node, ast.arg) else None
        if name is not None:
            out.append(f"v{order.setdefault(name, len(order))}" if name in local else name)
        elif isinstance(node, ast.Attribute):
            out.append("." + node.attr)
        elif isinstance(node, ast.Constant):
            out.append("S" if isinstance(node.value, str | bytes) else repr(node.value))
        elif isinstance(node, ast.keyword):
            out.append(f"{node.arg}=")
    return out


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little", signed=True)


def kgrams(items: list[str], k: int) -> set[int]:
    """Stable hashes of the k-grams of ``items`` (one of the whole when shorter)."""
    if not items:
        return set()
    return {_hash("\x1f".join(items[i:i + k])) for i in range(max(1, len(items) - k + 1))}


def function_prints(texts: dict[str, str], units) -> dict[str, set[int]]:
    """``{graded function: its k-grams}`` of a submission's texts (functions it lacks or that do not parse: absent)."""
    from instructor.release import functions

    prints = {}
    for file in sorted({unit.file for unit in units}):
        try:
            defined = dict(functions(ast.parse(texts[file])))
        except (KeyError, SyntaxError, ValueError, RecursionError):
            continue
        for unit in (u for u in units if u.file == file and u.qualname in defined):
            prints[unit.name] = kgrams(tokens(defined[unit.qualname]), FUNCTION_K)
    return prints


def _chunks(text: str) -> list[str]:
    """The source of each top-level statement of ``text`` (decorators included); the whole text when it does not parse."""
    try:
        body = ast.parse(text).body
    except (SyntaxError, ValueError, RecursionError):
        return [text]
    lines = text.splitlines(keepends=True)
    starts = [min([node.lineno, *[d.lineno for d in getattr(node, "decorator_list", [])]]) for node in body]
    return ["".join(lines[start - 1:node.end_lineno]) for start, node in zip(starts, body)]


@lru_cache(maxsize=64)
def _released_chunks(text: str) -> frozenset[str]:
    return frozenset(_chunks(text))


def _char_kgrams(text: str, k: int) -> np.ndarray:
    """A polynomial hash of every k characters of ``text`` (numpy, wrapping uint64), as int64."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < k:
        return np.zeros(0, dtype=np.int64)
    powers = np.uint64(1_000_003) ** np.arange(k - 1, -1, -1, dtype=np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(codes, k)
    return (windows * powers).sum(axis=1, dtype=np.uint64).view(np.int64)


def file_prints(texts: dict[str, str], release_texts: dict[str, str] | None = None) -> dict[str, set[int]]:
    """``{file: copydetect's winnowed fingerprints}`` of each text (names and strings filtered by copydetect's
    tokeniser). Top-level statements found verbatim in ``release_texts`` are left out before tokenising (they
    are the release's: only time is saved)."""
    from copydetect.utils import filter_code, winnow

    prints = {}
    for file, text in texts.items():
        released = _released_chunks(release_texts[file]) if release_texts and file in release_texts else frozenset()
        own = "\n".join(chunk for chunk in _chunks(text) if chunk not in released)
        hashes = _char_kgrams(filter_code(own, file, "python")[0], FILE_K)
        prints[file] = {int(h) for h in winnow(hashes, FILE_WINDOW)[0]} if len(hashes) else set()
    return prints


def fingerprints(texts: dict[str, str], repo: Path = REPO) -> dict[str, dict[str, list[int]]]:
    """A submission's fingerprints less the release's: ``{"functions": {name: [...]}, "files": {file: [...]}}``."""
    units, release_texts = release_code(repo)
    base_functions, base_files = _release_prints(repo)
    texts = {file: texts[file] for file in release_texts if file in texts}
    functions = {name: sorted(hashes - base_functions.get(name, set()))
                 for name, hashes in function_prints(texts, units).items()}
    files = {file: sorted(hashes - base_files.get(file, set()))
             for file, hashes in file_prints(texts, release_texts).items()}
    return {"functions": {k: v for k, v in functions.items() if v}, "files": {k: v for k, v in files.items() if v}}


@lru_cache(maxsize=1)
def _release_prints(repo: Path = REPO):
    units, release_texts = release_code(repo)
    return function_prints(release_texts, units), file_prints(release_texts)


def _matrix(prints: list[dict], kind: str):
    """``(X, sizes)``: a sparse 0/1 matrix of submissions by (unit, fingerprint), and each unit's count per submission."""
    from scipy import sparse

    units = sorted({unit for p in prints for unit in p[kind]})
    unit_index = {unit: i for i, unit in enumerate(units)}
    columns: dict[tuple[int, int], int] = {}
    rows, cols = [], []
    sizes = np.zeros((len(prints), max(1, len(units))), dtype=np.int32)
    for row, p in enumerate(prints):
        for unit, hashes in p[kind].items():
            sizes[row, unit_index[unit]] = len(hashes)
            for value in hashes:
                rows.append(row)
                cols.append(columns.setdefault((unit_index[unit], value), len(columns)))
    data = np.ones(len(rows), dtype=np.int32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(prints), max(1, len(columns)))), sizes


def _pairs_of_rows(rows: np.ndarray, X, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(shared, base)`` of the submissions ``rows`` against every submission."""
    shared = (X[rows] @ X.T).toarray().astype(np.int32)
    base = np.zeros_like(shared)
    for unit in range(sizes.shape[1]):
        base += np.minimum.outer(sizes[rows, unit], sizes[:, unit])
    return shared, base


def compare(prints: list[dict], keys: list[str], earlier: dict | None = None) -> dict[str, np.ndarray]:
    """All pairs: ``{"keys", "shared", "base", "file_shared", "file_base"}`` (n x n matrices) of ``prints``
    (one per submission, named by ``keys``: the archives' digests). ``earlier``: such a result of an earlier
    run, whose pairs between unchanged submissions are kept; only the rows of the others are computed."""
    n = len(prints)
    old = {key: i for i, key in enumerate(earlier["keys"])} if earlier else {}
    kept = [i for i, key in enumerate(keys) if key in old]
    fresh = np.array([i for i, key in enumerate(keys) if key not in old], dtype=np.int64)
    result = {"keys": np.array(keys)}
    for kind, prefix in (("functions", ""), ("files", "file_")):
        X, sizes = _matrix(prints, kind)
        for name in ("shared", "base"):
            result[prefix + name] = np.zeros((n, n), dtype=np.int32)
        if kept:
            where = np.ix_(kept, kept)
            before = [old[keys[i]] for i in kept]
            for name in ("shared", "base"):
                result[prefix + name][where] = earlier[prefix + name][np.ix_(before, before)]
        if len(fresh):
            shared, base = _pairs_of_rows(fresh, X, sizes)
            for name, values in (("shared", shared), ("base", base)):
                result[prefix + name][fresh, :] = values
                result[prefix + name][:, fresh] = values.T
    return result


def scores(pairs: dict[str, np.ndarray], prefix: str = "") -> np.ndarray:
    """``shared / base`` per pair (0 where the two have no function or file in common; 0 on the diagonal)."""
    shared, base = pairs[prefix + "shared"].astype(float), pairs[prefix + "base"]
    score = np.divide(shared, base, out=np.zeros_like(shared), where=base > 0)
    np.fill_diagonal(score, 0.0)
    return score


def flagged(pairs: dict[str, np.ndarray]) -> list[tuple[int, int]]:
    """The pairs ``(i, j)``, ``i < j``, judged similar: share >= THRESHOLD and at least MIN_SHARED k-grams."""
    score = scores(pairs)
    hits = (score >= THRESHOLD) & (pairs["shared"] >= MIN_SHARED)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(hits, 1)))]


def function_shares(a: dict, b: dict) -> dict[str, tuple[float, int]]:
    """Per graded function both wrote: ``(share of the smaller's k-grams found in the other, k-grams shared)``."""
    out = {}
    for name in sorted(set(a["functions"]) & set(b["functions"])):
        x, y = set(a["functions"][name]), set(b["functions"][name])
        out[name] = (len(x & y) / min(len(x), len(y)), len(x & y))
    return out


CACHE = "similarity"  # the folder beside the gradebook with the fingerprints and pairs of the last run
MAX_PASSAGES = 12  # functions shown side by side per flagged pair


def _source_of(texts: dict[str, str], unit: Unit) -> str:
    from instructor.release import functions

    try:
        node = dict(functions(ast.parse(texts[unit.file]))).get(unit.qualname)
    except (KeyError, SyntaxError, ValueError, RecursionError):
        return ""
    return "" if node is None else "".join(texts[unit.file].splitlines(keepends=True)[node.lineno - 1:node.end_lineno])


def passages(a: Path, b: Path, shares: dict[str, tuple[float, int]]) -> list[dict]:
    """The two versions of each function the archives ``a`` and ``b`` share most of, side by side."""
    units = {unit.name: unit for unit in release_code()[0]}
    shown = sorted((name for name, (share, _) in shares.items() if share >= FUNCTION_SHOWN),
                   key=lambda name: -shares[name][1])[:MAX_PASSAGES]
    files = {units[name].file for name in shown}
    texts_a, texts_b = read_sources(a, files), read_sources(b, files)
    return [{"function": name, "share": shares[name][0], "shared": shares[name][1],
             "a": _source_of(texts_a, units[name]), "b": _source_of(texts_b, units[name])} for name in shown]


def _load_cache(folder: Path) -> tuple[dict, dict | None]:
    import json

    try:
        prints = json.loads((folder / "fingerprints.json").read_text())
        with np.load(folder / "pairs.npz") as stored:
            earlier = {name: stored[name] for name in stored.files}
        return prints, earlier
    except (OSError, ValueError, KeyError):
        return {}, None


def update(records: list[dict], archives: Path, out: Path) -> dict:
    """Similarity of the graded ``records`` (their archives in ``archives``), reusing ``out/similarity/``'s cache.

    Returns ``{"students", "scores", "file_scores", "pairs"}`` (pairs: the flagged ones, with their functions'
    shares and passages) and sets each record's ``similar_to``."""
    import json

    folder = Path(out) / CACHE
    cached, earlier = _load_cache(folder)
    graded = [r for r in records if r["status"] == "graded"]
    files = release_code()[1]
    prints = {r["sha256"]: cached.get(r["sha256"]) or fingerprints(read_sources(Path(archives) / r["archive"], files))
              for r in graded}
    keys = [r["sha256"] for r in graded]
    pairs = compare([prints[key] for key in keys], keys, earlier)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fingerprints.json").write_text(json.dumps(prints))
    np.savez(folder / "pairs.npz", **pairs)
    score, file_score = scores(pairs), scores(pairs, "file_")
    found = []
    for i, j in flagged(pairs):
        a, b = graded[i], graded[j]
        shares = function_shares(prints[a["sha256"]], prints[b["sha256"]])
        found.append({"a": a["student"], "b": b["student"], "score": float(score[i, j]), "shared": int(pairs["shared"][i, j]),
                      "file_score": float(file_score[i, j]), "functions": shares,
                      "passages": passages(Path(archives) / a["archive"], Path(archives) / b["archive"], shares)})
    for record in records:
        record["similar_to"] = sorted({p["b"] for p in found if p["a"] == record["student"]} |
                                      {p["a"] for p in found if p["b"] == record["student"]})
    return {"students": [r["student"] for r in graded], "scores": score, "file_scores": file_score, "pairs": found}
