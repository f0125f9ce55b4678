"""The root conftest.py: nbval's wait for a cell's output raised, and a failing notebook skips (not fails)
its own later cells and the later notebooks that read what it saves."""
import os
import shutil
import subprocess
import sys

import nbformat

from helpers.core.config import REPO_ROOT

SHOW_TIMEOUTS = """
def pytest_collection_finish(session):
    print("output timeouts:", sorted({item.output_timeout for item in session.items}))
"""


def notebook(folder, name, *sources):
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), folder / name)


def test_a_failing_notebook_skips_its_rest_and_its_readers_and_the_wait_is_raised(tmp_path):
    shutil.copy(REPO_ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "show_timeouts.py").write_text(SHOW_TIMEOUTS)
    (tmp_path / "notebooks").mkdir()
    notebook(tmp_path / "notebooks", "01_first.ipynb", "x = 1", "raise RuntimeError('the real failure')", "y = x")
    notebook(tmp_path / "notebooks", "02_reader.ipynb", 'producer="01_first"\nraise RuntimeError("missing input")')
    notebook(tmp_path / "notebooks", "03_alone.ipynb", "print('ran')")
    env = {**os.environ, "NBVAL_OUTPUT_TIMEOUT": "77", "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pytest", "notebooks", "--nbval-lax", "-p", "show_timeouts", "-rs",
                           "-p", "no:xdist", "--nbval-kernel-name=python3"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout
    assert "output timeouts: [77.0]" in out, out[-3000:]
    assert "1 failed, 2 passed, 2 skipped" in out, out[-3000:]  # 01: 1 pass, 1 fail, 1 skip; 02 skipped; 03 passes
    assert "01_first failed at" in out and "02_reader reads what it saves" in out
    assert "missing input" not in out
