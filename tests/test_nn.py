"""Tests for helpers.nn and helpers.train: finite differences, PyTorch parity, training behaviour."""

import importlib
import json
import pickle
import pkgutil

import numpy as np
import pytest
import torch

from helpers.nn import (
    ACTIVATIONS,
    CNN,
    INITIALIZERS,
    LAYERS,
    MLP,
    SGD,
    Activation,
    Adam,
    Classifier,
    Linear,
    l2_penalty,
    layer_from_spec,
    make_optimizer,
    linear_backward,
    linear_forward,
    softmax,
    softmax_cross_entropy,
    step_lr,
)
from helpers.nn.gradcheck import gradient_errors, layer_gradient_errors, max_relative_error, numerical_gradient
from helpers.reference import torch_as_params, torch_loss_and_gradients, torch_predict, train_torch_copy
from helpers.train import (
    History,
    batch_slices,
    epoch_orders,
    evaluate,
    split_indices,
    train,
)

def synthetic_data(n=512, dim=32, classes=4, seed=0):
    """Gaussian blobs (one per class) in float64 with integer labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, dim))
    y = rng.integers(0, classes, n)
    return centres[y] + rng.standard_normal((n, dim)), y


# ---------------------------------------------------------------- layer gradients


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_matches_finite_differences(name):
    forward, backward = ACTIVATIONS[name]
    x = np.random.default_rng(1).standard_normal((5, 7))
    [error] = layer_gradient_errors(forward, backward, (x,), seed=2)
    assert error < 1e-7


def test_linear_backward_matches_finite_differences():
    rng = np.random.default_rng(2)
    x, W, b = rng.standard_normal((4, 6)), rng.standard_normal((6, 3)), rng.standard_normal(3)
    errors = layer_gradient_errors(linear_forward, linear_backward, (x, W, b), seed=3)
    assert len(errors) == 3 and max(errors) < 1e-7, errors
    _, cache = linear_forward(x, W, b)
    assert linear_backward(np.ones((4, 3)), cache, need_dx=False)[0] is None


def test_max_relative_error_is_cs231n_element_wise_metric():
    a, b = np.array([1.0, -2.0, 1e-12, 0.0]), np.array([1.1, -2.0, -1e-12, 0.0])
    assert max_relative_error(a, b) == pytest.approx(0.1 / 2.1)  # 1e-8 floor: near-zero entries do not count
    assert max_relative_error(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0
    # one wrong entry among large correct ones: the element-wise metric sees it, a norm-wise one barely
    big, wrong = np.full(1000, 100.0), np.full(1000, 100.0)
    big[0], wrong[0] = 1e-3, -1e-3
    assert max_relative_error(big, wrong) == pytest.approx(1.0)
    assert np.linalg.norm(big - wrong) / (np.linalg.norm(big) + np.linalg.norm(wrong)) < 1e-6
    with pytest.raises(ValueError, match="shape"):
        max_relative_error(np.zeros(3), np.zeros(4))


def test_layer_gradient_check_uses_the_upstream_gradient_and_catches_a_wrong_backward():
    x = np.random.default_rng(5).standard_normal((4, 6))
    forward, backward = ACTIVATIONS["sigmoid"]
    assert layer_gradient_errors(forward, backward, (x,))[0] < 1e-7
    # a backward that ignores dout (returns the local derivative only) must fail the check
    assert layer_gradient_errors(forward, lambda dout, cache: backward(np.ones_like(dout), cache), (x,))[0] > 0.1
    # the upstream gradient is dout = standard normal from default_rng(seed): the same as torch's VJP
    x_t = torch.tensor(x, requires_grad=True)
    out = torch.sigmoid(x_t)
    dout = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(torch.tensor(dout))
    _, cache = forward(x)
    np.testing.assert_allclose(backward(dout, cache), x_t.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="gradients"):
        layer_gradient_errors(linear_forward, lambda dout, cache: linear_backward(dout, cache)[:2],
                              (x, np.ones((6, 2)), np.zeros(2)))


def test_softmax_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    logits, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    _, dlogits = softmax_cross_entropy(logits, y)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(logits, y)[0], logits)
    assert max_relative_error(dlogits, numeric) < 1e-7


def test_l2_penalty_value_and_gradient():
    rng = np.random.default_rng(4)
    params = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4), "W2": rng.standard_normal((4, 2))}
    loss, grads = l2_penalty(params, 0.3)
    assert set(grads) == {"W1", "W2"}  # biases are not penalised
    assert loss == pytest.approx(0.3 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)), rel=1e-12)
    for name in grads:
        numeric = numerical_gradient(lambda: l2_penalty(params, 0.3)[0], params[name])
        assert max_relative_error(grads[name], numeric) < 1e-7


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_mlp_gradients_match_finite_differences(activation):
    model = MLP([6, 5, 4, 3], activation=activation, init="xavier", reg=0.1, dtype=np.float64, seed=5)
    rng = np.random.default_rng(6)
    for i in range(1, 4):  # non-zero biases: no ReLU input sits exactly on the kink at 0
        model.params[f"b{i}"][:] = rng.normal(0, 0.5, model.params[f"b{i}"].shape)
    X, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    errors = gradient_errors(model, X, y)
    assert set(errors) == set(model.loss(X, y)[1]) == set(model.params)
    assert max(errors.values()) < 1e-7, errors


# ---------------------------------------------------------------- PyTorch parity


@pytest.mark.parametrize("reg", [0.0, 0.05])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_loss_and_gradients_match_torch_autograd(activation, reg):
    model = MLP([10, 8, 6, 4], activation=activation, reg=reg, dtype=np.float64, seed=7)
    X, y = synthetic_data(n=16, dim=10, seed=8)
    loss, grads = model.loss(X, y)
    expected_loss, expected_grads = torch_loss_and_gradients(model, X, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for name, expected in expected_grads.items():
        np.testing.assert_allclose(grads[name], expected, rtol=1e-10, atol=1e-14, err_msg=name)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [1e4, 1e4, 1e4], [-1e4, -1e4, -1e4 + 1]])
    y = np.array([1, 2, 0, 2])
    loss, dlogits = softmax_cross_entropy(logits, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert np.all(np.isfinite(softmax(logits)))

    torch_logits = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(torch_logits, torch.from_numpy(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, torch_logits.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(softmax(logits), torch.softmax(torch_logits, 1).detach().numpy(), atol=1e-15)


@pytest.mark.parametrize("optimizer, momentum, reg, lr", [("sgd", 0.0, 0.0, 0.05), ("sgd", 0.9, 0.01, 0.05),
                                                          ("rmsprop", 0.0, 0.01, 0.002), ("adam", 0.0, 0.01, 0.01)])
def test_training_matches_torch(optimizer, momentum, reg, lr):
    X, y = synthetic_data()
    settings = dict(epochs=3, batch_size=50, lr=lr, lr_step=2, lr_gamma=0.5, momentum=momentum, optimizer=optimizer,
                    seed=3)
    model = MLP([32, 16, 8, 4], reg=reg, dtype=np.float64, seed=1)
    net, torch_losses = train_torch_copy(model, X, y, **settings)  # copies the initial weights
    history = train(model, X, y, progress=False, **settings)

    np.testing.assert_allclose(history.loss["train"], torch_losses, rtol=1e-8)
    assert history.lr == [lr, lr, lr / 2]
    np.testing.assert_array_equal(model.predict(X), torch_predict(net, X))
    for name, expected in torch_as_params(net).items():
        np.testing.assert_allclose(model.params[name], expected, rtol=1e-8, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------- the seed runs, bit for bit


def hand_written_run(X, y, layer_sizes, std, *, epochs, batch_size, lr, lr_step, lr_gamma, momentum, reg, seed,
                     dtype):
    """The seed training loop written out from the equations of notebook 03 (ReLU MLP, plain NumPy).

    Same operations in the same order as the library before its layers became a list:
    weights ``std(fan_in) * standard_normal`` from ``default_rng(seed)`` layer by layer, one
    ``permutation`` per epoch from a second ``default_rng(seed)``, softmax cross-entropy,
    backpropagation, L2 gradient ``2 * reg * W``, momentum ``v = momentum * v + g``, ``p -= lr * v``.
    """
    rng = np.random.default_rng(seed)
    W = [(std(m) * rng.standard_normal((m, k))).astype(dtype) for m, k in zip(layer_sizes[:-1], layer_sizes[1:])]
    b = [np.zeros(k, dtype=dtype) for k in layer_sizes[1:]]
    params = [p for pair in zip(W, b) for p in pair]
    velocity = [np.zeros_like(p) for p in params]
    shuffle = np.random.default_rng(seed)
    X = X.astype(dtype)
    for epoch in range(epochs):
        rate = lr * lr_gamma ** (epoch // lr_step)
        order = shuffle.permutation(len(X))
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            hidden = [X[rows]]
            for i in range(len(W)):
                z = hidden[-1] @ W[i]
                z += b[i]
                hidden.append(np.maximum(z, 0) if i < len(W) - 1 else z)
            scores = hidden.pop()
            shifted = scores - scores.max(axis=1, keepdims=True)
            d = np.exp(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))
            d[np.arange(len(rows)), y[rows]] -= 1
            d /= len(rows)
            grads = [None] * len(params)
            for i in range(len(W) - 1, -1, -1):
                grads[2 * i] = hidden[i].T @ d + (2 * reg) * W[i] if reg else hidden[i].T @ d
                grads[2 * i + 1] = d.sum(axis=0)
                if i:
                    d = (d @ W[i].T) * (hidden[i] > 0)
            for p, v, g in zip(params, velocity, grads):
                if momentum:
                    v *= momentum
                    v += g
                    g = v
                p -= g * rate
    return {f"{kind}{i}": p for i, pair in enumerate(zip(W, b), start=1) for kind, p in zip("Wb", pair)}


SEED_RECIPES = [
    ("small_normal", [32, 16, 4], dict(lr=0.01, lr_step=2, lr_gamma=0.1, momentum=0.0, reg=0.0)),  # seed 001
    ("he", [32, 16, 8, 4], dict(lr=0.01, lr_step=2, lr_gamma=0.1, momentum=0.9, reg=1e-3)),  # notebook 03's better one
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init, sizes, recipe", SEED_RECIPES)
def test_seed_runs_reproduce_the_hand_written_loop(dtype, init, sizes, recipe):
    """Up to rounding: any correct implementation passes. The solution's bit-for-bit pin is instructor-only
    (tests/test_solution_pins.py)."""
    model, expected = seed_run(dtype, init, sizes, recipe)
    for name, value in expected.items():  # 3 epochs of float rounding differences, amplified a little by training
        np.testing.assert_allclose(model.params[name], value, rtol=1000 * np.finfo(dtype).eps, err_msg=name,
                                   atol=1000 * np.finfo(dtype).eps * np.abs(value).max())


def seed_run(dtype, init, sizes, recipe):
    """(the library's model trained on a seed recipe, the hand-written loop's params)."""
    X, y = synthetic_data(n=300)
    std = {"small_normal": lambda fan_in: 1e-3, "he": lambda fan_in: np.sqrt(2.0 / fan_in)}[init]
    settings = dict(epochs=3, batch_size=64, seed=5)
    expected = hand_written_run(X, y, sizes, std, dtype=dtype, **settings, **recipe)
    model = MLP(sizes, init=init, reg=recipe["reg"], dtype=dtype, seed=5)
    untrained = MLP(sizes, init=init, dtype=dtype, seed=5).params
    assert all(np.array_equal(untrained[name], model.params[name]) for name in expected)
    train(model, X, y, progress=False, **settings, **{k: v for k, v in recipe.items() if k != "reg"})
    assert list(model.params) == list(expected)
    return model, expected


def test_cnn_initial_weights_are_drawn_in_the_seed_order():
    model = CNN((2, 9, 9), conv_channels=(3, 4), kernel_size=3, hidden=6, num_classes=5, seed=7)
    rng = np.random.default_rng(7)
    expected = {}
    for k, (fan_in, filters) in enumerate(((2 * 9, 3), (3 * 9, 4)), start=1):
        W = (np.sqrt(2.0 / fan_in) * rng.standard_normal((fan_in, filters))).astype(np.float32).T
        expected[f"conv{k}_W"], expected[f"conv{k}_b"] = W.reshape(filters, -1, 3, 3), np.zeros(filters, np.float32)
    for i, (fan_in, fan_out) in enumerate(((4 * 2 * 2, 6), (6, 5)), start=1):
        expected[f"W{i}"] = (np.sqrt(2.0 / fan_in) * rng.standard_normal((fan_in, fan_out))).astype(np.float32)
        expected[f"b{i}"] = np.zeros(fan_out, np.float32)
    assert list(model.params) == list(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(model.params[name], value, err_msg=name)


# ---------------------------------------------------------------- layers, update rules


def test_a_classifier_is_its_list_of_layers_and_rebuilds_from_its_architecture():
    layers = [Linear(6, 5), Activation("tanh"), Linear(5, 4), Activation("relu"), Linear(4, 3)]
    model = Classifier((6,), layers, init="xavier", reg=0.1, dtype=np.float64, seed=2)
    assert list(model.params) == ["W1", "b1", "W2", "b2", "W3", "b3"] and model.state == {}
    X, y = synthetic_data(n=8, dim=6, classes=3)
    rng = np.random.default_rng(0)
    for i in range(1, 4):
        model.params[f"b{i}"][:] = rng.normal(0, 0.5, model.params[f"b{i}"].shape)
    assert max(gradient_errors(model, X, y).values()) < 1e-7
    loss, grads = model.loss(X, y)
    expected_loss, expected_grads = torch_loss_and_gradients(model, X, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for name, expected in expected_grads.items():
        np.testing.assert_allclose(grads[name], expected, rtol=1e-10, atol=1e-14, err_msg=name)
    rebuilt = Classifier.from_architecture(json.loads(json.dumps(model.architecture)), model.params)
    np.testing.assert_array_equal(rebuilt.scores(X), model.scores(X))
    assert rebuilt.architecture["layers"][1] == {"layer": "Activation", "kind": "tanh"}


def test_make_optimizer_takes_a_name_or_a_factory():
    params = {"w": np.ones(2)}
    assert isinstance(make_optimizer("sgd", params, 0.1, momentum=0.9), SGD)
    adam = make_optimizer(lambda p, lr: Adam(p, lr, betas=(0.5, 0.9)), params, 0.1)
    assert adam.betas == (0.5, 0.9) and adam.lr == 0.1 and adam.params is params
    with pytest.raises(ValueError, match="momentum"):
        make_optimizer("adam", params, 0.1, momentum=0.9)
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("lbfgs", params, 0.1)


# ---------------------------------------------------------------- training behaviour


def test_epoch_orders_cut_into_batches_cover_every_row_once():
    orders = epoch_orders(10, 2, seed=0)
    batches = [orders[0][batch] for batch in batch_slices(10, 4)]
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches)) == list(range(10))
    np.testing.assert_array_equal(orders[0], np.random.default_rng(0).permutation(10))
    assert not np.array_equal(orders[0], orders[1])


def test_same_seed_gives_identical_params_and_history():
    X, y = synthetic_data(n=200, dim=8)
    runs = []
    for _ in range(2):
        model = MLP([8, 6, 4], seed=4)
        history = train(model, X, y, epochs=2, batch_size=32, seed=11, eval_sets={"test": (X[:50], y[:50])},
                        progress=False)
        runs.append((model.params, history.to_dict()))
    (params_a, history_a), (params_b, history_b) = runs
    for name in params_a:
        np.testing.assert_array_equal(params_a[name], params_b[name])
    for key in ("loss", "acc", "lr"):
        assert history_a[key] == history_b[key]
    other = MLP([8, 6, 4], seed=4)
    train(other, X, y, epochs=2, batch_size=32, seed=12, progress=False)
    assert not np.array_equal(other.params["W1"], params_a["W1"])


def test_evaluation_sets_are_recorded_by_name_and_do_not_change_training():
    X, y = synthetic_data(n=300, dim=8)
    X_val, y_val, X_test, y_test = X[:40] + 0.5, y[:40], X[40:100] - 0.5, y[40:100]
    plain, evaluated = MLP([8, 6, 4], seed=2), MLP([8, 6, 4], seed=2)
    train(plain, X, y, epochs=3, batch_size=32, progress=False)
    history = train(evaluated, X, y, epochs=3, batch_size=32, restore_best=False, progress=False,
                    eval_sets={"validation": (X_val, y_val), "test": (X_test, y_test)})
    for name in plain.params:  # same batches, same steps: evaluation changes nothing
        np.testing.assert_array_equal(plain.params[name], evaluated.params[name])
    assert list(history.loss) == list(history.acc) == ["train", "validation", "test"]
    assert all(len(values) == 3 for values in (*history.loss.values(), *history.acc.values()))
    for split, (X_split, y_split) in {"train": (X, y), "validation": (X_val, y_val), "test": (X_test, y_test)}.items():
        loss, acc = evaluate(evaluated, X_split, y_split)
        assert history.loss[split][-1] == loss and history.acc[split][-1] == acc, split
    assert history.model_epoch == 2 and history.best_epoch == int(np.argmin(history.loss["validation"]))


def overfitting_run(**settings):
    """60 epochs on random labels (pure over-fitting): the validation loss rises after a few epochs."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((120, 20)), rng.integers(0, 4, 120)
    model = MLP([20, 64, 4], dtype=np.float64, seed=0)
    history = train(model, X, y, epochs=60, batch_size=16, lr=0.2, seed=0, val_fraction=0.25,
                    **{"progress": False, **settings})
    _, val_idx = split_indices(len(X), 0.25, seed=0)
    return model, history, evaluate(model, X[val_idx], y[val_idx])[0]


