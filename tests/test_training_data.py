"""The training sets: the shipped subsets' counts, shapes, dtypes, balance, held-out images apart
from the training images, digits padded exactly as the offline trainer pads them; and the full
data sets of a folder in torchvision's layout — a tiny fake one written here, and the shared
data when the machine has them."""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from explorer.errors import UserError
from explorer.model import (
    CIFAR10_CLASSES,
    CIFAR10_PREPROCESSING,
    DIGIT_CLASSES,
    MNIST_PREPROCESSING,
)
from explorer.train import mnist_to_32
from explorer.training_data import (
    FULL_DATA_ENV,
    TRAINING_DIR,
    HeldOutSet,
    TrainingSet,
    full_data_dir,
    full_sets,
    load_held_out,
    load_training_set,
    read_idx,
)

EXPECTED = {
    # name: (classes, preprocessing, training images, per class, held-out images)
    "mnist": (DIGIT_CLASSES, MNIST_PREPROCESSING, 10_000, 1_000, 2_000),
    "cifar10": (CIFAR10_CLASSES, CIFAR10_PREPROCESSING, 5_000, 500, 1_017),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_set_has_its_counts_shapes_and_types(name: str) -> None:
    classes, pre, n_train, per_class, n_held = EXPECTED[name]
    data = load_training_set(name)
    assert data.name == name and data.classes == classes and data.preprocessing == pre
    assert data.train_x.shape == (n_train, 3, 32, 32) and data.train_x.dtype == np.uint8
    assert data.held_x.shape == (n_held, 3, 32, 32) and data.held_x.dtype == np.uint8
    assert data.train_y.shape == (n_train,) and data.train_y.dtype == np.int64
    assert data.held_y.shape == (n_held,) and data.held_y.dtype == np.int64
    assert np.bincount(data.train_y, minlength=10).tolist() == [per_class] * 10
    assert set(np.unique(data.held_y)) == set(range(10))
    assert f"{n_train:,}" in data.source and f"{n_held:,}" in data.source


def test_mnist_held_out_is_balanced_and_cifar_holds_every_exact_test_image() -> None:
    assert np.bincount(load_training_set("mnist").held_y).tolist() == [200] * 10
    # The exact test_batch subset, class by class (the shared data README's table).
    expected = [105, 93, 100, 104, 92, 87, 114, 102, 110, 110]
    assert np.bincount(load_training_set("cifar10").held_y).tolist() == expected


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_held_out_image_is_also_a_training_image(name: str) -> None:
    data = load_training_set(name)
    train_rows = {row.tobytes() for row in data.train_x.reshape(len(data.train_x), -1)}
    assert not any(row.tobytes() in train_rows for row in data.held_x.reshape(len(data.held_x), -1))
    with np.load(TRAINING_DIR / f"{name}.npz", allow_pickle=False) as z:
        assert int(z["excluded_duplicates"]) == 0
        # each training image once: (batch, index in it) for CIFAR-10, index for MNIST
        where = np.stack([z["train_batch"], z["train_index"]]) if name == "cifar10" else None
        where = z["train_index"][None] if where is None else where
        assert len(np.unique(where, axis=1).T) == len(data.train_y)


def test_mnist_digits_are_padded_exactly_as_the_offline_trainer_pads_them() -> None:
    data = load_training_set("mnist")
    with np.load(TRAINING_DIR / "mnist.npz", allow_pickle=False) as z:
        raw_train, raw_held = z["train_x"], z["held_x"]
    assert raw_train.shape == (10_000, 28, 28)
    np.testing.assert_array_equal(data.train_x, mnist_to_32(raw_train))
    np.testing.assert_array_equal(data.held_x, mnist_to_32(raw_held))
    # 2 px of black on every side, the same digit on all three channels
    assert not data.train_x[:, :, :2].any() and not data.train_x[:, :, :, -2:].any()
    assert (data.train_x[:, 0] == data.train_x[:, 2]).all()


def test_cifar_photographs_are_channels_first_copies_of_the_stored_pixels() -> None:
    data = load_training_set("cifar10")
    with np.load(TRAINING_DIR / "cifar10.npz", allow_pickle=False) as z:
        stored = z["held_x"]
    assert stored.shape == (1_017, 32, 32, 3)
    np.testing.assert_array_equal(data.held_x, stored.transpose(0, 3, 1, 2))


def test_a_set_is_loaded_once_and_cannot_be_changed() -> None:
    data = load_training_set("mnist")
    assert load_training_set("mnist") is data
    with pytest.raises(ValueError):
        data.train_x[0, 0, 0, 0] = 1


def test_an_unknown_set_is_a_sentence() -> None:
    with pytest.raises(UserError, match="no training set called 'imagenet'"):
        load_training_set("imagenet")


# --------------------------------------------------------------------------------------------
# The full data sets: a folder named by CNNX_FULL_DATA, in torchvision's layout


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    """An idx file as MNIST's are: 0, 0, type 0x08 (uint8), dimensions, big-endian sizes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def write_cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray, **extra: object) -> None:
    """A batch as the official files are: a protocol-2 pickle of a dict with bytes keys."""
    batch = {b"batch_label": b"fake", b"labels": [int(v) for v in labels]}
    batch[b"data"] = images.reshape(len(images), -1)
    batch.update({k.encode(): v for k, v in extra.items()})
    path.write_bytes(pickle.dumps(batch, protocol=2))


@dataclass
class FakeFolder:
    """What a fake full-data folder holds (digits 28×28 and photographs N×3×32×32)."""

    root: Path
    mnist_train: tuple[np.ndarray, np.ndarray]
    mnist_test: tuple[np.ndarray, np.ndarray]
    cifar_batches: list[tuple[np.ndarray, np.ndarray]]
    cifar_test: tuple[np.ndarray, np.ndarray]


def write_full_folder(root: Path, mnist: str = "idx", seed: int = 0) -> FakeFolder:
    """A tiny full-data folder: MNIST as idx files (training set gzipped, test set plain, as
    either occurs) or as mnist.npz, and CIFAR-10 as five training batches of 7, 6, 5, 4 and 3
    photographs (a partial copy, as the shared data's) and a test batch of 8."""
    rng = np.random.default_rng(seed)

    def images(n: int, *shape: int) -> np.ndarray:
        return rng.integers(0, 256, (n, *shape), dtype=np.uint8)

    def labels(n: int) -> np.ndarray:
        return np.arange(n) % 10

    mnist_train = (images(30, 28, 28), labels(30))
    mnist_test = (images(12, 28, 28), labels(12)[::-1].copy())
    if mnist == "idx":
        raw = root / "MNIST" / "raw"
        raw.mkdir(parents=True)
        write_idx(raw / "train-images-idx3-ubyte", mnist_train[0], gz=True)
        write_idx(raw / "train-labels-idx1-ubyte", mnist_train[1], gz=True)
        write_idx(raw / "t10k-images-idx3-ubyte", mnist_test[0])
        write_idx(raw / "t10k-labels-idx1-ubyte", mnist_test[1])
    else:
        root.mkdir(parents=True, exist_ok=True)
        np.savez(
            root / "mnist.npz",
            x_train=mnist_train[0],
            y_train=mnist_train[1],
            x_test=mnist_test[0],
            y_test=mnist_test[1],
        )
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = [(images(n, 3, 32, 32), labels(n)) for n in (7, 6, 5, 4, 3)]
    for i, (x, y) in enumerate(batches, start=1):
        write_cifar_batch(folder / f"data_batch_{i}", x, y)
    cifar_test = (images(8, 3, 32, 32), labels(8))
    write_cifar_batch(folder / "test_batch", *cifar_test)
    return FakeFolder(root, mnist_train, mnist_test, batches, cifar_test)


@pytest.fixture
def full_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeFolder:
    made = write_full_folder(tmp_path / "data")
    monkeypatch.setenv(FULL_DATA_ENV, str(made.root))
    return made


def test_without_the_variable_there_is_no_full_data(monkeypatch) -> None:
    monkeypatch.delenv(FULL_DATA_ENV, raising=False)
    assert full_data_dir() is None and full_sets() == ()
    with pytest.raises(UserError, match="no full copy of the MNIST digits"):
        load_training_set("mnist", full=True)
    monkeypatch.setenv(FULL_DATA_ENV, "/no/such/folder")
    assert full_sets() == ()


def test_a_torchvision_folder_is_read_as_it_is(full_folder: FakeFolder) -> None:
    assert full_sets() == ("mnist", "cifar10")
    digits = load_training_set("mnist", full=True)
    x, y = full_folder.mnist_train
    np.testing.assert_array_equal(digits.train_x, mnist_to_32(x))
    np.testing.assert_array_equal(digits.train_y, y)
    np.testing.assert_array_equal(digits.held_x, mnist_to_32(full_folder.mnist_test[0]))
    np.testing.assert_array_equal(digits.held_y, full_folder.mnist_test[1])
    assert digits.full and digits.train_count == 30 and digits.preprocessing == MNIST_PREPROCESSING
    assert "full copy" in digits.source and "30 training digits" in digits.source
    assert "12 held-out digits" in digits.source

    photos = load_training_set("cifar10", full=True)
    np.testing.assert_array_equal(
        photos.train_x, np.concatenate([b[0] for b in full_folder.cifar_batches])
    )
    np.testing.assert_array_equal(
        photos.train_y, np.concatenate([b[1] for b in full_folder.cifar_batches])
    )
    np.testing.assert_array_equal(photos.held_x, full_folder.cifar_test[0])
    assert photos.classes == CIFAR10_CLASSES and photos.train_count == 25
    assert "25 training images" in photos.source and "8 held-out images" in photos.source
    assert "JPEG" not in photos.source
    for data in (digits, photos):
        assert data.train_x.dtype == np.uint8 and data.train_y.dtype == np.int64
        with pytest.raises(ValueError):  # shared by everyone in the process: read-only
            data.train_x[0, 0, 0, 0] = 1


def test_the_page_gets_the_held_out_images_and_the_count_not_the_training_images(
    full_folder: FakeFolder,
) -> None:
    for name, count in (("mnist", 30), ("cifar10", 25)):
        held = load_held_out(name, full=True)
        assert isinstance(held, HeldOutSet) and not isinstance(held, TrainingSet)
        assert held.train_count == count and held.full
        assert held.source == load_training_set(name, full=True).source
    shipped = load_held_out("mnist")
    assert not shipped.full and "ships with the app" in shipped.source
    assert shipped.train_count == 10_000


def test_mnist_npz_is_read_when_there_are_no_idx_files(tmp_path: Path, monkeypatch) -> None:
    made = write_full_folder(tmp_path / "npz", mnist="npz", seed=1)
    monkeypatch.setenv(FULL_DATA_ENV, str(made.root))
    digits = load_training_set("mnist", full=True)
    np.testing.assert_array_equal(digits.train_x, mnist_to_32(made.mnist_train[0]))
    np.testing.assert_array_equal(digits.held_y, made.mnist_test[1])


def test_an_incomplete_folder_offers_only_what_is_complete(full_folder: FakeFolder) -> None:
    (full_folder.root / "cifar-10-batches-py" / "test_batch").unlink()
    assert full_sets() == ("mnist",)
    with pytest.raises(UserError, match="no full copy of the CIFAR-10 photographs"):
        load_held_out("cifar10", full=True)


def test_damaged_files_are_a_sentence(full_folder: FakeFolder) -> None:
    raw = full_folder.root / "MNIST" / "raw"
    test_images = raw / "t10k-images-idx3-ubyte"
    test_images.write_bytes(test_images.read_bytes()[:-5])
    with pytest.raises(UserError, match="cut short or damaged"):
        read_idx(test_images)
    test_images.write_bytes(b"\x00\x00\x0d\x03" + bytes(12))  # float values: not MNIST's
    with pytest.raises(UserError, match="not an idx file of uint8"):
        read_idx(test_images)
    batch = full_folder.root / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(pickle.dumps({b"data": print}, protocol=2))  # would call a function
    with pytest.raises(UserError, match="test_batch could not be read"):
        load_held_out("cifar10", full=True)


def test_jpeg_decoded_held_out_images_are_said(tmp_path: Path, monkeypatch) -> None:
    made = write_full_folder(tmp_path / "jpeg", seed=2)
    x, y = made.cifar_test
    exact = np.array([1, 1, 0, 1, 0, 1, 1, 1], dtype=np.uint8)
    write_cifar_batch(made.root / "cifar-10-batches-py" / "test_batch", x, y, exact=exact)
    monkeypatch.setenv(FULL_DATA_ENV, str(made.root))
    assert "2 of the held-out images were decoded from a JPEG copy" in (
        load_held_out("cifar10", full=True).source
    )


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="no ../shared/data on this machine")
def test_the_shared_data_in_torchvision_layout_are_the_full_sets(tmp_path, monkeypatch) -> None:
    """../shared/data laid out as torchvision's root (links, no copies): the counts of its
    README, and the very images the shipped subsets were drawn from."""
    (tmp_path / "cifar-10-batches-py").symlink_to(SHARED_DATA / "cifar10-subset")
    (tmp_path / "mnist.npz").symlink_to(SHARED_DATA / "mnist_full.npz")
    monkeypatch.setenv(FULL_DATA_ENV, str(tmp_path))
    assert full_sets() == ("mnist", "cifar10")

    digits = load_training_set("mnist", full=True)
    assert digits.train_x.shape == (60_000, 3, 32, 32) and len(digits.held_y) == 10_000
    assert np.bincount(digits.train_y).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]  # fmt: skip
    assert np.bincount(digits.held_y).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009
    ]  # fmt: skip
    shipped = load_training_set("mnist")
    with np.load(TRAINING_DIR / "mnist.npz", allow_pickle=False) as z:
        train_index, held_index = z["train_index"], z["held_index"]
    np.testing.assert_array_equal(digits.train_x[train_index], shipped.train_x)
    np.testing.assert_array_equal(digits.held_x[held_index], shipped.held_x)
    del digits

    photos = load_training_set("cifar10", full=True)
    assert photos.train_x.shape == (8_336, 3, 32, 32) and len(photos.held_y) == 1_017
    assert np.bincount(photos.train_y).tolist() == [
        830, 807, 835, 807, 879, 821, 833, 823, 870, 831
    ]  # fmt: skip
    with np.load(TRAINING_DIR / "cifar10.npz", allow_pickle=False) as z:
        batch, index = z["train_batch"], z["train_index"]
    start = np.cumsum([0, 4_000, 1_017, 1_017, 1_285])  # each batch's first image
    np.testing.assert_array_equal(
        photos.train_x[start[batch - 1] + index], load_training_set("cifar10").train_x
    )
    np.testing.assert_array_equal(photos.held_x, load_training_set("cifar10").held_x)
    assert "8,336 training images" in photos.source
