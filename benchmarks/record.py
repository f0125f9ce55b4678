"""The JSON record each benchmark writes to ``artifacts/benchmarks/<name>.json``.

``scripts/benchmark_report.py`` turns the records into ``docs/BENCHMARKS.md``. A record holds the
figures of one run, the helper's headline figure, its baseline measured in the same run, their
ratio, an optional hardware ceiling with the fraction of it reached, and the machine, package
versions, commit and date it was measured with.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from helpers.core import config
from helpers.core.runtime import commit, environment

# CPU features that decide which kernels torch and the BLAS can use
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_flags() -> list[str]:
    """The CPU_FLAGS this CPU has (from ``/proc/cpuinfo`` on Linux; empty elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return []
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            present = set(line.split(":", 1)[1].split())
            return [flag for flag in CPU_FLAGS if flag in present]
    return []


def machine() -> dict:
    """The machine a benchmark ran on: ``helpers.core.runtime.environment()`` plus the CPU's flags."""
    return {**environment(), "cpu_flags": cpu_flags()}


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages at the end of the run (other work on the machine), where the OS has them."""
    return [round(load, 2) for load in os.getloadavg()] if hasattr(os, "getloadavg") else None


def figure(label: str, value: float, unit: str) -> dict:
    """One measured figure: what it is, its value and its unit (``img/s``, ``s``, ...)."""
    return {"label": label, "value": float(value), "unit": unit}


def ceiling(label: str, value: float, unit: str, reached: float) -> dict:
    """A hardware ceiling measured in the same run, and the fraction ``reached / value`` of it."""
    return {**figure(label, value, unit), "fraction": float(reached) / float(value)}


def write(name: str, *, title: str, helper: dict, baseline: dict, settings: dict, figures: list[dict],
          target: str | None = None, hardware_ceiling: dict | None = None, extra: dict | None = None) -> Path:
    """Write the record of benchmark ``name``; ``ratio`` is helper / baseline (see the units: s or img/s).
    ``extra``: more keys for the record (a profile, ...), which the report leaves out."""
    record = {
        "benchmark": name, "title": title, "helper": helper, "baseline": baseline,
        "ratio": helper["value"] / baseline["value"], "target": target, "ceiling": hardware_ceiling,
        "figures": figures, "settings": settings, "machine": machine(), "commit": commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "load_average": load_average(),
        **(extra or {}),
    }
    folder = config.artifacts_root() / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{name}.json"
    file.write_text(json.dumps(record, indent=1, default=str) + "\n")  # settings may hold paths
    print(f"record: {file}")
    return file