def test_early_stopping_restores_best_params():
    patience = 3
    _, history, returned_loss = overfitting_run(patience=patience)
    val_loss = history.loss["validation"]
    assert len(val_loss) < 60  # it did stop early
    assert history.best_epoch == int(np.argmin(val_loss)) == history.model_epoch
    assert len(val_loss) == history.best_epoch + patience + 1
    assert returned_loss == pytest.approx(val_loss[history.best_epoch], rel=1e-12)
    assert returned_loss < val_loss[-1]


def test_a_validation_split_alone_returns_the_best_validation_model():
    _, history, returned_loss = overfitting_run()
    val_loss = history.loss["validation"]
    assert len(val_loss) == 60  # no patience: every epoch runs
    assert history.best_epoch == int(np.argmin(val_loss)) == history.model_epoch < 59
    assert returned_loss == pytest.approx(val_loss[history.best_epoch], rel=1e-12)
    assert returned_loss < val_loss[-1]


def test_restore_best_false_returns_the_last_epoch_and_says_so():
    _, history, returned_loss = overfitting_run(restore_best=False)
    val_loss = history.loss["validation"]
    assert history.model_epoch == 59 and history.best_epoch == int(np.argmin(val_loss)) < 59
    assert returned_loss == pytest.approx(val_loss[-1], rel=1e-12)


