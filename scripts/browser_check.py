"""The notebooks in JupyterLab, in a real browser: Run All in headless Chromium, then check what the page shows.

For a project tree (default: this checkout; ``--tree`` another, such as a student release), copied to a
temporary folder so that JupyterLab's saves never touch it, a Jupyter server starts on a free local port
(its own token, config and runtime folders; BUNDLE_PROFILE=smoke, FEATURE_WEIGHTS=random and
BUNDLE_ARTIFACTS in a temporary folder in its environment). Chromium, driven by Selenium through the
system's chromedriver (never a downloaded one), opens each notebook, runs all its cells (JupyterLab's
``notebook:run-all-cells``) and waits for the kernel to finish. Each notebook must then show:

- no error output, and no Traceback on stderr;
- every progress bar finished: a widget full and green rather than red; a bar closed into its final line of text
  (helpers.core.progress does that, so that a saved notebook shows it) at its total;
- every rendered image loaded (``naturalWidth > 0``), and at least one where the notebook plots.

Screenshots of each notebook (the whole notebook, and for 03 its early-stopped training bars) go to
``--out`` (default ``artifacts/browser/``). Then, unless ``--no-mismatch``, the checkout's profile is set
to ``full`` (:func:`set_profile`) and notebook 03 runs again on the smoke profile's artifacts: it must
fail with a message that names both profiles. ``--tiny`` checks the harness alone on small generated
notebooks: one that must pass (a progress bar and an image), one whose error and red bar must be caught,
and one whose overrunning cell must be named.

Usage: python scripts/browser_check.py [--tree DIR] [--label NAME] [--out DIR] [--notebooks 01 02 03]
       [--no-mismatch] [--profile-in env|settings] [--port N] [--keep] [--tiny]
Exit status 0 when every check passed, 1 when one failed (each failure is listed at the end), 2 when
the browser, its driver or Selenium is missing.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BROWSER_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage")
NOTEBOOKS = ("01", "02", "03")
SERVER_START_S = 120  # a Jupyter server must answer within this
KERNEL_START_S = 120
CELL_QUIET_S = 900  # a cell that runs this long without finishing fails the check (01 smoke: minutes under load)
NOTEBOOK_S = 1800  # a whole notebook
POLL_S = 1.0
WINDOW = (1400, 1000)
WIDE = 2400  # close-ups: wide enough for a progress bar beside a long line of training figures
MAX_SHOT_HEIGHT = 16000  # a whole-notebook screenshot is cut at this height (pixels)
# JupyterLab's settings for the check: no news or update notices over the page
LAB_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                {"fetchNews": "false", "checkForUpdates": False}}
SKIP_COPY = (".venv", ".git", "artifacts", "dist", "build", "__pycache__", ".ipynb_checkpoints", "*.egg-info")


class CheckError(RuntimeError):
    """The harness could not do its work (server, browser): the message says what and shows the log."""


def missing_tools() -> list[str]:
    """What this check needs and cannot find: the browser, its driver, the selenium package."""
    missing = [f"{what} ({path})" for what, path in (("Chromium", CHROMIUM), ("ChromeDriver", CHROMEDRIVER))
               if not (Path(path).is_file() and os.access(path, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ModuleNotFoundError:
        missing.append("the selenium package (pip install -e '.[test]', or `make setup`)")
    return missing


# ---------------------------------------------------------------- the project copy and its settings

def copy_project(tree: Path, target: Path) -> Path:
    """A copy of ``tree`` in ``target``: the files git knows when ``tree`` is a checkout's root, else all
    but caches, environments and generated files."""
    tree = tree.resolve()
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=tree,
                            capture_output=True, text=True)
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=tree, capture_output=True, text=True)
    if listed.returncode == 0 and Path(top.stdout.strip() or "/nonexistent").resolve() == tree:
        for name in listed.stdout.splitlines():
            if (tree / name).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(tree / name, target / name)
    else:
        shutil.copytree(tree, target, ignore=shutil.ignore_patterns(*SKIP_COPY), dirs_exist_ok=True)
    if not (target / "notebooks").is_dir():
        raise CheckError(f"{tree} has no notebooks/ folder: not a project tree")
    return target


PROFILE_IN = "settings"  # where set_profile writes the profile: "env" (BUNDLE_PROFILE) or "settings" (settings.toml)


def set_profile(project: Path, env: dict[str, str], name: str, where: str | None = None) -> None:
    """Choose the profile ``name`` for notebooks run in ``project`` by a server started with ``env``.

    ``where`` (default PROFILE_IN, ``--profile-in``): ``env`` sets BUNDLE_PROFILE; ``settings`` writes
    ``profile = "<name>"`` into the project's ``settings.toml`` (the checkout's one place to choose it,
    read by helpers.core.config) and drops BUNDLE_PROFILE from ``env``, as it would override the file.
    """
    if (where or PROFILE_IN) == "settings":
        env.pop("BUNDLE_PROFILE", None)
        file = project / "settings.toml"
        kept = [line for line in (file.read_text().splitlines() if file.exists() else [])
                if not re.match(r"\s*profile\s*=", line)]
        file.write_text("\n".join([f'profile = "{name}"', *kept]) + "\n")
    else:
        env["BUNDLE_PROFILE"] = name


def data_sources() -> dict[str, str]:
    """CIFAR10_DIR and MNIST_DIR as this checkout finds them (a copy elsewhere has no ../shared beside it)."""
    sys.path.insert(0, str(REPO))
    from helpers.core import config

    found = {"CIFAR10_DIR": config.cifar10_source(), "MNIST_DIR": config.mnist_source()}
    return {name: str(path) for name, path in found.items() if path is not None}


def server_env(project: Path, artifacts: Path, sources: dict[str, str]) -> dict[str, str]:
    """The Jupyter server's (and so its kernels') environment: the smoke profile, random weights, the
    project's own packages first on the path, artifacts in a folder of their own, widgets for progress."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("BUNDLE_", "JUPYTER_", "PYTEST_", "NBVAL")) and key != "PYTHONPATH"}
    env.update(sources, FEATURE_WEIGHTS="random", BUNDLE_ARTIFACTS=str(artifacts), PYTHONPATH=str(project),
               PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="module://matplotlib_inline.backend_inline")
    set_profile(project, env, "smoke")
    return env


