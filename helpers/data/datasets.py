"""CIFAR-10 and MNIST as NumPy arrays, offline first.

Sources, in order: the path in ``CIFAR10_DIR`` / ``MNIST_DIR``; else the project's own cache
of decoded arrays; else a download of the official files from their first good source
(``helpers.data.download``: mirrors, timeouts, checksums).
Decoded arrays are cached under ``artifacts/cache/`` so that a second load is fast.

Order: every source gives its examples in an order in which the first rows are a fair sample.
The official CIFAR-10 batches and MNIST keep their own (already random) order. An image-folder
tree lists its files class by class, so it comes back in one fixed shuffle: the files sorted by
class, then by natural file name, then permuted by ``np.random.default_rng(IMAGE_TREE_SHUFFLE_SEED)``.
The same tree therefore always gives the same order, on every machine.
"""
from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from helpers.core import config
from helpers.data import download
from helpers.store import artifacts
from helpers.core.progress import tqdm

CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]
MNIST_CLASSES = [str(digit) for digit in range(10)]
CIFAR10_COUNTS = {"train": 50_000, "test": 10_000}
MNIST_COUNTS = {"train": 60_000, "test": 10_000}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
SPLITS = ("train", "test")
IMAGE_TREE_SHUFFLE_SEED = 20_240_613  # the fixed shuffle of image-folder trees (module docstring)
CACHE_LAYOUT = "shuffled-image-trees-v1"  # cached arrays made by an older, class-sorted reader are read again


class DataSourceError(ValueError):
    """A data source is missing, damaged or laid out in a way we cannot read."""


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: pass 'train' or 'test'")


