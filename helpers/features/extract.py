"""Frozen ResNet18 features of CIFAR-10 images: the 512 numbers per image the MLP learns from.

The backbone is torchvision's ResNet18 with its classifier (``fc``) replaced by the identity,
so it returns the 512-d output of the global average pool, the layer the ImageNet classifier
reads. Images go in as uint8 ``[N, 32, 32, 3]``; everything else happens batched on the
device inside the forward pass:

* **Preprocessing.** Scale to [0, 1], normalise with the ImageNet mean/std, then resize to
  ``resolution`` (224) with bilinear interpolation, ``align_corners=False``, **antialias off**.
  When enlarging, antialiasing changes nothing (the bilinear filter already covers the source
  pixels; torchvision's ``Resize(224, antialias=True)`` agrees to ~1e-6), so the plain, faster
  kernel is used. Normalising before resizing is the same affine map (bilinear weights sum to
  one) applied to 49x fewer pixels.
* **Speed on CPU.** ``torch.inference_mode``, channels-last tensors, batch norm folded into the
  convolutions, and bf16 autocast where the CPU computes bf16 natively (AVX512-BF16 or AMX,
  through oneDNN); elsewhere bf16 is emulated and slower than fp32, so ``precision="auto"``
  keeps fp32 there. bf16 features agree with fp32 ones to a cosine similarity above 0.999.
* **Compiled paths.** ``backend="compiled"`` runs the prepared backbone through ``torch.compile``
  (inductor). It tries the paths of :data:`PATHS` fastest first: ``compiled-frozen`` (inductor's
  weight freezing: weights become constants and the convolutions oneDNN-prepacked, fused with their
  ReLU and residual add; on AMX CPUs this is where oneDNN's AMX bf16 kernels come in), then
  ``compiled`` (no freezing), then ``eager``; each failure is announced and steps down a path.
  Preprocessing stays outside the graph: compiled into it, it measured no faster on an AVX512-BF16
  CPU and changed the features' bf16 rounding. Compiling needs a C++ compiler and takes seconds to a
  minute (torch caches the result), so ``backend="auto"`` compiles only for at least
  ``COMPILE_MIN_IMAGES`` images on the CPU when a compiler is found, and otherwise says so and stays
  eager. The path in use is announced with the CPU's instruction set and bf16 unit
  (:func:`helpers.core.device.describe_cpu`), and after the first measured batches, the time the
  rest will take.
* **Weights.** ``"imagenet"`` (torchvision's IMAGENET1K_V1 through the usual torch hub cache,
  ``$TORCH_HOME/hub/checkpoints``), a path to a ResNet18 state_dict (such as the downloaded
  ``resnet18-f37072fd.pth``), or ``"random"``, only when asked for by that word, and always
  announced loudly.

:func:`helpers.features.cache.cached_features` stores the result under ``artifacts/cache/features/<key>/``, where the
key names the images (sha256 of their bytes), the weights, the resolution, the precision and the path.
Extraction proceeds in chunks written atomically with a manifest, so an interrupted run resumes
where it stopped; a damaged chunk is recomputed, never trusted.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch
from torch.fx.experimental.optimization import fuse

from helpers.core.device import describe_cpu, pick_device, resolve_backend, resolve_precision
from helpers.core.progress import tqdm
from helpers.features.weights import load_backbone

FEATURE_DIM = 512
IMAGE_SHAPE = (32, 32, 3)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# the ways features are computed, fastest first; each one's features may differ from the next's in bf16 rounding
PATHS = ("compiled-frozen", "compiled", "eager")
ESTIMATE_AT = 3  # the time estimate comes from batches 1 to ESTIMATE_AT (0-based: batch 0 may still warm caches)


def check_images(images) -> np.ndarray:
    """``images`` as a uint8 [N, 32, 32, 3] array, or a ValueError saying what is wrong."""
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images must be a NumPy array, got {type(images).__name__}")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty uint8 array of shape [N, 32, 32, 3] (height, width, RGB "
            f"as loaded by helpers.data.datasets); got {images.dtype} {list(images.shape)}"
        )
    return np.ascontiguousarray(images)


def preprocess(batch: torch.Tensor, resolution: int = 224) -> torch.Tensor:
    """uint8 [B, 32, 32, 3] -> normalised float [B, 3, resolution, resolution] (channels-last)."""
    mean = torch.tensor(IMAGENET_MEAN, device=batch.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=batch.device).view(1, 3, 1, 1)
    x = (batch.permute(0, 3, 1, 2).float() / 255 - mean) / std
    return torch.nn.functional.interpolate(
        x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=False
    )


def check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r}: pass an int of at least {minimum}")


def planned_path(backend: str) -> str:
    """The path a resolved ``backend`` starts on: 'compiled' tries inductor with weight freezing first."""
    return PATHS[0] if backend == "compiled" else "eager"


def prepare(images, resolution, batch_size, device, precision, backend) -> tuple[np.ndarray, torch.device, str, str]:
    """Checked images, the device, the resolved precision and backend, shared by both entry points."""
    images = check_images(images)
    check_int("resolution", resolution, 32)
    check_int("batch_size", batch_size, 1)
    device = pick_device(device)
    return images, device, resolve_precision(precision, device), resolve_backend(backend, device, len(images))


def compiled_model(eager: torch.nn.Module) -> torch.nn.Module:
    """A fresh ``torch.compile`` of ``eager`` (a new one, so no earlier compilation is reused)."""
    return torch.compile(eager, dynamic=False)


class Extractor:
    """A backbone made ready for fast inference, turning uint8 images into features batch by batch.

    ``path`` is the way features are computed (:data:`PATHS`, fastest first): ``backend="compiled"``
    starts at the first, and each failure is announced and steps down to the next, down to eager.
    The compiled paths see only full batches (the last one is padded), so they compile once.
    """

    def __init__(self, backbone: torch.nn.Module, device: torch.device, precision: str,
                 resolution: int, batch_size: int, backend: str = "eager"):
        self.layout = torch.contiguous_format if device.type == "mps" else torch.channels_last
        self.eager = fuse(backbone).to(memory_format=self.layout)  # batch norm folded into the convs
        self.path = planned_path(backend)
        self.model = None if self.path == "eager" else compiled_model(self.eager)
        self.estimated = False  # the time estimate is printed once, after the first measured batches
        self.device, self.precision = device, precision
        self.resolution, self.batch_size = resolution, batch_size

    @property
    def backend(self) -> str:
        """'compiled' or 'eager': the backend actually used (see ``path`` for the compiled variant)."""
        return "eager" if self.path == "eager" else "compiled"

    def _fall_back(self, err: Exception) -> None:
        """Announce why ``self.path`` failed and step down to the next path."""
        following = PATHS[PATHS.index(self.path) + 1]
        print(f"torch.compile failed on path {self.path} ({type(err).__name__}: "
              f"{str(err).splitlines()[0][:200] if str(err) else ''}): extracting with {following} instead",
              file=sys.stderr, flush=True)
        self.path = following
        if following != "eager":
            self.model = compiled_model(self.eager)

    def _features(self, batch: torch.Tensor) -> torch.Tensor:
        """Features of a uint8 batch on the current path, stepping down a path at each failure."""
        rows = len(batch)
        x = preprocess(batch, self.resolution).contiguous(memory_format=self.layout)
        if self.path != "eager" and rows < self.batch_size:
            x = torch.cat([x, x.new_zeros((self.batch_size - rows, *x.shape[1:]))])
        while self.path != "eager":
            try:  # frozen: weights become constants, convolutions oneDNN-prepacked, at compile time
                with torch._inductor.config.patch(freezing=self.path == "compiled-frozen"):
                    return self.model(x.contiguous(memory_format=self.layout))[:rows]
            except Exception as err:  # any compiler failure: announce it, go on on the next path
                self._fall_back(err)
        return self.eager(x[:rows])

    def _run(self, images: np.ndarray, bar) -> tuple[np.ndarray, set[str]]:
        """The features of ``images`` and the paths that computed them."""
        out, paths, began = np.empty((len(images), FEATURE_DIM), dtype=np.float32), set(), 0.0
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")
        with torch.inference_mode(), autocast:
            for number, start in enumerate(range(0, len(images), self.batch_size)):
                began = time.perf_counter() if number == 1 else began  # from batch 1: batch 0 may still warm caches
                batch = torch.from_numpy(images[start:start + self.batch_size]).to(self.device)
                out[start:start + len(batch)] = self._features(batch).float().cpu().numpy()
                paths.add(self.path)
                bar.update(len(batch))
                if number == ESTIMATE_AT:
                    self._estimate(bar, (start + len(batch) - self.batch_size) / (time.perf_counter() - began))
        return out, paths

    def _estimate(self, bar, rate: float) -> None:
        """Once: how long the rest of ``bar``'s images will take at ``rate``, measured on this path's batches 1 to
        ESTIMATE_AT (batch 0 may still warm caches)."""
        if self.estimated or bar.disable or not bar.total:
            return
        self.estimated = True
        left = bar.total - bar.n
        print(f"features: {left:,} images to go at {rate:,.1f} img/s (measured on the {self.path} path): about "
              f"{max(1, round(left / rate / 60))} min", flush=True)

    def warm_up(self, announce: bool = False) -> str:
        """Compile now (one padded batch), stepping down paths on failure, and return the path that works;
        ``announce``: say which path, precision and CPU computes the features."""
        if self.path != "eager":
            self._run(np.zeros((1, *IMAGE_SHAPE), dtype=np.uint8), progress_bar(1, False, ""))
        if announce:
            print(f"features: {self.path} path, {self.precision} on {self.device.type}"
                  + (f" ({describe_cpu()})" if self.device.type == "cpu" else ""), flush=True)
        return self.path

    def __call__(self, images: np.ndarray, bar) -> np.ndarray:
        """Features of ``images``, all from one path: if a path failed after some rows, all are computed again."""
        done = bar.n
        out, paths = self._run(images, bar)
        if len(paths) > 1:
            bar.update(done - bar.n)
            out, _ = self._run(images, bar)
        return out


def progress_bar(total: int, enabled: bool, desc: str, initial: int = 0):
    return tqdm(total=total, initial=initial, unit="img", desc=desc, disable=not enabled, smoothing=0.1)


def extract_features(images: np.ndarray, weights: str | os.PathLike = "imagenet", batch_size: int = 64,
                     device: torch.device | str | None = None, precision: str = "auto",
                     resolution: int = 224, progress: bool = True, backend: str = "auto") -> np.ndarray:
    """float32 [N, 512] ResNet18 penultimate-layer features of uint8 [N, 32, 32, 3] images.

    Images are normalised and resized to ``resolution`` bilinearly with antialias OFF (when
    enlarging it makes no difference). ``precision``: "auto" (bf16 where the hardware runs it
    natively, else fp32), "fp32" or "bf16". ``device`` None picks CUDA, then MPS, then CPU.
    ``backend``: "auto", "eager" or "compiled" (``torch.compile``; see the module docstring).
    """
    images, device, precision, backend = prepare(images, resolution, batch_size, device, precision, backend)
    backbone, _ = load_backbone(weights, device)
    extractor = Extractor(backbone, device, precision, resolution, batch_size, backend)
    extractor.warm_up(announce=progress)
    with progress_bar(len(images), progress, f"features ({precision}, {extractor.path})") as bar:
        return extractor(images, bar)