def check_imports(project: Path, env: dict[str, str]) -> None:
    """The kernels will import ``helpers`` from ``project`` (not from an editable install of another checkout)."""
    found = subprocess.run([sys.executable, "-c", "import helpers; print(helpers.__file__)"], cwd=project / "notebooks",
                           env=env, capture_output=True, text=True)
    where = Path(found.stdout.strip() or "/nonexistent").resolve()
    if found.returncode != 0 or project.resolve() not in where.parents:
        raise CheckError(f"a kernel in {project} would import helpers from {where} ({found.stderr.strip()[-500:]}), "
                         "not from the copy under test")


# ---------------------------------------------------------------- the Jupyter server

def free_port() -> int:
    """A local TCP port that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Server:
    """A running JupyterLab: its process, address and log."""

    process: subprocess.Popen
    port: int
    token: str
    log: Path

    def url(self, path: str = "lab") -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def server_command(project: Path, port: int, token: str, home: Path) -> list[str]:
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={project}", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
            "--ServerApp.open_browser=False", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])]


def start_server(project: Path, env: dict[str, str], home: Path, port: int | None = None) -> Server:
    """JupyterLab on ``port`` serving ``project``; CheckError with its log if it does not answer within
    SERVER_START_S, or exits. Without ``port`` a free one, and another when some other program takes it first."""
    for attempt in range(3):
        try:
            return _start_server(project, env, home, port or free_port())
        except PortTaken:
            if port or attempt == 2:
                raise
    raise AssertionError("unreachable")


class PortTaken(CheckError):
    """The server could not listen on its port: another program took it."""


def _start_server(project: Path, env: dict[str, str], home: Path, port: int) -> Server:
    if port_in_use(port):
        raise PortTaken(f"port {port} is in use already: choose another (or leave --port out for a free one)")
    token = os.urandom(16).hex()
    for folder in ("config", "runtime", "data", "settings", "workspaces"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    for name, settings in LAB_SETTINGS.items():
        (home / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (home / "settings" / name).write_text(json.dumps(settings))
    env = {**env, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTER_DATA_DIR": str(home / "data")}
    log = home / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(server_command(project, port, token, home), cwd=home, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, port, token, log)
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            taken = "already in use" in tail(log)
            raise (PortTaken if taken else CheckError)(
                f"the Jupyter server exited with status {process.returncode} before it answered; its log ({log}):\n"
                f"{tail(log)}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(server.url("api/status"), timeout=5) as answer:
                if answer.status == 200:
                    return server
        time.sleep(0.5)
    server.stop()
    raise CheckError(f"the Jupyter server did not answer on port {port} within {SERVER_START_S} s; "
                     f"its log ({log}):\n{tail(log)}")


# ---------------------------------------------------------------- the browser

def start_browser(profile_dir: Path):
    """Headless Chromium through the system's chromedriver (Selenium Manager is never asked for a driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_MANAGER_PATH"] = "/nonexistent/selenium-manager"  # were it asked after all, it fails, not downloads
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(flag)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    service = Service(executable_path=CHROMEDRIVER, log_output=str(profile_dir.parent / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_script_timeout(KERNEL_START_S + 30)
    return driver


# What JupyterLab holds for the open notebook: the kernel's state and each code cell's count, state and outputs.
STATE_JS = """
const panel = window.__checked;
const cells = [];
const model = panel.content.model;
for (let i = 0; i < model.cells.length; i++) {
  const cell = model.cells.get(i);
  if (cell.type !== 'code') continue;
  const outputs = cell.outputs.toJSON().map(o => ({
    type: o.output_type, name: o.name || '', ename: o.ename || '', evalue: o.evalue || '',
    text: (Array.isArray(o.text) ? o.text.join('') : (o.text || '')).slice(-3000),
    traceback: (o.traceback || []).join('\\n').replace(/\\u001b\\[[0-9;]*m/g, '').slice(-3000),
    mimes: Object.keys(o.data || {})}));
  const source = cell.sharedModel.getSource();
  cells.push({index: i, count: cell.executionCount, state: cell.executionState || '',
              source: source.split('\\n').find(l => l.trim() && !l.startsWith('#')) || source.split('\\n')[0],
              outputs});
}
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
return {kernel: kernel ? kernel.status : 'none', cells};
"""

OPEN_JS = """
const [path, done] = [arguments[0], arguments[arguments.length - 1]];
(async () => {
  const app = window.jupyterapp;
  await app.restored;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  await panel.sessionContext.ready;
  window.__checked = panel;
  app.shell.activateById(panel.id);
  done('');
})().catch(err => done(String(err && err.stack || err)));
"""

RUN_ALL_JS = """
const app = window.jupyterapp, panel = window.__checked;
app.shell.activateById(panel.id);
await app.commands.execute('notebook:clear-all-cell-outputs');
await app.commands.execute('notebook:run-all-cells');
"""
# Start Run All without waiting for it (its promise settles only when every cell has run).
RUN_ALL_JS = """
const app = window.jupyterapp, panel = window.__checked;
app.shell.activateById(panel.id);
return (async () => {
  await app.commands.execute('notebook:clear-all-cell-outputs');
  app.commands.execute('notebook:run-all-cells');
  return '';
})();
"""

# What the page shows: each progress bar (tqdm's widget: a description, the bar, its counts) and each image.
PAGE_JS = """
const node = window.__checked.content.node;
const bars = [...node.querySelectorAll('.jupyter-widgets .progress .progress-bar')].map(bar => {
  const box = bar.closest('.widget-hbox') || bar.parentElement;
  const style = [...bar.classList].filter(c => c.startsWith('progress-bar-')).map(c => c.slice(13));
  return {text: (box ? box.textContent : '').replace(/\\s+/g, ' ').trim(), width: bar.style.width,
          style: style.join(' '), cell: [...node.querySelectorAll('.jp-Cell')].indexOf(bar.closest('.jp-Cell'))};
});
const images = [...node.querySelectorAll('.jp-OutputArea-output img')].map(img => ({
  width: img.naturalWidth, complete: img.complete,
  cell: [...node.querySelectorAll('.jp-Cell')].indexOf(img.closest('.jp-Cell'))}));
const stderr = [...node.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
  .map(out => out.textContent.slice(-3000));
const lines = [...node.querySelectorAll('.jp-OutputArea-output[data-mime-type="text/plain"]')].flatMap(out =>
  out.textContent.split('\\n').filter(line => /\\d+%\\|.*\\|\\s*\\d+\\/\\d+/.test(line)).map(line => ({
    text: line.trim(), cell: [...node.querySelectorAll('.jp-Cell')].indexOf(out.closest('.jp-Cell'))})));
return {bars, lines, images, stderr, cells: node.querySelectorAll('.jp-Cell').length};
"""


# ---------------------------------------------------------------- one notebook

@dataclass
class Outcome:
    """What a notebook's run showed: its cells and page, how long it took, the problems found."""

    name: str
    seconds: float = 0.0
    state: dict = field(default_factory=dict)
    page: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def errors(self) -> list[str]:
        """Each error output (and each stderr Traceback) as 'cell N (first line): the error'."""
        found = []
        for cell in self.state.get("cells", []):
            for out in cell["outputs"]:
                if out["type"] == "error":
                    found.append(f"cell {cell['index']} ({cell['source'][:60]}): {out['ename']}: {out['evalue']}"
                                 f"\n{out['traceback'][-1500:]}")
                elif out["type"] == "stream" and out["name"] == "stderr" and "Traceback" in out["text"]:
                    found.append(f"cell {cell['index']} ({cell['source'][:60]}) printed a Traceback:\n{out['text']}")
        found += [f"stderr shown on the page with a Traceback:\n{text}" for text in self.page.get("stderr", [])
                  if "Traceback" in text and not any(text[-200:] in f for f in found)]
        return found


def running_cell(state: dict) -> dict | None:
    """The code cell being executed (JupyterLab's executionState), else the first one not yet executed."""
    cells = state.get("cells", [])
    return (next((c for c in cells if c["state"] == "running"), None)
            or next((c for c in cells if c["count"] is None), None))


def describe(cell: dict | None) -> str:
    if cell is None:
        return "no cell"
    last = next((o for o in reversed(cell["outputs"]) if o["text"]), None)
    line = last["text"].replace("\r", "\n").strip().splitlines()[-1][:160] if last and last["text"].strip() else ""
    return f"cell {cell['index']} ({cell['source'][:80]!r})" + (f", its last output line: {line!r}" if line else "")


def finished(state: dict) -> bool:
    """Run All is over: the kernel idle, no cell running, and every code cell executed or one failed."""
    cells = state.get("cells", [])
    if state.get("kernel") != "idle" or any(c["state"] == "running" for c in cells):
        return False
    failed = any(o["type"] == "error" for c in cells for o in c["outputs"])
    return failed or all(c["count"] is not None for c in cells)


def open_notebook(driver, server: Server, path: str) -> None:
    """Load JupyterLab, open ``path`` and wait for its kernel; CheckError naming the server's log otherwise."""
    from selenium.common.exceptions import WebDriverException

    driver.get(server.url("lab") + "&reset")
    deadline = time.monotonic() + KERNEL_START_S
    while driver.execute_script("return !!(window.jupyterapp && window.jupyterapp.commands)") is not True:
        if time.monotonic() > deadline:
            raise CheckError(f"JupyterLab did not load at {server.url()} within {KERNEL_START_S} s; "
                             f"the server's log:\n{tail(server.log)}")
        time.sleep(0.5)
    try:
        error = driver.execute_async_script(OPEN_JS, path)
    except WebDriverException as err:
        raise CheckError(f"{path}: JupyterLab did not open it and start its kernel within {KERNEL_START_S} s "
                         f"({err.msg}); the server's log:\n{tail(server.log)}") from None
    if error:
        raise CheckError(f"{path}: JupyterLab could not open it: {error}\nthe server's log:\n{tail(server.log)}")
    deadline = time.monotonic() + KERNEL_START_S
    while driver.execute_script(STATE_JS)["kernel"] != "idle":
        if time.monotonic() > deadline:
            raise CheckError(f"{path}: its kernel was not ready within {KERNEL_START_S} s; "
                             f"the server's log:\n{tail(server.log)}")
        time.sleep(0.5)


def run_all(driver, server: Server, path: str, cell_quiet_s: float = CELL_QUIET_S) -> Outcome:
    """Open ``path``, Run All and wait until it is over; the outcome holds the final state of cells and page.

    A cell that runs longer than ``cell_quiet_s`` (or the notebook longer than NOTEBOOK_S) is a problem
    naming that cell and its last output line."""
    outcome = Outcome(Path(path).stem)
    open_notebook(driver, server, path)
    start = time.monotonic()
    driver.execute_script(RUN_ALL_JS)
    time.sleep(POLL_S)
    current, since, said = None, start, start
    while True:
        state = driver.execute_script(STATE_JS)
        now = time.monotonic()
        if finished(state):
            break
        cell = running_cell(state)
        if (cell or {}).get("index") != current:
            current, since = (cell or {}).get("index"), now
        if now - since > cell_quiet_s or now - start > NOTEBOOK_S:
            outcome.problems.append(f"timed out after {now - start:.0f} s (the kernel {state['kernel']}) in "
                                    f"{describe(cell)}; that cell had run for {now - since:.0f} s")
            break
        if now - said > 30:
            print(f"    {outcome.name}: {now - start:.0f} s, running {describe(cell)}", flush=True)
            said = now
        time.sleep(POLL_S)
    outcome.seconds = time.monotonic() - start
    outcome.state = state
    settle_page(driver)
    outcome.page = driver.execute_script(PAGE_JS)
    return outcome


def settle_page(driver) -> None:
    """Scroll every output into view once, so that the page draws (and decodes) what it shows lazily."""
    driver.execute_script("""
      const node = window.__checked.content.node;
      for (const el of node.querySelectorAll('.jp-OutputArea-output')) el.scrollIntoView({block: 'center'});""")
    time.sleep(1.0)


# ---------------------------------------------------------------- the checks

def check_page(outcome: Outcome, expect_images: bool = True, expect_bars: bool = False) -> list[str]:
    """The problems of a notebook that must run cleanly: errors, unfinished cells, unfinished bars, images."""
    problems = list(outcome.problems) + outcome.errors()
    if expect_bars and not (outcome.page.get("bars") or outcome.page.get("lines")):
        problems.append("no progress bar was shown")
    unrun = [c for c in outcome.state.get("cells", []) if c["count"] is None]
    if unrun and not outcome.errors():
        problems.append(f"{len(unrun)} code cells never ran, the first {describe(unrun[0])}")
    for bar in outcome.page.get("bars", []):
        if bar["width"] != "100%" or bar["style"] != "success":
            problems.append(f"a progress bar did not end finished (cell {bar['cell']}: width {bar['width']}, "
                            f"style {bar['style'] or 'none'}; it reads {bar['text']!r})")
    for line in outcome.page.get("lines", []):  # a bar closed into its final line of text (helpers.core.progress)
        done, total = map(int, re.search(r"\|\s*(\d+)/(\d+)", line["text"]).groups())
        if done != total or "100%|" not in line["text"]:
            problems.append(f"a progress bar did not end finished (cell {line['cell']}: its final line reads "
                            f"{line['text']!r})")
    broken = [image for image in outcome.page.get("images", []) if not image["width"]]
    if broken:
        problems.append(f"{len(broken)} images did not load (cells {sorted({i['cell'] for i in broken})})")
    if expect_images and not outcome.page.get("images"):
        problems.append("no image was rendered")
    return problems


def check_mismatch(outcome: Outcome, chosen: str, saved: str) -> list[str]:
    """Run in profile ``chosen`` on artifacts of profile ``saved``: the notebook must stop with an error whose
    message names both profiles (as words: a path such as ``artifacts/full/...`` does not count)."""
    messages = [f"{out['ename']}: {out['evalue']}" for cell in outcome.state.get("cells", [])
                for out in cell["outputs"] if out["type"] == "error"]
    if not messages:
        return [f"no error shown although the profile is {chosen!r} and only {saved!r} artifacts exist"]
    words = " ".join(word for word in messages[0].split() if "/" not in word)
    missing = [name for name in (saved, chosen) if not re.search(rf"\b{name}\b", words)]
    return [f"its error does not name the profile(s) {missing}: {messages[0][:1000]}"] if missing else []


# ---------------------------------------------------------------- screenshots

SCROLLER_JS = """
const node = window.__checked.content.node;
const scroller = node.querySelector('.jp-WindowedPanel-outer') || node;
scroller.scrollTop = 0;
return [scroller.scrollHeight, window.innerHeight - scroller.clientHeight];
"""


def screenshot_notebook(driver, file: Path) -> None:
    """The whole notebook in one picture: the window made as tall as its content (at most MAX_SHOT_HEIGHT)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    content, chrome = driver.execute_script(SCROLLER_JS)
    driver.set_window_size(WINDOW[0], min(content + chrome + 40, MAX_SHOT_HEIGHT))
    time.sleep(1.5)
    driver.save_screenshot(str(file))
    driver.set_window_size(*WINDOW)


def screenshot_close_up(driver, file: Path, selector: str, text: str = "") -> bool:
    """The window (made wide, so that long progress lines keep their bar) scrolled to the first element matching
    ``selector`` inside the first cell whose source holds ``text``; False when there is none."""
    found = driver.execute_script("""
      const [selector, text] = arguments, panel = window.__checked;
      const cells = panel.content.widgets.filter(w => w.model.sharedModel.getSource().includes(text));
      const hit = cells.map(c => c.node.querySelector(selector)).find(e => e);
      if (!hit) return false;
      hit.scrollIntoView({block: 'center'});
      return true;""", selector, text)
    if found:
        driver.set_window_size(WIDE, WINDOW[1])
        time.sleep(1.5)
        file.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(file))
        driver.set_window_size(*WINDOW)
    return bool(found)


# ---------------------------------------------------------------- scenarios

# notebook number -> (a text of the cell whose bars to show closer, the picture's suffix)
CLOSE_UPS = {"03": ("patience=", "early-stopping")}
BAR = '.jupyter-widgets .progress, .jp-OutputArea-output[data-mime-type="text/plain"]'  # live, or closed into text
ERROR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


@dataclass
class Report:
    """Every check's result: ``(what, seconds, problems)``."""

    rows: list = field(default_factory=list)

    def add(self, what: str, seconds: float, problems: list[str]) -> None:
        self.rows.append((what, seconds, problems))
        verdict = "ok" if not problems else "FAILED\n" + "\n".join(f"      - {p}" for p in problems)
        print(f"  {what}: {seconds:.0f} s, {verdict}", flush=True)

    def failed(self) -> bool:
        return any(problems for _, _, problems in self.rows)


def notebook_paths(project: Path, numbers) -> list[str]:
    found = []
    for number in numbers:
        matches = sorted((project / "notebooks").glob(f"{number}_*.ipynb")) or sorted(
            (project / "notebooks").glob(f"{number}.ipynb"))
        if not matches:
            raise CheckError(f"no notebook {number} in {project / 'notebooks'}")
        found.append(matches[0].relative_to(project).as_posix())
    return found


def check_project(driver, tree: Path, work: Path, out: Path, label: str, numbers, mismatch: bool,
                  report: Report, port: int | None = None) -> None:
    """Run All each of notebooks ``numbers`` of a copy of ``tree`` in the smoke profile and check each page;
    then, with ``mismatch``, notebook 03 in the full profile on what the smoke run saved."""
    project = copy_project(tree, work / "project")
    env = server_env(project, work / "artifacts", data_sources())
    check_imports(project, env)
    server = start_server(project, env, work / "jupyter", port)
    try:
        for path in notebook_paths(project, numbers):
            outcome = run_all(driver, server, path)
            stem = Path(path).stem
            screenshot_notebook(driver, out / f"{stem}.png")
            close_up = CLOSE_UPS.get(stem[:2])
            if close_up:
                screenshot_close_up(driver, out / f"{stem}-{close_up[1]}.png", BAR, close_up[0])
            report.add(f"{label} {stem}", outcome.seconds, check_page(outcome))
    finally:
        server.stop()
    if mismatch:
        set_profile(project, env, "full")
        server = start_server(project, env, work / "jupyter")
        try:
            [path] = notebook_paths(project, ["03"])
            outcome = run_all(driver, server, path)
            shot = out / f"{Path(path).stem}-profile-mismatch.png"
            if not screenshot_close_up(driver, shot, ERROR):
                screenshot_notebook(driver, shot)
            report.add(f"{label} {Path(path).stem}, profile full on smoke artifacts", outcome.seconds,
                       outcome.problems + check_mismatch(outcome, "full", "smoke"))
        finally:
            server.stop()


def code_cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


TINY = {
    "good": [code_cell("import time\nfrom tqdm.auto import tqdm\nfor step in tqdm(range(20), desc='tiny'):\n"
                       "    time.sleep(0.01)"),
             code_cell("%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0]);\nplt.show()")],
    "bad": [code_cell("from tqdm.auto import tqdm\nfor step in tqdm(range(20), desc='broken'):\n    if step == 5:\n"
                      "        break"),
            code_cell("raise ValueError('made to fail')"), code_cell("print('never run')")],
    "slow": [code_cell("print('first line')"), code_cell("import time\nprint('waiting', flush=True)\ntime.sleep(60)")],
}
TINY_QUIET_S = 5  # the slow notebook's second cell overruns this


def tiny_project(folder: Path) -> Path:
    """A project of small notebooks: ``good`` (a progress bar and an image), ``bad`` (a bar broken out of, then
    an error) and ``slow`` (a cell that overruns TINY_QUIET_S)."""
    (folder / "notebooks").mkdir(parents=True)
    for name, cells in TINY.items():
        notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                "language": "python"}},
                    "nbformat": 4, "nbformat_minor": 5}
        (folder / "notebooks" / f"{name}.ipynb").write_text(json.dumps(notebook, indent=1))
    return folder


