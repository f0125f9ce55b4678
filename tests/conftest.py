"""Unit tests never touch the real artifacts/ folder or the network."""
import pytest


@pytest.fixture(autouse=True)
def isolated_artifacts(tmp_path, monkeypatch):
    root = tmp_path / "artifacts"
    monkeypatch.setenv("BUNDLE_ARTIFACTS", str(root))
    monkeypatch.setenv("BUNDLE_PROFILE", "smoke")
    return root
