"""Images per second of helpers.features.extract.extract_features on every path, beside a plain PyTorch loop.

All paths turn the same real CIFAR-10 test images into ResNet18 features with the same weights, in
this run: the helper's paths (helpers.features.extract.PATHS: compiled with inductor's weight freezing,
compiled without it, eager) are timed interleaved, round after round, and each reports its best round,
so load from other work on a shared machine falls on all of them alike. The baseline is what one
writes first: torchvision transforms image by image (ToTensor, Resize(224), Normalize), fp32,
contiguous layout, batches of 64 under inference_mode. The helper's eager path adds batched
preprocessing, channels-last, folded batch norm and bf16 where native; the compiled paths compile
that model with torch.compile, the frozen one with ``torch._inductor.config.freezing`` (weights as
constants, oneDNN-prepacked convolutions).
Compiling is reported apart (time to the first features); the rates are steady state.

    CIFAR10_DIR=/path/to/cifar10 python benchmarks/bench_features.py [--weights random|imagenet|FILE]

OpenVINO's CPU plugin (bf16), compared in the same rounds on the AMD EPYC that made docs/BENCHMARKS.md,
came within its noise of the frozen path (+3% in one round, -3% in another): it did not earn a place as a
dependency, so it is not part of this benchmark.

The hardware ceiling, measured in the same run (before and after the helper paths; the better
counts): the best square-matrix product rate (GFLOP/s) in the precision the helper uses (bf16
where the CPU runs it natively, else fp32) divided by ResNet18's 3.64 GFLOP per 224x224 image.
The record (benchmarks/record.py) holds every path's rate and the fraction of the ceiling each
reaches, the CPU's instruction sets, and a torch.profiler table of the top operators of the
path ``backend="auto"`` takes for a large job (what bounds it).

The last line reads ``helper_img_s=<x> eager_img_s=<y> baseline_img_s=<z> ratio=<x/y>`` (x: the
fastest helper path, steady state).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
from torchvision import transforms

import record
from helpers.core import config
from helpers.core.device import cpu_supports_bf16, cxx_compiler, describe_cpu, pick_device, resolve_precision
from helpers.core.runtime import cpu_model
from helpers.data.datasets import load_cifar10
from helpers.features.extract import (IMAGENET_MEAN, IMAGENET_STD, PATHS, Extractor, progress_bar)
from helpers.features.weights import describe_weights, load_backbone
from timing import best_time

GFLOP_PER_IMAGE = 3.64  # ResNet18 at 224x224: 1.82 G multiply-adds per image


def baseline_img_s(images: np.ndarray, model: torch.nn.Module, device: torch.device,
                   batch_size: int = 64) -> float:
    """The plain loop: per-image transforms, fp32, contiguous tensors."""
    transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Resize(224),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(images), batch_size):
            batch = torch.stack([transform(image) for image in images[first:first + batch_size]])
            model(batch.to(device)).cpu()
    return len(images) / (time.perf_counter() - start)


def path_runner(path: str, weights: str, device: torch.device, precision: str, batch_size: int):
    """(extract(images) for ``path``, seconds to its first features: loading, preparing and compiling)."""
    start = time.perf_counter()
    backbone, _ = load_backbone(weights, device)
    extractor = Extractor(backbone, device, precision, 224, batch_size, "eager" if path == "eager" else "compiled")
    extractor.path = path  # start on this path (a failure still steps down, and is reported)
    got = extractor.warm_up()
    if got != path:
        print(f"{path}: failed here, stepped down to {got}")
    return (lambda images: extractor(images, progress_bar(len(images), False, ""))), time.perf_counter() - start


def interleaved_img_s(runners: dict, images: np.ndarray, rounds: int) -> dict[str, float]:
    """Each runner's best rate over ``rounds`` rounds, the runners taking turns within each round (the
    order rotated round by round, so no runner always follows the same one)."""
    best, names = dict.fromkeys(runners, 0.0), list(runners)
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            start = time.perf_counter()
            runners[name](images)
            best[name] = max(best[name], len(images) / (time.perf_counter() - start))
        print(f"round {round_ + 1}: " + ", ".join(f"{name} {rate:.1f}" for name, rate in best.items()), flush=True)
    return best


def gemm_gflop_s(device: torch.device, precision: str, sizes=(512, 1024, 2048)) -> float:
    """The best square-matrix product rate in GFLOP/s in ``precision`` ('bf16' or 'fp32') over ``sizes``."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    generator = torch.Generator().manual_seed(0)
    best = 0.0
    for n in sizes:
        a, b = (torch.randn(n, n, generator=generator).to(device, dtype) for _ in range(2))

        def product(a=a, b=b):
            torch.mm(a, b)
            if device.type == "cuda":
                torch.cuda.synchronize()

        best = max(best, 2 * n ** 3 / best_time(product, repeats=5, warmup=2) / 1e9)
    return best


