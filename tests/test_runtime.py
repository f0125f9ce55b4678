"""Tests for helpers.core.runtime: the settings it applies and the machine it describes."""
import os
import platform

from threadpoolctl import threadpool_info

from helpers.core import config, runtime


def test_keep_freed_memory_applies_on_glibc():
    assert runtime.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_blas_limit_sets_the_threads_inside_it_only(monkeypatch):
    import sklearn.linear_model  # noqa: F401  loads SciPy's BLAS after helpers, as the notebooks do

    def threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = threads()
    assert len(before) >= 2, "NumPy's and SciPy's BLAS should both be loaded"
    monkeypatch.setenv("BUNDLE_BLAS_THREADS", "1")
    with runtime.blas_limit():
        assert set(threads()) == {config.blas_threads()} == {1}
    assert threads() == before


def test_apply_says_what_it_applied_and_nothing_when_asked_nothing():
    assert runtime.apply() == []
    applied = runtime.apply(memory=True)
    assert applied == (["freed memory kept for reuse (glibc malloc)"] if platform.libc_ver()[0] == "glibc" else [])


def test_environment_names_the_cpu_and_the_packages():
    environment = runtime.environment()
    assert environment["cpu"] == runtime.cpu_model() and environment["cpu"]
    assert set(environment["packages"]) == set(runtime.PACKAGES) and environment["packages"]["numpy"]


def test_compiling_on_a_cpu_machine_shows_no_cuda_toolkit_notice(tmp_path):
    """torch's C++ extension tools log "No CUDA runtime is found" where a CUDA toolkit lies beside no GPU."""
    import subprocess
    import sys
    script = "import helpers.core.device\nimport torch.utils.cpp_extension\n"
    fake_cuda = tmp_path / "cuda"
    (fake_cuda / "bin").mkdir(parents=True)
    env = {**os.environ, "CUDA_HOME": str(fake_cuda), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and "No CUDA runtime" not in done.stderr, done.stderr
    plain = subprocess.run([sys.executable, "-c", "import torch.utils.cpp_extension"], capture_output=True, text=True,
                           env=env, timeout=300)
    assert "No CUDA runtime is found" in plain.stderr  # without the muting it is there: the test can fail
