"""The machine a run uses: what it is (recorded beside results) and the thread and memory settings applied to it.

Settings: :func:`apply` (a notebook's threads, deterministic torch, malloc), :func:`blas_limit`
(the SGD steps of ``helpers.train``) and :func:`keep_freed_memory`; the number of threads is
chosen by ``helpers.core.config.blas_threads``. Description: :func:`environment`, :func:`cpu_model` and :func:`commit`.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

from threadpoolctl import threadpool_info, threadpool_limits

from helpers.core import config

PACKAGES = ("numpy", "torch", "torchvision", "scikit-learn", "pandas", "matplotlib", "seaborn", "threadpoolctl")


# ----------------------------------------------------------------------------- settings
def keep_freed_memory(mmap_threshold=64 << 20, trim_threshold=256 << 20):
    """Let glibc's malloc recycle freed large arrays instead of handing them back to the OS.

    A convolution step allocates and frees several arrays of a few MB. By default glibc
    returns such memory to the operating system, and the next array page-faults on every
    4 KiB page it touches: measured here, about a third of a CNN training step (26 -> 17 ms
    for the CIFAR-10 network, batch 64). This serves arrays up to ``mmap_threshold`` bytes
    from malloc's heap and keeps up to ``trim_threshold`` bytes of freed memory for reuse.
    Process-wide (PyTorch in the same process benefits too) and only on glibc; returns
    whether it applied. The price: the process holds on to its peak memory.
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>
    return bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)) and mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))


def blas_limit(threads: int | None = None):
    """A context manager inside which BLAS runs ``threads`` threads (None: ``config.blas_threads()``).

    Every BLAS loaded at the time of the call is limited (NumPy's, and SciPy's once scikit-learn
    has loaded it): the libraries are looked up on each call, about a millisecond.
    """
    return threadpool_limits(limits=config.blas_threads() if threads is None else threads, user_api="blas")


def apply(threads: bool = False, deterministic: bool = False, memory: bool = False) -> list[str]:
    """Apply settings to this process for good; return what was applied, in words.

    ``threads``: BLAS (and torch, when imported) limited to ``config.blas_threads()``;
    ``deterministic``: torch runs that repeat bit for bit; ``memory``: :func:`keep_freed_memory`.
    """
    applied = []
    if deterministic:  # torch imported first, so that the thread limit below covers it too
        import torch
        torch.use_deterministic_algorithms(True)
    if threads:
        count = config.blas_threads()
        threadpool_limits(limits=count, user_api="blas")
        applied.append(f"{count} BLAS thread(s) (BUNDLE_BLAS_THREADS overrides)")
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(count)
            applied.append(f"{count} torch thread(s)")
    if deterministic:
        applied.append("deterministic torch algorithms")
    if memory and keep_freed_memory():
        applied.append("freed memory kept for reuse (glibc malloc)")
    return applied


# ----------------------------------------------------------------------------- description
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform`` elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def commit() -> str:
    """The checkout's commit (``+dirty`` with uncommitted changes), or ``unknown`` outside git."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=config.REPO_ROOT, capture_output=True, text=True, check=True).stdout

    try:
        head = git("rev-parse", "--short=12", "HEAD").strip()
        return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no").strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def environment() -> dict:
    """Where a run happened: Python, platform, CPU, package versions, BLAS libraries."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    blas = [{key: info.get(key) for key in ("internal_api", "version", "architecture", "num_threads")}
            for info in threadpool_info() if info.get("user_api") == "blas"]
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpu": cpu_model(),
            "cores": os.cpu_count(), "packages": versions, "blas": blas,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
