"""scripts/run_notebooks.py (`make run`) on a kernel that dies: the cause named, the summary and the executed copy."""
import os
import subprocess
import sys

import nbformat

from helpers.core.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import run_notebooks  # scripts/run_notebooks.py


def test_a_killed_kernel_is_named_with_its_likely_cause_then_the_summary_and_the_executed_copy(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    cells = ["print('before')", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "print('never')"]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]),
                   notebooks / "01_dies.ipynb")
    out = tmp_path / "executed"
    env = {**os.environ, "BUNDLE_ARTIFACTS": str(tmp_path / "artifacts"), "BUNDLE_PROFILE": "smoke"}
    done = subprocess.run([sys.executable, "scripts/run_notebooks.py", "--out", str(out), "--kernel", "python3",
                           str(notebooks / "01_dies.ipynb")], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "Traceback" not in text, text
    assert "01_dies: the kernel died at cell 2/3" in text and "out of memory" in text, text
    assert f"the smoke profile needs about {run_notebooks.MEMORY_NEED_GIB['smoke']} GiB" in text
    assert "==== run summary ====" in text and "01_dies" in text.split("==== run summary ====")[1]
    assert f"The executed copy with the error is in {out / '01_dies.ipynb'}" in text
    assert "make run FROM=01" in text
    executed = nbformat.read(out / "01_dies.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "before\n"


def test_the_dead_kernel_message_states_the_machines_memory():
    message = run_notebooks.dead_kernel_message("03_mlp", "cell 4/9", "full", memory=lambda: (1.5, 16.0))
    assert "the full profile needs about 8 GiB; this machine has 1.5 GiB available of 16.0 GiB" in message
    assert "unknown" in run_notebooks.dead_kernel_message("03_mlp", "cell 4/9", "full", memory=lambda: None)
