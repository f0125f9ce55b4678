"""pyproject.toml declares what the code imports; requirements.txt locks exactly that."""
import ast
import importlib.metadata
import json
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers.core.config import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
RUNTIME = [Requirement(line) for line in PROJECT["dependencies"]]
EXTRAS = {extra: [Requirement(line) for line in lines] for extra, lines in PROJECT["optional-dependencies"].items()}
# our own modules: packages at the top of the checkout, and the scripts and benchmarks that put
# their folder on sys.path (benchmarks/timing.py, scripts/grade.py), and test modules other tests import
FIRST_PARTY = ({p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").is_file()}
               | {f.stem for folder in ("scripts", "benchmarks", "tests") for f in (REPO_ROOT / folder).glob("*.py")}
               | {"marked"}  # tests/test_show.py writes marked.py, then imports it
               | {"google"})  # google.colab: the Colab cell imports it only on Colab, where it is built in
# folders -> the requirements their code may import (each extra adds to the runtime ones)
SCOPES = {
    "helpers": [],
    "notebooks": [],
    "benchmarks": ["grade"],  # bench_grading and bench_similarity measure the grader
    "scripts": ["jupyter", "test"],  # the runner; the autograder runs pytest
    "instructor": ["jupyter", "test"],
    "tests": ["jupyter", "test"],
}


SELF = canonicalize_name(PROJECT["name"])  # the test extra includes the jupyter one by naming the project


def names(requirements):
    return {canonicalize_name(r.name) for r in requirements} - {SELF}


def code_of(file):
    """Python source of a .py file, or of a notebook's code cells without IPython magics."""
    if file.suffix == ".py":
        return file.read_text()
    cells = json.loads(file.read_text())["cells"]
    lines = [line for cell in cells if cell["cell_type"] == "code" for line in "".join(cell["source"]).splitlines()]
    return "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))


def top_level_imports(source):
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def third_party_imports(folder):
    """{distribution: [files]} for every import in ``folder`` that is neither stdlib nor ours."""
    distributions = importlib.metadata.packages_distributions()
    found = {}
    for file in sorted((REPO_ROOT / folder).rglob("*")):
        if file.suffix not in (".py", ".ipynb") or ".ipynb_checkpoints" in file.parts:
            continue
        for module in top_level_imports(code_of(file)) - set(sys.stdlib_module_names) - FIRST_PARTY:
            for distribution in distributions.get(module, [module]):
                found.setdefault(canonicalize_name(distribution), []).append(file.relative_to(REPO_ROOT).as_posix())
    return found


@pytest.mark.parametrize("folder", SCOPES)
def test_every_third_party_import_is_declared(folder):
    declared = names(RUNTIME).union(*(names(EXTRAS[extra]) for extra in SCOPES[folder]))
    missing = {dist: files for dist, files in third_party_imports(folder).items() if dist not in declared}
    where = "[project] dependencies" + "".join(f" or the {extra} extra" for extra in SCOPES[folder])
    assert not missing, f"imported in {folder}/ but not declared in pyproject.toml ({where}): {missing}"


def test_the_import_scan_sees_imports_and_skips_magics(tmp_path):
    notebook = tmp_path / "n.ipynb"
    cell = {"cell_type": "code", "source": ["%matplotlib inline\n", "import pandas as pd\n", "from PIL import Image\n"]}
    notebook.write_text(json.dumps({"cells": [cell]}))
    assert top_level_imports(code_of(notebook)) == {"pandas", "PIL"}


def locked():
    """{distribution: version} from requirements.txt, which must hold only exact pins."""
    pins = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            specifiers = list(requirement.specifier)
            assert len(specifiers) == 1 and specifiers[0].operator == "==", f"requirements.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def test_the_lock_pins_exactly_what_pyproject_declares_within_its_ranges():
    pins = locked()
    declared = [r for r in RUNTIME + sum(EXTRAS.values(), []) if canonicalize_name(r.name) != SELF]
    assert set(pins) == {canonicalize_name(r.name) for r in declared}
    outside = [f"{r} (locked {pins[canonicalize_name(r.name)]})" for r in declared
               if not r.specifier.contains(pins[canonicalize_name(r.name)])]
    assert not outside, f"requirements.txt pins versions outside pyproject.toml's ranges: {outside}"


def test_runtime_dependencies_are_ranges_not_pins():
    # Colab already has most of them: a pin would make pip replace them under the running kernel
    pinned = [str(r) for r in RUNTIME if any(s.operator in ("==", "===") for s in r.specifier)]
    assert not pinned, f"pin these in requirements.txt, not in pyproject.toml: {pinned}"


def test_test_tools_are_outside_the_runtime_dependencies():
    assert {"pytest", "nbval"} <= names(EXTRAS["test"]) and not {"pytest", "nbval"} & names(RUNTIME)