def test_a_given_validation_set_equals_a_held_out_fraction():
    X, y = synthetic_data(n=200, dim=8)
    fit_idx, val_idx = split_indices(len(X), 0.2, seed=5)
    held_out, given = MLP([8, 6, 4], seed=1), MLP([8, 6, 4], seed=1)
    history_a = train(held_out, X, y, epochs=4, batch_size=16, seed=5, val_fraction=0.2, patience=2, progress=False)
    history_b = train(given, X[fit_idx], y[fit_idx], epochs=4, batch_size=16, seed=5, patience=2, progress=False,
                      eval_sets={"validation": (X[val_idx], y[val_idx])})
    assert history_a.loss == history_b.loss and history_a.model_epoch == history_b.model_epoch
    np.testing.assert_array_equal(held_out.params["W1"], given.params["W1"])


def test_history_round_trips_through_pickle_and_json():
    X, y = synthetic_data(n=100, dim=8)
    history = train(MLP([8, 5, 4]), X, y, epochs=2, batch_size=25, val_fraction=0.2, progress=False,
                    eval_sets={"test": (X[:10], y[:10])})
    for restored in (pickle.loads(pickle.dumps(history.to_dict())), json.loads(json.dumps(history.to_dict()))):
        assert History.from_dict(restored) == history
        assert set(restored["loss"]) == {"train", "validation", "test"} and len(restored["acc"]["validation"]) == 2
    assert len(history.epoch_time) == 2 and min(history.epoch_time) > 0
    with pytest.raises(ValueError, match="rerun"):
        History.from_dict({"train_loss": [1.0], "test_loss": [1.0]})


