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
* **Compiled backbone.** ``backend="compiled"`` runs the prepared backbone through
  ``torch.compile`` (inductor, with weight freezing); it needs a C++ compiler, and compiling
  takes seconds to a minute (torch caches the result), so ``backend="auto"`` compiles only for
  at least ``COMPILE_MIN_IMAGES`` images on the CPU when a compiler is found, and otherwise
  says so and stays eager. If compiling fails, extraction announces it and goes on eagerly.
* **Weights.** ``"imagenet"`` (torchvision's IMAGENET1K_V1 through the usual torch hub cache,
  ``$TORCH_HOME/hub/checkpoints``), a path to a ResNet18 state_dict (such as the downloaded
  ``resnet18-f37072fd.pth``), or ``"random"``, only when asked for by that word, and always
  announced loudly.

:func:`cached_features` stores the result under ``artifacts/cache/features/<key>/``, where the
key names the images (sha256 of their bytes), the weights, the resolution and the precision.
Extraction proceeds in chunks written atomically with a manifest, so an interrupted run resumes
where it stopped; a damaged chunk is recomputed, never trusted.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch.fx.experimental.optimization import fuse

from helpers import artifacts, config
from helpers.progress import tqdm

FEATURE_DIM = 512
IMAGE_SHAPE = (32, 32, 3)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_WEIGHTS = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
IMAGENET_FILE = Path(IMAGENET_WEIGHTS.url).name  # resnet18-f37072fd.pth
IMAGENET_SHA256_PREFIX = torch.hub.HASH_REGEX.search(IMAGENET_FILE).group(1)  # f37072fd: torchvision's check
RANDOM_SEED = 0
PRECISIONS = ("auto", "fp32", "bf16")
BACKENDS = ("auto", "eager", "compiled")
COMPILE_MIN_IMAGES = 8192  # below this, compiling costs more than it saves
PRODUCER = "features"

_BANNER_LINES = (
    "RANDOM WEIGHTS: features are not ImageNet features; accuracies will be far below the seeds'.",
    "Set FEATURE_WEIGHTS=imagenet (or the path of a ResNet18 .pth file) for real features.",
)
RANDOM_BANNER = "\n".join(["!" * 100, *(f"!!  {line:<94}!!" for line in _BANNER_LINES), "!" * 100])


class WeightsError(RuntimeError):
    """The ResNet18 weights asked for cannot be loaded."""


# ----------------------------------------------------------------------------- weights
def _weights_source(weights: str | os.PathLike) -> str | Path:
    """'imagenet', 'random' or the Path of an existing state_dict file."""
    if not isinstance(weights, str | os.PathLike):
        raise TypeError(f"weights={weights!r}: pass 'imagenet', 'random' or a path to a .pth file")
    word = str(weights).strip()
    if word.lower() in ("imagenet", "random"):
        return word.lower()
    file = Path(word).expanduser()
    if not file.is_file():
        raise WeightsError(
            f"weights file {file} does not exist: weights (FEATURE_WEIGHTS) must be 'imagenet', "
            f"'random' or the path of a ResNet18 state_dict such as {IMAGENET_FILE}"
        )
    return file


def describe_weights(weights: str | os.PathLike) -> str:
    """The weights in words, for printing (loud when random)."""
    source = _weights_source(weights)
    if source == "imagenet":
        return f"ImageNet-1k (torchvision ResNet18 {IMAGENET_WEIGHTS.name})"
    if source == "random":
        return f"RANDOM (seed {RANDOM_SEED}): NOT ImageNet features, accuracies will be far below the seeds'"
    return f"state_dict file {source}"


def weights_kind(weights: str | os.PathLike) -> str:
    """``'imagenet'``, ``'random'`` or ``'file'`` (any other state_dict): what the weights are, not what they are called.

    A local file counts as ImageNet when its sha256 starts with the prefix torchvision puts
    in the file name and checks after downloading (``resnet18-f37072fd.pth``), whatever the
    file is called; a file of that name with other contents does not.
    """
    source = _weights_source(weights)
    if isinstance(source, Path):
        return "imagenet" if artifacts.sha256_of(source).startswith(IMAGENET_SHA256_PREFIX) else "file"
    return source


