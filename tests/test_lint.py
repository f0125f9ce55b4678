"""The repository passes ruff with the configuration in pyproject.toml ([tool.ruff])."""
import subprocess
import sys

from helpers.core.config import REPO_ROOT


def test_ruff_check_passes():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, (
        f"`ruff check` found problems (fix them, or configure [tool.ruff] in pyproject.toml):\n"
        f"{result.stdout}{result.stderr}")
