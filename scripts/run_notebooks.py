"""Execute the notebooks in order, headless; save executed copies and HTML to artifacts/.

Usage: python scripts/run_notebooks.py [--profile P] [--weights W] [--kernel K] [--out DIR] [NOTEBOOK ...]
(default: every notebooks/*.ipynb). While a notebook runs, one status line shows the cell being
executed, the time spent and the cell's latest output line (a progress bar, say); on a terminal
it is redrawn in place, elsewhere (CI logs) it is printed every STATUS_EVERY_S seconds.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    from helpers import artifacts, config
except ModuleNotFoundError as err:
    sys.exit(f"{err.name} is missing from {sys.executable}: install the project with its jupyter extra "
             "(pip install -e '.[jupyter]' in the checkout, or `make setup`), then run this script again")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
STATUS_EVERY_S = 15  # without a terminal: how often the status line is printed


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


def run(notebook: Path, out_dir: Path, kernel: str = "python3", stream=sys.stdout) -> None:
    """Execute one notebook in its own folder, showing progress; always save what ran (also on failure).

    Streams are merged and carriage-return redraws resolved (``coalesce_streams``), so the
    executed copy shows each progress bar's final line.
    """
    nb = nbformat.read(notebook, as_version=4)
    status = Status(notebook.stem, nb.cells)
    client = ReportingClient(nb, status, timeout=None, kernel_name=kernel, coalesce_streams=True,
                             resources={"metadata": {"path": str(notebook.parent)}})
    reporter = Reporter(status, stream)
    reporter.start()
    try:
        client.execute()
    finally:
        reporter.stop()
        executed = out_dir / notebook.name
        artifacts.atomic_write(executed, lambda fh: fh.write(nbformat.writes(nb).encode()))
        html, _ = HTMLExporter().from_notebook_node(nb)
        artifacts.atomic_write(executed.with_suffix(".html"), lambda fh: fh.write(html.encode()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--profile", help="BUNDLE_PROFILE for every notebook: full or smoke")
    parser.add_argument("--weights", help="FEATURE_WEIGHTS for every notebook: imagenet, random or a .pth path")
    parser.add_argument("--kernel", default="python3",
                        help="Jupyter kernel to run them in (default python3: this Python)")
    parser.add_argument("--out", type=Path, help="folder for the executed copies (default: artifacts/<profile>/notebooks)")
    args = parser.parse_args()
    config.apply_settings("the command line", profile=args.profile, weights=args.weights)  # kernels inherit them
    os.environ["BUNDLE_PROGRESS"] = "text"  # progress bars whose final state is saved
    notebooks = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    out_dir = args.out.resolve() if args.out else config.run_dir() / "notebooks"
    print(f"kernel={args.kernel}  CIFAR10_DIR={config.cifar10_source()}  output: {out_dir}", flush=True)
    start = time.perf_counter()
    for index, notebook in enumerate(notebooks, 1):
        print(f"[{index}/{len(notebooks)}] {notebook.stem} ...", flush=True)
        began = time.perf_counter()
        try:
            run(notebook, out_dir, args.kernel)
        except CellExecutionError as err:
            print(f"[{index}/{len(notebooks)}] {notebook.stem} FAILED after {time.perf_counter() - began:.0f} s\n{err}",
                  flush=True)
            print(f"The executed copy with the error is in {out_dir / notebook.name}", file=sys.stderr)
            return 1
        print(f"[{index}/{len(notebooks)}] {notebook.stem} done in {time.perf_counter() - began:.0f} s", flush=True)
    print(f"all {len(notebooks)} notebooks ran in {time.perf_counter() - start:.0f} s; see {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
