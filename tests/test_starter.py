"""The starter version (instructor-only, not released): marked passages stripped and leak-checked, each graded
function's contract in its released docstring, docs/STARTER.md current, and a plainly written copy graded."""
import ast
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest

from helpers.core import config
from instructor import plain_copy, release, starter

sys.path.insert(0, str(config.REPO_ROOT / "scripts"))
import grade  # scripts/grade.py

# the tests of the visible suite that run the graded functions beyond their graded checks
VISIBLE_SUITES = ["test_nn.py", "test_conv.py", "test_batchnorm.py", "test_dropout.py", "test_augment.py",
                  "test_graded.py"]


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    return out, release.build(out)


def _words(text):
    return " ".join(text.split())


def test_make_release_strips_every_marked_passage_and_writes_its_task(student_copy):
    out, _ = student_copy
    texts = release.marked_sources()
    _, passages = release.find_markers(texts)
    assert {"helpers/nn/batchnorm.py", "helpers/nn/conv.py", "helpers/nn/losses.py", "helpers/nn/optim.py",
            "notebooks/03_mlp_from_scratch.ipynb"} <= {p.file for p in passages}
    for passage in passages:
        released = "".join(release.text_lines(passage.file, (out / passage.file).read_text(encoding="utf-8")))
        assert _words(passage.task) in _words(released), passage
        assert not any(line.strip() and line.strip() in released.splitlines() for line in passage.lines
                       if len(line.strip()) >= release.MIN_LEAK_LENGTH), passage
    notebook = nbformat.read(out / "notebooks/03_mlp_from_scratch.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert "(P - Y)" not in json.dumps(notebook) and "SOLUTION" not in json.dumps(notebook)


def _git_tree(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)


MARKED = ('def half(x):\n    """Half of x.\n\n    BEGIN SOLUTION TEXT: find the factor\n'
          '    Multiply by the factor one half, exactly.\n    END SOLUTION TEXT\n    """\n'
          '    ### BEGIN SOLUTION: return x / 2\n    return x / 2\n    ### END SOLUTION\n')


def test_a_planted_passage_left_in_the_release_is_refused(tmp_path):
    repo, out = tmp_path / "repo", tmp_path / "out"
    _git_tree(repo, {"helpers/m.py": MARKED, "docs/INSTALL.md": "Hint: Multiply by the factor one half, exactly.\n"})
    with pytest.raises(release.ReleaseError, match=r"solution text at docs/INSTALL\.md:1"):
        release.build(out, repo)
    assert not out.exists()
    (repo / "docs/INSTALL.md").write_text("<!-- BEGIN SOLUTION TEXT: say how -->\nMultiply by the factor one half, exactly.\n"
                                   "<!-- END SOLUTION TEXT -->\n")
    release.build(out, repo)
    assert (out / "docs/INSTALL.md").read_text() == "say how\n"
    assert '    """Half of x.\n\n    find the factor\n    """\n    raise NotImplementedError' in (out / "helpers/m.py").read_text()


@pytest.mark.parametrize("lines, message", [
    (["BEGIN SOLUTION TEXT: a", "x"], "never closed"),
    (["END SOLUTION TEXT"], "without BEGIN SOLUTION TEXT"),
    (["<!-- BEGIN SOLUTION TEXT -->", "<!-- END SOLUTION TEXT -->"], "write what the student must find"),
    (["BEGIN SOLUTION TEXT: a", "BEGIN SOLUTION TEXT: b"], "inside the passage opened at line 1"),
])
def test_malformed_text_markers_are_refused_naming_the_line(lines, message):
    with pytest.raises(release.ReleaseError, match=message):
        release.find_text_regions("m.md", [line + "\n" for line in lines])


def test_a_passage_overlapping_a_solution_region_is_refused():
    source = ('def f():\n    ### BEGIN SOLUTION: x\n    return """\n    BEGIN SOLUTION TEXT: t\n    """\n'
              '    ### END SOLUTION\n    """\n    END SOLUTION TEXT\n    """\n')
    with pytest.raises(release.ReleaseError, match="overlap"):
        release.stub_source(source, release.find_regions("m.py", source), release.find_passages("m.py", source))


def _raised(function, functions):
    """Names of the exceptions ``function`` raises itself or through functions of its module (transitively)."""
    names, seen, todo = set(), set(), [function]
    while todo:
        node = todo.pop()
        for child in ast.walk(node):
            if isinstance(child, ast.Raise) and child.exc is not None:
                call = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                names.add(call.id if isinstance(call, ast.Name) else ast.unparse(call))
            elif isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id in functions:
                if child.func.id not in seen:
                    seen.add(child.func.id)
                    todo.append(functions[child.func.id])
    return names - {"NotImplementedError"}


def test_every_graded_function_states_its_returns_and_errors_in_the_release(student_copy):
    out, regions = student_copy
    missing = []
    for region in regions:
        solution = ast.parse((config.REPO_ROOT / region.file).read_text())
        module_functions = {node.name: node for node in solution.body if isinstance(node, ast.FunctionDef)}
        released = starter._functions((out / region.file).read_text())[region.function]
        docstring = ast.get_docstring(released) or ""
        if not re.search(r"^\s*Returns\b", docstring, re.M):
            missing.append(f"{region.name}: no Returns")
        for error in _raised(starter._functions(ast.unparse(solution))[region.function], module_functions):
            if not re.search(rf"^\s*Raises\b.*\b{error}\b", docstring, re.M | re.S):
                missing.append(f"{region.name}: raises {error}, its docstring has no Raises naming it")
    assert missing == []


def test_the_starter_table_is_current():
    assert starter.PAGE.read_text(encoding="utf-8") == starter.table(), "run python -m instructor.starter"


@pytest.fixture(scope="module")
def plain_student(tmp_path_factory):
    out = tmp_path_factory.mktemp("plain") / "student"
    plain_copy.build(out)
    return out


def test_the_plainly_written_copy_passes_every_graded_and_hidden_test(plain_student):
    results = grade.grade(plain_student)
    assert any(r["hidden"] for r in results.values())
    assert {nodeid: r["message"] for nodeid, r in results.items() if not r["passed"]} == {}


def test_the_plainly_written_copy_passes_the_visible_suites_that_run_the_graded_functions(plain_student):
    env = {**os.environ, "PYTHONPATH": str(plain_student), "FEATURE_WEIGHTS": "random", "BUNDLE_PROFILE": "smoke"}
    hidden = config.REPO_ROOT / "instructor" / "hidden_tests"
    done = subprocess.run([sys.executable, "-m", "pytest", *(f"tests/{name}" for name in VISIBLE_SUITES), str(hidden),
                           "-q", "-p", "no:cacheprovider", "-p", "grading.plugin",  # the student fixture for the hidden tests
                           "-W", "ignore::pytest.PytestUnknownMarkWarning"],
                          cwd=plain_student, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]


# What gives a method away in a docstring or a stub's message: an operator formula, a numeric function, a numpy or
# rng call (or any numpy name but the Generator type), a random draw told in words, a private helper (but the
# argument checks), a gradient's rule told in words, an update rule or an assignment written out.
FORMULA = re.compile(r"@|\*\*|\bsqrt\b|\bexp\(|\blog\(|\bmean\(|\bsum\(|\b1 / \(|\bnp\.(?!random\.Generator\b)[a-z_]+"
                     r"|\brng\.[a-z_]+|\buniform\b|\bdraws? (?:in|of|from|is|are)\b|\bwhose draw\b|>= ?p\b"
                     r"|\b_(?!check_)[a-z]\w*|\bshared equally\b|\bwon it\b|\bdout where\b|\bthrough the kept units\b"
                     r"|\bscaled like them\b|\w+ [-+*/]= |\w+ = [\w.()]+ [-+*/] \w|\w+ = (?!conv_output_size\()\w+\(")


@pytest.mark.parametrize("level", ["derive", "guided"])
def test_derive_docstrings_state_the_contract_and_no_formula_guided_ones_keep_the_hints(level, tmp_path):
    out = tmp_path / level
    regions = release.build(out, level=level)
    found = []
    for region in regions:
        text = (out / region.file).read_text()
        released = starter._functions(text)[region.function]
        classes = {node.name: node for node in ast.parse(text).body if isinstance(node, ast.ClassDef)}
        owner = classes.get(region.function.split(".")[0]) if "." in region.function else None
        graded = {r.function for r in regions}
        if owner and not {f"{owner.name}.{m.name}" for m in owner.body
                          if isinstance(m, ast.FunctionDef) and not m.name.startswith("__")} <= graded:
            owner = None  # a class with methods of its own (Classifier): its docstring is not the method's
        texts = [ast.get_docstring(released) or "", ast.get_docstring(owner) or "" if owner else "",
                 region.stub("", level)]
        found += [f"{region.name}: {m.group(0)!r}" for t in texts for m in FORMULA.finditer(t)
                  if m.group(0) not in {r.function for r in regions}]  # a graded function names itself
        if level == "guided":
            assert region.hint in text, region.name
    for file, helpers in release.WITHHELD.items():  # the helpers that do a task's core: in guided only
        released = (out / file).read_text()
        assert [h for h in helpers if h in released] == ([] if level == "derive" else list(helpers)), level
    if level == "derive":
        assert found == [], "\n".join(found)
    else:
        assert found  # the guided level gives methods away: the markers find them
