"""A fixed bank of 36 oriented Gaussian-derivative filters (17x17) and the features it gives.

The family is the oriented part of the Leung–Malik (LM) filter bank (Leung & Malik,
"Representing and recognizing the visual appearance of materials using three-dimensional
textons", IJCV 2001): the first and the second derivative of an elongated Gaussian,
at 6 orientations (0, 30, ..., 150 degrees) and 3 scales, 2 x 6 x 3 = 36 filters.
At orientation ``theta`` and scale ``sigma`` the Gaussian has standard deviation ``sigma``
across the orientation (``u``, the derivative direction) and ``ELONGATION * sigma`` along
it (``v``); the first-derivative filter responds to edges, the second to bars (lines).
LM use 49x49 filters with an elongation of 3; to fit 17x17 we use ``SCALES = (1, sqrt 2, 2)``
and an elongation of 2, so the largest Gaussian still falls to ``exp(-2)`` of its peak at
the border along its length. Each filter is then made zero-mean (it ignores the image's
brightness) and scaled to unit L2 norm (white noise gives unit-variance responses).

Order of the bank: derivative order (first, then second), then scale, then orientation,
so filter ``k`` is order ``k // 18 + 1``, scale ``SCALES[k // 6 % 3]``, angle ``30 * (k % 6)``.

``filter_responses`` cross-correlates (the deep-learning "convolution", no kernel flip;
for the odd first-derivative filters a true convolution would only flip their sign)
28x28 images with the bank, valid mode -> 36 maps of 12x12; ``bank_features`` max-pools
them 2x2 -> 36 x 6 x 6 = 1296 features per image.
"""

import numpy as np

from helpers.nn.conv import conv2d_forward, maxpool2d_forward
from helpers.core.progress import tqdm

SIZE = 17
SCALES = (1.0, np.sqrt(2.0), 2.0)
ORIENTATIONS_DEG = (0, 30, 60, 90, 120, 150)
ELONGATION = 2.0


def oriented_gaussian_derivative(order, sigma, theta_deg, size=SIZE, elongation=ELONGATION):
    """One zero-mean, unit-L2 ``size x size`` filter: ``order``-th derivative (1 or 2) across ``theta_deg`` (degrees)."""
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    half = (size - 1) / 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    theta = np.deg2rad(theta_deg)
    u = x * np.cos(theta) + y * np.sin(theta)  # across the edge / bar: the derivative direction
    v = -x * np.sin(theta) + y * np.cos(theta)  # along it
    gaussian = np.exp(-u**2 / (2 * sigma**2) - v**2 / (2 * (elongation * sigma) ** 2))
    if order == 1:
        kernel = -u / sigma**2 * gaussian
    else:
        kernel = (u**2 / sigma**4 - 1 / sigma**2) * gaussian
    kernel -= kernel.mean()
    return kernel / np.linalg.norm(kernel)


def make_bank(dtype=np.float32):
    """The 36 filters as an array (36, 17, 17), in the order documented above."""
    filters = [oriented_gaussian_derivative(order, sigma, theta)
               for order in (1, 2) for sigma in SCALES for theta in ORIENTATIONS_DEG]
    return np.stack(filters).astype(dtype)


def _check_inputs(images, bank):
    bank = np.asarray(bank, dtype=np.float32)
    if bank.ndim != 3 or bank.shape[1] != bank.shape[2]:
        raise ValueError(f"bank must be square filters (K, S, S), got shape {bank.shape}")
    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0 or min(images.shape[1:]) < bank.shape[1]:
        raise ValueError(f"images must be (N, H, W) with N >= 1 and H, W >= {bank.shape[1]}, got shape {images.shape}")
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be uint8 (scaled to [0, 1] here) or floating, got {images.dtype}")
    return images, bank


def _response_chunks(images, bank, chunk_size, progress, desc):
    """Yield ``(rows, maps)``: the responses (n, K, h, w) of ``images[rows]``, ``chunk_size`` at a time."""
    weights, bias = bank[:, None], np.zeros(len(bank), dtype=np.float32)
    for start in tqdm(range(0, len(images), chunk_size), desc=desc, unit="chunk", disable=not progress):
        rows = slice(start, start + chunk_size)
        chunk = images[rows].astype(np.float32)
        if images.dtype == np.uint8:
            chunk /= 255
        yield rows, conv2d_forward(chunk[:, None], weights, bias)[0]


def filter_responses(images, bank, chunk_size=500, progress=True):
    """Valid cross-correlation of each image with each filter: (N, H, W) -> float32 (N, K, H-S+1, W-S+1).

    uint8 images are scaled to [0, 1] first. Runs ``chunk_size`` images at a time (tqdm bar).
    """
    images, bank = _check_inputs(images, bank)
    size = bank.shape[1]
    out = np.empty((len(images), len(bank), images.shape[1] - size + 1, images.shape[2] - size + 1), dtype=np.float32)
    for rows, maps in _response_chunks(images, bank, chunk_size, progress, "filter responses"):
        out[rows] = maps
    return out


def bank_features(images, bank, pool=2, chunk_size=500, progress=True):
    """Filter responses max-pooled ``pool x pool`` (stride ``pool``), flattened: (N, H, W) -> float32 (N, features).

    For 28x28 images and the 36-filter bank: 12x12 maps -> 6x6 -> 36 * 36 = 1296 features.
    """
    images, bank = _check_inputs(images, bank)
    features = None
    for rows, maps in _response_chunks(images, bank, chunk_size, progress, "bank features"):
        pooled = maxpool2d_forward(maps, pool, pool)[0].reshape(len(maps), -1)
        if features is None:
            features = np.empty((len(images), pooled.shape[1]), dtype=np.float32)
        features[rows] = pooled
    return features