def test_step_lr_seed_schedule():
    assert [step_lr(e, 0.01, 100, 0.1) for e in (0, 99, 100, 199, 200)] == pytest.approx(
        [0.01, 0.01, 0.001, 0.001, 0.0001])
    assert step_lr(500, 0.01, None, 0.1) == 0.01


def test_sgd_momentum_uses_torch_convention():
    params = {"w": np.array([1.0])}
    optimizer = SGD(params, lr=0.1, momentum=0.5)
    optimizer.step({"w": np.array([2.0])})  # v = 2, w = 1 - 0.2
    optimizer.step({"w": np.array([2.0])})  # v = 0.5 * 2 + 2 = 3, w = 0.8 - 0.3
    assert params["w"][0] == pytest.approx(0.5)


# ---------------------------------------------------------------- dtypes, init, params dict, errors


def test_float32_by_default_and_float64_on_request():
    X, y = synthetic_data(n=10, dim=6)
    model32 = MLP([6, 5, 3])
    assert all(p.dtype == np.float32 for p in model32.params.values())
    _, grads32 = model32.loss(X, y % 3)  # float64 input is cast to the params' dtype
    assert model32.scores(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads32.values())
    model64 = MLP([6, 5, 3], dtype=np.float64)
    assert model64.scores(X).dtype == np.float64
    np.testing.assert_allclose(model32.params["W1"], model64.params["W1"], rtol=1e-6)  # same draws
    np.testing.assert_allclose(model64.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)


