"""The images the page "Train" learns from: the compact sets that ship in ``assets/training/``,
and — on a server that has them — the full data sets.

**The shipped subsets.** ``scripts/make_training_data.py`` writes them once from the shared
data; the app reads only these files. Each holds uint8 images and labels, split into training
images and held-out images that are never trained on:

* ``mnist.npz``: 10,000 training digits (official training split, 1,000 per class) and 2,000
  held-out digits (official test split, 200 per class), stored 28×28;
* ``cifar10.npz``: 5,000 training photographs (exact CIFAR-10 training batches, 500 per class)
  and the 1,017 exact ``test_batch`` photographs (87–114 per class) as the held-out set, stored
  32×32×3.

**The full data sets.** A server may name a folder of full data sets in the environment
variable ``CNNX_FULL_DATA`` (like the deployment's other ``CNNX_*`` settings: an environment
variable reaches the server and the worker processes it spawns alike, in a container, a compose
file or a Kubernetes manifest, with no file to mount). The folder is laid out as torchvision
downloads them (its ``root``), so an existing download works as it is:

* ``cifar-10-batches-py/``: ``data_batch_1`` … ``data_batch_5`` and ``test_batch`` (the official
  python pickles; read with a restricted unpickler that only builds arrays,
  ``explorer.train.read_cifar_batch``). Batches with fewer than 10,000 images (a partial copy)
  and the ``exact`` flags written by the shared data's ``build_full_cifar10.py`` are understood;
* ``MNIST/raw/``: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (the idx files, each plain or
  ``.gz``), or else ``mnist.npz`` in the folder itself (the Keras layout: ``x_train``,
  ``y_train``, ``x_test``, ``y_test``).

A data set whose files are not all there is simply not offered (:func:`full_sets`). The test
split is the held-out set: the network never trains on it.

``load_training_set`` turns any of them into the model's layout, uint8 N×3×32×32: digits padded
to 32×32 and repeated on three channels exactly as the offline trainer does
(``explorer.train.mnist_to_32``), photographs moved to channels-first. The page itself needs
only the held-out images and the number of training images (``load_held_out``): the server
never holds the full training images (184 MB of digits, 154 MB of photographs as N×3×32×32);
only the worker process that trains on them does.
"""

from __future__ import annotations

import functools
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.assets import ASSETS_DIR
from explorer.errors import UserError
from explorer.model import (
    CIFAR10_CLASSES,
    CIFAR10_PREPROCESSING,
    DIGIT_CLASSES,
    MNIST_PREPROCESSING,
    Preprocessing,
)
from explorer.train import mnist_to_32, read_cifar_batch

TRAINING_DIR = ASSETS_DIR / "training"
DATASETS = ("mnist", "cifar10")
FULL_DATA_ENV = "CNNX_FULL_DATA"  # the folder of full data sets, when the server has one

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"
MNIST_RAW = Path("MNIST") / "raw"
MNIST_NPZ = "mnist.npz"
# idx file stems: (training images, training labels, test images, test labels)
MNIST_IDX = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

_SOURCES = {
    "mnist": "MNIST handwritten digits (LeCun et al.), {where}: {train:,} training digits from "
    "the official training set and {held:,} held-out digits from the official test set, which "
    "the network never trains on.",
    "cifar10": "CIFAR-10 photographs (Krizhevsky, 2009), {where}: {train:,} training images "
    "from the original training batches and {held:,} held-out images from the original test "
    "batch, which the network never trains on.",
}
_WHERE = {False: "the subset that ships with the app", True: "the server's full copy"}


class TrainingDataError(UserError):
    """A training set that is not there or not known, in a sentence."""


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no ==; equal means the same object
class HeldOutSet:
    """What a page needs of a data set: its held-out images and how many training images it has
    (not the training images themselves). Arrays are read-only (one copy is shared).

    ``held_x``: M×3×32×32 uint8, ``held_y``: M int64 in 0…K-1 — never trained on."""

    name: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    held_x: np.ndarray
    held_y: np.ndarray
    train_count: int
    full: bool  # the server's full copy (True) or the subset that ships in assets/ (False)
    source: str  # a sentence for the page: what the images are, where they come from, counts


