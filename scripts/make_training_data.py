"""Write the compact training sets the page "Train" learns from (assets/training/), once.

    python -m scripts.make_training_data --data ../shared/data

* ``mnist.npz``: 10,000 training digits from the official MNIST **training** split (1,000 per
  class) and 2,000 held-out digits from the official **test** split (200 per class), 28×28.
* ``cifar10.npz``: 5,000 training photographs from the exact CIFAR-10 training batches (500 per
  class) and every exact image of ``test_batch`` (1,017) as the held-out set, 32×32×3.

All pixels are the original uint8 values (no resizing, no JPEG). Images are picked by a seeded
choice, so reruns give the same arrays (the zip's timestamps differ, the arrays do not). A
training image identical to a held-out one would make the held-out score lie a little: such
images are left out of the training pick. The app never reads the shared data at run time; it
reads only these files (``explorer.training_data``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, cast

import numpy as np

from explorer.model import CIFAR10_CLASSES, DIGIT_CLASSES
from explorer.train import read_cifar_batch
from explorer.training_data import TRAINING_DIR

SEED = 0
MNIST_TRAIN_PER_CLASS = 1000
MNIST_HELD_PER_CLASS = 200
# 500 per class keeps cifar10.npz near 17 MB (photographs barely compress: about 2.8 KB of the
# 3,072 bytes per image stay after zlib), so both files together stay under ~20 MB.
CIFAR_TRAIN_PER_CLASS = 500


def balanced_choice(
    labels: np.ndarray, per_class: int, rng: np.random.Generator, exclude: np.ndarray | None = None
) -> np.ndarray:
    """``per_class`` indices of each label, drawn without replacement by ``rng``, sorted (file
    order). ``exclude``: a boolean mask of indices that may not be picked."""
    allowed = np.ones(len(labels), dtype=bool) if exclude is None else ~exclude
    picked = []
    for k in range(int(labels.max()) + 1):
        pool = np.flatnonzero((labels == k) & allowed)
        if len(pool) < per_class:
            raise SystemExit(f"class {k}: only {len(pool)} images, {per_class} wanted")
        picked.append(rng.choice(pool, per_class, replace=False))
    return np.sort(np.concatenate(picked))


def same_as_any(images: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``images`` (N×…) equal, byte for byte, one of ``others``."""
    seen = {row.tobytes() for row in others.reshape(len(others), -1)}
    return np.array([row.tobytes() in seen for row in images.reshape(len(images), -1)])


def make_mnist(data: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    with np.load(data / "mnist_full.npz", allow_pickle=False) as z:
        x_train, y_train = z["x_train"], z["y_train"].astype(np.int64)
        x_test, y_test = z["x_test"], z["y_test"].astype(np.int64)
    held = balanced_choice(y_test, MNIST_HELD_PER_CLASS, rng)
    clash = same_as_any(x_train, x_test[held])
    train = balanced_choice(y_train, MNIST_TRAIN_PER_CLASS, rng, exclude=clash)
    return {
        "train_x": x_train[train],  # N×28×28 uint8
        "train_y": y_train[train].astype(np.uint8),
        "train_index": train,  # index in the official training split
        "held_x": x_test[held],
        "held_y": y_test[held].astype(np.uint8),
        "held_index": held,  # index in the official test split (t10k)
        "classes": np.array(DIGIT_CLASSES),
        "excluded_duplicates": np.int64(clash.sum()),
    }


def load_cifar_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images N×32×32×3, labels, source batch 1–5, index in batch) of the exact subset."""
    images, labels, batches, within = [], [], [], []
    for b in range(1, 6):
        batch = read_cifar_batch(folder / f"data_batch_{b}")
        x = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        images.append(x.transpose(0, 2, 3, 1))  # N×3×32×32 → N×32×32×3
        labels.append(np.asarray(batch["labels"][: len(x)], dtype=np.int64))
        batches.append(np.full(len(x), b))
        within.append(np.arange(len(x)))
    return tuple(np.concatenate(p) for p in (images, labels, batches, within))  # type: ignore[return-value]


def make_cifar10(data: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    folder = data / "cifar10-subset"
    x_train, y_train, batch_of, index_in_batch = load_cifar_folder(folder)
    test = read_cifar_batch(folder / "test_batch")
    x_test = np.asarray(test["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    y_test = np.asarray(test["labels"][: len(x_test)], dtype=np.int64)
    # Every exact test image is held out: the subset has only 87 dogs (87–114 per class), too few
    # for 100 per class, and keeping all 1,017 makes the shipped network's score on this held-out
    # set the very figure its model card reports.
    clash = same_as_any(x_train, x_test)
    train = balanced_choice(y_train, CIFAR_TRAIN_PER_CLASS, rng, exclude=clash)
    return {
        "train_x": np.ascontiguousarray(x_train[train]),  # N×32×32×3 uint8
        "train_y": y_train[train].astype(np.uint8),
        "train_batch": batch_of[train],  # data_batch_1 … data_batch_5
        "train_index": index_in_batch[train],  # index in that batch
        "held_x": np.ascontiguousarray(x_test),
        "held_y": y_test.astype(np.uint8),
        "held_index": np.arange(len(x_test)),  # index in test_batch
        "classes": np.array(CIFAR10_CLASSES),
        "excluded_duplicates": np.int64(clash.sum()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=TRAINING_DIR)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in (("mnist", make_mnist), ("cifar10", make_cifar10)):
        arrays = make(args.data)
        path = args.out / f"{name}.npz"
        np.savez_compressed(path, **cast(dict[str, Any], arrays))
        print(
            f"{path}: {len(arrays['train_x']):,} training + {len(arrays['held_x']):,} held-out "
            f"images ({int(arrays['excluded_duplicates'])} training duplicates of held-out "
            f"images left out), {path.stat().st_size / 1e6:.1f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
