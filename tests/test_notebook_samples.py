"""Notebook cells that sample rows stay right on a class-sorted source.

An image-folder tree used to come back sorted by class, and notebook 03's gradient-check batch and
torch-parity set were its first rows: one class, a loss near zero, a meaningless comparison. The
loaders now shuffle, but the cells must not depend on it: here they run on class-sorted features.
"""
import json
import re

import numpy as np
import pandas as pd
import pytest

from helpers import reference
from helpers.core.config import REPO_ROOT
from helpers.data.datasets import random_subset
from helpers.nn import MLP
from helpers.train import train

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def code_cells(notebook):
    return ["".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"] if cell["cell_type"] == "code"]


def cell_with(notebook, text):
    (cell,) = [source for source in code_cells(notebook) if text in source]
    return cell


@pytest.fixture(scope="module")
def class_sorted_features():
    """6,000 ResNet-like (non-negative) 512-d rows of ten overlapping classes, sorted by class."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 600)
    centres = rng.standard_normal((10, 512))
    features = np.maximum(rng.standard_normal((len(labels), 512)) + 0.15 * centres[labels], 0).astype(np.float32)
    return features, labels


def run_cell(source, features, labels):
    namespace = {"np": np, "pd": pd, "display": lambda *args, **kwargs: None, "MLP": MLP, "reference": reference,
                 "train": train, "random_subset": random_subset, "X_train": features, "y_train": labels}
    exec(compile(source, "<notebook cell>", "exec"), namespace)  # the project's own notebook
    return namespace


NB03 = REPO_ROOT / "notebooks" / "03_mlp_from_scratch.ipynb"


def test_the_gradient_check_batch_holds_many_classes_of_a_sorted_source(class_sorted_features):
    namespace = run_cell(cell_with(NB03, "reference.torch_loss_and_gradients"), *class_sorted_features)
    assert len(np.unique(namespace["y_batch"])) >= 8  # 64 random rows of 10 classes


def test_the_parity_check_passes_on_a_sorted_source(class_sorted_features):
    namespace = run_cell(cell_with(NB03, "reference.train_torch_copy"), *class_sorted_features)
    assert len(np.unique(namespace["y_parity"])) == 10
    assert namespace["table"].torch.min() > 0.1


def test_the_parity_check_refuses_the_first_rows_of_a_sorted_source(class_sorted_features):
    cell = cell_with(NB03, "reference.train_torch_copy")
    first_rows = re.sub(r"random_subset\(len\(X_train\), 5_000, seed=0\)", "np.arange(5_000)", cell)
    assert first_rows != cell, "the parity cell no longer draws its rows with random_subset"
    with pytest.raises(AssertionError, match="every class"):
        run_cell(first_rows, *class_sorted_features)


# a data array (by its name, or any indexed expression such as sets["train"][0]) sliced to its leading rows
LEADING_ROWS = re.compile(r"(\b(X_\w*|y_\w*|\w*images|\w*labels|\w*features|train\w*)|\])\[:\s*[\w.]+\s*\]")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_no_notebook_takes_the_first_rows_as_a_sample(notebook):
    found = [match.group(0) for cell in code_cells(notebook) for match in LEADING_ROWS.finditer(cell)]
    assert not found, f"{notebook.name} takes leading rows {found}: use data.random_subset or stratified_subset"
