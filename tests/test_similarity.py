"""Similarity across a class (grading/similarity.py) on sources only: nothing is graded or imported.

The class of tests/similarity_class.py: 7 independent submissions, 26 planted copies under each
disguise; every planted pair must be found and no independent pair flagged.
"""
import ast
import itertools
import sys
import zipfile

import numpy as np
import pytest

from grading import similarity
from helpers.core import config

sys.path.insert(0, str(config.REPO_ROOT / "tests"))
import similarity_class


@pytest.fixture(scope="module")
def klass():
    students = similarity_class.build_class()
    names = list(students)
    prints = [similarity.fingerprints(students[name]) for name in names]
    return names, students, prints, similarity.compare(prints, names)


def test_the_class_has_thirty_submissions_and_every_disguise(klass):
    names, students, _, _ = klass
    assert len(names) >= 30 and len({similarity_class.origin(n) for n in names}) == 7
    for texts in students.values():
        for text in texts.values():
            ast.parse(text)  # every disguise is still Python
    assert students["solution__renamed"] != students["solution"]


def test_every_planted_pair_is_found_and_no_independent_pair(klass):
    names, _, _, pairs = klass
    flagged = set(similarity.flagged(pairs))
    for i, j in itertools.combinations(range(len(names)), 2):
        planted = similarity_class.origin(names[i]) == similarity_class.origin(names[j])
        assert ((i, j) in flagged) == planted, (names[i], names[j], similarity.scores(pairs)[i, j])


def test_the_release_stubs_make_no_one_similar(klass):
    names, _, prints, pairs = klass
    untouched = names.index("release_a")
    assert prints[untouched] == {"functions": {}, "files": {}}
    assert similarity.scores(pairs)[untouched].max() == 0


def test_normalising_drops_dead_code_and_names():
    one = "def f(x, y):\n    s = x + y\n    return s * 2\n"
    two = ("def f(a, b):\n    '''doc'''\n    unused = [1]\n    if False:\n        a = 0\n    total = a + b  # sum\n"
           "    pass\n    return total * 2\n    print('never')\n")
    tokens = [similarity.tokens(ast.parse(text).body[0]) for text in (one, two)]
    assert tokens[0] == tokens[1]


def test_a_rerun_recomputes_only_the_changed_rows(klass):
    names, _, prints, pairs = klass
    changed = list(names)
    changed[3] = "new"
    again = similarity.compare(prints, changed, pairs)
    assert np.array_equal(again["shared"], pairs["shared"]) and np.array_equal(again["file_base"], pairs["file_base"])
    stale = {**pairs, "shared": pairs["shared"] + 1000}  # kept rows are not recomputed: their stale values stay
    again = similarity.compare(prints, changed, stale)
    assert again["shared"][0, 1] == pairs["shared"][0, 1] + 1000 and again["shared"][3, 1] == pairs["shared"][3, 1]


def test_update_reads_archives_flags_records_and_shows_passages(klass, tmp_path):
    _, students, _, _ = klass
    chosen = ["plain", "plain__all_four", "loops"]
    records = []
    for name in chosen:
        with zipfile.ZipFile(tmp_path / f"{name}.zip", "w") as zf:
            for file, text in students[name].items():
                zf.writestr(similarity.SOURCE_PREFIX + file, text)
        records.append({"student": name, "archive": f"{name}.zip", "sha256": name, "status": "graded"})
    records.append({"student": "broken", "archive": "broken.zip", "sha256": "x", "status": "refused"})
    result = similarity.update(records, tmp_path, tmp_path / "grades")
    assert [(p["a"], p["b"]) for p in result["pairs"]] == [("plain", "plain__all_four")]
    assert records[0]["similar_to"] == ["plain__all_four"] and records[2]["similar_to"] == records[3]["similar_to"] == []
    passage = {p["function"]: p for p in result["pairs"][0]["passages"]}["nn.conv.conv2d_forward"]
    assert passage["a"].startswith("def conv2d_forward") and "# my own work" not in passage["a"]
    assert (tmp_path / "grades" / similarity.CACHE / "pairs.npz").is_file()
    (tmp_path / "loops.zip").unlink()
    again = similarity.update(records, tmp_path, tmp_path / "grades")  # loops' fingerprints come from the cache
    assert [(p["a"], p["b"]) for p in again["pairs"]] == [("plain", "plain__all_four")]
    assert np.array_equal(again["scores"], result["scores"])
