import json
import os
import pickle

import numpy as np
import pytest

from helpers.core import config
from helpers.store import artifacts


def test_arrays_round_trip_with_manifest():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    y = np.array([1, 2, 3])
    file = artifacts.save_arrays("features/demo.npz", "01_features", {"weights": "random"}, x=x, y=y)
    assert file == config.run_dir() / "features/demo.npz"
    manifest = json.loads(artifacts.manifest_path(file).read_text())
    assert manifest["sha256"] == artifacts.sha256_of(file)
    assert manifest["arrays"] == {"x": {"shape": [3, 4], "dtype": "float32"}, "y": {"shape": [3], "dtype": "int64"}}
    assert manifest["producer"] == "01_features" and manifest["config"] == {"weights": "random"}
    loaded = artifacts.load_arrays("features/demo.npz", expect={"weights": "random"})
    np.testing.assert_array_equal(loaded["x"], x)
    np.testing.assert_array_equal(loaded["y"], y)


def test_missing_artifact_names_the_notebook_to_run():
    with pytest.raises(artifacts.ArtifactMissingError, match=r"nope\.npz is missing: run notebooks/01_features\.ipynb"):
        artifacts.load_arrays("nope.npz", producer="01_features")


def test_stale_artifact_is_refused():
    artifacts.save_arrays("f.npz", "01_features", {"weights": "imagenet"}, x=np.zeros(2))
    with pytest.raises(artifacts.ArtifactStaleError, match=r"weights='imagenet'.*weights='random'.*01_features\.ipynb"):
        artifacts.load_arrays("f.npz", expect={"weights": "random"})


def test_damaged_artifact_is_detected():
    file = artifacts.save_arrays("f.npz", "01_features", {}, x=np.zeros(100))
    data = bytearray(file.read_bytes())
    data[-30] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(artifacts.ArtifactCorruptError, match="checksum differs.*rerun notebooks/01_features"):
        artifacts.load_arrays("f.npz")


def test_failed_write_keeps_the_previous_file_and_leaves_no_temporary():
    file = artifacts.save_arrays("f.npz", "x", {}, x=np.ones(3))
    before = file.read_bytes()

    def explode(fh):
        fh.write(b"half a file")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        artifacts.atomic_write(file, explode)
    assert file.read_bytes() == before
    assert sorted(p.name for p in file.parent.iterdir()) == ["f.npz", "f.npz.manifest.json"]
    np.testing.assert_array_equal(artifacts.load_arrays("f.npz")["x"], np.ones(3))


def test_params_round_trip_in_the_seeds_pickle_format():
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(size=(512, 64)), "b1": np.zeros(64, np.float32), "history": {"loss": [1.0, 0.5]}}
    file = artifacts.save_params("unaug_model_params.pkl", params, "03_mlp_from_scratch", {"epochs": 3})
    with open(file, "rb") as fh:  # a plain pickle, readable by anyone with pickle.load
        assert pickle.load(fh)["W1"].shape == (512, 64)
    loaded = artifacts.load_params("unaug_model_params.pkl")
    np.testing.assert_array_equal(loaded["W1"], params["W1"])
    assert loaded["b1"].dtype == np.float32 and loaded["history"] == {"loss": [1.0, 0.5]}
    manifest = artifacts.read_manifest("unaug_model_params.pkl")
    assert manifest["arrays"]["W1"] == {"shape": [512, 64], "dtype": "float64"}


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_that_would_run_code_is_refused(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"W1": np.ones(2), "evil": _RunsCode(marker)}, protocol=protocol)
    with pytest.raises(artifacts.UnsafePickleError, match=r"refused to load (posix|os|nt)\.system"):
        artifacts.safe_unpickle(payload)
    assert not marker.exists()


