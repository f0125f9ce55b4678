"""`make run`'s summary and `make run FROM=NN` (scripts/run_notebooks.py), on two tiny notebooks."""
import json
import os
import subprocess
import sys

import nbformat

from helpers.core import runtime
from helpers.core.config import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "run_notebooks.py"


def tiny_notebook(folder, name, accuracy, fail=False):
    cells = [nbformat.v4.new_code_cell(
        "from helpers.store import artifacts\n"
        + ("raise RuntimeError('planted failure')\n" if fail else "")
        + f"artifacts.save_results({name!r}, {{'test accuracy': {accuracy}, 'images': 10}})")]
    path = folder / f"{name}.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def run(*args, env_root):
    env = {**os.environ, "BUNDLE_ARTIFACTS": str(env_root), "BUNDLE_PROFILE": "smoke"}
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(env_root / "executed"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_summary_then_a_rerun_from_the_second_notebook(tmp_path):
    first = tiny_notebook(tmp_path, "01_first", 0.5)
    second = tiny_notebook(tmp_path, "02_second", 0.75)
    done = run(first, second, env_root=tmp_path / "artifacts")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "==== run summary ====" in done.stdout and "test accuracy: 75.00%" in done.stdout
    assert ("without encryption" in done.stderr) is (os.name == "nt")  # POSIX kernels talk over local sockets
    record = json.loads((tmp_path / "artifacts" / "smoke" / "run_summary.json").read_text())
    assert [row["status"] for row in record["notebooks"]] == ["ran", "ran"]
    assert record["notebooks"][1]["results"] == {"test accuracy": 0.75, "images": 10}
    assert record["profile"] == "smoke" and record["machine"]["cpu"]
    assert record["commit"] == runtime.commit()  # the checkout that ran, as `make report` shows it
    first_wall_time = record["notebooks"][0]["seconds"]

    again = run("--from", "02", first, second, env_root=tmp_path / "artifacts")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "expected: about 0:0" in again.stdout and "for 1 notebook(s) (this machine's last smoke run)" in again.stdout
    assert "[1/1] 02_second (expected about 0:0" in again.stdout  # from the first run's time, before it starts
    rows = json.loads((tmp_path / "artifacts" / "smoke" / "run_summary.json").read_text())["notebooks"]
    assert [(row["notebook"], row["status"]) for row in rows] == [("01_first", "reused"), ("02_second", "ran")]
    reused, carried = rows[0], rows[0].pop("seconds")
    assert carried == first_wall_time and reused["results"]["test accuracy"] == 0.5  # carried over from the first run


def test_a_failed_notebook_is_in_the_summary_without_stale_results(tmp_path):
    root = tmp_path / "artifacts"
    assert run(tiny_notebook(tmp_path, "01_first", 0.5), env_root=root).returncode == 0
    failing = tiny_notebook(tmp_path, "01_first", 0.5, fail=True)
    done = run(failing, env_root=root)
    assert done.returncode == 1 and "planted failure" in done.stdout
    rows = json.loads((root / "smoke" / "run_summary.json").read_text())["notebooks"]
    rows[0].pop("seconds")  # how long it took is recorded, not judged
    assert rows == [{"notebook": "01_first", "status": "failed", "results": {}}]


def test_from_names_a_notebook_that_does_not_exist(tmp_path):
    done = run("--from", "09", tiny_notebook(tmp_path, "01_first", 0.5), env_root=tmp_path / "artifacts")
    assert done.returncode == 2 and "--from 09: no notebook name begins with it" in done.stderr


def test_without_a_run_of_its_own_the_expected_time_comes_from_docs_run_times(tmp_path, monkeypatch, capsys):
    import importlib.util

    from helpers.core import config
    spec = importlib.util.spec_from_file_location("run_notebooks", SCRIPT)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "run_times.json").write_text(json.dumps(
        {"smoke": {"machine": "Some CPU, 2 cores", "seconds": {"01_first": 90, "02_second": 30}}}))
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path)
    expected, source = runner.expected_times()
    assert expected == {"01_first": 90, "02_second": 30} and "measured on Some CPU, 2 cores" in source
    runner.announce([tmp_path / "01_first.ipynb", tmp_path / "02_second.ipynb", tmp_path / "03_new.ipynb"], expected, source)
    assert "expected: about 2:00 for 3 notebook(s) plus 1 notebook(s) never timed (measured on Some CPU" in capsys.readouterr().out
    monkeypatch.setenv("BUNDLE_PROFILE", "full")  # a profile nobody timed: nothing announced
    assert runner.expected_times() == ({}, "")


def test_each_notebooks_expected_time_follows_this_runs_pace():
    import importlib.util
    spec = importlib.util.spec_from_file_location("run_notebooks", SCRIPT)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    expected = {"01_a": 100, "02_b": 60, "03_c": 30}
    assert runner.expected_line("03_c", expected, []) == " (expected about 0:30)"
    ran = [{"notebook": "01_a", "status": "ran", "seconds": 150}, {"notebook": "02_b", "status": "ran", "seconds": 90}]
    assert runner.expected_line("03_c", expected, ran) == " (expected about 0:45, x1.50 at this run's pace)"
    assert runner.expected_line("04_new", expected, ran) == ""
    reused = [{"notebook": "01_a", "status": "reused", "seconds": 999}]  # a reused notebook tells nothing of this run
    assert runner.expected_line("03_c", expected, reused) == " (expected about 0:30)"
