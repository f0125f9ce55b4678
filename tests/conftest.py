"""Unit tests never touch the real artifacts/ folder or the network.

They see no data source (CIFAR10_DIR and MNIST_DIR unset, no shared offline copy) unless they
ask for the real data sets through the ``real_sources`` fixture or ``real_cifar10`` / ``real_mnist``.
"""
import os

import pytest

from grading.plugin import grading_pool, student  # noqa: F401  (the graded tests' fixtures, on this tree)
from helpers.core import config


@pytest.fixture(autouse=True)
def unchanged_environment():
    """Every test leaves the process environment as it found it, even one that sets variables
    directly (``config.apply_settings`` does): nbval's kernels, started later in the same run,
    inherit it."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


@pytest.fixture(scope="session")
def real_sources():
    """The real data sets as the environment names them (CIFAR10_DIR, MNIST_DIR or the shared copy), or None."""
    return {"CIFAR10_DIR": config.cifar10_source(), "MNIST_DIR": config.mnist_source()}


@pytest.fixture(autouse=True)
def isolated_artifacts(tmp_path, monkeypatch, real_sources):
    root = tmp_path / "artifacts"
    monkeypatch.setenv("BUNDLE_ARTIFACTS", str(root))
    monkeypatch.delenv("BUNDLE_CACHE", raising=False)  # the cache too lies inside the test's own folder
    monkeypatch.setenv("BUNDLE_PROFILE", "smoke")
    for variable in real_sources:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(config, "shared_data_dir", lambda: tmp_path / "no-shared-data")
    return root


def _use_real(variable, real_sources, monkeypatch):
    if real_sources[variable] is None:
        pytest.skip(f"{variable} is not set and there is no shared offline copy: this check needs the real data")
    monkeypatch.setenv(variable, str(real_sources[variable]))
    return real_sources[variable]


@pytest.fixture
def real_cifar10(real_sources, monkeypatch):
    """CIFAR10_DIR set to the real CIFAR-10 (skips without it)."""
    return _use_real("CIFAR10_DIR", real_sources, monkeypatch)


@pytest.fixture
def real_mnist(real_sources, monkeypatch):
    """MNIST_DIR set to the real MNIST (skips without it)."""
    return _use_real("MNIST_DIR", real_sources, monkeypatch)
