"""The instructor release: stubs instead of solutions, no solution text, a grader that tells them apart."""
import json
import os
import subprocess
import sys

import colab_simulation
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from grading import rubric
from helpers.core import config
from helpers.notebook import colab
from instructor import release, student_repo

sys.path.insert(0, str(config.REPO_ROOT / "scripts"))
import grade  # scripts/grade.py


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    regions = release.build(out)
    return out, regions


def test_the_release_stubs_every_region_and_ships_no_solution_or_instructor_file(student_copy):
    out, regions = student_copy
    assert regions and not (out / "instructor").exists() and not (out / "tests/test_release.py").exists()
    assert not (out / ".ci").exists()
    for region in regions:
        text = (out / region.file).read_text()
        assert f"raise NotImplementedError('{region.name} ({region.file}) is yours to write" in text.replace('"', "'")
    solution = {name: [line.strip() for line in text.splitlines()] for name, text in release.python_sources().items()}
    assert release.leaks(out, regions, solution) == []
    readme = (out / "README.md").read_text()
    assert all(f"`{region.name}`" in readme for region in regions) and "{{STUBS}}" not in readme


def test_the_grader_fails_every_graded_test_on_the_stubs_and_passes_them_on_the_solution(student_copy):
    out, regions = student_copy
    on_release = grade.grade(out)
    on_solution = grade.grade(config.REPO_ROOT)
    assert set(on_release) == set(on_solution) and any(r["hidden"] for r in on_release.values())
    assert {r["function"] for r in on_release.values()} == {region.name for region in regions}  # every stub is graded
    failing_for_other_reasons = {nodeid: r["message"] for nodeid, r in on_release.items()
                                 if r["passed"] or "NotImplementedError" not in r["message"]}
    assert failing_for_other_reasons == {}
    assert [nodeid for nodeid, r in on_solution.items() if not r["passed"]] == []
    table = grade.table(on_solution)
    total = sum(r["points"] for r in on_solution.values())
    assert table.splitlines()[-1].split()[-1] == f"{total:g}/{total:g}"
    possible = {}
    for r in on_solution.values():  # the points come from the rubric, whatever the number of tests
        possible[r["function"]] = possible.get(r["function"], 0) + r["points"]
    assert possible == pytest.approx(rubric.RUBRIC) and total == pytest.approx(sum(rubric.RUBRIC.values()))


