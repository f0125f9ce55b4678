"""The real-browser check (scripts/browser_check.py) under pytest.

A port in use and the copy of the checkout are checked on every run. The rest runs on request, as each
takes from seconds (a Jupyter server that fails to start, one whose port is taken) to many minutes:
``BROWSER_TEST=tiny`` runs ``make browser-smoke``'s check (the harness on small generated notebooks),
``BROWSER_TEST=full`` also ``make browser-test``'s (notebooks 01-03 of this checkout, then the profile
mismatch). Without Chromium, chromedriver or selenium the browser's tests are skipped, saying which is
missing.
"""
import os
import socket
import subprocess
import sys

import pytest

from helpers.core.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import browser_check

SCRIPT = REPO_ROOT / "scripts" / "browser_check.py"
REQUESTED = os.environ.get("BROWSER_TEST", "").strip().lower()


def needs_browser(level: str):
    """Skip unless BROWSER_TEST asks for ``level`` (``tiny`` or ``full``) and the browser's tools are there."""
    if REQUESTED not in ("tiny", "full") or (level == "full" and REQUESTED != "full"):
        pytest.skip(f"a real-browser check, run on request: BROWSER_TEST={level} (or `make "
                    f"{'browser-smoke' if level == 'tiny' else 'browser-test'}`)")
    missing = browser_check.missing_tools()
    if missing:
        pytest.skip(f"the real-browser check needs {', '.join(missing)}")


def needs_servers():
    """Skip unless BROWSER_TEST is set: these start Jupyter servers, seconds each on a loaded machine."""
    if REQUESTED not in ("tiny", "full"):
        pytest.skip("starts Jupyter servers (seconds each): run with BROWSER_TEST=tiny or BROWSER_TEST=full")


def run_script(*args, timeout):
    """scripts/browser_check.py in a process of its own (the real data sources, as `make` runs it)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BUNDLE_", "PYTEST_"))}
    done = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return done, done.stdout[-6000:] + done.stderr[-3000:]


def test_a_port_in_use_is_named_before_a_server_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(browser_check.CheckError, match=f"port {port} is in use"):
            browser_check.start_server(tmp_path, {}, tmp_path / "jupyter", port)


def test_a_server_that_does_not_start_is_reported_with_its_log(tmp_path):
    needs_servers()
    env = browser_check.server_env(tmp_path, tmp_path / "artifacts", {})
    with pytest.raises(browser_check.CheckError, match=r"(?s)exited with status .*its log .*no-such-folder"):
        browser_check.start_server(tmp_path / "no-such-folder", env, tmp_path / "jupyter")


def test_a_free_port_taken_before_the_server_listens_is_replaced(tmp_path, monkeypatch):
    needs_servers()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy, browser_check.free_port()])
        monkeypatch.setattr(browser_check, "free_port", lambda: next(ports))
        monkeypatch.setattr(browser_check, "port_in_use", lambda port: False)  # taken between the look and the bind
        (tmp_path / "project").mkdir()
        env = browser_check.server_env(tmp_path / "project", tmp_path / "artifacts", {})
        server = browser_check.start_server(tmp_path / "project", env, tmp_path / "jupyter")
        server.stop()
    assert server.port != busy
    assert "already in use" in "".join(log.read_text() for log in (tmp_path / "jupyter").glob("server-*.log"))


def test_the_profile_is_chosen_in_the_environment_or_in_settings_toml(tmp_path):
    env = {"BUNDLE_PROFILE": "smoke"}
    browser_check.set_profile(tmp_path, env, "full", "env")
    assert env == {"BUNDLE_PROFILE": "full"} and not (tmp_path / "settings.toml").exists()
    (tmp_path / "settings.toml").write_text('profile = "smoke"\nweights = "random"\n')
    browser_check.set_profile(tmp_path, env, "full", "settings")
    assert env == {} and (tmp_path / "settings.toml").read_text() == 'profile = "full"\nweights = "random"\n'


def test_the_copy_of_a_checkout_holds_what_git_knows(tmp_path):
    copy = browser_check.copy_project(REPO_ROOT, tmp_path / "copy")
    assert (copy / "notebooks" / "01_features.ipynb").is_file() and (copy / "helpers" / "__init__.py").is_file()
    assert not (copy / ".venv").exists() and not (copy / "artifacts" / "smoke").exists()


def test_the_harness_passes_a_good_notebook_and_catches_a_bad_and_a_slow_one(tmp_path):
    needs_browser("tiny")
    done, output = run_script("--tiny", "--out", tmp_path, timeout=600)
    assert done.returncode == 0, output
    assert (tmp_path / "tiny-good.png").stat().st_size > 0


def test_notebooks_01_to_03_behave_in_jupyterlab(tmp_path):
    needs_browser("full")
    done, output = run_script("--out", tmp_path, timeout=3600)
    assert done.returncode == 0, output
