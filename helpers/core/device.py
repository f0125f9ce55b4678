"""Where and how torch runs: the device, the precision (bf16 where the hardware computes it natively)
and whether to compile; the hardware policy beside the process policy of :mod:`helpers.core.runtime`.

* **Precision.** bf16 autocast where the CPU computes bf16 natively (AVX512-BF16 or AMX, through
  oneDNN); elsewhere bf16 is emulated and slower than fp32, so ``precision="auto"`` keeps fp32 there.
* **Compiling.** ``torch.compile`` (inductor) needs a C++ compiler, and compiling takes seconds to a
  minute, so ``backend="auto"`` compiles only for at least ``COMPILE_MIN_IMAGES`` images on the CPU
  when a compiler is found, and otherwise says so and stays eager. Compiling loads torch's C++
  extension tools, which log "No CUDA runtime is found, using CUDA_HOME=..." on any machine with a
  CUDA toolkit but no GPU: a fact about the toolkit, not the user's concern on the CPU, so it is muted.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys

import torch

logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # its CUDA_HOME notice: see above

PRECISIONS = ("auto", "fp32", "bf16")
BACKENDS = ("auto", "eager", "compiled")
COMPILE_MIN_IMAGES = 8192  # below this, compiling costs more than it saves


def pick_device(device: torch.device | str | None = None) -> torch.device:
    """``device`` if given, else CUDA, then MPS, then CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_supports_bf16() -> bool:
    """True when oneDNN can run bf16 natively here (AVX512-BF16 or AMX tiles).

    The probes are private to ``torch.cpu``, hence the guarded lookup: if they disappear the
    answer is False and extraction simply stays in fp32.
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    native = any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return torch.backends.mkldnn.is_available() and native


def describe_cpu() -> str:
    """What decides the fastest path here: the ISA torch dispatches to and how bf16 is computed."""
    capability = torch.backends.cpu.get_cpu_capability()
    if getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)():
        return f"{capability}, bf16 on AMX tiles through oneDNN"
    if cpu_supports_bf16():
        return f"{capability}, native bf16 (AVX512-BF16) through oneDNN"
    return f"{capability}, no native bf16: fp32 unless asked"


def resolve_precision(precision: str, device: torch.device) -> str:
    """'fp32' or 'bf16': forced values as given; 'auto' picks bf16 where the hardware runs it natively."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: pass one of {PRECISIONS}")
    if precision != "auto":
        return precision
    if device.type == "cpu":
        return "bf16" if cpu_supports_bf16() else "fp32"
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp32"
    return "fp32"


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU backend would use (CXX, else g++/c++/clang++, cl on Windows)."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else []
    names += ["cl"] if sys.platform == "win32" else ["g++", "c++", "clang++"]
    return next((found for found in map(shutil.which, names) if found), None)


def resolve_backend(backend: str, device: torch.device, n_images: int) -> str:
    """'eager' or 'compiled': forced values as given; 'auto' compiles large CPU jobs where a compiler exists."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: pass one of {BACKENDS}")
    if backend != "auto":
        return backend
    if device.type != "cpu" or n_images < COMPILE_MIN_IMAGES:
        return "eager"
    if cxx_compiler() is None:
        print("torch.compile needs a C++ compiler (g++, clang++ or MSVC's cl) and none was found: "
              "features are extracted eagerly, about half as fast", file=sys.stderr, flush=True)
        return "eager"
    return "compiled"
