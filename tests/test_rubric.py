"""The rubric (grading/rubric.py): every graded function has its points there, and each test carries its share."""
import ast

import pytest

from grading import rubric
from grading.grader import graded_files
from helpers.core.config import REPO_ROOT


def graded_functions():
    names = set()
    for file in graded_files(REPO_ROOT / "tests"):
        for node in ast.walk(ast.parse(open(file).read())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "graded"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                names.add(node.args[0].value)  # parametrised names (f"...{name}_forward") are checked by test_release
    return names


def test_every_graded_function_is_in_the_rubric_with_positive_points():
    assert graded_functions() <= set(rubric.RUBRIC)
    assert all(points > 0 for points in rubric.RUBRIC.values())


def test_a_functions_points_are_split_across_its_tests_by_weight():
    tests = {"a1": ("f", 1.0), "a2": ("f", 3.0), "b": ("g", 1.0), "c": ("unlisted", 2.0)}
    shares = rubric.points_per_test(tests, {"f": 8, "g": 5})
    assert shares == {"a1": 2.0, "a2": 6.0, "b": 5.0, "c": 2.0}
    assert sum(v for k, v in shares.items() if k.startswith("a")) == pytest.approx(8)
