"""Execute the notebooks in order, headless; save executed copies and HTML to artifacts/.

Usage: python scripts/run_notebooks.py [--profile P] [--weights W] [--kernel K] [--out DIR] [--from NN] [NOTEBOOK ...]
(default: every notebooks/*.ipynb). While a notebook runs, one status line shows the cell being
executed, the time spent and the cell's latest output line (a progress bar, say); on a terminal
it is redrawn in place, elsewhere (CI logs) it is printed every STATUS_EVERY_S seconds.

``--from 03`` starts at notebook 03 and reuses what the earlier ones saved (their loads refuse
missing or stale files by name). At the end, also after a failure, a summary lists each
notebook's wall time and its headline figures (what it saved with ``artifacts.save_results``);
it is written to ``artifacts/<profile>/run_summary.json`` too.

A kernel that dies (killed by the system, most often for lack of memory) is named with the cell it
was running, the profile's memory need and the machine's available memory; the summary and the
executed copy follow as after any failure, and ``--from NN`` (``make run FROM=NN``) resumes there.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from traitlets.config import Config

    from helpers.core import config, runtime
    from helpers.store import artifacts
except ModuleNotFoundError as err:
    sys.exit(f"{err.name} is missing from {sys.executable}: install the project with its jupyter extra "
             "(pip install -e '.[jupyter]' in the checkout, or `make setup`), then run this script again")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
STATUS_EVERY_S = 15  # without a terminal: how often the status line is printed
# About how much memory a profile's heaviest notebook needs (GiB; an estimate for the message on a dead kernel)
MEMORY_NEED_GIB = {"smoke": 2, "full": 8}


def latest_line(text: str) -> str:
    """The last non-blank line of ``text`` as a terminal would show it (after \\r redraws)."""
    for line in reversed(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        if line.strip():
            return line.strip()
    return ""


def clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``)."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Status:
    """What a running notebook is doing: cell i of n, time spent, the cell's latest output line."""

    def __init__(self, name: str, cells: list, now=time.monotonic):
        code = [i for i, cell in enumerate(cells) if cell.cell_type == "code" and cell.source.strip()]
        self.ordinal = {index: number for number, index in enumerate(code, 1)}
        self.name, self.total, self.now = name, len(code), now
        self.started = self.cell_started = now()
        self.cell, self.line = 0, ""

    def cell_start(self, cell_index: int) -> None:
        self.cell, self.line, self.cell_started = self.ordinal.get(cell_index, self.cell), "", self.now()

    def output(self, text: str) -> None:
        self.line = latest_line(text) or self.line

    def __str__(self) -> str:
        now = self.now()
        text = (f"  {self.name}: cell {self.cell}/{self.total}, {clock(now - self.started)} "
                f"(this cell {clock(now - self.cell_started)})")
        return f"{text} | {self.line}" if self.line else text


class Reporter(threading.Thread):
    """Shows a Status on ``stream`` until stopped: redrawn in place on a terminal, else a line at intervals."""

    def __init__(self, status: Status, stream=sys.stdout):
        super().__init__(daemon=True)
        self.status, self.stream, self.stopped = status, stream, threading.Event()
        self.tty = stream.isatty()

    def run(self) -> None:
        while not self.stopped.wait(1 if self.tty else STATUS_EVERY_S):
            self.show()

    def show(self) -> None:
        if self.tty:  # padded rather than cleared with an escape code, which old Windows consoles print
            width = shutil.get_terminal_size().columns - 1
            self.stream.write("\r" + str(self.status)[:width].ljust(width))
        else:
            self.stream.write(f"{self.status}\n")
        self.stream.flush()

    def stop(self) -> None:
        self.stopped.set()
        self.join()
        if self.tty:
            self.stream.write("\r" + " " * (shutil.get_terminal_size().columns - 1) + "\r")
            self.stream.flush()


class ReportingClient(NotebookClient):
    """An nbclient that feeds each stream output of the running cell to a Status."""

    def __init__(self, nb, status: Status, **kwargs):
        super().__init__(nb, on_cell_execute=lambda cell, cell_index: status.cell_start(cell_index), **kwargs)
        self.status = status

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and out.get("output_type") == "stream":
            self.status.output(out["text"])
        return out


def kernel_transport() -> Config:
    """Kernels talk over local sockets (IPC) where the system has them, in a private folder removed at exit: no
    other user of the machine can listen in, and the kernel does not warn of plain TCP. Windows: TCP."""
    chosen = Config()
    if os.name != "nt":
        sockets = tempfile.mkdtemp(prefix="kernel-sockets-")  # mode 0700; an absolute path, whatever the kernel's folder
        atexit.register(shutil.rmtree, sockets, True)
        chosen.KernelManager.transport, chosen.KernelManager.ip = "ipc", os.path.join(sockets, "kernel")
    return chosen


