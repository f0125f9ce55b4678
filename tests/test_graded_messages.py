"""Failure messages teach: a held-out set of plausible mistakes (tests/plausible_mistakes.py), all graded at once,
each gets a message naming the wrong output, its error in numbers (against the reference and, for a gradient,
against finite differences), where it first differs and the case (instructor-only: it grades a copy of the
solution with the mistakes planted)."""
import re
import sys

import pytest

from helpers.core import config
from plausible_mistakes import MISTAKES, planted_code
from test_graded_kinds import planted_copy

sys.path.insert(0, str(config.REPO_ROOT / "scripts"))
import grade  # scripts/grade.py

NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    copy = planted_copy(tmp_path_factory.mktemp("mistakes"), planted_code())
    return grade.grade(copy, only=",".join(sorted({m.function for m in MISTAKES.values()})))


def test_the_mistakes_are_many_and_each_targets_its_own_function():
    functions = [mistake.function for mistake in MISTAKES.values()]
    assert len(MISTAKES) >= 10 and len(set(functions)) == len(functions)


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_plausible_mistake_is_told_which_output_is_wrong_by_how_much_and_where(graded, name):
    mistake = MISTAKES[name]
    tests = [r for r in graded.values() if r["function"] == mistake.function]
    failed = [r for r in tests if not r["passed"]]
    assert failed, f"{name}: no graded test of {mistake.function} failed"
    assert all(r["hidden"] for r in failed) == mistake.hidden, f"{name}: {[r['hidden'] for r in failed]}"
    messages = [r["message"] for r in failed]
    for output in mistake.outputs:
        told = [r for r in failed if output in r["message"]]
        assert told, f"{name}: no failure names {output!r}: {messages}"
        shown = [r for r in told if not r["hidden"]] or told  # what the student reads (all hidden: the instructor)
        for record in told:
            message = record["message"]
            missing = [words for words in mistake.says if words not in message] if record in shown else []
            assert not missing and NUMBER.search(message.split(output, 1)[1]), f"{name}: {missing} in {message}"
    wrongly_named = [m for m in messages for right in mistake.passes if right in m]
    assert wrongly_named == [], f"{name}: a failure names an output that is right: {wrongly_named}"
