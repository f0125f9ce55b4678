"""Execute the notebooks in order, headless; save executed copies and HTML to artifacts/.

Usage: python scripts/run_notebooks.py [--out DIR] [NOTEBOOK ...]   (default: every notebooks/*.ipynb)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

from helpers import artifacts, config

NOTEBOOKS = config.REPO_ROOT / "notebooks"


def run(notebook: Path, out_dir: Path) -> None:
    """Execute one notebook in its own folder, always saving what ran (also on failure)."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        client.execute()
    finally:
        executed = out_dir / notebook.name
        artifacts.atomic_write(executed, lambda fh: fh.write(nbformat.writes(nb).encode()))
        html, _ = HTMLExporter().from_notebook_node(nb)
        artifacts.atomic_write(executed.with_suffix(".html"), lambda fh: fh.write(html.encode()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, help="folder for the executed copies (default: artifacts/<profile>/notebooks)")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    out_dir = args.out.resolve() if args.out else config.run_dir() / "notebooks"
    print(f"profile={config.profile().name}  weights={config.feature_weights()}  "
          f"CIFAR10_DIR={config.cifar10_source()}  output: {out_dir}", flush=True)
    start = time.perf_counter()
    for index, notebook in enumerate(notebooks, 1):
        print(f"[{index}/{len(notebooks)}] {notebook.stem} ...", end=" ", flush=True)
        began = time.perf_counter()
        try:
            run(notebook, out_dir)
        except CellExecutionError as err:
            print(f"FAILED after {time.perf_counter() - began:.0f} s\n{err}", flush=True)
            print(f"The executed copy with the error is in {out_dir / notebook.name}", file=sys.stderr)
            return 1
        print(f"done in {time.perf_counter() - began:.0f} s", flush=True)
    print(f"all {len(notebooks)} notebooks ran in {time.perf_counter() - start:.0f} s; see {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