def weights_id(weights: str | os.PathLike) -> str:
    """Short identity of the weights for cache keys and manifests."""
    source = _weights_source(weights)
    if source == "imagenet":
        return IMAGENET_WEIGHTS.name.lower()
    if source == "random":
        return f"random:seed{RANDOM_SEED}"
    return f"file:{artifacts.sha256_of(source)[:12]}"


def local_weights(recorded_id: str) -> str | Path | None:
    """Weights on this machine that give features with ``recorded_id`` (see :func:`weights_id`), or None.

    Looked for without any download: ``random`` for the seeded random id; otherwise the file named by
    FEATURE_WEIGHTS or torchvision's cached ``resnet18-f37072fd.pth``, matched by checksum (the
    ImageNet file's sha256 starts with the hex digits in its name).
    """
    if recorded_id == weights_id("random"):
        return "random"
    candidates = [Path(torch.hub.get_dir()) / "checkpoints" / IMAGENET_FILE]
    if config.feature_weights().lower() not in ("imagenet", "random"):
        candidates.insert(0, Path(config.feature_weights()).expanduser())
    for file in candidates:
        if file.is_file():
            digest = artifacts.sha256_of(file)
            if recorded_id == f"file:{digest[:12]}" or (recorded_id == weights_id("imagenet")
                                                         and digest.startswith(IMAGENET_SHA256_PREFIX)):
                return file
    return None


@functools.cache
def _announce_random_weights() -> None:
    """Print the random-weights banner (to stderr, so notebooks show it in red), once per process."""
    print(RANDOM_BANNER, file=sys.stderr, flush=True)


def _headless_resnet18() -> torch.nn.Module:
    model = torchvision.models.resnet18(weights=None)
    model.fc = torch.nn.Identity()
    return model


def _imagenet_state_dict() -> dict:
    try:
        return IMAGENET_WEIGHTS.get_state_dict(progress=True, check_hash=True)
    except Exception as err:  # any download failure gets the same advice
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        raise WeightsError(
            f"could not get the ImageNet ResNet18 weights ({type(err).__name__}: {err}). Without "
            f"internet, fetch {IMAGENET_WEIGHTS.url} elsewhere and either set "
            f"FEATURE_WEIGHTS=/path/to/{IMAGENET_FILE} or place the file in {hub}/ "
            "(TORCH_HOME moves that folder); or opt into untrained features with FEATURE_WEIGHTS=random"
        ) from err


def _file_state_dict(file: Path) -> dict:
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # pickles fail in many ways
        raise WeightsError(f"{file} is not a readable PyTorch state_dict ({err})") from err
    if not isinstance(state, dict):
        raise WeightsError(f"{file} holds a {type(state).__name__}, not a state_dict (a dict of tensors)")
    return state


def _load_into(model: torch.nn.Module, state: dict, where: str) -> None:
    """Strict loading of every key but the classifier's (fc.*), which the features do not use."""
    state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    try:
        # not strict: batch norm itself fills in num_batches_tracked, absent from old files
        keys = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes that do not fit
        raise WeightsError(f"{where} does not fit ResNet18: {err}") from err
    missing, unexpected = keys.missing_keys, keys.unexpected_keys
    if missing or unexpected:
        raise WeightsError(
            f"{where} is not a torchvision ResNet18 state_dict: missing keys {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}, unexpected keys {unexpected[:5]}"
            f"{' ...' if len(unexpected) > 5 else ''}"
        )


def _backbone(source: str | Path, device: torch.device) -> torch.nn.Module:
    if source == "random":
        with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's RNG
            torch.manual_seed(RANDOM_SEED)
            model = _headless_resnet18()
    else:
        model = _headless_resnet18()
        state = _imagenet_state_dict() if source == "imagenet" else _file_state_dict(source)
        _load_into(model, state, "the ImageNet download" if source == "imagenet" else str(source))
    return model.eval().to(device)


def load_backbone(weights: str | os.PathLike, device: torch.device | str | None = None):
    """(ResNet18 with fc = Identity, in eval mode on ``device``, weights_id); loud when random."""
    source = _weights_source(weights)
    if source == "random":
        _announce_random_weights()
    return _backbone(source, pick_device(device)), weights_id(weights)