def html_page(nb) -> str:
    """The executed notebook as an HTML page that stands alone (scripts/notebook_html.py, beside this script)."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    from notebook_html import export_html

    return export_html(nb)


def run(notebook: Path, out_dir: Path, kernel: str = "python3", stream=sys.stdout) -> None:
    """Execute one notebook in its own folder, showing progress; always save what ran (also on failure).

    Streams are merged and carriage-return redraws resolved (``coalesce_streams``), so the
    executed copy shows each progress bar's final line.
    """
    nb = nbformat.read(notebook, as_version=4)
    status = Status(notebook.stem, nb.cells)
    client = ReportingClient(nb, status, timeout=None, kernel_name=kernel, coalesce_streams=True,
                             resources={"metadata": {"path": str(notebook.parent)}}, config=kernel_transport())
    reporter = Reporter(status, stream)
    reporter.start()
    try:
        client.execute()
    except DeadKernelError as err:
        err.cell = f"cell {status.cell}/{status.total}"  # the cell it was running, for the message
        raise
    finally:
        reporter.stop()
        executed = out_dir / notebook.name
        artifacts.atomic_write(executed, lambda fh: fh.write(nbformat.writes(nb).encode()))
        html = html_page(nb)
        artifacts.atomic_write(executed.with_suffix(".html"), lambda fh: fh.write(html.encode()))


def available_memory_gib() -> tuple[float, float] | None:
    """(available, total) memory of this machine in GiB, from /proc/meminfo (Linux), else None."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        kib = {key: int(fields[key].split()[0]) for key in ("MemAvailable", "MemTotal")}
    except (OSError, KeyError, ValueError, IndexError):
        return None
    return kib["MemAvailable"] / 2**20, kib["MemTotal"] / 2**20


def dead_kernel_message(stem: str, cell: str, profile: str, memory=available_memory_gib) -> str:
    """Why a notebook stopped when its kernel died: the likely cause, memory, with the numbers."""
    need = MEMORY_NEED_GIB.get(profile)
    free = memory()
    machine = (f"this machine has {free[0]:.1f} GiB available of {free[1]:.1f} GiB" if free
               else "this machine's free memory is unknown")
    needs = f"the {profile} profile needs about {need} GiB" if need else f"profile {profile}"
    return (f"{stem}: the kernel died at {cell}, without an error of its own: most likely it ran out of memory "
            f"and the system killed it ({needs}; {machine}). Close other programs or use BUNDLE_PROFILE=smoke, "
            f"then resume with `make run FROM={stem[:2]}` (what the earlier notebooks saved is reused).")


def saved_results(stem: str, since: float | None = None) -> dict:
    """Notebook ``stem``'s headline figures, if it saved them (after ``since``, a time.time(), when given)."""
    file = artifacts.path(artifacts.results_name(stem))
    if not file.exists() or (since is not None and file.stat().st_mtime < since):
        return {}
    try:
        return artifacts.load_json(file, producer=stem)
    except artifacts.ArtifactError as err:
        return {"unreadable results": str(err)}


def figure(name: str, value) -> str:
    """A headline value as the summary prints it: accuracies in percent, other floats to 4 digits."""
    if isinstance(value, float):
        return f"{value:.2%}" if "accuracy" in name else f"{value:.4g}"
    return str(value)


def summary_text(rows: list[dict]) -> str:
    """One line per notebook (status, wall time), then its headline figures indented below it."""
    lines = ["", "==== run summary ===="]
    for row in rows:
        lines.append(f"{row['notebook']:24s} {row['status']:7s} {clock(row['seconds']) if row['seconds'] is not None else '-':>8}")
        lines += [f"    {key}: {figure(key, value)}" for key, value in row["results"].items()]
    total = sum(row["seconds"] or 0 for row in rows if row["status"] == "ran")
    lines.append(f"run here: {clock(total)}")
    return "\n".join(lines)


