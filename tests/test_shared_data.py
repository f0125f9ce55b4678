"""The real data sets, from CIFAR10_DIR / MNIST_DIR or the shared offline copies (skipped without them)."""
import numpy as np

from helpers.data.datasets import load_cifar10, load_mnist


def test_full_cifar10(real_cifar10):
    images, labels, classes = load_cifar10("train")
    assert images.shape == (50_000, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(np.bincount(labels), np.full(10, 5_000))
    assert classes[0] == "airplane" and classes[-1] == "truck"
    test_images, test_labels, _ = load_cifar10("test")
    assert test_images.shape == (10_000, 32, 32, 3)
    assert np.array_equal(np.bincount(test_labels), np.full(10, 1_000))
    assert 100 < images.mean() < 140  # real photographs, not blank or noise
    assert len(np.unique(labels[:1_000])) == 10  # the image-folder tree's fixed shuffle: the first rows are a fair sample


def test_full_mnist(real_mnist):
    images, labels, _ = load_mnist("train")
    assert images.shape == (60_000, 28, 28)
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the official order
    assert len(np.unique(labels[:1_000])) == 10
    assert abs(images.mean() / 255 - 0.1307) < 1e-3
    test_images, test_labels, _ = load_mnist("test")
    assert test_images.shape == (10_000, 28, 28)
    assert test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
