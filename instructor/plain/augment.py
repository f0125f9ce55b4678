"""Plain versions of helpers/augment.py's graded functions: one image at a time."""
import numpy as np


def crop(images, offsets, padding, mode="reflect", fill=0):
    height, width = images.shape[1:3]
    pad = ((padding, padding), (padding, padding), (0, 0))
    options = {"constant_values": fill} if mode == "constant" else {}
    out = np.empty_like(images)
    for i in range(len(images)):
        padded = np.pad(images[i], pad, mode=mode, **options)
        dy, dx = offsets[i]
        out[i] = padded[dy:dy + height, dx:dx + width]
    return out


def _rotate_block(images, angles, fill):
    n, height, width, _ = images.shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    dy, dx = rows - (height - 1) / 2, cols - (width - 1) / 2
    out = np.empty_like(images)
    for k in range(n):
        cos, sin = np.cos(angles[k]), np.sin(angles[k])
        source_x = cos * dx - sin * dy + (width - 1) / 2  # inverse mapping: where each output pixel comes from
        source_y = sin * dx + cos * dy + (height - 1) / 2
        left, top = np.floor(source_x), np.floor(source_y)
        weight_x, weight_y = source_x - left, source_y - top
        total = np.zeros((height, width, 3))
        for down, right, weight in ((0, 0, (1 - weight_x) * (1 - weight_y)), (0, 1, weight_x * (1 - weight_y)),
                                    (1, 0, (1 - weight_x) * weight_y), (1, 1, weight_x * weight_y)):
            y, x = top + down, left + right
            inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
            y, x = np.clip(y, 0, height - 1).astype(int), np.clip(x, 0, width - 1).astype(int)
            total += weight[:, :, None] * np.where(inside[:, :, None], images[k, y, x], fill)
        out[k] = np.clip(np.rint(total), 0, 255)
    return out


def cutout(images, centers, size, fill=0):
    height, width = images.shape[1:3]
    sizes = np.broadcast_to(size, len(images))
    out = images.copy()
    for i in range(len(images)):
        top, left = centers[i][0] - sizes[i] // 2, centers[i][1] - sizes[i] // 2
        bottom, right = min(max(top + sizes[i], 0), height), min(max(left + sizes[i], 0), width)
        out[i, max(top, 0):bottom, max(left, 0):right] = fill
    return out


def _contrast_block(images, factors):
    out = np.empty_like(images)
    for i in range(len(images)):
        image = images[i].astype(np.float64)
        grey = (image @ np.array([0.2989, 0.587, 0.114])).mean()  # ITU-R 601-2 luma
        out[i] = np.clip(np.rint(factors[i] * image + (1 - factors[i]) * grey), 0, 255)
    return out


def hflip(images, mask):
    out = images.copy()
    for i in range(len(images)):
        if mask[i]:
            out[i] = images[i, :, ::-1]
    return out