# ----------------------------------------------------------------------------- sources
def _walk_archive(source: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    """(member path, bytes) for every image file in a .tar(.gz) or .zip archive."""
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                for info in archive.infolist():
                    member = PurePosixPath(info.filename)
                    if not info.is_dir() and member.suffix.lower() in IMAGE_SUFFIXES:
                        yield member, archive.read(info)
        else:
            with tarfile.open(source, "r:*") as archive:
                for info in archive:
                    member = PurePosixPath(info.name)
                    if info.isfile() and member.suffix.lower() in IMAGE_SUFFIXES:
                        yield member, archive.extractfile(info).read()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise DataSourceError(
            f"{source} is not a readable .tar.gz/.zip archive ({err}): it may be truncated or "
            "corrupt; download it again or point CIFAR10_DIR at an extracted folder"
        ) from err


def _walk_folder(source: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    for file in sorted(source.rglob("*")):
        if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
            yield PurePosixPath(file.relative_to(source).as_posix()), file.read_bytes()


def _split_class_name(member: PurePosixPath, source: Path) -> tuple[str, str] | None:
    """('train'|'test', class) for ``[top/]split/class/file``; None for files elsewhere."""
    parts = member.parts
    if len(parts) == 4:  # one top folder
        parts = parts[1:]
    if len(parts) != 3 or parts[0] not in SPLITS:
        return None
    if parts[1] not in CIFAR10_CLASSES:
        raise DataSourceError(
            f"{source}: unknown class folder {'/'.join(member.parts[:-1])!r}; CIFAR-10 class "
            f"folders are {CIFAR10_CLASSES}"
        )
    return parts[0], parts[1]


def _natural_key(member: PurePosixPath) -> tuple:
    return tuple(int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", member.name))


def _decode_rgb32(data: bytes, where: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            size, mode = image.size, image.mode
            array = np.asarray(image)
    except OSError as err:
        raise DataSourceError(f"{where} is not a readable image ({err}): replace or remove it") from err
    if size != (32, 32) or mode != "RGB":
        raise DataSourceError(
            f"{where} is {size[0]}x{size[1]} {mode}, CIFAR-10 images are 32x32 RGB: "
            "replace the file or remove it from the data set"
        )
    return array


def _read_image_tree(source: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images of one split from an image-folder tree (folder or archive), in the tree's fixed shuffle."""
    walk = _walk_folder(source) if source.is_dir() else _walk_archive(source)
    found: dict[str, list[tuple[PurePosixPath, bytes]]] = {name: [] for name in CIFAR10_CLASSES}
    for member, data in tqdm(walk, desc=f"reading {source.name}", unit=" files", leave=False):
        place = _split_class_name(member, source)
        if place and place[0] == split:
            found[place[1]].append((member, data))
    missing = [name for name, files in found.items() if not files]
    if len(missing) == len(CIFAR10_CLASSES):
        raise DataSourceError(
            f"{source} has no {split}/<class>/*.png|jpg images: expected an image-folder tree "
            "train/<class>/* and test/<class>/* (optionally inside one top folder)"
        )
    if missing:
        raise DataSourceError(f"{source}: split {split!r} has no images for classes {missing}")
    images, labels = [], []
    for label, name in enumerate(CIFAR10_CLASSES):
        for member, data in sorted(found[name], key=lambda item: _natural_key(item[0])):
            images.append(_decode_rgb32(data, f"{source}:{member}"))
            labels.append(label)
    order = np.random.default_rng(IMAGE_TREE_SHUFFLE_SEED).permutation(len(labels))
    return np.stack(images)[order], np.asarray(labels, dtype=np.int64)[order]


def _read_cifar_batches(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The official ``cifar-10-batches-py`` folder (pickled batches, read data-only)."""
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for name in names:
        file = folder / name
        if not file.exists():
            raise DataSourceError(f"{file} is missing: the cifar-10-batches-py folder is incomplete")
        try:
            batch = artifacts.safe_unpickle(file)
            data, batch_labels = batch[b"data"], batch[b"labels"]
        except (artifacts.ArtifactError, KeyError, TypeError) as err:
            raise DataSourceError(f"{file} is not a CIFAR-10 batch ({err}): download it again") from err
        images.append(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch_labels, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def _download_cifar10(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The official archive, from its first good source (helpers.data.download), extracted once into the cache."""
    root = config.cache_dir() / "downloads"
    folder = root / "cifar-10-batches-py"
    if not (folder / "batches.meta").exists():
        try:
            [archive] = download.fetch_files("cifar10", [download.CIFAR10_ARCHIVE], root)
        except download.DownloadError as err:
            raise DataSourceError(
                f"could not download CIFAR-10 into {root}: {err}\nWith no internet, set CIFAR10_DIR to a "
                "cifar-10-batches-py folder, an image-folder tree or a .tar.gz/.zip of one; or CIFAR10_URL "
                f"to another source of {download.CIFAR10_ARCHIVE}"
            ) from err
        _extract_batches(archive, folder)
        archive.unlink()
    return _read_cifar_batches(folder, split)


def _extract_batches(archive: Path, folder: Path) -> None:
    """The files of ``cifar-10-batches-py/`` in ``archive``, written to ``folder`` (complete or not at all)."""
    with tempfile.TemporaryDirectory(dir=folder.parent) as temporary:
        staging = Path(temporary) / folder.name
        staging.mkdir()
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    parts = PurePosixPath(member.name).parts
                    if member.isfile() and len(parts) == 2 and parts[0] == "cifar-10-batches-py":
                        (staging / parts[1]).write_bytes(tar.extractfile(member).read())
        except (tarfile.TarError, EOFError, OSError) as err:
            raise DataSourceError(f"{archive} is not a readable .tar.gz ({err}): delete it and load again") from err
        if not (staging / "batches.meta").exists():
            raise DataSourceError(f"{archive} holds no cifar-10-batches-py/batches.meta: not the CIFAR-10 archive")
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete folder left by hand
        os.replace(staging, folder)


def _source_identity(source: Path) -> str:
    stat = source.stat()
    return f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


# ----------------------------------------------------------------------------- public
def _read_cache(cache: Path, identity: str | None):
    """Cached (images, labels) made from ``identity`` (any source when None) by this reader, else None."""
    try:
        made = artifacts.read_manifest(cache)["config"]
        if made.get("layout") != CACHE_LAYOUT or (identity is not None and made.get("source") != identity):
            return None
        arrays = artifacts.load_arrays(cache)
    except artifacts.ArtifactError:
        return None
    return arrays["images"], arrays["labels"]


def _load_cached(kind: str, split: str, source: Path | None, read, counts: dict, check_counts: bool):
    """Shared by both data sets: the cache made from ``source``, else ``read(split)`` then cache it."""
    _check_split(split)
    if source is not None and not source.exists():
        raise DataSourceError(
            f"{source} does not exist: fix {kind.upper()}_DIR or unset it to use the cache/download"
        )
    cache = config.cache_dir() / f"{kind}-{split}.npz"
    identity = _source_identity(source) if source is not None else None
    cached = _read_cache(cache, identity)
    images, labels = cached if cached is not None else read(split)
    if check_counts and len(labels) != counts[split]:
        raise DataSourceError(
            f"{source or cache}: found {len(labels):,} {split} images, the full data set has "
            f"{counts[split]:,}; the source is incomplete (pass check_counts=False for a subset)"
        )
    if cached is None:
        artifacts.save_arrays(cache, "data", {"source": identity or "download", "layout": CACHE_LAYOUT},
                              images=images, labels=labels)
    return images, labels


def load_cifar10(split: str, check_counts: bool = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """CIFAR-10 ``split`` ('train'|'test') as (uint8 [N,32,32,3], int64 [N], class names)."""
    source = config.cifar10_source()

    def read(split):
        if source is None:
            return _download_cifar10(split)
        if source.is_dir() and (source / "batches.meta").exists():
            return _read_cifar_batches(source, split)
        if source.is_dir() and (source / "cifar-10-batches-py").is_dir():
            return _read_cifar_batches(source / "cifar-10-batches-py", split)
        return _read_image_tree(source, split)

    images, labels = _load_cached("cifar10", split, source, read, CIFAR10_COUNTS, check_counts)
    return images, labels, list(CIFAR10_CLASSES)


def _read_mnist_npz(source: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    file = source / "mnist.npz" if source.is_dir() else source
    try:
        with np.load(file, allow_pickle=False) as data:
            images, labels = data[f"x_{split}"], data[f"y_{split}"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise DataSourceError(
            f"{file} is not a readable mnist.npz with x_train/y_train/x_test/y_test ({err})"
        ) from err
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DataSourceError(f"{file}: x_{split} must be uint8 [N,28,28] with one label per image")
    return images, labels.astype(np.int64)


def _download_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The official idx files of ``split``, from their first good source (helpers.data.download)."""
    root = config.cache_dir() / "downloads" / "mnist"
    try:
        images, labels = download.fetch_files("mnist", download.MNIST_FILES[split], root)
    except download.DownloadError as err:
        raise DataSourceError(
            f"could not download MNIST into {root}: {err}\nWith no internet, set MNIST_DIR to a mnist.npz; "
            "or MNIST_URL to another folder holding the four .gz files"
        ) from err
    return _read_idx(images, ndim=3), _read_idx(labels, ndim=1).astype(np.int64)


def _read_idx(file: Path, ndim: int) -> np.ndarray:
    """A gzipped idx file of unsigned bytes (MNIST's format: magic 0x0000080N, N sizes, then the data)."""
    try:
        with gzip.open(file, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise DataSourceError(f"{file} is not a readable .gz ({err}): delete it and load again") from err
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:4] != bytes([0, 0, 8, ndim]):
        raise DataSourceError(f"{file} is not an idx file of {ndim}-d unsigned bytes: delete it and load again")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - header != int(np.prod(shape)):
        raise DataSourceError(f"{file}: {len(raw) - header:,} bytes of data for shape {shape}: delete it and load again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist(split: str, check_counts: bool = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """MNIST ``split`` as (uint8 [N,28,28], int64 [N], class names '0'..'9')."""
    source = config.mnist_source()

    def read(split):
        return _download_mnist(split) if source is None else _read_mnist_npz(source, split)

    images, labels = _load_cached("mnist", split, source, read, MNIST_COUNTS, check_counts)
    return images, labels, list(MNIST_CLASSES)


def random_subset(n_rows: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``size`` rows drawn at random from ``n_rows`` (all of them when fewer).

    A sample must never be "the first rows": a source may be ordered by class.
    """
    if size >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).permutation(n_rows)[:size])


def stratified_subset(labels: np.ndarray, per_class: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``per_class`` random examples of each class (all when None)."""
    if per_class is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(f"per_class={per_class}: class {label} has only {len(members)} examples")
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def profile_split(split: str, loader=load_cifar10):
    """The split as the current profile uses it: all of it, or a stratified subset (smoke)."""
    images, labels, classes = loader(split)
    profile = config.profile()
    per_class = profile.train_per_class if split == "train" else profile.test_per_class
    keep = stratified_subset(labels, per_class, seed=profile.seed)
    return images[keep], labels[keep], classes
