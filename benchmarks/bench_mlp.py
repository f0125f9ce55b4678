"""Time one SGD epoch of the NumPy MLP against the equivalent PyTorch CPU loop.

Both sides train a [dim, hidden, classes] ReLU net in float32 with plain SGD on the same
batch size, and both reshuffle the data every epoch (included in the timing). Each
figure is the best of 3 timed runs after a warm-up epoch. The last line reads
``numpy_epoch_s=<x> torch_epoch_s=<y> ratio=<x/y>`` (NumPy with the BLAS threads
the notebooks give ``helpers.train.train`` (``config.blas_threads()``), against PyTorch's faster thread count).

    python benchmarks/bench_mlp.py --n 100000 --dim 512 --epochs 1 --batch 64 [--full]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import record
from helpers.core import config
from helpers.nn import MLP, SGD
from helpers.reference import train_steps
from helpers.core.runtime import blas_limit
from helpers.train import batch_slices, evaluate, sgd_epoch, train
from timing import best_time

SEED_EPOCHS = 300  # length of the seed training run
LEARNING_RATE = 0.01


def gaussian_mixture(n, dim, classes, rng):
    """``n`` float32 points around ``classes`` random centres, with their labels."""
    centres = 0.1 * rng.standard_normal((classes, dim)).astype(np.float32)  # overlapping classes
    y = rng.integers(0, classes, n)
    X = rng.standard_normal((n, dim), dtype=np.float32)
    X += centres[y]
    return X, y


def best_epoch_time(run_epoch, epochs):
    """Seconds per epoch: best of 3 runs of ``epochs`` calls to ``run_epoch``, after one warm-up call."""
    run_epoch()

    def run_epochs():
        for _ in range(epochs):
            run_epoch()

    return best_time(run_epochs, repeats=3, warmup=0) / epochs


def numpy_epoch_time(X, y, layer_sizes, batch_size, blas_threads, epochs):
    """Best time of one ``helpers.train.sgd_epoch`` (shuffle + SGD steps, no evaluation)."""
    model = MLP(layer_sizes)
    optimizer = SGD(model.params, LEARNING_RATE)
    rng = np.random.default_rng(0)

    def run_epoch():
        with blas_limit(blas_threads):
            sgd_epoch(model, optimizer, X, y, rng.permutation(len(X)), batch_size)

    return best_epoch_time(run_epoch, epochs)


def torch_epoch_time(X, y, layer_sizes, batch_size, threads, epochs):
    """Best time of the idiomatic PyTorch loop over contiguous pre-shuffled batches."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dim, hidden, classes = layer_sizes
    net = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes))
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE)
    criterion = torch.nn.CrossEntropyLoss()
    X_all, y_all = torch.from_numpy(X), torch.from_numpy(y)
    rng = np.random.default_rng(0)
    slices = batch_slices(len(X), batch_size)

    def run_epoch():
        order = torch.from_numpy(rng.permutation(len(X)))
        X_shuffled, y_shuffled = X_all[order], y_all[order]
        train_steps(net, optimizer, slices, lambda batch: criterion(net(X_shuffled[batch]), y_shuffled[batch]))

    return best_epoch_time(run_epoch, epochs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="training rows")
    parser.add_argument("--dim", type=int, default=512, help="feature dimension")
    parser.add_argument("--hidden", type=int, default=64, help="hidden units")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--n-test", type=int, default=10_000, help="test rows evaluated every epoch")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timed run (best of 3 runs)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--features", type=Path, help=".npy feature matrix to use instead of synthetic data")
    parser.add_argument("--labels", type=Path, help=".npy labels for --features (random labels otherwise)")
    parser.add_argument("--full", action="store_true", help=f"also run the whole {SEED_EPOCHS}-epoch training")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    if args.features is None:
        X, y = gaussian_mixture(args.n + args.n_test, args.dim, args.classes, rng)
        X_train, y_train, X_test, y_test = X[:args.n], y[:args.n], X[args.n:], y[args.n:]
    else:  # timing only: the test set is a slice of the training rows
        X_train = np.ascontiguousarray(np.load(args.features)[:args.n], dtype=np.float32)
        y_train = np.load(args.labels)[:args.n] if args.labels else rng.integers(0, args.classes, len(X_train))
        X_test, y_test = X_train[:args.n_test], y_train[:args.n_test]
    layer_sizes = [X_train.shape[1], args.hidden, int(y_train.max()) + 1]
    steps = len(batch_slices(len(X_train), args.batch))
    print(f"data: train {X_train.shape}, test {X_test.shape}, layers {layer_sizes}, batch {args.batch}, "
          f"{steps} steps/epoch")

    default_threads = config.blas_threads()
    numpy_times = {}
    for threads in sorted({1, 2, default_threads}):
        numpy_times[threads] = numpy_epoch_time(X_train, y_train, layer_sizes, args.batch, threads, args.epochs)
        print(f"numpy  {threads} BLAS thread(s): {numpy_times[threads]:.3f} s/epoch "
              f"({numpy_times[threads] / steps * 1e6:.0f} us/step)")
    torch_times = {}
    for threads in (1, 2):
        torch_times[threads] = torch_epoch_time(X_train, y_train, layer_sizes, args.batch, threads, args.epochs)
        print(f"torch  {threads} thread(s):      {torch_times[threads]:.3f} s/epoch "
              f"({torch_times[threads] / steps * 1e6:.0f} us/step)")

    model = MLP(layer_sizes)
    eval_s = best_epoch_time(lambda: (evaluate(model, X_train, y_train), evaluate(model, X_test, y_test)), 1)
    print(f"evaluation of train + test sets: {eval_s:.3f} s/epoch")
    for threads, epoch_s in numpy_times.items():
        print(f"{SEED_EPOCHS} epochs incl. evaluation, {threads} BLAS thread(s) for the steps: "
              f"~{(epoch_s + eval_s) * SEED_EPOCHS:.1f} s")
    with blas_limit():  # as the notebooks run it: notebook_setup(threads=True)
        history = train(model, X_train, y_train, epochs=3, batch_size=args.batch, eval_sets={"test": (X_test, y_test)},
                        progress=False)
    print(f"train() with defaults: median epoch incl. evaluation {np.median(history.epoch_time):.3f} s")
    figures = [*(record.figure(f"NumPy sgd_epoch, {threads} BLAS thread(s)", s, "s") for threads, s in numpy_times.items()),
               *(record.figure(f"torch, {threads} thread(s)", s, "s") for threads, s in torch_times.items()),
               record.figure("evaluation of train + test sets", eval_s, "s"),
               record.figure("train() median epoch incl. evaluation", np.median(history.epoch_time), "s")]
    if args.full:
        start = time.perf_counter()
        with blas_limit():
            history = train(MLP(layer_sizes), X_train, y_train, epochs=SEED_EPOCHS, batch_size=args.batch,
                            eval_sets={"test": (X_test, y_test)}, progress=False)
        full_s = time.perf_counter() - start
        print(f"full {SEED_EPOCHS}-epoch train(): {full_s:.1f} s, final test accuracy {history.acc['test'][-1]:.4f}")
        figures.append(record.figure(f"full {SEED_EPOCHS}-epoch train() incl. evaluation", full_s, "s"))

    numpy_s, torch_s = numpy_times[default_threads], min(torch_times.values())
    print(f"numpy_epoch_s={numpy_s:.3f} torch_epoch_s={torch_s:.3f} ratio={numpy_s / torch_s:.2f}")
    record.write("bench_mlp", title=f"one SGD epoch, {len(X_train):,} x {layer_sizes[0]}, batch {args.batch}, "
                 f"{'-'.join(map(str, layer_sizes))} MLP",
                 helper=record.figure(f"NumPy sgd_epoch, {default_threads} BLAS thread(s) (config.blas_threads)",
                                      numpy_s, "s"),
                 baseline=record.figure("torch CPU, best of 1 and 2 threads", torch_s, "s"),
                 target="<= 0.7", settings=vars(args),
                 figures=figures)


if __name__ == "__main__":
    main()