@dataclass(frozen=True, eq=False)
class TrainingSet(HeldOutSet):
    """One data set to train on: a :class:`HeldOutSet` with its training images.

    ``train_x``: N×3×32×32 uint8; ``train_y``: N int64 in 0…K-1."""

    train_x: np.ndarray
    train_y: np.ndarray


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise TrainingDataError(
            f'There is no training set called {name!r} here; choose MNIST digits ("mnist") '
            'or CIFAR-10 photographs ("cifar10").'
        )


def _source(name: str, full: bool, train: int, held: int, note: str = "") -> str:
    return _SOURCES[name].format(where=_WHERE[full], train=train, held=held) + note


def load_training_set(name: str, full: bool = False) -> TrainingSet:
    """The training set ``"mnist"`` or ``"cifar10"``: the subset from ``assets/training``, or
    with ``full`` the server's full copy (see the module docstring); loaded once per process.
    Raises :class:`TrainingDataError` (a ``UserError``) for any other name, a missing file or
    a full copy this server does not have."""
    _check_name(name)
    if full:
        return _load_full(name, str(_full_folder(name)))
    return _load_shipped(name)


def load_held_out(name: str, full: bool = False) -> HeldOutSet:
    """What the page shows of a set without its training images (see :class:`HeldOutSet`):
    the shipped subset is small and loaded whole; a full copy's training images are counted,
    not kept. Raises as :func:`load_training_set`."""
    _check_name(name)
    if full:
        return _held_out_full(name, str(_full_folder(name)))
    return _load_shipped(name)


# --------------------------------------------------------------------------------------------
# The shipped subsets


@functools.cache
def _load_shipped(name: str) -> TrainingSet:
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
        held_x=_read_only(held_x),
        held_y=_read_only(held_y),
        train_count=len(train_y),
        full=False,
        source=_source(name, False, len(train_x), len(held_x)),
        train_x=_read_only(train_x),
        train_y=_read_only(train_y),
    )


# --------------------------------------------------------------------------------------------
# The full data sets


