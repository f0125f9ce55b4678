"""Data loading from every accepted source, built small in a temporary folder (no network)."""
import io
import os
import pickle
import shutil
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from helpers.core import config
from helpers.data import datasets as data
from helpers.store import artifacts
from helpers.data.datasets import CIFAR10_CLASSES, DataSourceError, load_cifar10, load_mnist

PER_CLASS = {"train": 3, "test": 2}


def _pixels(split, label, index):
    rng = np.random.default_rng([label, index, split == "train"])
    return rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def make_tree(root, top=None, classes=CIFAR10_CLASSES, splits=("train", "test")):
    """An image-folder tree of lossless PNGs: [top/]split/class/N.png."""
    base = root / top if top else root
    for split in splits:
        for label, name in enumerate(classes):
            folder = base / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(PER_CLASS[split]):
                (folder / f"{index}.png").write_bytes(_png(_pixels(split, label, index)))
    return root


def expected(split):
    """The tree's images and labels in the loader's documented order: class, file name, then the fixed shuffle."""
    images = np.stack([_pixels(split, label, i) for label in range(10) for i in range(PER_CLASS[split])])
    labels = np.repeat(np.arange(10), PER_CLASS[split])
    order = np.random.default_rng(data.IMAGE_TREE_SHUFFLE_SEED).permutation(len(labels))
    return images[order], labels[order]


def make_archive(tree, kind, out):
    if kind == "zip":
        with zipfile.ZipFile(out, "w") as archive:
            for file in sorted(tree.rglob("*")):
                archive.write(file, file.relative_to(tree).as_posix())
    else:
        with tarfile.open(out, "w:gz") as archive:
            for child in sorted(tree.iterdir()):
                archive.add(child, arcname=child.name)
    return out


@pytest.fixture
def cifar_source(monkeypatch):
    def point_at(source):
        monkeypatch.setenv("CIFAR10_DIR", str(source))
        return source
    return point_at


@pytest.mark.parametrize("top", [None, "cifar10"])
@pytest.mark.parametrize("kind", ["folder", "tar.gz", "zip"])
def test_image_folder_tree_in_every_form(tmp_path, cifar_source, kind, top):
    tree = make_tree(tmp_path / "tree", top=top)
    source = tree if kind == "folder" else make_archive(tree, kind, tmp_path / f"cifar.{kind}")
    cifar_source(source)
    for split in ("train", "test"):
        images, labels, classes = load_cifar10(split, check_counts=False)
        want_images, want_labels = expected(split)
        assert classes == CIFAR10_CLASSES
        assert images.dtype == np.uint8 and labels.dtype == np.int64
        np.testing.assert_array_equal(images, want_images)
        np.testing.assert_array_equal(labels, want_labels)


BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def make_batches(folder, labels_of):
    """A cifar-10-batches-py folder whose batch ``name`` holds random images with labels ``labels_of(name)``."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in BATCH_NAMES:
        labels = list(labels_of(name))
        batches[name] = {b"data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8), b"labels": labels}
        (folder / name).write_bytes(pickle.dumps(batches[name], protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [c.encode() for c in CIFAR10_CLASSES]}))
    return batches


def test_official_batches_folder(tmp_path, cifar_source):
    rng = np.random.default_rng(0)
    batches = make_batches(tmp_path / "cifar-10-batches-py", lambda name: rng.integers(0, 10, 4))
    cifar_source(tmp_path)  # the folder that holds cifar-10-batches-py works too
    images, labels, _ = load_cifar10("train", check_counts=False)
    assert images.shape == (20, 32, 32, 3)
    first = batches["data_batch_1"][b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(images[0], first)
    np.testing.assert_array_equal(labels[:4], batches["data_batch_1"][b"labels"])
    assert load_cifar10("test", check_counts=False)[0].shape == (4, 32, 32, 3)


def test_second_load_comes_from_the_cache(tmp_path, cifar_source, monkeypatch):
    cifar_source(make_archive(make_tree(tmp_path / "tree"), "tar.gz", tmp_path / "c.tar.gz"))
    first = load_cifar10("train", check_counts=False)[0]
    monkeypatch.setattr(data, "_read_image_tree", lambda *a: pytest.fail("decoded the archive again"))
    np.testing.assert_array_equal(load_cifar10("train", check_counts=False)[0], first)
    monkeypatch.delenv("CIFAR10_DIR")  # no source named: the project's cache still serves
    np.testing.assert_array_equal(load_cifar10("train", check_counts=False)[0], first)


def test_a_changed_source_replaces_the_cache(tmp_path, cifar_source):
    tree = make_tree(tmp_path / "tree")
    archive = cifar_source(make_archive(tree, "zip", tmp_path / "c.zip"))
    load_cifar10("test", check_counts=False)
    shutil.rmtree(tree / "test" / "truck")
    make_tree(tree, splits=("test",), classes=CIFAR10_CLASSES[:9])
    (tree / "test" / "truck").mkdir()
    (tree / "test" / "truck" / "0.png").write_bytes(_png(np.zeros((32, 32, 3), np.uint8)))
    archive.unlink()
    make_archive(tree, "zip", archive)
    os.utime(archive, ns=(1, 1))
    images, labels, _ = load_cifar10("test", check_counts=False)
    assert len(images) == 19 and not images[labels == 9].any()


def test_full_counts_are_checked(tmp_path, cifar_source):
    cifar_source(make_tree(tmp_path / "tree"))
    with pytest.raises(DataSourceError, match=r"found 30 train images, the full data set has 50,000"):
        load_cifar10("train")


def test_missing_path(tmp_path, cifar_source):
    cifar_source(tmp_path / "nowhere.tar.gz")
    with pytest.raises(DataSourceError, match=r"nowhere\.tar\.gz does not exist: fix CIFAR10_DIR"):
        load_cifar10("train")


def test_truncated_archive(tmp_path, cifar_source):
    archive = make_archive(make_tree(tmp_path / "tree"), "tar.gz", tmp_path / "c.tar.gz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    cifar_source(archive)
    with pytest.raises(DataSourceError, match=r"c\.tar\.gz is not a readable .* truncated or corrupt"):
        load_cifar10("train", check_counts=False)


def test_corrupt_zip(tmp_path, cifar_source):
    archive = make_archive(make_tree(tmp_path / "tree"), "zip", tmp_path / "c.zip")
    raw = bytearray(archive.read_bytes())
    raw[100:400] = bytes(300)
    archive.write_bytes(bytes(raw))
    cifar_source(archive)
    with pytest.raises(DataSourceError, match=r"c\.zip"):
        load_cifar10("train", check_counts=False)


def test_not_an_archive(tmp_path, cifar_source):
    cifar_source(tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataSourceError, match=r"notes\.txt is not a readable \.tar\.gz/\.zip"):
        load_cifar10("train", check_counts=False)


@pytest.mark.parametrize("bad, what", [
    (np.zeros((16, 16, 3), np.uint8), "16x16 RGB"),
    (np.zeros((32, 32), np.uint8), "32x32 L"),
])
def test_image_that_is_not_32x32_rgb(tmp_path, cifar_source, bad, what):
    tree = make_tree(tmp_path / "tree")
    (tree / "train" / "cat" / "1.png").write_bytes(_png(bad))
    cifar_source(tree)
    with pytest.raises(DataSourceError, match=rf"train/cat/1\.png is {what}, CIFAR-10 images are 32x32 RGB"):
        load_cifar10("train", check_counts=False)


def test_undecodable_image(tmp_path, cifar_source):
    tree = make_tree(tmp_path / "tree")
    (tree / "test" / "dog" / "0.png").write_bytes(b"not a png")
    cifar_source(tree)
    with pytest.raises(DataSourceError, match=r"test/dog/0\.png is not a readable image"):
        load_cifar10("test", check_counts=False)


def test_unknown_class_folder(tmp_path, cifar_source):
    tree = make_tree(tmp_path / "tree")
    (tree / "train" / "unicorn").mkdir()
    (tree / "train" / "unicorn" / "0.png").write_bytes(_png(_pixels("train", 0, 0)))
    cifar_source(tree)
    with pytest.raises(DataSourceError, match=r"unknown class folder 'train/unicorn'"):
        load_cifar10("train", check_counts=False)


def test_split_with_missing_classes(tmp_path, cifar_source):
    tree = make_tree(tmp_path / "tree")
    shutil.rmtree(tree / "test" / "ship")
    shutil.rmtree(tree / "test" / "frog")
    cifar_source(tree)
    with pytest.raises(DataSourceError, match=r"split 'test' has no images for classes \['frog', 'ship'\]"):
        load_cifar10("test", check_counts=False)


def test_tree_without_splits(tmp_path, cifar_source):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "0.png").write_bytes(_png(_pixels("train", 0, 0)))
    cifar_source(tmp_path / "flat")
    with pytest.raises(DataSourceError, match=r"has no train/<class>/\*\.png\|jpg images"):
        load_cifar10("train", check_counts=False)


def test_unknown_split():
    with pytest.raises(ValueError, match=r"split='validation': pass 'train' or 'test'"):
        load_cifar10("validation")


def _mnist_npz(path, n_train=6, n_test=4):
    rng = np.random.default_rng(1)
    arrays = {f"x_{s}": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for s, n in (("train", n_train), ("test", n_test))}
    arrays |= {f"y_{s}": rng.integers(0, 10, n).astype(np.uint8) for s, n in (("train", n_train), ("test", n_test))}
    np.savez(path, **arrays)
    return arrays


def test_mnist_from_npz(tmp_path, monkeypatch):
    arrays = _mnist_npz(tmp_path / "mnist.npz")
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))  # a folder holding mnist.npz works too
    images, labels, classes = load_mnist("train", check_counts=False)
    np.testing.assert_array_equal(images, arrays["x_train"])
    assert labels.dtype == np.int64 and classes == [str(d) for d in range(10)]
    with pytest.raises(DataSourceError, match=r"found 4 test images, the full data set has 10,000"):
        load_mnist("test")


def test_mnist_bad_npz(tmp_path, monkeypatch):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "mnist.npz"))
    with pytest.raises(DataSourceError, match=r"mnist\.npz is not a readable mnist\.npz"):
        load_mnist("train", check_counts=False)


# ------------------------------------------------------------------ order: the first rows are a fair sample
ORDER_PER_CLASS = 150  # 1,500 training images: the first 1,000 must hold every class


def _every_class_early(labels, rows=1_000):
    return len(np.unique(labels[:rows])) == 10


@pytest.mark.parametrize("kind", ["folder", "tar.gz", "zip"])
def test_an_image_folder_tree_comes_back_in_its_fixed_shuffle(tmp_path, cifar_source, monkeypatch, kind):
    monkeypatch.setitem(PER_CLASS, "train", ORDER_PER_CLASS)
    tree = make_tree(tmp_path / "tree", splits=("train",))
    cifar_source(tree if kind == "folder" else make_archive(tree, kind, tmp_path / f"cifar.{kind}"))
    images, labels, _ = load_cifar10("train", check_counts=False)
    assert _every_class_early(labels), np.unique(labels[:1_000])
    assert not np.array_equal(labels, np.sort(labels)), "the tree came back sorted by class"
    want_images, want_labels = expected("train")  # the documented order, the same on every machine
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_array_equal(images, want_images)


def test_official_batches_keep_their_own_order(tmp_path, cifar_source):
    rng = np.random.default_rng(1)
    batches = make_batches(tmp_path / "cifar-10-batches-py", lambda name: rng.permutation(np.repeat(np.arange(10), 30)))
    cifar_source(tmp_path / "cifar-10-batches-py")
    _, train_labels, _ = load_cifar10("train", check_counts=False)
    assert train_labels.tolist() == sum((batches[name][b"labels"] for name in BATCH_NAMES[:5]), [])
    assert _every_class_early(train_labels)


def test_a_cache_written_in_the_old_class_sorted_layout_is_read_again(tmp_path, cifar_source):
    archive = cifar_source(make_archive(make_tree(tmp_path / "tree"), "tar.gz", tmp_path / "c.tar.gz"))
    identity = data._source_identity(archive)
    sorted_images, sorted_labels = np.zeros((30, 32, 32, 3), np.uint8), np.repeat(np.arange(10), 3)
    artifacts.save_arrays(config.cache_dir() / "cifar10-train.npz", "data", {"source": identity},
                          images=sorted_images, labels=sorted_labels)
    _, labels, _ = load_cifar10("train", check_counts=False)
    np.testing.assert_array_equal(labels, expected("train")[1])


def test_random_subset():
    rows = data.random_subset(1_000, 64, seed=3)
    assert len(rows) == 64 and len(np.unique(rows)) == 64 and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, data.random_subset(1_000, 64, seed=3))
    assert not np.array_equal(rows, data.random_subset(1_000, 64, seed=4))
    assert rows.max() > 500, "a random subset must reach beyond the first rows"
    assert np.array_equal(data.random_subset(10, 64), np.arange(10))


def test_stratified_subset():
    labels = np.repeat(np.arange(10), 20)
    keep = data.stratified_subset(labels, 5, seed=3)
    assert np.array_equal(np.bincount(labels[keep]), np.full(10, 5))
    assert np.array_equal(keep, data.stratified_subset(labels, 5, seed=3))
    assert not np.array_equal(keep, data.stratified_subset(labels, 5, seed=4))
    with pytest.raises(ValueError, match="per_class=30"):
        data.stratified_subset(labels, 30)
