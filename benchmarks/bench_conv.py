"""Time forward + backward of the seed's CIFAR-10 CNN: NumPy (helpers.nn.CNN) against PyTorch on the CPU.

Architecture on both sides, float32: 3x32x32 -> conv 10@5x5 -> ReLU -> conv 10@5x5 -> ReLU
-> max-pool 2 -> 1440 -> 128 -> ReLU -> 10, softmax cross-entropy on a batch of 64, with
the same weights. One step is the loss and every parameter gradient (PyTorch: no gradient
for the input, grads set to None between steps). Each side runs with 1 and with 2 threads
(BLAS threads for NumPy, ``torch.set_num_threads``); a figure is the best of ``--repeats``
steps after ``--warmup`` steps. The last line compares each side at its faster thread count:
``numpy_s=<x> torch_s=<y> ratio=<x/y>``.

Both sides run in one process after ``helpers.core.runtime.keep_freed_memory()`` (glibc malloc keeps
freed arrays for reuse instead of page-faulting fresh memory every step), as the notebooks do;
``--default-malloc`` measures without it.

    python benchmarks/bench_conv.py [--batch 64] [--repeats 30] [--warmup 5] [--threads 1 2] [--default-malloc]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import record
from helpers.nn.cnn import CNN
from helpers.reference import torch_twin
from helpers.core.runtime import blas_limit, keep_freed_memory
from timing import best_time

INPUT_SHAPE = (3, 32, 32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per setting (the best counts)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to try on both sides")
    parser.add_argument("--default-malloc", action="store_true", help="skip keep_freed_memory()")
    args = parser.parse_args()
    recycling = not args.default_malloc and keep_freed_memory()
    print(f"malloc recycles freed memory: {recycling}")

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.batch, *INPUT_SHAPE), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    model = CNN(INPUT_SHAPE, conv_channels=(10, 10), kernel_size=5, pool="max", hidden=128, num_classes=10)
    net = torch_twin(model)
    X_torch, y_torch = torch.from_numpy(X), torch.from_numpy(y)

    numpy_loss = model.loss(X, y)[0]
    torch_loss = torch.nn.functional.cross_entropy(net(X_torch), y_torch).item()
    print(f"batch {args.batch}: loss numpy {numpy_loss:.6f}, torch {torch_loss:.6f}")
    assert abs(numpy_loss - torch_loss) < 1e-4, "the two networks disagree"

    def torch_step():
        net.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(X_torch), y_torch).backward()

    numpy_s, torch_s = {}, {}
    for threads in args.threads:
        with blas_limit(threads):
            numpy_s[threads] = best_time(lambda: model.loss(X, y), args.repeats, args.warmup)
        torch.set_num_threads(threads)
        torch_s[threads] = best_time(torch_step, args.repeats, args.warmup)
        print(f"{threads} thread(s): numpy {numpy_s[threads] * 1e3:.2f} ms, torch {torch_s[threads] * 1e3:.2f} ms")
    best_numpy, best_torch = min(numpy_s.values()), min(torch_s.values())
    print(f"numpy_s={best_numpy:.4f} torch_s={best_torch:.4f} ratio={best_numpy / best_torch:.2f}")
    figures = [record.figure(f"{side}, {threads} thread(s)", seconds[threads], "s")
               for side, seconds in (("NumPy", numpy_s), ("torch", torch_s)) for threads in args.threads]
    record.write("bench_conv", title=f"seed CIFAR-10 CNN, forward + backward, batch {args.batch}",
                 helper=record.figure("NumPy CNN (helpers.nn), best thread count", best_numpy, "s"),
                 baseline=record.figure("torch CPU, best thread count", best_torch, "s"),
                 target="<= 3", settings={**vars(args), "malloc_recycles": bool(recycling)}, figures=figures)


if __name__ == "__main__":
    main()
