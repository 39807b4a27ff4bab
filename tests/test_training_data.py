"""The shipped training sets: counts, shapes, dtypes, balance, held-out images apart from the
training images, and digits padded exactly as the offline trainer pads them."""

from __future__ import annotations

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
from explorer.training_data import TRAINING_DIR, load_training_set

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