def full_data_dir() -> Path | None:
    """The folder named by ``CNNX_FULL_DATA``, or None when unset or not a folder."""
    value = os.environ.get(FULL_DATA_ENV, "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    return folder if folder.is_dir() else None


def _mnist_idx_paths(folder: Path) -> list[Path] | None:
    """The four idx files of ``folder/MNIST/raw`` (each plain or .gz), or None."""
    found = []
    for stem in MNIST_IDX:
        candidates = [folder / MNIST_RAW / stem, folder / MNIST_RAW / f"{stem}.gz"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            return None
        found.append(path)
    return found


def _has_full(name: str, folder: Path) -> bool:
    if name == "cifar10":
        batches = (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH)
        return all((folder / CIFAR_FOLDER / b).is_file() for b in batches)
    return _mnist_idx_paths(folder) is not None or (folder / MNIST_NPZ).is_file()


def full_sets() -> tuple[str, ...]:
    """The data sets this server has a full copy of (none without ``CNNX_FULL_DATA``)."""
    folder = full_data_dir()
    if folder is None:
        return ()
    return tuple(name for name in DATASETS if _has_full(name, folder))


def _full_folder(name: str) -> Path:
    folder = full_data_dir()
    if folder is None or not _has_full(name, folder):
        what = "MNIST digits" if name == "mnist" else "CIFAR-10 photographs"
        raise TrainingDataError(
            f"This server has no full copy of the {what}, so it trains on the subset that "
            "ships with the app."
        )
    return folder


def read_idx(path: Path) -> np.ndarray:
    """An idx file (MNIST's format: two zero bytes, the type 0x08 = uint8, the number of
    dimensions, each dimension as a big-endian uint32, then the values), plain or gzipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise TrainingDataError(f"The MNIST file {path.name} could not be read: {exc}.") from exc
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08 or not 1 <= data[3] <= 4:
        raise TrainingDataError(f"{path.name} is not an idx file of uint8 values.")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(dims)):
        raise TrainingDataError(
            f"{path.name} holds {len(data) - header:,} values where its header announces "
            f"{'×'.join(map(str, dims))}: the file is cut short or damaged."
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _mnist_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(28×28 digits, int64 labels) of ``split`` ("train" or "test") from the idx files, else
    from mnist.npz."""
    paths = _mnist_idx_paths(folder)
    if paths is not None:
        images, labels = paths[:2] if split == "train" else paths[2:]
        x, y = read_idx(images), read_idx(labels).astype(np.int64)
    else:
        with np.load(folder / MNIST_NPZ, allow_pickle=False) as z:
            x, y = z[f"x_{split}"], z[f"y_{split}"].astype(np.int64)
    if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (len(x),):
        raise TrainingDataError(
            f"The full MNIST {split} images are not N×28×28 digits with one label each "
            f"({x.shape} images, {y.shape} labels)."
        )
    return x, y


def _mnist_train_count(folder: Path) -> int:
    paths = _mnist_idx_paths(folder)
    if paths is not None:
        return len(read_idx(paths[1]))
    with np.load(folder / MNIST_NPZ, allow_pickle=False) as z:
        return len(z["y_train"])


def _cifar_batch(folder: Path, batch: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N×3×32×32 uint8 images, int64 labels, exact flags) of one batch file. A partial batch
    keeps the labels of the images it holds."""
    path = folder / CIFAR_FOLDER / batch
    try:
        raw = read_cifar_batch(path)
        data = np.asarray(raw["data"], dtype=np.uint8)
        labels = np.asarray(raw["labels"], dtype=np.int64)
    except Exception as exc:  # noqa: BLE001 — any damage to an outside file is one sentence
        raise TrainingDataError(f"The CIFAR-10 file {batch} could not be read: {exc}.") from exc
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) < len(data):
        raise TrainingDataError(
            f"The CIFAR-10 file {batch} does not hold rows of 3,072 pixels with their labels."
        )
    exact = np.asarray(raw.get("exact", np.ones(len(data))), dtype=bool)[: len(data)]
    return data.reshape(-1, 3, 32, 32), labels[: len(data)], exact


def _check_labels(name: str, *labels: np.ndarray) -> None:
    for y in labels:
        if len(y) == 0 or y.min() < 0 or y.max() > 9:
            found = f"{y.min()} to {y.max()}" if len(y) else "none"
            raise TrainingDataError(f"The full {name} labels must be classes 0 to 9, not {found}.")


def _jpeg_note(exact: np.ndarray) -> str:
    if exact.all():
        return ""
    return (
        f" {int((~exact).sum()):,} of the held-out images were decoded from a JPEG copy, "
        "the others have the original pixels."
    )


@functools.lru_cache(maxsize=2)
def _held_out_full(name: str, folder_text: str) -> HeldOutSet:
    folder = Path(folder_text)
    if name == "mnist":
        x, y = _mnist_split(folder, "test")
        held_x, train_count, note = mnist_to_32(x), _mnist_train_count(folder), ""
    else:
        held_x, y, exact = _cifar_batch(folder, CIFAR_TEST_BATCH)
        train_count = sum(len(_cifar_batch(folder, b)[1]) for b in CIFAR_TRAIN_BATCHES)
        note = _jpeg_note(exact)
    _check_labels(name, y)
    return HeldOutSet(
        name=name,
        classes=DIGIT_CLASSES if name == "mnist" else CIFAR10_CLASSES,
        preprocessing=MNIST_PREPROCESSING if name == "mnist" else CIFAR10_PREPROCESSING,
        held_x=_read_only(held_x),
        held_y=_read_only(y),
        train_count=train_count,
        full=True,
        source=_source(name, True, train_count, len(y), note),
    )


@functools.lru_cache(maxsize=1)  # a worker trains on one set: keep no second one in memory
def _load_full(name: str, folder_text: str) -> TrainingSet:
    folder = Path(folder_text)
    held = _held_out_full(name, folder_text)
    if name == "mnist":
        x, train_y = _mnist_split(folder, "train")
        train_x = mnist_to_32(x)
    else:
        parts = [_cifar_batch(folder, b) for b in CIFAR_TRAIN_BATCHES]
        train_x = np.concatenate([p[0] for p in parts])
        train_y = np.concatenate([p[1] for p in parts])
    _check_labels(name, train_y)
    return TrainingSet(
        name=name,
        classes=held.classes,
        preprocessing=held.preprocessing,
        held_x=held.held_x,
        held_y=held.held_y,
        train_count=len(train_y),
        full=True,
        source=held.source,
        train_x=_read_only(train_x),
        train_y=_read_only(train_y),
    )


__all__ = [
    "DATASETS",
    "FULL_DATA_ENV",
    "TRAINING_DIR",
    "HeldOutSet",
    "TrainingDataError",
    "TrainingSet",
    "full_data_dir",
    "full_sets",
    "load_held_out",
    "load_training_set",
    "read_idx",
]