# ----------------------------------------------------------------------------- device, precision
def pick_device(device: torch.device | str | None = None) -> torch.device:
    """``device`` if given, else CUDA, then MPS, then CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_supports_bf16() -> bool:
    """True when oneDNN can run bf16 natively here (AVX512-BF16 or AMX tiles).

    The probes are private to ``torch.cpu``, hence the guarded lookup: if they disappear the
    answer is False and extraction simply stays in fp32.
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    native = any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return torch.backends.mkldnn.is_available() and native


def resolve_precision(precision: str, device: torch.device) -> str:
    """'fp32' or 'bf16': forced values as given; 'auto' picks bf16 where the hardware runs it natively."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: pass one of {PRECISIONS}")
    if precision != "auto":
        return precision
    if device.type == "cpu":
        return "bf16" if cpu_supports_bf16() else "fp32"
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp32"
    return "fp32"


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU backend would use (CXX, else g++/c++/clang++, cl on Windows)."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else []
    names += ["cl"] if sys.platform == "win32" else ["g++", "c++", "clang++"]
    return next((found for found in map(shutil.which, names) if found), None)


def resolve_backend(backend: str, device: torch.device, n_images: int) -> str:
    """'eager' or 'compiled': forced values as given; 'auto' compiles large CPU jobs where a compiler exists."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: pass one of {BACKENDS}")
    if backend != "auto":
        return backend
    if device.type != "cpu" or n_images < COMPILE_MIN_IMAGES:
        return "eager"
    if cxx_compiler() is None:
        print("torch.compile needs a C++ compiler (g++, clang++ or MSVC's cl) and none was found: "
              "features are extracted eagerly, about half as fast", file=sys.stderr, flush=True)
        return "eager"
    return "compiled"


# ----------------------------------------------------------------------------- extraction
def check_images(images) -> np.ndarray:
    """``images`` as a uint8 [N, 32, 32, 3] array, or a ValueError saying what is wrong."""
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images must be a NumPy array, got {type(images).__name__}")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty uint8 array of shape [N, 32, 32, 3] (height, width, RGB "
            f"as loaded by helpers.data); got {images.dtype} {list(images.shape)}"
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


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r}: pass an int of at least {minimum}")


def _prepare(images, resolution, batch_size, device, precision, backend) -> tuple[np.ndarray, torch.device, str, str]:
    """Checked images, the device, the resolved precision and backend, shared by both entry points."""
    images = check_images(images)
    _check_int("resolution", resolution, 32)
    _check_int("batch_size", batch_size, 1)
    device = pick_device(device)
    return images, device, resolve_precision(precision, device), resolve_backend(backend, device, len(images))


class _Extractor:
    """A backbone made ready for fast inference, turning uint8 images into features batch by batch.

    The compiled backbone sees only full batches (the last one is padded), so it compiles once.
    """

    def __init__(self, backbone: torch.nn.Module, device: torch.device, precision: str,
                 resolution: int, batch_size: int, backend: str = "eager"):
        self.layout = torch.contiguous_format if device.type == "mps" else torch.channels_last
        self.eager = fuse(backbone).to(memory_format=self.layout)  # batch norm folded into the convs
        self.model = torch.compile(self.eager, dynamic=False) if backend == "compiled" else self.eager
        self.device, self.precision, self.backend = device, precision, backend
        self.resolution, self.batch_size = resolution, batch_size

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if self.model is self.eager:
            return self.eager(x)
        rows = len(x)
        if rows < self.batch_size:
            x = torch.cat([x, x.new_zeros((self.batch_size - rows, *x.shape[1:]))])
        try:
            with torch._inductor.config.patch(freezing=True):  # weights become compile-time constants
                return self.model(x.contiguous(memory_format=self.layout))[:rows]
        except Exception as err:  # any compiler failure: announce it, go on eagerly
            print(f"torch.compile failed ({type(err).__name__}: {str(err).splitlines()[0][:200]}): "
                  "extracting eagerly instead", file=sys.stderr, flush=True)
            self.model, self.backend = self.eager, "eager"
            return self.eager(x[:rows])

    def __call__(self, images: np.ndarray, bar) -> np.ndarray:
        out = np.empty((len(images), FEATURE_DIM), dtype=np.float32)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")
        with torch.inference_mode(), autocast:
            for start in range(0, len(images), self.batch_size):
                batch = torch.from_numpy(images[start:start + self.batch_size]).to(self.device)
                x = preprocess(batch, self.resolution).contiguous(memory_format=self.layout)
                out[start:start + len(batch)] = self._features(x).float().cpu().numpy()
                bar.update(len(batch))
        return out


