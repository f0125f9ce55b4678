"""Preprocessing: images to the arrays the models take (scaled, standardised, laid out)."""
from __future__ import annotations

import numpy as np


def centred_pixels(train_images: np.ndarray, *other_images: np.ndarray, dtype=np.float32):
    """Images as rows of pixels, minus the training mean image, divided by the training pixels' std.

    Every statistic comes from ``train_images`` only and is applied unchanged to
    ``other_images`` (validation, test). Returns ``[train_rows, *other_rows]``, each of
    ``dtype`` (a NumPy float type) and shape ``(n, H*W*C)``; the mean image is subtracted pixel by pixel, the std is one number.
    """
    rows = [np.asarray(images).reshape(len(images), -1).astype(dtype) for images in (train_images, *other_images)]
    mean_image = rows[0].mean(axis=0, dtype=np.float64).astype(dtype)
    for block in rows:
        block -= mean_image
    scale = dtype(rows[0].std(dtype=np.float64))
    for block in rows:
        block /= scale
    return rows


def to_nchw(images, mean=None, std=None, dtype=np.float32):
    """uint8 images (N, H, W) or (N, H, W, C) -> ``dtype`` (N, C, H, W) scaled to [0, 1].

    With ``mean``/``std`` (one value per channel, on the [0, 1] scale, e.g. from
    :func:`channel_stats` of the training set) each channel is then standardised.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"images must be uint8 (N, H, W) or (N, H, W, C), got {images.dtype} {images.shape}")
    if images.ndim == 3:
        images = images[..., None]
    out = images.transpose(0, 3, 1, 2).astype(dtype, order="C")
    out /= 255
    if mean is not None:
        out -= np.asarray(mean, dtype=dtype).reshape(1, -1, 1, 1)
    if std is not None:
        out /= np.asarray(std, dtype=dtype).reshape(1, -1, 1, 1)
    return out


def channel_stats(images):
    """Per-channel mean and standard deviation of uint8 images (N, H, W[, C]) on the [0, 1] scale."""
    images = np.asarray(images)
    channels = images[..., None] if images.ndim == 3 else images
    stats = [(plane.mean(dtype=np.float64), plane.std(dtype=np.float64))
             for plane in (channels[..., c].astype(np.float32) for c in range(channels.shape[-1]))]
    mean, std = np.array(stats).T / 255
    return mean, std
