"""Throughput of helpers.augment.default_pipeline against the same ops in torchvision.transforms.v2.

    python benchmarks/bench_augment.py [--n 10000] [--seed 0] [--torch-n 2000] [--torch-threads K]

Images: the first --n CIFAR-10 training images when CIFAR10_DIR is set and helpers.data.datasets
imports, random uint8 images otherwise (throughput does not depend on the content).

NumPy: the whole batch at once (best of 3). Its element-wise work runs on one core; only
the tiny matmul in the contrast step may use BLAS threads.
torchvision: v2 transforms on uint8 CHW tensors, one image at a time as in a Dataset
(best of 3 over the first --torch-n images; throughput is per image, so --torch-n only sets
the run time). torch runs on --torch-threads threads, by default 1 to match NumPy: on 32x32
images its per-image ops gain nothing from a second thread (same speed on an idle 2-core
machine), and extra threads only slow it down when other jobs share the cores.

The last line is ``numpy_img_s=<x> torchvision_img_s=<y> ratio=<x/y>``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import record
from helpers import augment
from helpers.core import config
from helpers.data.datasets import load_cifar10, random_subset
from timing import best_time


def load_images(n: int, seed: int) -> tuple[np.ndarray, str]:
    """n seeded random CIFAR-10 training images if there is a source (CIFAR10_DIR or the shared copy), else n random images."""
    if config.cifar10_source() is not None:
        images, _, _ = load_cifar10("train")
        return images[random_subset(len(images), n, seed)], "CIFAR-10 train images"
    images = np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return images, "random uint8 images"


class TorchCutout:
    """Per-image square cutout for CHW tensors, as augment.random_cutout draws it."""

    def __init__(self, size_range: tuple[int, int] = (8, 16), fill: int = 0):
        self.size_range = size_range
        self.fill = fill

    def __call__(self, image):
        import torch

        height, width = image.shape[-2:]
        size = int(torch.randint(self.size_range[0], self.size_range[1] + 1, ()))
        top = int(torch.randint(0, height, ())) - size // 2
        left = int(torch.randint(0, width, ())) - size // 2
        image = image.clone()
        image[:, max(top, 0):top + size, max(left, 0):left + size] = self.fill
        return image


def torchvision_pipeline(height: int, width: int):
    """default_pipeline's ops and ranges as torchvision.transforms.v2 transforms."""
    from torchvision.transforms import v2

    return v2.Compose([
        v2.RandomCrop((height, width), padding=4, padding_mode="reflect"),
        v2.RandomRotation(15, interpolation=v2.InterpolationMode.BILINEAR, fill=0),
        TorchCutout((8, 16), fill=0),
        v2.ColorJitter(contrast=(0.7, 1.3)),
        v2.RandomHorizontalFlip(p=0.5),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="images for the NumPy pipeline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-n", type=int, default=2_000,
                        help="images for torchvision (one at a time)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch.set_num_threads (default 1, like NumPy)")
    args = parser.parse_args()

    images, source = load_images(args.n, args.seed)
    n = len(images)
    print(f"{n} {source}, shape {images.shape}, {os.cpu_count()} CPU cores")

    pipeline = augment.default_pipeline()
    print(pipeline)
    figures = []
    for name, op, kwargs in pipeline.steps:
        seconds = best_time(lambda op=op, kwargs=kwargs: op(images, np.random.default_rng(args.seed), **kwargs))
        print(f"  numpy {name:<10} {seconds * 1e3:7.1f} ms  {n / seconds:10.1f} img/s")
        figures.append(record.figure(f"NumPy {name} step", n / seconds, "img/s"))
    numpy_seconds = best_time(lambda: pipeline(images, np.random.default_rng(args.seed)))
    numpy_img_s = n / numpy_seconds
    print(f"numpy pipeline: {numpy_seconds * 1e3:.1f} ms for {n} images (best of 3)")

    import torch

    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    chw_images = images[: args.torch_n].transpose(0, 3, 1, 2)
    tensors = [torch.from_numpy(image.copy()) for image in chw_images]
    transform = torchvision_pipeline(*images.shape[1:3])
    torch_seconds = best_time(lambda: [transform(tensor) for tensor in tensors])
    torchvision_img_s = len(tensors) / torch_seconds
    print(
        f"torchvision v2 pipeline: {torch_seconds * 1e3:.1f} ms for {len(tensors)} images "
        f"(best of 3, one image at a time, torch threads: {torch.get_num_threads()})"
    )
    print(f"numpy_img_s={numpy_img_s:.1f} torchvision_img_s={torchvision_img_s:.1f} "
          f"ratio={numpy_img_s / torchvision_img_s:.2f}")
    record.write("bench_augment", title=f"full augmentation pipeline, {n:,} {source}",
                 helper=record.figure("NumPy default_pipeline, whole batch", numpy_img_s, "img/s"),
                 baseline=record.figure(f"torchvision v2 per image, {torch.get_num_threads()} thread(s)",
                                        torchvision_img_s, "img/s"),
                 target=">= 20,000 img/s and >= 2", settings=vars(args), figures=figures)


if __name__ == "__main__":
    main()
