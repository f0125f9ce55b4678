import os

import pytest

from helpers.core import config
from helpers.core.profiles import PROFILES


def test_profiles(monkeypatch):
    monkeypatch.setenv("BUNDLE_PROFILE", "full")
    assert config.profile().train_per_class is None and config.profile().mlp_epochs == 300 and config.profile().lr_step == 100
    monkeypatch.setenv("BUNDLE_PROFILE", "smoke")
    assert config.profile().train_per_class == 100
    assert config.run_dir().name == "smoke" and config.cache_dir().name == "cache"


def test_unknown_profile_is_named(monkeypatch):
    monkeypatch.setenv("BUNDLE_PROFILE", "quick")
    with pytest.raises(ValueError, match="BUNDLE_PROFILE is 'quick', not a known profile.*'full', 'smoke'"):
        config.profile()


def test_default_weights_are_imagenet(monkeypatch):
    monkeypatch.delenv("FEATURE_WEIGHTS", raising=False)
    assert config.feature_weights() == "imagenet"


def test_given_values_override_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("BUNDLE_PROFILE", "smoke")
    monkeypatch.delenv("FEATURE_WEIGHTS", raising=False)
    config.apply_settings(profile=None, weights=None)
    assert (config.profile().name, config.feature_weights()) == ("smoke", "imagenet")
    out = capsys.readouterr().out
    assert "PROFILE = 'smoke' (from BUNDLE_PROFILE)" in out and "WEIGHTS = 'imagenet' (from settings.toml)" in out
    config.apply_settings(profile="full", weights="random")
    assert (config.profile().name, config.feature_weights()) == ("full", "random")
    assert os.environ["BUNDLE_PROFILE"] == "full"  # kernels and subprocesses started from here inherit it
    assert "PROFILE = 'full' (from the settings cell), WEIGHTS = 'random' (from the settings cell)" in capsys.readouterr().out


def test_wrong_settings_are_refused_before_anything_changes(monkeypatch):
    monkeypatch.setenv("BUNDLE_PROFILE", "smoke")
    with pytest.raises(ValueError, match="PROFILE in the settings cell is 'quick', not a known profile.*'full', 'smoke'"):
        config.apply_settings(profile="quick")
    assert config.profile().name == "smoke"
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['profil'\]"):
        config.apply_settings(profil="full")


@pytest.mark.parametrize("cpus, threads", [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 4)])
def test_blas_threads_follow_the_cpu_count(monkeypatch, cpus, threads):
    monkeypatch.delenv("BUNDLE_BLAS_THREADS", raising=False)
    monkeypatch.setattr(config, "cpu_count", lambda: cpus)
    assert config.blas_threads() == threads


def test_blas_threads_can_be_set_and_are_checked(monkeypatch):
    monkeypatch.setenv("BUNDLE_BLAS_THREADS", "3")
    assert config.blas_threads() == 3
    monkeypatch.setenv("BUNDLE_BLAS_THREADS", "0")
    with pytest.raises(ValueError, match="BUNDLE_BLAS_THREADS='0': set it to a whole number of at least 1"):
        config.blas_threads()


def test_cpu_count_without_an_affinity_mask(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # macOS, Windows
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert config.cpu_count() == 6


def test_a_plain_pip_install_finds_the_checkout_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "site-packages")  # helpers installed, not in a checkout
    monkeypatch.delenv("BUNDLE_ARTIFACTS")
    checkout = tmp_path / "clone"
    (checkout / "notebooks").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    monkeypatch.chdir(checkout / "notebooks")  # where a kernel runs a notebook
    assert config.project_dir() == checkout and config.artifacts_root() == checkout / "artifacts"
    monkeypatch.chdir(tmp_path)  # Colab: no checkout at all
    assert config.project_dir() == tmp_path and config.artifacts_root() == tmp_path / "artifacts"


def test_data_sources_default_to_the_shared_offline_copies(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "shared_data_dir", lambda: tmp_path)
    assert config.cifar10_source() is None and config.mnist_source() is None  # nothing there: download
    (tmp_path / "cifar10-jpeg.tar.gz").write_bytes(b"")
    (tmp_path / "mnist.npz").write_bytes(b"")
    assert config.cifar10_source() == tmp_path / "cifar10-jpeg.tar.gz" and config.mnist_source() == tmp_path / "mnist.npz"
    monkeypatch.setenv("CIFAR10_DIR", "")  # set but empty: download even so
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "elsewhere.npz"))
    assert config.cifar10_source() is None and config.mnist_source() == tmp_path / "elsewhere.npz"