def write_summary(rows: list[dict], out_dir: Path) -> Path:
    """artifacts/<profile>/run_summary.json: the profile, weights, machine, commit and one entry per notebook."""
    record = {"profile": config.profile().name, "weights": config.feature_weights(), "executed_copies": str(out_dir),
              "machine": runtime.environment(), "commit": runtime.commit(),
              "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "notebooks": rows}
    file = config.run_dir() / "run_summary.json"
    file.parent.mkdir(parents=True, exist_ok=True)
    artifacts.atomic_write(file, lambda fh: fh.write(json.dumps(record, indent=2).encode()))
    return file


def previous_seconds() -> dict:
    """Wall time per notebook in the last summary of this profile (for the notebooks a --from run reuses)."""
    try:
        rows = json.loads((config.run_dir() / "run_summary.json").read_text())["notebooks"]
    except (OSError, ValueError, KeyError):
        return {}
    return {row["notebook"]: row["seconds"] for row in rows if row.get("status") in ("ran", "reused")}


def expected_times() -> tuple[dict, str]:
    """Each notebook's expected wall time in this profile, and whose figures they are.

    This machine's last run of the profile when it left a summary (same CPU and core count), else the
    run docs/run_times.json records (``make report`` writes it from a run summary), else nothing."""
    profile, here = config.profile().name, runtime.environment()
    try:
        last = json.loads((config.run_dir() / "run_summary.json").read_text())
        if {k: last["machine"].get(k) for k in ("cpu", "cores")} == {k: here.get(k) for k in ("cpu", "cores")}:
            return previous_seconds(), f"this machine's last {profile} run"
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    try:
        reference = json.loads((config.REPO_ROOT / "docs" / "run_times.json").read_text())[profile]
        return reference["seconds"], f"measured on {reference['machine']} (docs/run_times.json); this machine may differ"
    except (OSError, ValueError, KeyError):
        return {}, ""


def announce(notebooks: list[Path], expected: dict, source: str) -> None:
    """Print how long the notebooks to run are expected to take, before they start."""
    known = [expected[nb.stem] for nb in notebooks if nb.stem in expected]
    if known:
        missing = len(notebooks) - len(known)
        rest = f" plus {missing} notebook(s) never timed" if missing else ""
        print(f"expected: about {clock(sum(known))} for {len(notebooks)} notebook(s){rest} ({source})", flush=True)


def expected_line(stem: str, expected: dict, rows: list[dict]) -> str:
    """`` (expected about m:ss)`` for notebook ``stem``: its expected time, scaled by this run's pace so far (the
    notebooks it ran, measured against their expected times), or "" when it was never timed."""
    if stem not in expected:
        return ""
    timed = [row for row in rows if row["status"] == "ran" and row["notebook"] in expected]
    pace = sum(row["seconds"] for row in timed) / sum(expected[row["notebook"]] for row in timed) if timed else 1.0
    scaled = f", x{pace:.2f} at this run's pace" if timed and abs(pace - 1) > 0.05 else ""
    return f" (expected about {clock(expected[stem] * pace)}{scaled})"


def failure(err: Exception, notebook: Path) -> str:
    """What to print when ``notebook`` stopped with ``err``: for a dead kernel, its likely cause."""
    if isinstance(err, DeadKernelError):
        cell = getattr(err, "cell", None) or "a cell"
        return dead_kernel_message(notebook.stem, cell, config.profile().name)
    return str(err)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--profile", help="BUNDLE_PROFILE for every notebook: full or smoke")
    parser.add_argument("--weights", help="FEATURE_WEIGHTS for every notebook: imagenet, random or a .pth path")
    parser.add_argument("--kernel", default="python3",
                        help="Jupyter kernel to run them in (default python3: this Python)")
    parser.add_argument("--out", type=Path, help="folder for the executed copies (default: artifacts/<profile>/notebooks)")
    parser.add_argument("--from", dest="start", metavar="NN",
                        help="start at the notebook whose name begins with NN (e.g. 03), reusing what the earlier ones saved")
    args = parser.parse_args()
    config.apply_settings("the command line", profile=args.profile, weights=args.weights)  # kernels inherit them
    os.environ["BUNDLE_PROGRESS"] = "text"  # progress bars whose final state is saved
    notebooks = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    reused = []
    if args.start:
        names = [notebook.stem for notebook in notebooks]
        first = next((i for i, name in enumerate(names) if name.startswith(args.start)), None)
        if first is None:
            parser.error(f"--from {args.start}: no notebook name begins with it; the notebooks are {names}")
        reused, notebooks = notebooks[:first], notebooks[first:]
    out_dir = args.out.resolve() if args.out else config.run_dir() / "notebooks"
    print(f"kernel={args.kernel}  CIFAR10_DIR={config.cifar10_source()}  output: {out_dir}", flush=True)
    earlier = previous_seconds()
    expected, source = expected_times()
    announce(notebooks, expected, source)
    rows = [{"notebook": nb.stem, "status": "reused", "seconds": earlier.get(nb.stem), "results": saved_results(nb.stem)}
            for nb in reused]
    status = 0
    for index, notebook in enumerate(notebooks, 1):
        about = expected_line(notebook.stem, expected, rows)
        print(f"[{index}/{len(notebooks)}] {notebook.stem}{about} ...", flush=True)
        began, began_at = time.perf_counter(), time.time()
        try:
            run(notebook, out_dir, args.kernel)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            seconds = time.perf_counter() - began
            print(f"[{index}/{len(notebooks)}] {notebook.stem} FAILED after {seconds:.0f} s\n{failure(err, notebook)}",
                  flush=True)
            print(f"The executed copy with the error is in {out_dir / notebook.name}", file=sys.stderr)
            rows.append({"notebook": notebook.stem, "status": "failed", "seconds": seconds, "results": {}})
            status = 1
            break
        seconds = time.perf_counter() - began
        print(f"[{index}/{len(notebooks)}] {notebook.stem} done in {seconds:.0f} s", flush=True)
        rows.append({"notebook": notebook.stem, "status": "ran", "seconds": seconds,
                     "results": saved_results(notebook.stem, since=began_at)})
    print(summary_text(rows))
    print(f"summary: {write_summary(rows, out_dir)}; executed copies: {out_dir}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