def test_a_release_notebook_stops_at_its_first_stub_with_the_stub_message(student_copy, tmp_path, monkeypatch):
    out, _ = student_copy
    cifar10 = config.cifar10_source() or config.REPO_ROOT.parent / "shared/data/cifar10-jpeg.tar.gz"
    if not cifar10.exists():
        pytest.skip("needs CIFAR-10 (CIFAR10_DIR)")
    for key, value in {"PYTHONPATH": out, "BUNDLE_ARTIFACTS": tmp_path, "BUNDLE_PROFILE": "smoke",
                       "FEATURE_WEIGHTS": "random", "CIFAR10_DIR": cifar10}.items():
        monkeypatch.setenv(key, str(value))
    notebook = nbformat.read(out / "notebooks/02_augmentation.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(out / "notebooks")}})
    with pytest.raises(CellExecutionError) as error:
        client.execute()
    assert "NotImplementedError" in str(error.value) and "is yours to write" in str(error.value)
    assert str(out / "helpers") in str(error.value)  # the release's own helpers ran, not this tree's


def first_code_cells(out):
    cells = {nb.name: [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"][0]
             for nb in sorted((out / "notebooks").glob("*.ipynb"))}
    return {name: "".join(cell["source"]) for name, cell in cells.items()}


def test_the_release_names_no_instructor_address_and_colab_installs_the_copy_in_drive(student_copy, tmp_path):
    out, _ = student_copy
    assert student_repo.address_leaks(out) == [] and "Repository" not in (out / "pyproject.toml").read_text()
    assert set(first_code_cells(out).values()) == {colab.CELL}
    (tmp_path / "root").mkdir()
    report = colab_simulation.run_cell(colab.CELL, tmp_path / "root", out, drive_holds_copy=True)
    drive_copy = tmp_path / "root/content/drive/MyDrive/dl-from-scratch"
    assert report["error"] is None and report["ran"][-1][-2:] == ["-e", str(drive_copy)]
    assert report["helpers"] == str(drive_copy / "helpers/__init__.py")
    stamp_recipe = (out / "Makefile").read_text().split("$(STAMP):")[1].split("\n\n")[0]
    assert "pip install --quiet --no-deps -e ." in stamp_recipe and "git+" not in stamp_recipe  # make: its own helpers


def test_a_release_with_student_repo_clones_and_installs_that_repository(student_copy, tmp_path):
    address = "https://github.com/course-2026/student-template"
    out = tmp_path / "release"
    release.build(out, student_repo=address)
    cells = first_code_cells(out)
    assert all(f'STUDENT_REPO = "{address}"' in cell for cell in cells.values()) and student_repo.address_leaks(out) == []
    assert f'Repository = "{address}"' in (out / "pyproject.toml").read_text()
    (tmp_path / "root").mkdir()
    report = colab_simulation.run_cell(cells["01_features.ipynb"], tmp_path / "root", student_copy[0])
    clone = tmp_path / "root/content/dl-from-scratch"
    assert report["error"] is None and report["ran"][0] == ["git", "clone", "--quiet", address, str(clone)]
    assert report["helpers"] == str(clone / "helpers/__init__.py")


def test_the_instructors_address_is_refused_anywhere_in_a_release(tmp_path):
    address = student_repo.instructor_repository()
    with pytest.raises(release.ReleaseError, match="is the instructor's repository"):
        release.build(tmp_path / "release", student_repo=address + ".git")
    assert not (tmp_path / "release").exists()
    (tmp_path / "notes.md").write_text(f"ok\nsee {address.upper()}/tree/main\n")
    (tmp_path / "cell.py").write_text(f"![badge](https://colab.research.google.com/github/{student_repo.github_path(address)}/x)\n")
    assert student_repo.address_leaks(tmp_path) == ["cell.py:1", "notes.md:2"]


@pytest.mark.parametrize("source, message", [
    ("def f():\n    ### BEGIN SOLUTION: x\n    return 1\n", "never closed"),
    ("def f():\n    ### END SOLUTION\n", "without ### BEGIN SOLUTION"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", "write what the function must return"),
    ("### BEGIN SOLUTION: x\ny = 1\n### END SOLUTION\n", "must lie inside a function"),
    ("def f():\n    ### BEGIN SOLUTION: x\n    ### BEGIN SOLUTION: y\n", "inside the region opened at line 2"),
])
def test_malformed_markers_are_refused_naming_the_line(source, message):
    with pytest.raises(release.ReleaseError, match=message):
        release.find_regions("m.py", source)


def test_a_stub_raises_naming_its_function_and_the_markers_do_not_change_the_solution():
    source = ("class Layer:\n    def forward(self, x):\n        y = x\n        ### BEGIN SOLUTION: return 2 * x\n"
              "        out = 2 * y\n        return out\n        ### END SOLUTION\n")
    regions = release.find_regions("helpers/nn/m.py", source)
    assert [(r.name, r.start, r.end) for r in regions] == [("nn.m.Layer.forward", 4, 7)]
    solution, stubbed, derive = {}, {}, {}
    exec(compile(source, "m.py", "exec"), solution)
    exec(compile(release.stub_source(source, regions, level="guided"), "m.py", "exec"), stubbed)
    exec(compile(release.stub_source(source, regions), "m.py", "exec"), derive)
    assert solution["Layer"]().forward(3) == 6
    with pytest.raises(NotImplementedError, match=r"nn\.m\.Layer\.forward \(helpers/nn/m\.py\) is yours to write: return 2 \* x"):
        stubbed["Layer"]().forward(3)
    with pytest.raises(NotImplementedError, match=r"nn\.m\.Layer\.forward \(helpers/nn/m\.py\) is yours to write: its docstring"):
        derive["Layer"]().forward(3)  # the default level, derive: the stub names no method


def test_solution_text_anywhere_in_the_release_is_found(tmp_path):
    source = "def f(x):\n    ### BEGIN SOLUTION: twice x\n    doubled_value = x + x\n    return doubled_value\n    ### END SOLUTION\n"
    regions = release.find_regions("helpers/m.py", source)
    (tmp_path / "notes.md").write_text("hint: doubled_value = x + x\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("return doubled_value")])
    nbformat.write(nb, tmp_path / "n.ipynb")
    (tmp_path / "ok.py").write_text("return doubled_value  # appears outside the region too\n")
    solution = {"helpers/m.py": [line.strip() for line in source.splitlines()],
                "other.py": ["return doubled_value"]}
    assert release.leaks(tmp_path, regions, solution) == ["notes.md:1"]
    assert release.leaks(tmp_path, regions, {"helpers/m.py": solution["helpers/m.py"]}) == ["n.ipynb:1", "notes.md:1", "ok.py:1"]


def test_make_release_and_grade_run_from_the_command_line(tmp_path):
    out = tmp_path / "student"
    made = subprocess.run([sys.executable, "-m", "instructor.release", "--out", str(out)], cwd=config.REPO_ROOT,
                          capture_output=True, text=True)
    assert made.returncode == 0 and "no solution text found" in made.stdout, made.stderr
    again = subprocess.run([sys.executable, "-m", "instructor.release", "--out", str(tmp_path)], cwd=config.REPO_ROOT,
                           capture_output=True, text=True)
    assert again.returncode == 1 and "is not a student release" in again.stderr  # never deletes other folders
    graded = subprocess.run([sys.executable, "scripts/grade.py", str(out), "--json", str(tmp_path / "g.json")],
                            cwd=config.REPO_ROOT, capture_output=True, text=True, env={**os.environ})
    assert graded.returncode == 0, graded.stderr
    assert graded.stdout.splitlines()[-1].split()[-1].startswith("0/")
    assert all(not r["passed"] for r in json.loads((tmp_path / "g.json").read_text()).values())
