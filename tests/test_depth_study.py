"""helpers.studies.depth_study (notebook 06's PyTorch depth study) and reference.train_steps, the one torch training loop."""
import json

import numpy as np
import pytest
import torch

from helpers.core.config import REPO_ROOT
from helpers.studies.depth_study import (SEED_RECIPE, SEED_STD, WIDTHS, as_tensors, depth_mlp, evaluate_net, fit, layer_scales,
                                 rms, seed_recipe_run, sound_recipe_run, template_pixels)
from helpers.reference import train_steps

IN_FEATURES = 24


def blobs(n, seed, classes=3, spread=4.0):
    """``n`` float32 rows around ``classes`` well separated centres, with their labels, as tensors."""
    rng = np.random.default_rng(seed)
    centres = spread * np.random.default_rng(99).standard_normal((classes, IN_FEATURES))
    y = rng.integers(0, classes, n)
    X = (centres[y] + rng.standard_normal((n, IN_FEATURES))).astype(np.float32)
    return as_tensors(X, y)


@pytest.fixture(scope="module")
def data():
    return {"train": blobs(400, 0), "validation": blobs(200, 1), "test": blobs(200, 2)}


def linears(net):
    return [m for m in net if isinstance(m, torch.nn.Linear)]


def test_template_pixels_maps_0_and_255_to_minus_one_and_one():
    images = np.array([[[[0, 255, 51]]], [[[255, 0, 204]]]], dtype=np.uint8)  # (2, 1, 1, 3)
    rows = template_pixels(images)
    assert rows.dtype == torch.float32 and rows.shape == (2, 3)
    torch.testing.assert_close(rows, torch.tensor([[-1.0, 1.0, -0.6], [1.0, -1.0, 0.6]]))


@pytest.mark.parametrize("depth", [2, 6])
def test_depth_mlp_has_the_seed_widths_relus_and_zero_biases(depth):
    net = depth_mlp(depth, "seed", in_features=3072)
    sizes = [(m.in_features, m.out_features) for m in linears(net)]
    widths = [3072, *WIDTHS[:depth - 1], 10]
    assert sizes == list(zip(widths[:-1], widths[1:]))
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU"] * (depth - 1) + ["Linear"]
    assert all(torch.count_nonzero(m.bias) == 0 for m in linears(net))
    assert rms(linears(net)[0].weight) == pytest.approx(SEED_STD, rel=0.01)


def test_kaiming_init_keeps_the_variance_2_over_fan_in_and_batch_norm_follows_each_hidden_layer():
    net = depth_mlp(3, "kaiming", batch_norm=True, in_features=3072)
    assert [type(m).__name__ for m in net] == ["Linear", "BatchNorm1d", "ReLU"] * 2 + ["Linear"]
    assert rms(linears(net)[0].weight) == pytest.approx(np.sqrt(2 / 3072), rel=0.01)


def test_depth_mlp_is_seeded_and_refuses_an_unknown_init():
    first, again, other = depth_mlp(4, "seed"), depth_mlp(4, "seed"), depth_mlp(4, "seed", seed=1)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), again.parameters()))
    assert not torch.equal(linears(first)[0].weight, linears(other)[0].weight)
    with pytest.raises(ValueError, match="init='xavier'"):
        depth_mlp(2, "xavier")


def test_layer_scales_match_a_direct_computation():
    X, y = blobs(50, 3)
    net = depth_mlp(3, "kaiming", in_features=IN_FEATURES)
    scales = layer_scales(net, X, y)
    first = linears(net)[0]
    with torch.no_grad():
        first_output = first(X)
    assert list(scales["fan-in"]) == [IN_FEATURES, 50, 40]
    assert scales.loc[1, "input rms"] == pytest.approx(rms(X))
    assert scales.loc[1, "output rms"] == pytest.approx(rms(first_output))
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(X), y).backward()
    assert scales.loc[1, "weight-gradient rms"] == pytest.approx(rms(first.weight.grad))


def test_seed_init_shrinks_the_signal_by_sigma_sqrt_fan_in_per_layer():
    X, y = blobs(200, 4)
    scales = layer_scales(depth_mlp(6, "seed", in_features=IN_FEATURES), X, y)
    factor = scales["output rms"] / scales["input rms"]
    np.testing.assert_allclose(factor, SEED_STD * np.sqrt(scales["fan-in"]), rtol=0.25)


def test_evaluate_net_counts_correct_predictions():
    net = torch.nn.Sequential(torch.nn.Identity())
    X = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [5.0, 0.0, 1.0]])
    y = torch.tensor([0, 2, 0])
    loss, accuracy, predicted = evaluate_net(net, X, y)
    assert accuracy == pytest.approx(2 / 3) and predicted.tolist() == [0, 1, 0]
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(X, y).item())


def test_train_steps_runs_one_step_per_batch_in_training_mode():
    net = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Dropout(0.5))
    net.eval()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.zero_()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    seen_modes, steps = [], []
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0]])

    def loss_of(rows):
        seen_modes.append(net.training)
        return net[0](X[rows]).sum()

    train_steps(net, optimizer, [slice(0, 1), slice(1, 2)], loss_of, lambda: steps.append(1))
    assert seen_modes == [True, True] and len(steps) == 2
    # d(sum)/dW is the row itself: W = 1 - 0.1 * (row 1) - 0.1 * (row 2)
    torch.testing.assert_close(net[0].weight, torch.tensor([[1 - 0.4, 1 - 0.6]]))


def test_fit_learns_separable_data_and_repeats_bit_for_bit(data):
    def run(seed):
        net = depth_mlp(2, "kaiming", in_features=IN_FEATURES)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        return fit(net, optimizer, scheduler, data, epochs=3, batch_size=50, seed=seed)

    history, row = run(0)
    again, same_row = run(0)
    _, other_row = run(1)
    assert len(history.acc["validation"]) == 3 and history.model_epoch == 2
    assert row["validation acc"] > 0.9 and row["test acc"] > 0.9 and row["classes predicted"] == 3
    assert history.loss == again.loss and row == same_row
    assert row["layer-1 weight rms"] != other_row["layer-1 weight rms"]  # another shuffle, another path


def test_seed_recipe_run_trains_for_the_recipe_epochs(data):
    history, row = seed_recipe_run(2, data)
    assert len(history.loss["validation"]) == SEED_RECIPE["epochs"]
    assert set(row) == {"validation acc", "test acc", "classes predicted", "most predicted class", "layer-1 weight rms"}


def test_the_sound_recipe_trains_six_layers_on_separable_data(data):
    _, row = sound_recipe_run(6, data)
    assert row["validation acc"] > 0.9, row


def test_no_code_cell_of_notebook_06_is_longer_than_25_lines():
    cells = json.loads((REPO_ROOT / "notebooks" / "06_two_layer_net.ipynb").read_text())["cells"]
    long = {i: len("".join(c["source"]).splitlines()) for i, c in enumerate(cells) if c["cell_type"] == "code"}
    assert {i: n for i, n in long.items() if n > 25} == {}
