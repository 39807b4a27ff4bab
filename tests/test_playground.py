"""prepare_picture: the playground's source → full plane, channels and the animation's copy."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.convolution import ConvolutionError, ConvSettings, conv2d, window_trace
from explorer.kernels import KernelError, parse_kernel
from explorer.numbers import MAX_ABS_VALUE, parse_matrix
from explorer.pixels import ImageError
from explorer.playground import PLAYGROUND_MAX_SIDE, prepare_picture


def test_a_typed_matrix_keeps_its_exact_values() -> None:
    matrix = np.array([[0.5, -2.0], [3.25, 7.0]])
    picture = prepare_picture(matrix, "gray", 64)
    assert np.array_equal(picture.full, matrix) and np.array_equal(picture.working, matrix)
    assert picture.channels.shape == (1, 2, 2) and not picture.is_colour and not picture.capped
    assert picture.shape_text == "2×2"


def test_sizes_are_written_width_by_height() -> None:
    picture = prepare_picture(np.zeros((30, 40, 3), np.uint8), "gray", 64)
    assert picture.shape_text == "40×30" and picture.original_text == "40×30"


def test_a_picture_shrunk_while_decoding_remembers_its_original_size() -> None:
    picture = prepare_picture(np.zeros((768, 1024, 3), np.uint8), "gray", 32, (4000, 3000))
    assert picture.capped and picture.original_text == "4000×3000"
    assert picture.shape_text == "1024×768"
    unshrunk = prepare_picture(np.zeros((3, 4, 3), np.uint8), "gray", 32, (4, 3))
    assert not unshrunk.capped


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
    assert picture.original_text == f"600×{PLAYGROUND_MAX_SIDE + 200}"  # width×height
    assert max(picture.working.shape) == 32
    assert np.array_equal(picture.working, np.rint(picture.working))


def test_the_planes_are_read_only() -> None:
    picture = prepare_picture(np.zeros((2, 2)), "gray", 64)
    for array in (picture.full, picture.channels, picture.working):
        with pytest.raises(ValueError):
            array[0] = 1


# ----------------------------------------------------------------------------- overflow


def test_typed_values_that_would_overflow_are_refused_where_they_are_typed() -> None:
    with pytest.raises(ImageError, match="Row 1, column 1: '1e308' is too large"):
        parse_matrix("1e308 1\n1 1")
    with pytest.raises(KernelError, match="Row 1, column 1: '1e308' is too large"):
        parse_kernel([["1e308"]])


def test_the_largest_typed_values_convolve_to_finite_numbers() -> None:
    image = parse_matrix("\n".join([" ".join(["-1e6"] * 9)] * 9))
    kernel = parse_kernel([["1e6"] * 7] * 7)
    picture = prepare_picture(image, "gray", 64)
    result = conv2d(picture.full, kernel, ConvSettings(padding=3))
    assert np.isfinite(result).all() and result.min() == -49 * MAX_ABS_VALUE**2


@pytest.mark.parametrize("where", ["image", "kernel"])
def test_values_that_overflow_anyway_raise_a_sentence_not_nan(where) -> None:
    # Arrays that did not come through the parsers (another page, a future source).
    image, kernel = np.full((4, 4), 1e6), np.full((3, 3), 1e6)
    if where == "image":
        image[0, 0] = 1e308
    else:
        kernel[1, 1] = 1e308
    with pytest.raises(ConvolutionError, match="overflowed.*between -1,000,000 and 1,000,000"):
        conv2d(image, kernel)
    with pytest.raises(ConvolutionError, match="overflowed"):
        window_trace(image, kernel)
    with pytest.raises(ConvolutionError, match="overflowed"):
        conv2d(np.stack([image, image]), kernel, channels="per_channel")


def test_sums_that_overflow_only_when_added_are_caught_too() -> None:
    image = np.full((2, 2), 1e308)  # each product is finite, their sum is not
    with pytest.raises(ConvolutionError, match="overflowed"):
        conv2d(image, np.ones((2, 2)))
