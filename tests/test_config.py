import pytest

from helpers import config


def test_profiles(monkeypatch):
    monkeypatch.setenv("BUNDLE_PROFILE", "full")
    assert config.profile().train_per_class is None and config.profile().mlp_epochs == 300 and config.profile().lr_step == 100
    monkeypatch.setenv("BUNDLE_PROFILE", "smoke")
    assert config.profile().train_per_class == 100
    assert config.run_dir().name == "smoke" and config.cache_dir().name == "cache"


def test_unknown_profile_is_named(monkeypatch):
    monkeypatch.setenv("BUNDLE_PROFILE", "quick")
    with pytest.raises(ValueError, match="BUNDLE_PROFILE='quick'.*'full', 'smoke'"):
        config.profile()


def test_default_weights_are_imagenet(monkeypatch):
    monkeypatch.delenv("FEATURE_WEIGHTS", raising=False)
    assert config.feature_weights() == "imagenet"