def _progress(total: int, enabled: bool, desc: str, initial: int = 0):
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
    images, device, precision, backend = _prepare(images, resolution, batch_size, device, precision, backend)
    backbone, _ = load_backbone(weights, device)
    extractor = _Extractor(backbone, device, precision, resolution, batch_size, backend)
    with _progress(len(images), progress, f"features ({precision}, {backend})") as bar:
        return extractor(images, bar)


# ----------------------------------------------------------------------------- cache
def images_sha256(images: np.ndarray) -> str:
    """sha256 of the shape and bytes of ``images``: which data (and subset) the features describe."""
    digest = hashlib.sha256(str(images.shape).encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()


def _load_verified(file: Path, expect: dict, rows: int) -> np.ndarray | None:
    """The features in ``file`` if it matches its manifest, ``expect`` and [rows, 512]; else None."""
    try:
        features = artifacts.load_arrays(file, PRODUCER, expect)["features"]
    except (artifacts.ArtifactError, OSError, ValueError, KeyError):
        return None
    if features.shape != (rows, FEATURE_DIM) or features.dtype != np.float32 or not np.isfinite(features).all():
        return None
    return features


def _remove(file: Path) -> None:
    file.unlink(missing_ok=True)
    artifacts.manifest_path(file).unlink(missing_ok=True)


def cached_features(images: np.ndarray, weights: str | os.PathLike = "imagenet", *, precision: str = "auto",
                    resolution: int = 224, chunk_size: int = 2048, batch_size: int = 64,
                    device: torch.device | str | None = None, progress: bool = True,
                    backend: str = "auto") -> np.ndarray:
    """:func:`extract_features`, stored in the feature cache and resumed chunk by chunk if interrupted."""
    images, device, precision, backend = _prepare(images, resolution, batch_size, device, precision, backend)
    _check_int("chunk_size", chunk_size, 1)
    source = _weights_source(weights)
    if source == "random":
        _announce_random_weights()
    key = {"weights_id": weights_id(weights), "precision": precision, "backend": backend, "resolution": resolution,
           "n": len(images), "images_sha256": images_sha256(images)}
    folder = config.cache_dir() / "features" / "-".join([
        key["weights_id"].replace(":", "_"), f"r{resolution}", precision, backend, f"n{len(images)}",
        key["images_sha256"][:16],
    ])
    final = folder / "features.npz"
    if final.exists():
        features = _load_verified(final, key, len(images))
        if features is not None:
            return features
        print(f"{final} is damaged or stale: extracting again", file=sys.stderr)
        _remove(final)

    starts = range(0, len(images), chunk_size)
    chunks = [folder / f"chunk-{i:05d}.npz" for i in range(len(starts))]
    parts = [_load_verified(file, {**key, "start": start}, len(images[start:start + chunk_size]))
             for file, start in zip(chunks, starts)]
    done = sum(part is not None for part in parts)
    if done:
        print(f"{folder.name}: {done} of {len(parts)} chunks already extracted, computing the rest")
    if done < len(parts):
        extractor = _Extractor(_backbone(source, device), device, precision, resolution, batch_size, backend)
        initial = sum(len(part) for part in parts if part is not None)
        with _progress(len(images), progress, f"features ({precision}, {backend})", initial) as bar:
            for i, (file, start) in enumerate(zip(chunks, starts)):
                if parts[i] is None:
                    parts[i] = extractor(images[start:start + chunk_size], bar)
                    artifacts.save_arrays(file, PRODUCER, {**key, "start": start}, features=parts[i])
    features = np.concatenate(parts)
    artifacts.save_arrays(final, PRODUCER, key, features=features)
    for leftover in folder.iterdir():  # chunks, their manifests, temporary files of killed runs
        if leftover not in (final, artifacts.manifest_path(final)):
            leftover.unlink()
    return features
