"""Property tests for helpers.augment, and agreement with torchvision's functional ops.

The graded tests call the augmentation ops through the ``student`` fixture (see ``tests/test_graded.py``) and
check that each result is a uint8 batch of the expected shape (``tests/graded_checks.py``) before its values."""
import numpy as np
import pytest

import graded_checks as check
from helpers import augment as aug

SEED = 1234


def noise_batch(n=6, height=32, width=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


def scene_batch(height=32, width=32):
    """Four smooth, photo-like images: sky with a sun, soft blocks, stripes, a lit ball."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = y / (height - 1), x / (width - 1)
    sky = np.stack([60 + 80 * y, 120 + 90 * y, 255 - 40 * y], axis=-1)
    sky[(x - 0.7) ** 2 + (y - 0.3) ** 2 < 0.02] = (250, 220, 90)
    blocks = np.stack([200 * (x > 0.4), 150 * (y > 0.6), 90 + 0 * x], axis=-1)
    stripes = 127.5 + 120 * np.sin(9 * x + 4 * y)[..., None] * np.array([1.0, 0.6, -0.8])
    ball = np.clip(255 * (1 - 2.2 * ((x - 0.45) ** 2 + (y - 0.5) ** 2)), 0, 255)
    ball = np.stack([ball, 0.8 * ball, 0.3 * ball + 40], axis=-1)
    images = np.stack([sky, blocks, stripes, ball])
    noise = np.random.default_rng(1).normal(0, 4, images.shape)
    return np.clip(np.rint(images + noise), 0, 255).astype(np.uint8)


@pytest.fixture(params=["noise", "scenes", "non-square"])
def images(request):
    if request.param == "noise":
        return noise_batch()
    if request.param == "scenes":
        return scene_batch()
    return noise_batch(n=3, height=24, width=40)


# Every random op, and the default pipeline, called as op(images, rng) with default settings.
RANDOM_OPS = {
    "crop": aug.random_crop,
    "rotation": aug.random_rotation,
    "cutout": aug.random_cutout,
    "contrast": aug.random_contrast,
    "hflip": aug.random_hflip,
    "pipeline": aug.default_pipeline(),
}


# ----------------------------------------------------------------------------- identities
@pytest.mark.graded("augment.hflip")
def test_hflip_twice_is_identity(student, images):
    mask = np.arange(len(images)) % 2 == 0
    once = check.array(student.call("augment.hflip", images, mask), "hflip's out", images.shape, np.uint8)
    assert np.array_equal(once[mask], images[mask, :, ::-1])
    assert np.array_equal(once[~mask], images[~mask])
    check.equal(student.call("augment.hflip", once, mask), images, "hflip's out, flipped twice")


def test_identity_parameters(images):
    assert np.array_equal(aug.rotate(images, 0.0), images)
    assert np.array_equal(aug.crop(images, (4, 4), padding=4), images)
    assert np.array_equal(aug.crop(images, (0, 0), padding=0), images)
    assert np.array_equal(aug.adjust_contrast(images, 1.0), images)
    assert np.array_equal(aug.cutout(images, (10, 10), size=0), images)


def test_random_ops_with_identity_ranges(images):
    rng = np.random.default_rng(SEED)
    assert np.array_equal(aug.random_rotation(images, rng, max_degrees=0.0), images)
    assert np.array_equal(aug.random_crop(images, rng, padding=0), images)
    assert np.array_equal(aug.random_contrast(images, rng, factor_range=(1.0, 1.0)), images)
    assert np.array_equal(aug.random_cutout(images, rng, size_range=(0, 0)), images)
    assert np.array_equal(aug.random_hflip(images, rng, p=0.0), images)
    assert np.array_equal(aug.random_hflip(images, rng, p=1.0), images[:, :, ::-1])


@pytest.mark.graded("augment._rotate_block")
@pytest.mark.parametrize("degrees, turns", [(90, 1), (180, 2), (-90, -1), (270, 3)])
def test_rotate_by_right_angles_equals_rot90(student, degrees, turns):
    for images in (noise_batch(), scene_batch()):
        check.equal(student.call("augment.rotate", images, degrees), np.rot90(images, k=turns, axes=(1, 2)),
                    f"rotate's out by {degrees} degrees")


@pytest.mark.graded("augment._rotate_block")
def test_rotate_is_per_image(student):
    images = scene_batch()
    angles = np.array([0.0, 90.0, 180.0, -90.0])
    rotated = check.array(student.call("augment.rotate", images, angles), "rotate's out", images.shape, np.uint8)
    for image, angle, result in zip(images, angles, rotated, strict=True):
        assert np.array_equal(result, np.rot90(image, k=int(angle) // 90, axes=(0, 1)))


def test_float_ops_give_the_same_result_in_any_block():
    images = noise_batch(n=300)  # rotate and adjust_contrast work in blocks of 128 images
    angles = np.linspace(-30, 30, 300)
    factors = np.linspace(0.5, 1.5, 300)
    rotated, contrasted = aug.rotate(images, angles), aug.adjust_contrast(images, factors)
    for i in (0, 127, 128, 299):
        assert np.array_equal(rotated[i], aug.rotate(images[i:i + 1], angles[i])[0])
        assert np.array_equal(contrasted[i], aug.adjust_contrast(images[i:i + 1], factors[i])[0])


@pytest.mark.graded("augment._rotate_block")
def test_rotate_fills_outside_and_keeps_constant_images(student):
    grey = np.full((2, 32, 32, 3), 77, dtype=np.uint8)
    rotated = check.array(student.call("augment.rotate", grey, 45.0, fill=200), "rotate's out", grey.shape, np.uint8)
    assert rotated[0, 0, 0].tolist() == [200, 200, 200]  # a corner maps outside the image
    assert np.all(rotated[:, 8:24, 8:24] == 77)  # the interior maps inside


# ----------------------------------------------------------------------------- cutout
@pytest.mark.graded("augment.cutout")
@pytest.mark.parametrize("fill", [0, 7])
def test_cutout_fills_exactly_the_patch(student, fill):
    images = np.random.default_rng(2).integers(8, 256, (5, 32, 40, 3), dtype=np.uint8)
    centers = np.array([[16, 20], [0, 0], [31, 39], [5, 30], [20, 3]])
    sizes = np.array([8, 9, 16, 0, 33])
    expected = images.copy()
    for image, (cy, cx), size in zip(expected, centers, sizes):
        top, left = cy - size // 2, cx - size // 2
        image[max(top, 0):top + size, max(left, 0):left + size] = fill
    check.equal(student.call("augment.cutout", images, centers, sizes, fill=fill), expected, "cutout's out")


def test_random_cutout_patch_sizes_within_range():
    images = np.full((400, 32, 32, 3), 255, dtype=np.uint8)
    out = aug.random_cutout(images, np.random.default_rng(SEED), size_range=(8, 16))
    filled = (out == 0).all(axis=-1)
    heights, widths = filled.any(axis=2).sum(axis=1), filled.any(axis=1).sum(axis=1)
    assert np.all(filled.sum(axis=(1, 2)) == heights * widths)  # one rectangle per image
    assert heights.max() <= 16 and widths.max() <= 16 and heights.min() >= 1
    assert np.any(heights == 16)  # an interior patch of the largest size occurs


# ----------------------------------------------------------------------------- crop, contrast
@pytest.mark.graded("augment.crop")
def test_crop_shifts_content(student):
    images = scene_batch()
    out = student.call("augment.crop", images, (2, 6), padding=4)  # window starts 2 rows up, 2 columns right
    check.array(out, "crop's out", images.shape, np.uint8)
    assert np.array_equal(out[:, 2:, :-2], images[:, :-2, 2:])


@pytest.mark.graded("augment.crop")
@pytest.mark.parametrize("mode", ["reflect", "edge", "symmetric", "wrap"])
def test_crop_matches_padding_with_np_pad(student, mode):
    images = noise_batch(n=4, height=24, width=40)
    offsets = np.array([[0, 8], [8, 0], [3, 5], [8, 8]])
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)), mode=mode)
    expected = [p[dy:dy + 24, dx:dx + 40] for p, (dy, dx) in zip(padded, offsets)]
    check.equal(student.call("augment.crop", images, offsets, padding=4, mode=mode), np.stack(expected), "crop's out")


@pytest.mark.graded("augment.crop")
def test_crop_constant_mode_uses_fill(student):
    images = np.full((1, 8, 8, 3), 50, dtype=np.uint8)
    out = check.array(student.call("augment.crop", images, (0, 0), padding=2, mode="constant", fill=9), "crop's out",
                      images.shape, np.uint8)
    assert np.all(out[0, :2] == 9) and np.all(out[0, :, :2] == 9) and np.all(out[0, 2:, 2:] == 50)


@pytest.mark.graded("augment._contrast_block")
def test_contrast_zero_is_grey_mean_and_factors_scale_spread(student):
    images = scene_batch()
    grey = images.astype(np.float64) @ [0.2989, 0.587, 0.114]
    flat = student.call("augment.adjust_contrast", images, 0.0)
    means = np.rint(grey.mean(axis=(1, 2)))[:, None, None, None].astype(np.uint8)
    check.equal(flat, np.broadcast_to(means, images.shape), "adjust_contrast's out for factor 0")
    low, high = (check.array(student.call("augment.adjust_contrast", images, factor),
                             f"adjust_contrast's out for factor {factor}", images.shape, np.uint8) for factor in (0.5, 1.5))
    assert np.all(low.std(axis=(1, 2, 3)) < images.std(axis=(1, 2, 3)))
    assert np.all(high.std(axis=(1, 2, 3)) > images.std(axis=(1, 2, 3)))


# ----------------------------------------------------------------------------- every op
@pytest.mark.parametrize("name", RANDOM_OPS)
def test_dtype_shape_range_and_input_untouched(name, images):
    before = images.copy()
    out = RANDOM_OPS[name](images, np.random.default_rng(SEED))
    assert out.dtype == np.uint8 and out.shape == images.shape and out is not images
    assert np.array_equal(images, before)


@pytest.mark.parametrize("name", RANDOM_OPS)
def test_same_seed_same_output_other_seed_other_output(name):
    images = scene_batch()
    op = RANDOM_OPS[name]
    first = op(images, np.random.default_rng(SEED))
    assert np.array_equal(first, op(images, np.random.default_rng(SEED)))
    assert not np.array_equal(first, op(images, np.random.default_rng(SEED + 1)))


def test_random_ops_leave_global_numpy_state_alone():
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    aug.default_pipeline()(noise_batch(), np.random.default_rng(SEED))
    assert np.random.random() == expected


def test_pipeline_is_configurable_and_lists_its_steps():
    pipeline = aug.Pipeline([
        ("flip", aug.random_hflip, {"p": 1.0}),
        ("flip again", aug.random_hflip, {"p": 1.0}),
    ])
    images = scene_batch()
    assert np.array_equal(pipeline(images, np.random.default_rng(SEED)), images)
    assert "flip again: random_hflip(p=1.0)" in repr(pipeline)
    text = repr(aug.default_pipeline())
    names = ["random_crop", "random_rotation", "random_cutout", "random_contrast", "random_hflip"]
    assert [text.index(name) for name in names] == sorted(text.index(name) for name in names)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "bad, shown",
    [
        (np.zeros((2, 32, 32, 3), dtype=np.float32), "float32"),
        (np.zeros((32, 32, 3), dtype=np.uint8), "(32, 32, 3)"),
        (np.zeros((2, 3, 32, 32), dtype=np.uint8), "(2, 3, 32, 32)"),
        ([[[[0, 0, 0]]]], "list"),
    ],
)
def test_bad_images_are_rejected_with_a_clear_message(bad, shown):
    expected = r"images: expected a uint8 NumPy array of shape \[N, H, W, 3\]"
    calls = [
        lambda: aug.hflip(bad, True),
        lambda: aug.random_rotation(bad, np.random.default_rng(0)),
        lambda: aug.default_pipeline()(bad, np.random.default_rng(0)),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=expected) as error:
            call()
        assert shown in str(error.value)


BATCH = noise_batch(n=4)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: aug.random_crop(BATCH, 0), TypeError, r"rng: expected a np.random.Generator"),
        (lambda: aug.crop(BATCH, (9, 0), padding=4), ValueError,
         r"offsets: expected every \(dy, dx\) in 0..2\*padding = 0..8"),
        (lambda: aug.crop(BATCH, np.zeros((3, 2), int), padding=4), ValueError,
         r"offsets: expected one pair of ints per image, shape \[4, 2\] or \[2\]"),
        (lambda: aug.crop(BATCH, (1.5, 2.0), padding=4), ValueError, r"offsets: .*dtype float64"),
        (lambda: aug.crop(BATCH, (0, 0), 4, mode="mean"), ValueError, r"mode: expected one of"),
        (lambda: aug.crop(BATCH, (0, 0), padding=-1), ValueError, r"padding: expected an int >= 0"),
        (lambda: aug.rotate(BATCH, [10.0, 20.0]), ValueError,
         r"degrees: expected one number per image, shape \[4\] or a scalar"),
        (lambda: aug.rotate(BATCH, 10.0, fill=300), ValueError, r"fill: expected an int grey"),
        (lambda: aug.cutout(BATCH, (5, 5), size=-1), ValueError, r"size: expected sizes >= 0"),
        (lambda: aug.adjust_contrast(BATCH, "high"), ValueError, r"factors: expected one number"),
        (lambda: aug.hflip(BATCH, [1, 0, 1, 0]), ValueError, r"mask: expected one bool per image"),
    ],
)
def test_bad_parameters_are_rejected_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----------------------------------------------------------------------------- torchvision
@pytest.fixture(scope="module")
def tvf():
    pytest.importorskip("torchvision")
    from torchvision.transforms.v2 import functional

    return functional


def to_torch(images):
    import torch

    return [torch.from_numpy(image).permute(2, 0, 1).contiguous() for image in images]


def from_torch(tensors):
    return np.stack([tensor.permute(1, 2, 0).numpy() for tensor in tensors])


@pytest.mark.graded("augment.hflip")
def test_hflip_matches_torchvision(student, tvf, images):
    expected = from_torch(tvf.horizontal_flip(t) for t in to_torch(images))
    check.equal(student.call("augment.hflip", images, True), expected, "hflip's out")


@pytest.mark.graded("augment.crop")
@pytest.mark.parametrize("mode", ["reflect", "edge", "constant"])
def test_crop_matches_torchvision_pad_then_crop(student, tvf, images, mode):
    offsets = np.random.default_rng(SEED).integers(0, 9, (len(images), 2))
    height, width = images.shape[1:3]
    expected = from_torch(
        tvf.crop(tvf.pad(t, 4, fill=3, padding_mode=mode), int(dy), int(dx), height, width)
        for t, (dy, dx) in zip(to_torch(images), offsets)
    )
    check.equal(student.call("augment.crop", images, offsets, padding=4, mode=mode, fill=3), expected, "crop's out")


@pytest.mark.graded("augment._rotate_block")
def test_rotation_matches_torchvision_bilinear(student, tvf, images):
    from torchvision.transforms import InterpolationMode

    angles = np.random.default_rng(SEED).uniform(-40, 40, len(images))
    tensors = to_torch(images)
    # fill=0 here is torchvision's fill=None (zero padding): equal up to float rounding.
    ours = check.array(student.call("augment.rotate", images, angles), "rotate's out", images.shape, np.uint8).astype(int)
    theirs = from_torch(
        tvf.rotate(t, float(a), interpolation=InterpolationMode.BILINEAR)
        for t, a in zip(tensors, angles)
    )
    assert np.abs(ours - theirs).max() <= 1 and np.abs(ours - theirs).mean() < 0.01
    # With an explicit fill torchvision weights the one-pixel band along the rotated border
    # differently; away from it the two agree.
    ours = check.array(student.call("augment.rotate", images, angles, fill=100), "rotate's out", images.shape,
                       np.uint8).astype(int)
    theirs = from_torch(
        tvf.rotate(t, float(a), interpolation=InterpolationMode.BILINEAR, fill=100)
        for t, a in zip(tensors, angles)
    )
    interior = np.abs(ours - theirs)[:, 8:-8, 8:-8]
    assert interior.mean() < 1.0 and interior.max() <= 1


@pytest.mark.graded("augment._contrast_block")
def test_contrast_matches_torchvision_within_rounding(student, tvf, images):
    factors = np.random.default_rng(SEED).uniform(0.0, 2.0, len(images))
    tensors = to_torch(images)
    expected = from_torch(tvf.adjust_contrast(t, float(f)) for t, f in zip(tensors, factors))
    out = check.array(student.call("augment.adjust_contrast", images, factors), "adjust_contrast's out", images.shape,
                      np.uint8)
    assert np.abs(out.astype(int) - expected).max() <= 1



def test_sgd_epoch_trains_a_flip_augmented_model():
    """sgd_epoch calls ``model.loss(X, y)`` as its docstring says, so a FlipAugmented model trains like any other."""
    from helpers import train
    from helpers.nn import Classifier, Flatten, Linear, optim

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 2, 3, 4)), rng.integers(0, 2, 12)
    model = Classifier((2, 3, 4), [Flatten(), Linear(24, 2)], dtype=np.float64, seed=0)
    before = {name: value.copy() for name, value in model.params.items()}
    train.sgd_epoch(aug.FlipAugmented(model, p=1.0, seed=0), optim.SGD(model.params, lr=0.1), X, y, np.arange(12), 5)
    assert all(not np.array_equal(before[name], model.params[name]) for name in before)


def test_flip_augmented_loss_takes_the_models_mode_argument():
    from helpers.nn import Classifier, Flatten, Linear

    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 2, 3, 4)), rng.integers(0, 2, 6)
    model = Classifier((2, 3, 4), [Flatten(), Linear(24, 2)], dtype=np.float64, seed=0)
    wrapped = aug.FlipAugmented(model, p=1.0, seed=0)
    assert wrapped.loss(X, y, training=False)[0] == model.loss(X, y, training=False)[0]
    assert wrapped.loss(X, y)[0] == model.loss(X[..., ::-1], y)[0]