def check_tiny(driver, work: Path, out: Path, report: Report, port: int | None = None) -> None:
    """The harness itself: the good notebook passes every check, the bad one's bar and error are caught, and the
    slow one's overrunning cell is named with its last output line."""
    project = tiny_project(work / "tiny")
    server = start_server(project, server_env(project, work / "artifacts", {}), work / "jupyter", port)
    try:
        good = run_all(driver, server, "notebooks/good.ipynb", cell_quiet_s=120)
        screenshot_notebook(driver, out / "tiny-good.png")
        report.add("tiny good notebook passes", good.seconds, check_page(good, expect_bars=True))
        bad = run_all(driver, server, "notebooks/bad.ipynb", cell_quiet_s=120)
        screenshot_notebook(driver, out / "tiny-bad.png")
        if not screenshot_close_up(driver, out / "tiny-bad-error.png", ERROR):
            found_close_up = ["no error output to show closer"]
        else:
            found_close_up = []
        found = check_page(bad, expect_images=False)
        expected = {"the ValueError": any("made to fail" in p for p in found),
                    "the red bar": any("did not end finished" in p and "style danger" in p for p in found),
                    "no later cell run": all(c["count"] is None for c in bad.state["cells"][2:])}
        report.add("tiny bad notebook is caught", bad.seconds, found_close_up +
                   [f"the harness missed {what}; it found: {found}" for what, ok in expected.items() if not ok])
        slow = run_all(driver, server, "notebooks/slow.ipynb", cell_quiet_s=TINY_QUIET_S)
        named = [p for p in slow.problems if "timed out" in p and "cell 1 ('import time')" in p and "'waiting'" in p]
        report.add("tiny slow notebook's overrun names its cell", slow.seconds,
                   [] if named else [f"the harness did not name the overrunning cell: {slow.problems}"])
    finally:
        server.stop()


