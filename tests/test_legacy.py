"""Tests for helpers.handin.legacy: files in the layouts the project no longer writes still load, unchanged.

``tests/data/legacy_models/`` was written by ``helpers.store.artifacts.save_model`` when ``MLP`` and ``CNN``
were classes recording ``{"model": "MLP"|"CNN", ...}`` manifests (commit c0dada8): ``mlp.pkl``
(``MLP([6, 5, 3], activation="tanh", seed=1)``), ``cnn.pkl`` (``CNN((1, 8, 8), conv_channels=(2, 3),
kernel_size=3, pool="avg", hidden=4, num_classes=3, seed=2)``), ``bn.pkl`` (a batch-norm ``Classifier``,
seed 4, after three training-mode losses), ``seed_columns.pkl`` (seed 000's layout, no manifest) and
``expected.npz``, the scores that code gave on fixed inputs.
"""
import pickle
from pathlib import Path

import numpy as np
import pytest

from helpers.handin import legacy
from helpers.store import artifacts
from helpers.nn import CNN, MLP, Classifier
from helpers.nn.architectures import generic_architecture

DATA = Path(__file__).parent / "data" / "legacy_models"
EXPECTED = np.load(DATA / "expected.npz")
BUILT_TODAY = {  # the models the files hold, built with today's code from the same seeds
    "mlp": lambda: MLP([6, 5, 3], activation="tanh", seed=1),
    "cnn": lambda: CNN((1, 8, 8), conv_channels=(2, 3), kernel_size=3, pool="avg", hidden=4, num_classes=3, seed=2),
}


@pytest.mark.parametrize("name, form", [("mlp", "MLP"), ("cnn", "CNN"), ("bn", "Classifier")])
def test_models_saved_in_every_recorded_form_load_and_score_as_when_saved(name, form):
    assert artifacts.read_manifest(DATA / f"{name}.pkl")["architecture"]["model"] == form
    model = artifacts.load_model(DATA / f"{name}.pkl")
    arrays = artifacts.safe_unpickle(DATA / f"{name}.pkl")
    assert isinstance(model, Classifier) and set({**model.params, **model.state}) == set(arrays)
    for key, array in {**model.params, **model.state}.items():
        assert array.dtype == arrays[key].dtype and array.tobytes() == arrays[key].tobytes(), key
    inputs = EXPECTED[f"{name}_inputs"]
    np.testing.assert_array_equal(model.predict(inputs), EXPECTED[f"{name}_scores"].argmax(axis=1))
    np.testing.assert_allclose(model.scores(inputs), EXPECTED[f"{name}_scores"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", BUILT_TODAY)
def test_the_same_seed_builds_the_same_parameters_and_layers_as_the_saved_models(name):
    built, saved = BUILT_TODAY[name](), artifacts.load_model(DATA / f"{name}.pkl")
    assert built.architecture == saved.architecture and built.scores_chunk == saved.scores_chunk
    for key, array in saved.params.items():
        assert built.params[key].tobytes() == array.tobytes(), key


def test_an_older_form_converts_to_the_layers_it_describes():
    recorded = artifacts.read_manifest(DATA / "cnn.pkl")["architecture"]
    assert generic_architecture(recorded) == BUILT_TODAY["cnn"]().architecture
    with pytest.raises(ValueError, match="lacks kernel_size"):
        generic_architecture({key: value for key, value in recorded.items() if key != "kernel_size"})
    with pytest.raises(ValueError, match="'model' must be one of"):
        generic_architecture({"model": "RNN"})


def test_a_seed_pickle_loads_and_scores_as_when_saved():
    model, layout = legacy.load_student_params(DATA / "seed_columns.pkl", in_features=6, num_classes=3)
    raw = pickle.loads((DATA / "seed_columns.pkl").read_bytes())
    assert layout == "columns" and model.params["W1"].tobytes() == raw["W1"].T.copy().tobytes()
    np.testing.assert_allclose(model.scores(EXPECTED["seed_inputs"]), EXPECTED["seed_scores"], rtol=1e-12)


def test_student_pickles_say_they_are_unverified_and_refuse_unclear_shapes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    file = tmp_path / "rows.pkl"
    file.write_bytes(pickle.dumps({"W1": rng.normal(size=(512, 64)), "b1": np.zeros((1, 64)),
                                   "W2": rng.normal(size=(64, 10)), "b2": np.zeros((1, 10))}))
    model, layout = legacy.load_student_params(file)
    assert layout == "rows" and model.dtype == np.float64
    assert [layer.spec() for layer in model.layers] == [layer.spec() for layer in MLP([512, 64, 10]).layers]
    assert f"UNVERIFIED: {file} has no manifest" in capsys.readouterr().err

    square = tmp_path / "square.pkl"  # 1-D biases and square weights read both ways
    square.write_bytes(pickle.dumps({"W1": np.ones((10, 10)), "b1": np.zeros(10)}))
    with pytest.raises(ValueError, match=r"square\.pkl: shapes W1 \(10, 10\) b1 \(10,\) fit both .*ambiguous"):
        legacy.load_student_params(square, in_features=10, num_classes=10)
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(pickle.dumps({"W1": np.ones((512, 64)), "b1": np.zeros((1, 64)),
                                     "W2": np.ones((32, 10)), "b2": np.zeros((1, 10))}))
    with pytest.raises(ValueError, match=r"broken\.pkl: shapes W1 \(512, 64\) b1 \(1, 64\), W2 \(32, 10\) .* fit neither"):
        legacy.load_student_params(broken)
    keys = tmp_path / "keys.pkl"
    keys.write_bytes(pickle.dumps({"weights": np.ones((512, 10))}))
    with pytest.raises(ValueError, match=r"keys\.pkl: keys \['weights'\] are not W1, b1"):
        legacy.load_student_params(keys)