def test_every_layer_of_the_package_is_exported():
    import helpers.nn

    for module in pkgutil.iter_modules(helpers.nn.__path__):  # a layer module __init__ forgot still registers here
        importlib.import_module(f"helpers.nn.{module.name}")
    assert set(LAYERS) <= set(helpers.nn.__all__) and all(getattr(helpers.nn, name) is LAYERS[name] for name in LAYERS)


def test_from_params_reuses_a_params_dict():
    model = MLP([6, 5, 4, 3], activation="tanh", dtype=np.float64, seed=2)
    X, _ = synthetic_data(n=7, dim=6)
    params = pickle.loads(pickle.dumps(model.params))
    clone = Classifier.from_params(params, (6,), [layer_from_spec(layer) for layer in model.architecture["layers"]])
    assert clone.params is params and clone.architecture == model.architecture and clone.dtype == np.float64
    np.testing.assert_array_equal(clone.scores(X), model.scores(X))
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))


@pytest.mark.parametrize("name, expected_std", [("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 600)),
                                                ("small_normal", 1e-3)])
def test_initialisers_scale(name, expected_std):
    W = INITIALIZERS[name](400, 200, np.random.default_rng(0), np.float32)
    assert W.shape == (400, 200) and W.dtype == np.float32
    assert W.std() == pytest.approx(expected_std, rel=0.02)
    assert MLP([4, 3], init=name).params["b1"].tolist() == [0, 0, 0]


@pytest.mark.parametrize("call, argument", [
    (lambda m: m.scores(np.zeros((3, 5))), "X"),
    (lambda m: m.scores(np.zeros(6)), "X"),
    (lambda m: m.loss(np.zeros((3, 6)), np.array([0, 1])), "y"),
    (lambda m: m.loss(np.zeros((3, 6)), np.array([0, 1, 3])), "y"),
    (lambda m: m.loss(np.zeros((3, 6)), np.array([0, -1, 2])), "y"),
    (lambda m: m.loss(np.zeros((3, 6)), np.array([0.0, 1.0, 2.0])), "y"),
    (lambda m: train(m, np.zeros((3, 7)), np.zeros(3, int), epochs=1, progress=False), "X_train"),
    (lambda m: train(m, np.zeros((3, 6)), np.array([0, 1, 5]), epochs=1, progress=False), "y_train"),
    (lambda m: train(m, np.zeros((3, 6)), np.zeros(3, int), epochs=1, progress=False,
                     eval_sets={"test": (np.zeros((2, 6)), np.zeros(3, int))}), "eval_sets"),
    (lambda m: train(m, np.zeros((3, 6)), np.zeros(3, int), epochs=1, progress=False,
                     eval_sets={"train": (np.zeros((2, 6)), np.zeros(2, int))}), "eval_sets"),
    (lambda m: train(m, np.zeros((4, 6)), np.zeros(4, int), epochs=1, val_fraction=0.5, progress=False,
                     eval_sets={"validation": (np.zeros((2, 6)), np.zeros(2, int))}), "val_fraction"),
    (lambda m: train(m, np.zeros((3, 6)), np.zeros(3, int), epochs=1, patience=2, progress=False),
     "val_fraction"),
    (lambda m: softmax_cross_entropy(np.zeros(3), np.zeros(3, int)), "logits"),
    (lambda m: MLP([6, 3], activation="gelu"), "activation"),
    (lambda m: MLP([6], init="he"), "layer_sizes"),
    (lambda m: MLP([6, 3], init="zeros"), "init"),
    (lambda m: Classifier.from_params({"W1": np.zeros((6, 3))}, (6,), m.layers), "params"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call(MLP([6, 4, 3]))
