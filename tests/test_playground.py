"""prepare_picture: the playground's source → full plane, channels and the animation's copy."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.playground import PLAYGROUND_MAX_SIDE, prepare_picture


def test_a_typed_matrix_keeps_its_exact_values() -> None:
    matrix = np.array([[0.5, -2.0], [3.25, 7.0]])
    picture = prepare_picture(matrix, "gray", 64)
    assert np.array_equal(picture.full, matrix) and np.array_equal(picture.working, matrix)
    assert picture.channels.shape == (1, 2, 2) and not picture.is_colour and not picture.capped
    assert picture.shape_text == "2×2"


def test_a_colour_picture_convolves_the_chosen_channel() -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 200, 10
    picture = prepare_picture(rgb, "b", 64)
    assert picture.is_colour and picture.channels.shape == (3, 4, 4)
    assert (picture.full == 10).all()


def test_a_gray_picture_stored_as_rgb_is_one_plane() -> None:
    rgb = np.full((3, 5, 3), 90, np.uint8)
    picture = prepare_picture(rgb, "r", 64)
    assert not picture.is_colour and picture.channels.shape == (1, 3, 5)


def test_large_pictures_are_capped_and_the_working_copy_is_whole_numbers() -> None:
    big = np.random.default_rng(0).integers(0, 256, (PLAYGROUND_MAX_SIDE + 200, 600, 3), np.uint8)
    picture = prepare_picture(big, "gray", 32)
    assert picture.capped and max(picture.full.shape) == PLAYGROUND_MAX_SIDE
    assert picture.original_text == f"{PLAYGROUND_MAX_SIDE + 200}×600"
    assert max(picture.working.shape) == 32
    assert np.array_equal(picture.working, np.rint(picture.working))


def test_the_planes_are_read_only() -> None:
    picture = prepare_picture(np.zeros((2, 2)), "gray", 64)
    for array in (picture.full, picture.channels, picture.working):
        with pytest.raises(ValueError):
            array[0] = 1