def test_a_submission_set_in_the_settings_cell_reaches_config(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("SUBMISSION", raising=False)
    config.apply_settings(submission=None)
    assert config.submission() is None and "SUBMISSION = None (from the default)" in capsys.readouterr().out
    config.apply_settings(submission=tmp_path / "submission-smoke-random.zip")
    assert config.submission() == tmp_path / "submission-smoke-random.zip"


def test_the_cache_lives_in_the_artifacts_unless_bundle_cache_names_a_folder(tmp_path, monkeypatch):
    assert config.cache_dir() == config.artifacts_root() / "cache"
    monkeypatch.setenv("BUNDLE_CACHE", str(tmp_path / "shared-cache"))
    assert config.cache_dir() == (tmp_path / "shared-cache").resolve()


def test_the_configuration_page_shows_the_declared_variables():
    page = (config.REPO_ROOT / "docs" / "CONFIGURATION.md").read_text()
    assert config.variables_table() in page, "docs/CONFIGURATION.md: paste `python -m helpers.core.config`'s table"


def test_every_variable_the_code_reads_is_declared_once():
    """The names of the project's variables written anywhere in helpers/ are exactly those of config.VARIABLES."""
    import ast
    import re

    pattern = re.compile(r"(BUNDLE|FEATURE|CIFAR10|MNIST)_[A-Z_]+|SUBMISSION")
    found = {node.value for file in (config.REPO_ROOT / "helpers").rglob("*.py")
             for node in ast.walk(ast.parse(file.read_text()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and pattern.fullmatch(node.value)}
    assert found == set(config.VARIABLES)


def checkout_with(tmp_path, monkeypatch, text):
    """A checkout whose settings.toml holds ``text``, with neither variable set."""
    monkeypatch.setattr(config, "project_dir", lambda: tmp_path)
    monkeypatch.delenv("BUNDLE_PROFILE", raising=False)
    monkeypatch.delenv("FEATURE_WEIGHTS", raising=False)
    (tmp_path / config.SETTINGS_FILE).write_text(text)


def test_settings_toml_chooses_for_every_notebook_and_a_variable_overrides_it(tmp_path, monkeypatch, capsys):
    checkout_with(tmp_path, monkeypatch, 'profile = "smoke"\nweights = "random"\n')
    assert (config.profile().name, config.feature_weights()) == ("smoke", "random")
    config.apply_settings(profile=None, weights=None)
    assert "PROFILE = 'smoke' (from settings.toml), WEIGHTS = 'random' (from settings.toml)" in capsys.readouterr().out
    monkeypatch.setenv("BUNDLE_PROFILE", "full")
    assert config.profile().name == "full" and config.origin("profile") == "BUNDLE_PROFILE"
    (tmp_path / config.SETTINGS_FILE).unlink()
    monkeypatch.delenv("BUNDLE_PROFILE")
    assert (config.profile().name, config.origin("profile"), config.feature_weights()) == ("full", "the default", "imagenet")


@pytest.mark.parametrize("text, message", [
    ('profile = "quick"\n', r"profile in .*settings.toml is 'quick', not a known profile.*'full', 'smoke'"),
    ('profile = smoke\n', r"settings.toml is not valid TOML .*: fix that line"),
    ('profil = "smoke"\n', r"settings.toml: \['profil'\] not understood; it holds text values for \['profile', 'weights'\]"),
    ('profile = 1\n', r"\['profile'\] not understood"),
    ('submission = "a.zip"\n', r"\['submission'\] not understood"),
])
def test_a_wrong_settings_toml_is_named_with_what_to_do(tmp_path, monkeypatch, text, message):
    checkout_with(tmp_path, monkeypatch, text)
    with pytest.raises(ValueError, match=message):
        config.profile()


def test_the_checkouts_settings_toml_holds_the_defaults():
    assert config.file_settings() == {"profile": "full", "weights": "imagenet"}


def test_settings_toml_states_each_profiles_expected_time_as_measured():
    """Where the profile is chosen, its expected duration: the figures of docs/run_times.json (`make report` writes it)."""
    import json
    import re
    text = (config.REPO_ROOT / config.SETTINGS_FILE).read_text()
    times = json.loads((config.REPO_ROOT / "docs" / "run_times.json").read_text())
    stated = dict(re.findall(r"(\w+) about (\d+) min", text))
    assert set(stated) == set(times) == set(PROFILES), stated
    for profile, record in times.items():
        per_notebook = record["seconds"]
        minutes = sum(per_notebook.values()) / 60
        assert abs(int(stated[profile]) - minutes) <= max(1, 0.1 * minutes), (profile, stated[profile], minutes)
        assert record["machine"] in text and len(per_notebook) == 7, profile  # a whole run of the seven notebooks
