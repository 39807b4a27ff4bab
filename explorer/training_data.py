"""The compact training sets that ship in ``assets/training/`` for the page "Train".

``scripts/make_training_data.py`` writes them once from the shared data; the app reads only
these files. Each holds uint8 images and labels, split into training images and held-out images
that are never trained on:

* ``mnist.npz``: 10,000 training digits (official training split, 1,000 per class) and 2,000
  held-out digits (official test split, 200 per class), stored 28×28;
* ``cifar10.npz``: 5,000 training photographs (exact CIFAR-10 training batches, 500 per class)
  and the 1,017 exact ``test_batch`` photographs (87–114 per class) as the held-out set, stored
  32×32×3.

``load_training_set`` turns either into the model's layout, uint8 N×3×32×32: digits padded to
32×32 and repeated on three channels exactly as the offline trainer does
(``explorer.train.mnist_to_32``), photographs moved to channels-first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from explorer.assets import ASSETS_DIR
from explorer.errors import UserError
from explorer.model import CIFAR10_PREPROCESSING, MNIST_PREPROCESSING, Preprocessing
from explorer.train import mnist_to_32

TRAINING_DIR = ASSETS_DIR / "training"
DATASETS = ("mnist", "cifar10")

_SOURCES = {
    "mnist": "MNIST handwritten digits (LeCun et al.): {train:,} training digits from the "
    "official training set and {held:,} held-out digits from the official test set, which the "
    "network never trains on.",
    "cifar10": "CIFAR-10 photographs (Krizhevsky, 2009): {train:,} training images from the "
    "original training batches and {held:,} held-out images from the original test batch, "
    "which the network never trains on.",
}


class TrainingDataError(UserError):
    """A training set that is not there or not known, in a sentence."""


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no ==; equal means the same object
class TrainingSet:
    """One data set to train on. Arrays are read-only (one loaded copy is shared by everyone).

    ``train_x``: N×3×32×32 uint8; ``train_y``: N int64 in 0…K-1; ``held_x``: M×3×32×32 uint8,
    ``held_y``: M int64 — the held-out images, never trained on."""

    name: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    train_x: np.ndarray
    train_y: np.ndarray
    held_x: np.ndarray
    held_y: np.ndarray
    source: str  # a sentence for the page: what the images are and where they come from


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@functools.cache
def load_training_set(name: str) -> TrainingSet:
    """The training set ``"mnist"`` or ``"cifar10"`` from ``assets/training`` (loaded once per
    process). Raises :class:`TrainingDataError` (a ``UserError``) for any other name or a
    missing file."""
    if name not in DATASETS:
        raise TrainingDataError(
            f'There is no training set called {name!r} here; choose MNIST digits ("mnist") '
            'or CIFAR-10 photographs ("cifar10").'
        )
    path = TRAINING_DIR / f"{name}.npz"
    if not path.exists():
        raise TrainingDataError(
            f"The {name} training images are missing from this server ({path.name} is not in "
            "assets/training); whoever runs it can write them with "
            "`python -m scripts.make_training_data --data ../shared/data`."
        )
    with np.load(path, allow_pickle=False) as z:
        train_x, held_x = z["train_x"], z["held_x"]
        train_y, held_y = z["train_y"].astype(np.int64), z["held_y"].astype(np.int64)
        classes = tuple(str(c) for c in z["classes"])
    if name == "mnist":
        pre = MNIST_PREPROCESSING
        train_x, held_x = mnist_to_32(train_x), mnist_to_32(held_x)  # N×28×28 → N×3×32×32
    else:
        pre = CIFAR10_PREPROCESSING
        train_x, held_x = train_x.transpose(0, 3, 1, 2), held_x.transpose(0, 3, 1, 2)  # →NCHW
    return TrainingSet(
        name=name,
        classes=classes,
        preprocessing=pre,
        train_x=_read_only(train_x),
        train_y=_read_only(train_y),
        held_x=_read_only(held_x),
        held_y=_read_only(held_y),
        source=_SOURCES[name].format(train=len(train_x), held=len(held_x)),
    )


__all__ = ["DATASETS", "TRAINING_DIR", "TrainingDataError", "TrainingSet", "load_training_set"]
