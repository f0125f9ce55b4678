"""Notebook 06's depth study in PyTorch: plain MLPs of 2 to 6 layers on raw pixels, the seed's recipe and a sound one.

The seed recipe follows the course template seed 003 builds on (HLCV 2019, exercise 2): pixels
scaled to [-1, 1], weights drawn from N(0, 1e-3^2) and zero biases, Adam (lr 1e-3, weight decay
1e-3), the learning rate times 0.95 after every epoch, batch 200, 10 epochs. The sound recipe:
Kaiming init, batch norm after each hidden layer, Adam with weight decay 1e-4 and a one-cycle
schedule. Training goes through ``helpers.reference.train_steps``, the bundle's one torch loop.
"""

import numpy as np
import pandas as pd
import torch

from helpers.reference import train_steps
from helpers.train import History

WIDTHS, DEPTHS = [50, 40, 30, 25, 20], [2, 3, 4, 5, 6]  # hidden widths taken in order; Linear layers per net
SEED_STD, SEED_WEIGHT_DECAY, ADAM_EPS = 1e-3, 1e-3, 1e-8  # the template's init and weight decay; torch's Adam epsilon
SEED_RECIPE = {"init_std": SEED_STD, "weight_decay": SEED_WEIGHT_DECAY, "lr": 1e-3, "lr_decay_per_epoch": 0.95,
               "epochs": 10, "batch_size": 200}
SOUND_RECIPE = {"epochs": 10, "batch_size": 128, "peak_lr": 3e-3, "weight_decay": 1e-4}


def template_pixels(images):
    """The template's inputs: uint8 images ``(n, H, W, C)`` -> float32 rows ``(n, H*W*C)`` in [-1, 1], as a tensor."""
    rows = images.reshape(len(images), -1).astype(np.float32)
    rows /= 127.5
    rows -= 1.0
    return torch.from_numpy(rows)


def as_tensors(X, y):
    """``(X, y)`` as torch tensors: ``X`` as it is (a tensor or a float array), ``y`` as int64 labels."""
    return (X if torch.is_tensor(X) else torch.from_numpy(X)), torch.from_numpy(y).long()


def depth_mlp(depth, init, batch_norm=False, seed=0, in_features=3072, num_classes=10):
    """``depth`` Linear layers of widths ``WIDTHS``, ReLU between them, zero biases, as ``nn.Sequential``.

    Weights N(0, SEED_STD^2) (``init="seed"``) or Kaiming normal (``init="kaiming"``); with
    ``batch_norm``, a BatchNorm1d after each hidden Linear layer. ``seed`` seeds torch's generator.
    """
    if init not in ("seed", "kaiming"):
        raise ValueError(f"init={init!r}: pass 'seed' or 'kaiming'")
    torch.manual_seed(seed)
    sizes = [in_features, *WIDTHS[:depth - 1], num_classes]
    linears = [torch.nn.Linear(fan_in, fan_out) for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]
    for linear in linears:
        if init == "seed":
            torch.nn.init.normal_(linear.weight, 0.0, SEED_STD)
        else:
            torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        torch.nn.init.zeros_(linear.bias)
    layers = []
    for linear in linears[:-1]:
        layers += [linear, *([torch.nn.BatchNorm1d(linear.out_features)] if batch_norm else []), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, linears[-1])


def rms(tensor):
    """Root mean square of a tensor's entries, as a float."""
    return tensor.detach().pow(2).mean().sqrt().item()


def layer_scales(net, X, y):
    """Per Linear layer of ``net``: fan-in and rms of its input, output and weight gradient on one batch ``(X, y)``."""
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    seen = []
    hooks = [m.register_forward_hook(lambda module, inputs, output: seen.append((rms(inputs[0]), rms(output))))
             for m in linears]
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(X), y).backward()
    for hook in hooks:
        hook.remove()
    return pd.DataFrame({"fan-in": [m.in_features for m in linears], "input rms": [s[0] for s in seen],
                         "output rms": [s[1] for s in seen], "weight-gradient rms": [rms(m.weight.grad) for m in linears]},
                        index=pd.RangeIndex(1, len(linears) + 1, name="layer"))


def evaluate_net(net, X, y):
    """``(mean cross-entropy, accuracy, predicted classes)`` of ``net`` on ``(X, y)``, in evaluation mode."""
    net.eval()
    with torch.no_grad():
        scores = net(X)
    predicted = scores.argmax(dim=1)
    return torch.nn.functional.cross_entropy(scores, y).item(), (predicted == y).float().mean().item(), predicted


def fit(net, optimizer, scheduler, data, *, epochs, batch_size, seed=0):
    """Train on ``data["train"]``, reshuffled every epoch by a generator seeded with ``seed``; the scheduler steps per batch.

    ``data`` maps "train", "validation" and "test" to ``(X, y)`` tensors. Returns the validation
    ``History`` (loss and accuracy after every epoch) and the final figures: validation and test
    accuracy, how many classes the net predicts on the validation set and which most often, and
    the rms of its first layer's weights.
    """
    X, y = data["train"]
    shuffle = torch.Generator().manual_seed(seed)
    history = History(loss={"validation": []}, acc={"validation": []})
    for epoch in range(epochs):
        train_steps(net, optimizer, torch.randperm(len(X), generator=shuffle).split(batch_size),
                    lambda rows: torch.nn.functional.cross_entropy(net(X[rows]), y[rows]), scheduler.step)
        val_loss, val_acc, val_predicted = evaluate_net(net, *data["validation"])
        history.loss["validation"].append(val_loss)
        history.acc["validation"].append(val_acc)
        history.model_epoch = epoch
    _, test_acc, _ = evaluate_net(net, *data["test"])
    first_layer = next(m for m in net if isinstance(m, torch.nn.Linear))
    return history, {"validation acc": val_acc, "test acc": test_acc, "classes predicted": len(val_predicted.unique()),
                     "most predicted class": int(val_predicted.mode().values), "layer-1 weight rms": rms(first_layer.weight)}


def seed_recipe_run(depth, data, init="seed", weight_decay=SEED_WEIGHT_DECAY):
    """:func:`fit` a ``depth``-layer net with the seed recipe (``init`` and ``weight_decay`` changeable)."""
    net = depth_mlp(depth, init, in_features=data["train"][0].shape[1])
    optimizer = torch.optim.Adam(net.parameters(), lr=SEED_RECIPE["lr"], weight_decay=weight_decay)
    steps_per_epoch = -(-len(data["train"][0]) // SEED_RECIPE["batch_size"])
    decay = SEED_RECIPE["lr_decay_per_epoch"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: decay ** (step // steps_per_epoch))
    return fit(net, optimizer, scheduler, data, epochs=SEED_RECIPE["epochs"], batch_size=SEED_RECIPE["batch_size"])


def sound_recipe_run(depth, data):
    """:func:`fit` a ``depth``-layer net with the sound recipe: Kaiming init, batch norm, Adam, one-cycle schedule."""
    epochs, batch_size, peak_lr = SOUND_RECIPE["epochs"], SOUND_RECIPE["batch_size"], SOUND_RECIPE["peak_lr"]
    net = depth_mlp(depth, "kaiming", batch_norm=True, in_features=data["train"][0].shape[1])
    optimizer = torch.optim.Adam(net.parameters(), lr=peak_lr, weight_decay=SOUND_RECIPE["weight_decay"])
    steps = epochs * -(-len(data["train"][0]) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak_lr, total_steps=steps)
    return fit(net, optimizer, scheduler, data, epochs=epochs, batch_size=batch_size)
