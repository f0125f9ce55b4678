"""Images per second of helpers.features.extract.extract_features: compiled, eager, and a plain PyTorch loop.

All three turn the same 2,048 real CIFAR-10 test images into ResNet18 features with the same
weights, one after the other in this run. The baseline is what one writes first: torchvision
transforms image by image (ToTensor, Resize(224), Normalize), fp32, contiguous layout, batches of
64 under inference_mode. The helper's eager path adds batched preprocessing, channels-last,
folded batch norm and bf16 where native; the compiled path runs that model through torch.compile.
Helper times include loading and preparing the backbone; the compiled path is reported twice:
with its compilation (time to the first feature) and at its steady rate (after one warm-up call).

    CIFAR10_DIR=/path/to/cifar10 python benchmarks/bench_features.py [--weights random|imagenet|FILE]

The hardware ceiling, measured in the same run (before and after the helper paths; the better
counts): the best square-matrix product rate (GFLOP/s) in the precision the helper uses (bf16
where the CPU runs it natively, else fp32) divided by ResNet18's 3.64 GFLOP per 224x224 image.
The record (benchmarks/record.py) holds the fraction of it each helper path reaches.

The last line reads ``helper_img_s=<x> eager_img_s=<y> baseline_img_s=<z> ratio=<x/y>`` (x: compiled,
steady state).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
from torchvision import transforms
from tqdm import tqdm

import record
from helpers.core.device import cpu_supports_bf16, cxx_compiler, pick_device, resolve_precision
from helpers.features.extract import IMAGENET_MEAN, IMAGENET_STD, Extractor, extract_features
from helpers.features.weights import describe_weights, load_backbone
from helpers.core import config
from helpers.data.datasets import load_cifar10
from helpers.core.runtime import cpu_model
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


def helper_img_s(images: np.ndarray, weights: str) -> float:
    """The eager helper path, end to end (loading and preparing the backbone included)."""
    start = time.perf_counter()
    extract_features(images, weights, progress=False, backend="eager")
    return len(images) / (time.perf_counter() - start)


def compiled_img_s(images: np.ndarray, weights: str, device: torch.device) -> tuple[float, float]:
    """(seconds to the first 64 features, loading and compiling included; steady img/s after that)."""
    start = time.perf_counter()
    backbone, _ = load_backbone(weights, device)
    extractor = Extractor(backbone, device, resolve_precision("auto", device), 224, 64, "compiled")
    bar = tqdm(disable=True)
    extractor(images[:64], bar)
    first = time.perf_counter() - start
    start = time.perf_counter()
    extractor(images, bar)
    return first, len(images) / (time.perf_counter() - start)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.environ.get("FEATURE_WEIGHTS", "random"),
                        help="imagenet, random or a ResNet18 .pth file (default: FEATURE_WEIGHTS, else random)")
    parser.add_argument("-n", type=int, default=2048, help="number of test images (default 2048)")
    args = parser.parse_args()
    if config.cifar10_source() is None:
        sys.exit("bench_features: set CIFAR10_DIR to the CIFAR-10 data (e.g. "
                 "CIFAR10_DIR=../shared/data/cifar10-jpeg.tar.gz); the benchmark runs on real images")

    test_images, _, _ = load_cifar10("test")
    pick = np.random.default_rng(0).choice(len(test_images), args.n, replace=False)
    images = test_images[np.sort(pick)]
    device = pick_device()
    print(f"{len(images)} CIFAR-10 test images, weights: {describe_weights(args.weights)}")
    print(f"device {device}, torch threads {torch.get_num_threads()}, helper precision "
          f"{resolve_precision('auto', device)} (CPU has native bf16: {cpu_supports_bf16()})")
    print(f"CPU: {cpu_model()}, C++ compiler for torch.compile: {cxx_compiler()}")

    # eager paths first: compiling leaves worker processes and caches behind that could skew them
    precision = resolve_precision("auto", device)
    gflop_s_before = gemm_gflop_s(device, precision)  # the ceiling before and after the helpers: the best counts
    eager = helper_img_s(images, args.weights)
    print(f"eager    extract_features: {eager:7.1f} img/s")
    model, _ = load_backbone(args.weights, device)
    baseline = baseline_img_s(images, model, device)
    print(f"baseline per-image loop:   {baseline:7.1f} img/s")
    first, compiled = compiled_img_s(images, args.weights, device)
    print(f"compiled: first 64 features after {first:.1f} s (load + compile; torch caches compiled code)")
    print(f"compiled extract_features: {compiled:7.1f} img/s (steady state)")
    print(f"compiled / eager: {compiled / eager:.2f}x; eager / baseline: {eager / baseline:.2f}x")
    print(f"helper_img_s={compiled:.1f} eager_img_s={eager:.1f} baseline_img_s={baseline:.1f} ratio={compiled / eager:.2f}")
    gflop_s = max(gflop_s_before, gemm_gflop_s(device, precision))
    ceiling = gflop_s / GFLOP_PER_IMAGE
    print(f"ceiling: {precision} square GEMM {gflop_s:.0f} GFLOP/s / {GFLOP_PER_IMAGE} GFLOP per image = "
          f"{ceiling:.1f} img/s; eager reaches {eager / ceiling:.2f} of it, compiled {compiled / ceiling:.2f}")
    record.write(
        "bench_features", title=f"ResNet18 features of {len(images):,} CIFAR-10 test images on {device.type}",
        helper=record.figure(f"extract_features, eager ({precision}, batched preprocessing, channels-last)", eager, "img/s"),
        baseline=record.figure("fp32 per-image transforms, batch 64", baseline, "img/s"),
        hardware_ceiling=record.ceiling(f"{precision} square GEMM rate / {GFLOP_PER_IMAGE} GFLOP per image",
                                        ceiling, "img/s", eager),
        target=">= 150 img/s and >= 3 on a CPU with native bf16",
        settings={**vars(args), "device": str(device), "precision": precision, "torch_threads": torch.get_num_threads()},
        figures=[record.figure("extract_features, compiled (steady state)", compiled, "img/s"),
                 record.figure("compiled: first 64 features, loading and compiling included", first, "s"),
                 record.figure("compiled: fraction of the ceiling", compiled / ceiling, ""),
                 record.figure(f"{precision} square GEMM", gflop_s, "GFLOP/s")])


if __name__ == "__main__":
    main()
