"""The feature cache: :func:`helpers.features.extract.extract_features`, stored by content and resumable.

:func:`cached_features` stores the result under ``<cache>/features/<key>/``, where the key names the
images (sha256 of their bytes), the weights, the resolution, the precision and the path that computes
them (:data:`helpers.features.extract.PATHS`: compiled with frozen weights, compiled, eager; their bf16
roundings differ, so each has its own entry, and a path that fails and steps down stores its features
under the path that made them). Extraction proceeds
in chunks written atomically with a manifest, so an interrupted run resumes where it stopped; a
damaged chunk is recomputed, never trusted.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import torch

from helpers.core import config
from helpers.features.extract import FEATURE_DIM, Extractor, check_int, planned_path, prepare, progress_bar
from helpers.features.weights import announce_random_weights, backbone, weights_id, weights_source
from helpers.store import artifacts

PRODUCER = "features"


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


def cache_entry(images: np.ndarray, weights, precision: str, path: str, resolution: int) -> tuple[dict, Path]:
    """``(key, folder)``: what the features depend on (``path``: one of PATHS), and the cache folder named after it."""
    key = {"weights_id": weights_id(weights), "precision": precision, "backend": path, "resolution": resolution,
           "n": len(images), "images_sha256": images_sha256(images)}
    folder = config.cache_dir() / "features" / "-".join([
        key["weights_id"].replace(":", "_"), f"r{resolution}", precision, path, f"n{len(images)}",
        key["images_sha256"][:16],
    ])
    return key, folder


def _load_final(final: Path, key: dict, rows: int) -> np.ndarray | None:
    """The finished features, or None when there are none yet (a damaged or stale file is removed)."""
    if not final.exists():
        return None
    features = _load_verified(final, key, rows)
    if features is None:
        print(f"{final} is damaged or stale: extracting again", file=sys.stderr)
        _remove(final)
    return features


def _chunks(images, key, folder, chunk_size, extractor, progress) -> list[np.ndarray]:
    """Every chunk's features: verified from an earlier run, else extracted now and saved at once
    (under the path that made them: a chunk whose path stepped down is not taken for this key's)."""
    starts = range(0, len(images), chunk_size)
    chunks = [folder / f"chunk-{i:05d}.npz" for i in range(len(starts))]
    parts = [_load_verified(file, {**key, "start": start}, len(images[start:start + chunk_size]))
             for file, start in zip(chunks, starts)]
    done = sum(part is not None for part in parts)
    if done:
        print(f"{folder.name}: {done} of {len(parts)} chunks already extracted, computing the rest")
    if done < len(parts):
        initial = sum(len(part) for part in parts if part is not None)
        with progress_bar(len(images), progress, f"features ({key['precision']}, {extractor.path})", initial) as bar:
            for i, (file, start) in enumerate(zip(chunks, starts)):
                if parts[i] is None:
                    parts[i] = extractor(images[start:start + chunk_size], bar)
                    made = {**key, "backend": extractor.path, "start": start}
                    artifacts.save_arrays(file, PRODUCER, made, features=parts[i])
    return parts


def cached_features(images: np.ndarray, weights: str | os.PathLike = "imagenet", *, precision: str = "auto",
                    resolution: int = 224, chunk_size: int = 2048, batch_size: int = 64,
                    device: torch.device | str | None = None, progress: bool = True,
                    backend: str = "auto") -> np.ndarray:
    """:func:`extract_features`, stored in the feature cache and resumed chunk by chunk if interrupted."""
    images, device, precision, backend = prepare(images, resolution, batch_size, device, precision, backend)
    check_int("chunk_size", chunk_size, 1)
    source = weights_source(weights)
    if source == "random":
        announce_random_weights()
    key, folder = cache_entry(images, weights, precision, planned_path(backend), resolution)
    features = _load_final(folder / "features.npz", key, len(images))
    if features is not None:
        return features
    extractor = Extractor(backbone(source, device), device, precision, resolution, batch_size, backend)
    if extractor.warm_up(announce=progress) != key["backend"]:  # the planned path failed here: the entry of the one that works
        key, folder = cache_entry(images, weights, precision, extractor.path, resolution)
        features = _load_final(folder / "features.npz", key, len(images))
        if features is not None:
            return features
    final = folder / "features.npz"
    features = np.concatenate(_chunks(images, key, folder, chunk_size, extractor, progress))
    artifacts.save_arrays(final, PRODUCER, {**key, "backend": extractor.path}, features=features)
    for leftover in folder.iterdir():  # chunks, their manifests, temporary files of killed runs
        if leftover not in (final, artifacts.manifest_path(final)):
            leftover.unlink()
    return features