def test_malicious_params_file_is_refused_even_with_a_valid_manifest(tmp_path):
    file = artifacts.save_params("p.pkl", {"W1": np.ones(2)}, "03_mlp_from_scratch", {})
    marker = tmp_path / "pwned"
    file.write_bytes(pickle.dumps({"W1": _RunsCode(marker)}))
    manifest = json.loads(artifacts.manifest_path(file).read_text())
    manifest["sha256"] = artifacts.sha256_of(file)  # an attacker can rewrite the manifest too
    artifacts.manifest_path(file).write_text(json.dumps(manifest))
    with pytest.raises(artifacts.UnsafePickleError):
        artifacts.load_params("p.pkl")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_data_loads_with_every_protocol(protocol):
    data = {"a": np.arange(6.0).reshape(2, 3), "s": np.float32(1.5), "t": (1, "x", [2.0, None])}
    loaded = artifacts.safe_unpickle(pickle.dumps(data, protocol=protocol))
    np.testing.assert_array_equal(loaded["a"], data["a"])
    assert loaded["s"] == np.float32(1.5) and loaded["t"] == (1, "x", [2.0, None])


def test_object_arrays_are_refused():
    payload = pickle.dumps({"W": np.array([1, "x"], dtype=object)})
    with pytest.raises(artifacts.UnsafePickleError, match="object arrays"):
        artifacts.safe_unpickle(payload)
    with pytest.raises(artifacts.UnsafePickleError, match="object arrays"):
        artifacts.save_params("p.pkl", {"W": np.array([None])}, "x", {})


def test_truncated_pickle_is_reported_as_damaged():
    payload = pickle.dumps({"W": np.ones(100)})[:50]
    with pytest.raises(artifacts.ArtifactCorruptError, match="not a readable pickle"):
        artifacts.safe_unpickle(payload)


def test_json_round_trip():
    artifacts.save_json("reports/r.json", {"accuracy": 0.5}, "04_compare", {"model": "aug"})
    assert artifacts.load_json("reports/r.json", expect={"model": "aug"}) == {"accuracy": 0.5}


def test_saving_works_where_os_has_no_fchmod(monkeypatch):
    # Windows before Python 3.13 has no os.fchmod: the first artifact save used to fail there
    monkeypatch.delattr(os, "fchmod", raising=False)
    file = artifacts.save_arrays("w.npz", "01_features", {}, x=np.arange(3))
    np.testing.assert_array_equal(artifacts.load_arrays("w.npz")["x"], np.arange(3))
    if os.name == "posix":  # readable by others, as before (mkstemp makes files private)
        assert file.stat().st_mode & 0o777 == 0o644
def test_a_model_reloads_as_the_architecture_it_was_saved_with():
    from helpers.nn import CNN, MLP

    tanh = MLP([6, 5, 3], activation="tanh", seed=1)
    artifacts.save_model("tanh.pkl", tanh, "03_mlp_from_scratch", {})
    reloaded = artifacts.load_model("tanh.pkl")
    assert reloaded.architecture == tanh.architecture and reloaded.architecture["layers"][1]["kind"] == "tanh"
    X = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_array_equal(reloaded.scores(X), tanh.scores(X))
    with pytest.raises(artifacts.ArtifactStaleError, match=r"tanh\.pkl holds a model with input_shape=\[6\], not input_shape=\[7\]"):
        artifacts.load_model("tanh.pkl", architecture={"input_shape": [7]})

    cnn = CNN((1, 12, 12), conv_channels=(3,), kernel_size=3, pool="avg", hidden=7, num_classes=4)
    artifacts.save_model("cnn.pkl", cnn, "07_cnn_from_scratch", {})
    assert artifacts.read_manifest("cnn.pkl")["architecture"] == {
        "model": "Classifier", "input_shape": [1, 12, 12], "layers": [
            {"layer": "Conv2D", "in_channels": 1, "out_channels": 3, "kernel_size": 3, "stride": 1, "padding": 0},
            {"layer": "Activation", "kind": "relu"}, {"layer": "Pool2D", "kind": "avg", "size": 2, "stride": None},
            {"layer": "Flatten"}, {"layer": "Linear", "in_features": 75, "out_features": 7},
            {"layer": "Activation", "kind": "relu"}, {"layer": "Linear", "in_features": 7, "out_features": 4}]}
    images = np.random.default_rng(1).standard_normal((2, 1, 12, 12)).astype(np.float32)
    np.testing.assert_array_equal(artifacts.load_model("cnn.pkl").scores(images), cnn.scores(images))