# ---------------------------------------------------------------- the command

def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="the project to check (default: this checkout)")
    parser.add_argument("--label", help="its name in the report and the screenshots' folder (default: the "
                                        "checkout's none, another tree's folder name)")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "browser", help="screenshots")
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS), help="numbers, e.g. 01 03")
    parser.add_argument("--no-mismatch", action="store_true", help="skip the profile-mismatch run of 03")
    parser.add_argument("--tiny", action="store_true", help="check the harness on two small generated notebooks")
    parser.add_argument("--profile-in", choices=("env", "settings"), default=PROFILE_IN,
                        help="choose the profile by BUNDLE_PROFILE (env) or in the copy's settings.toml")
    parser.add_argument("--port", type=int, help="the Jupyter server's port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (copies, logs)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    global PROFILE_IN
    PROFILE_IN = args.profile_in
    missing = missing_tools()
    if missing:
        print(f"browser_check: cannot run without {', '.join(missing)}", file=sys.stderr)
        return 2
    label = args.label or ("" if args.tiny or args.tree.resolve() == REPO else args.tree.resolve().name)
    shots = args.out / label if label else args.out
    work = Path(tempfile.mkdtemp(prefix="browser-check-"))
    report, start = Report(), time.monotonic()
    driver = None
    try:
        driver = start_browser(work / "chromium")
        if args.tiny:
            check_tiny(driver, work, shots, report, args.port)
        else:
            check_project(driver, args.tree, work, shots, label or "checkout", args.notebooks, not args.no_mismatch,
                          report, args.port)
    except CheckError as err:
        report.add("the harness", time.monotonic() - start, [str(err)])
    except Exception as err:  # the browser or its driver failed (selenium's WebDriverException and its kind)
        if type(err).__module__.split(".")[0] != "selenium":
            raise
        report.add("the browser", time.monotonic() - start, [f"{type(err).__name__}: {err}; chromedriver's log: "
                                                            f"{work / 'chromedriver.log'} (--keep keeps it)"])
    finally:
        if driver is not None:
            driver.quit()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    total = time.monotonic() - start
    failed = [row for row in report.rows if row[2]]
    shots.mkdir(parents=True, exist_ok=True)
    (shots / "summary.json").write_text(json.dumps({"seconds": round(total, 1), "checks": [
        {"check": what, "seconds": round(seconds, 1), "problems": problems} for what, seconds, problems in report.rows]},
        indent=1) + "\n")
    print(f"browser_check: {len(report.rows) - len(failed)} of {len(report.rows)} checks passed in {total:.0f} s; "
          f"screenshots and summary.json in {shots}")
    for what, _, problems in failed:
        print(f"FAILED {what}:\n" + "\n".join(f"  - {p}" for p in problems))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