def op_profile(run, images: np.ndarray, rows: int = 12) -> list[dict]:
    """The top ``rows`` operators by self CPU time of one ``run(images)``: what bounds the path."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(images)
    table = prof.key_averages()
    print(table.table(sort_by="self_cpu_time_total", row_limit=rows))
    total = sum(event.self_cpu_time_total for event in table) or 1.0
    top = sorted(table, key=lambda event: event.self_cpu_time_total, reverse=True)[:rows]
    return [{"op": event.key, "self_cpu_ms": round(event.self_cpu_time_total / 1e3, 2),
             "share": round(event.self_cpu_time_total / total, 4), "calls": event.count} for event in top]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.environ.get("FEATURE_WEIGHTS", "random"),
                        help="imagenet, random or a ResNet18 .pth file (default: FEATURE_WEIGHTS, else random)")
    parser.add_argument("-n", type=int, default=384, help="number of test images per round (default 384)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds; each path's best counts")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size of the helper paths (default 64)")
    return parser.parse_args()


def test_images(n: int) -> np.ndarray:
    if config.cifar10_source() is None:
        sys.exit("bench_features: set CIFAR10_DIR to the CIFAR-10 data (e.g. "
                 "CIFAR10_DIR=../shared/data/cifar10-jpeg.tar.gz); the benchmark runs on real images")
    images, _, _ = load_cifar10("test")
    return images[np.sort(np.random.default_rng(0).choice(len(images), n, replace=False))]


def describe_machine(device: torch.device, precision: str) -> dict:
    """Print and return what decides the paths here: CPU, instruction sets, bf16, threads, compiler."""
    machine = {"cpu": cpu_model(), "cpu_flags": " ".join(record.cpu_flags()),
               "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "bf16": describe_cpu(),
               "native_bf16": cpu_supports_bf16(), "cxx_compiler": cxx_compiler(),
               "torch_threads": torch.get_num_threads(), "device": str(device), "precision": precision}
    for key, value in machine.items():
        print(f"{key}: {value}")
    return machine


def main() -> None:
    args = parse_args()
    images = test_images(args.n)
    device = pick_device()
    precision = resolve_precision("auto", device)
    print(f"{len(images)} CIFAR-10 test images per round, weights: {describe_weights(args.weights)}")
    machine = describe_machine(device, precision)
    gflop_s_before = gemm_gflop_s(device, precision)  # the ceiling before and after the helpers: the best counts
    baseline = baseline_img_s(images[:128], load_backbone(args.weights, device)[0], device)
    print(f"baseline per-image loop: {baseline:7.1f} img/s")
    runners, first = {}, {}
    for path in PATHS if cxx_compiler() else ("eager",):
        runners[path], first[path] = path_runner(path, args.weights, device, precision, args.batch_size)
        print(f"{path}: first features after {first[path]:.1f} s (load, prepare, compile)")
    rates = interleaved_img_s(runners, images, args.rounds)
    ceiling = max(gflop_s_before, gemm_gflop_s(device, precision)) / GFLOP_PER_IMAGE
    helper_paths = {path: rate for path, rate in rates.items() if path in PATHS}
    best = max(helper_paths, key=helper_paths.get)
    profile = op_profile(runners[PATHS[0] if PATHS[0] in runners else "eager"], images[:args.batch_size])
    report(args, machine, rates, first, baseline, ceiling, best, profile)


def report(args, machine, rates, first, baseline, ceiling, best, profile) -> None:
    print(f"ceiling: {machine['precision']} square GEMM {ceiling * GFLOP_PER_IMAGE:.0f} GFLOP/s / "
          f"{GFLOP_PER_IMAGE} GFLOP per image = {ceiling:.1f} img/s")
    print(f"{'path':16s} {'img/s':>8s} {'of ceiling':>10s} {'/ eager':>8s} {'first (s)':>9s}")
    for path, rate in rates.items():
        print(f"{path:16s} {rate:8.1f} {rate / ceiling:10.2f} {rate / rates['eager']:8.2f} {first[path]:9.1f}")
    print(f"fastest helper path: {best}")
    print(f"helper_img_s={rates[best]:.1f} eager_img_s={rates['eager']:.1f} baseline_img_s={baseline:.1f} "
          f"ratio={rates[best] / rates['eager']:.2f}")
    precision = machine["precision"]
    figures = [record.figure(f"{path}: steady state", rate, "img/s") for path, rate in rates.items()]
    figures += [record.figure(f"{path}: fraction of the ceiling", rate / ceiling, "") for path, rate in rates.items()]
    figures += [record.figure(f"{path}: first features, loading and compiling included", seconds, "s")
                for path, seconds in first.items()]
    figures += [record.figure(f"{precision} square GEMM", ceiling * GFLOP_PER_IMAGE, "GFLOP/s")]
    record.write(
        "bench_features", title=f"ResNet18 features of CIFAR-10 test images on {machine['device']}, every path",
        helper=record.figure(f"extract_features, fastest path: {best} ({precision})", rates[best], "img/s"),
        baseline=record.figure("fp32 per-image transforms, batch 64", baseline, "img/s"),
        hardware_ceiling=record.ceiling(f"{precision} square GEMM rate / {GFLOP_PER_IMAGE} GFLOP per image",
                                        ceiling, "img/s", rates[best]),
        target=">= 150 img/s and >= 3 on a CPU with native bf16",
        settings={**vars(args), **machine}, figures=figures, extra={"op_profile": profile})


if __name__ == "__main__":
    main()