def test_a_model_whose_params_contradict_its_architecture_is_refused():
    from helpers.nn import MLP

    file = artifacts.save_model("m.pkl", MLP([6, 5, 3]), "03_mlp_from_scratch", {})
    manifest = json.loads(artifacts.manifest_path(file).read_text())
    manifest["architecture"]["layers"][0]["out_features"] = 4
    artifacts.manifest_path(file).write_text(json.dumps(manifest))
    with pytest.raises(artifacts.ArtifactCorruptError, match=r"m\.pkl: params W1 has shape \(6, 5\), Linear .* needs \(6, 4\)"):
        artifacts.load_model("m.pkl")
    artifacts.save_params("plain.pkl", MLP([6, 5, 3]).params, "03_mlp_from_scratch", {})
    with pytest.raises(artifacts.ArtifactError, match="saved without its architecture"):
        artifacts.load_model("plain.pkl")


def test_a_model_without_state_is_saved_as_the_seed_params_pickle():
    from helpers.nn import MLP

    model = MLP([6, 5, 3], seed=2)
    file = artifacts.save_model("seed.pkl", model, "03_mlp_from_scratch", {})
    with open(file, "rb") as fh:
        plain = pickle.load(fh)
    assert list(plain) == ["W1", "b1", "W2", "b2"]
    assert all(np.array_equal(plain[key], model.params[key]) for key in plain)
    assert artifacts.read_manifest("seed.pkl")["state"] == []


def _copy_of_the_package(tmp_path):
    package = tmp_path / "helpers"
    for file in artifacts.code_files():
        target = package / file.relative_to(artifacts.PACKAGE_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.read_bytes())
    return package


def test_the_code_digest_covers_the_code_that_computes_results_and_only_it(tmp_path):
    package = _copy_of_the_package(tmp_path)
    digest = artifacts.code_digest(package)
    assert digest == artifacts.code_digest()
    # outside COMPUTING: a plot, the notebook plumbing, the hand-in, the settings' docs change nothing
    for outside in ("notebook/plots.py", "notebook/run.py", "handin/submission.py", "core/config.py", "data/download.py"):
        with open(package / outside, "a") as fh:
            fh.write("\n# a cosmetic edit\n")
        assert artifacts.code_digest(package) == digest, outside
    # inside: the library, the features, a profile, a single notebook's study each change it
    for inside in ("nn/layers.py", "train.py", "features/extract.py", "core/profiles.py", "studies/search.py"):
        original = (package / inside).read_bytes()
        (package / inside).write_bytes(original + b"\n# an edit\n")
        assert artifacts.code_digest(package) != digest, inside
        (package / inside).write_bytes(original)
    assert artifacts.code_digest(package) == digest


def test_every_computing_entry_exists():
    for entry in artifacts.COMPUTING:
        assert (artifacts.PACKAGE_DIR / entry).exists(), entry
    files = {file.relative_to(artifacts.PACKAGE_DIR).as_posix() for file in artifacts.computing_files()}
    assert "nn/layers.py" in files and "notebook/plots.py" not in files and "handin/legacy.py" not in files


def test_an_artifact_made_under_another_profile_names_both_profiles_and_what_to_do(monkeypatch):
    monkeypatch.setenv("BUNDLE_PROFILE", "smoke")
    artifacts.save_json("features/summary.json", {"n": 1}, "01_features", {"profile": "smoke"})
    monkeypatch.setenv("BUNDLE_PROFILE", "full")
    with pytest.raises(artifacts.ArtifactMissingError) as caught:
        artifacts.load_json("features/summary.json", producer="01_features")
    message = str(caught.value)
    assert "full" in message and "features/summary.json is missing: run notebooks/01_features.ipynb first" in message
    assert "the profile is 'full' (from BUNDLE_PROFILE), but it exists only under profile 'smoke'" in message
    assert "settings.toml (profile = 'smoke')" in message
