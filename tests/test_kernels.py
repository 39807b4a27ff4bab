"""explorer.kernels: the presets do what their descriptions say; user input is parsed safely."""

from __future__ import annotations

import contextlib
import timeit
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.convolution import ConvSettings, conv2d
from explorer.kernels import (
    KERNELS,
    MAX_SIZE,
    MAX_TEXT_CHARS,
    KernelError,
    kernel_sum_note,
    parse_cell,
    parse_kernel,
    parse_kernel_text,
)
from explorer.numbers import MAX_ABS_VALUE, MIN_ABS_VALUE

EXPECTED_KEYS = [
    "identity",
    "box_blur_3",
    "box_blur_5",
    "gaussian_3",
    "gaussian_5",
    "sharpen",
    "sobel_x",
    "sobel_y",
    "prewitt_x",
    "prewitt_y",
    "scharr_x",
    "scharr_y",
    "laplacian_4",
    "laplacian_8",
    "emboss",
    "outline",
]
SUMS_TO_ONE = [
    "identity",
    "box_blur_3",
    "box_blur_5",
    "gaussian_3",
    "gaussian_5",
    "sharpen",
    "emboss",
]
SUMS_TO_ZERO = [key for key in EXPECTED_KEYS if key not in SUMS_TO_ONE]
X_EDGE_KERNELS = ["sobel_x", "prewitt_x", "scharr_x"]
Y_EDGE_KERNELS = ["sobel_y", "prewitt_y", "scharr_y"]
SYMMETRIC = ["identity", "box_blur_3", "box_blur_5", "gaussian_3", "gaussian_5", "sharpen"]
SYMMETRIC += ["laplacian_4", "laplacian_8", "outline"]

# 8×8 images: dark (0) on the left / top half, bright (1) on the other half.
STEP_LEFT_TO_RIGHT = np.repeat([[0.0] * 4 + [1.0] * 4], 8, axis=0)
STEP_TOP_TO_BOTTOM = STEP_LEFT_TO_RIGHT.T


# --------------------------------------------------------------------------- presets


def test_presets_are_the_expected_ones_in_order():
    assert list(KERNELS) == EXPECTED_KEYS
    assert all(preset.key == key for key, preset in KERNELS.items())


@pytest.mark.parametrize("key", EXPECTED_KEYS)
def test_every_preset_is_a_read_only_float_kernel_with_a_description(key):
    preset = KERNELS[key]
    assert preset.values.dtype == np.float64
    assert preset.values.shape in {(3, 3), (5, 5)}
    assert not preset.values.flags.writeable
    assert preset.name and preset.description.endswith(".")
    np.testing.assert_array_equal(parse_kernel(preset.values), preset.values)


@pytest.mark.parametrize("key", SUMS_TO_ONE)
def test_blurs_sharpen_and_emboss_keep_a_flat_area_unchanged(key):
    assert KERNELS[key].values.sum() == pytest.approx(1.0, abs=1e-12)
    flat = np.full((9, 9), 0.7)
    np.testing.assert_allclose(conv2d(flat, KERNELS[key].values), 0.7, atol=1e-12)
    assert "keeps overall brightness" in kernel_sum_note(KERNELS[key].values)


@pytest.mark.parametrize("key", SUMS_TO_ZERO)
def test_edge_kernels_turn_a_flat_area_into_zero(key):
    assert KERNELS[key].values.sum() == 0
    np.testing.assert_allclose(conv2d(np.full((9, 9), 0.7), KERNELS[key].values), 0.0, atol=1e-12)
    assert "responds only to change" in kernel_sum_note(KERNELS[key].values)


@pytest.mark.parametrize("key", SYMMETRIC)
def test_symmetric_presets_look_the_same_rotated_or_transposed(key):
    values = KERNELS[key].values
    np.testing.assert_array_equal(values, values[::-1, ::-1])
    np.testing.assert_array_equal(values, values.T)


@pytest.mark.parametrize("key", X_EDGE_KERNELS)
def test_x_kernels_are_antisymmetric_left_right_and_y_kernels_their_transpose(key):
    values = KERNELS[key].values
    np.testing.assert_array_equal(values[:, ::-1], -values)
    np.testing.assert_array_equal(values[::-1, :], values)
    np.testing.assert_array_equal(KERNELS[key.replace("_x", "_y")].values, values.T)


def test_standard_values():
    np.testing.assert_array_equal(
        KERNELS["gaussian_3"].values * 16, [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    )
    binomial = np.array([1, 4, 6, 4, 1])
    np.testing.assert_array_equal(KERNELS["gaussian_5"].values * 256, np.outer(binomial, binomial))
    np.testing.assert_array_equal(KERNELS["box_blur_5"].values * 25, np.ones((5, 5)))
    np.testing.assert_array_equal(KERNELS["sobel_x"].values, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(
        KERNELS["scharr_x"].values, [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]
    )
    np.testing.assert_array_equal(KERNELS["laplacian_4"].values, [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(KERNELS["laplacian_8"].values, [[1, 1, 1], [1, -8, 1], [1, 1, 1]])
    np.testing.assert_array_equal(KERNELS["sharpen"].values, [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_array_equal(KERNELS["emboss"].values, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
    np.testing.assert_array_equal(KERNELS["outline"].values, -KERNELS["laplacian_8"].values)


@pytest.mark.parametrize("key", X_EDGE_KERNELS)
def test_x_kernels_are_positive_where_brightness_increases_to_the_right(key):
    description = KERNELS[key].description
    assert "vertical edges" in description
    assert "increases to the right" in description
    response = conv2d(STEP_LEFT_TO_RIGHT, KERNELS[key].values)  # 6×6, the edge at columns 2–3
    assert (response[:, 2:4] > 0).all()
    assert (response[:, [0, 1, 4, 5]] == 0).all()  # flat on both sides of the edge
    # The claim depends on cross-correlation: a true convolution flips the sign.
    flipped = conv2d(STEP_LEFT_TO_RIGHT, KERNELS[key].values, ConvSettings(flip=True))
    assert (flipped[:, 2:4] < 0).all()
    # A vertical kernel sees nothing in a horizontal step … and vice versa below.
    assert (conv2d(STEP_TOP_TO_BOTTOM, KERNELS[key].values) == 0).all()


@pytest.mark.parametrize("key", Y_EDGE_KERNELS)
def test_y_kernels_are_positive_where_brightness_increases_downwards(key):
    description = KERNELS[key].description
    assert "horizontal edges" in description and "downwards" in description
    response = conv2d(STEP_TOP_TO_BOTTOM, KERNELS[key].values)
    assert (response[2:4, :] > 0).all()
    assert (response[[0, 1, 4, 5], :] == 0).all()
    assert (conv2d(STEP_LEFT_TO_RIGHT, KERNELS[key].values) == 0).all()


def test_sobel_x_describes_change_along_x_as_vertical_edges():
    assert "vertical edges" in KERNELS["sobel_x"].description
    assert "change along x" in KERNELS["sobel_x"].description


@pytest.mark.parametrize("key", ["laplacian_4", "laplacian_8"])
def test_laplacians_ignore_even_ramps_but_see_edges(key):
    ramp = np.tile(np.arange(8.0), (8, 1))  # brightness rising steadily to the right
    np.testing.assert_allclose(conv2d(ramp, KERNELS[key].values), 0.0, atol=1e-12)
    response = conv2d(STEP_LEFT_TO_RIGHT, KERNELS[key].values)
    assert (response[:, 2] > 0).all() and (response[:, 3] < 0).all()  # both sides of the edge


# --------------------------------------------------------------------------- parse_cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2, 2.0),
        (-0.5, -0.5),
        (np.float32(0.25), 0.25),
        (np.int64(-3), -3.0),
        ("0.5", 0.5),
        ("-2", -2.0),
        (" 3 ", 3.0),
        ("1e-3", 1e-3),
        ("+.5", 0.5),
        ("2.", 2.0),
        ("1/9", 1 / 9),
        ("-2/16", -0.125),
        (" 3 / 4 ", 0.75),
        ("\u22121", -1.0),  # a Unicode minus sign, as phones type it
        (str(MAX_ABS_VALUE), MAX_ABS_VALUE),
    ],
)
def test_parse_cell_accepts_numbers_numeric_text_and_fractions(value, expected):
    assert parse_cell(value, 1, 1) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Row 2, column 3 is empty"),
        ("   ", "Row 2, column 3 is empty"),
        (None, "Row 2, column 3 is empty"),
        (float("nan"), "Row 2, column 3 is empty"),  # how pandas shows an empty cell
        ("abc", "Row 2, column 3: 'abc' is not a number; use numbers like 2, -0.5"),
        ("nan", "Row 2, column 3: 'nan' means “not a number” and cannot be used"),
        ("inf", "Row 2, column 3: 'inf' is infinity and cannot be used"),
        ("-Infinity", "'-Infinity' is infinity"),
        ("1_000", "'1_000' is not a number"),
        ("0x10", "'0x10' is not a number"),
        ("1/2/3", "'1/2/3' is not a number"),
        ("__import__('os')", "is not a number"),
        ("1e400", "Row 2, column 3: '1e400' overflows"),
        ("1e300/1e-300", "overflows: the division"),
        ("1e7", "Row 2, column 3: '1e7' is too large; numbers must lie between -1,000,000"),
        (float("inf"), "Row 2, column 3: 'inf' is too large"),
        (1e7, "'10000000.0' is too large"),
        (-1e7, "too large"),
        (10**400, "too large"),
        (np.float64(1e-320), "too close to zero"),  # a subnormal
        ("1e-320", "too close to zero"),
        ("1" * 3000, "is 3,000 characters long; a number may have at most 40"),
        ("1/0", "Row 2, column 3: '1/0' divides by zero."),
        (True, "Row 2, column 3: True is not a number"),
        (np.bool_(False), "False is not a number"),
        ([1], "Row 2, column 3 holds a list, not a number"),
        (b"1", "holds a bytes, not a number"),
    ],
)
def test_parse_cell_rejects_bad_cells_naming_row_and_column(value, message):
    with pytest.raises(KernelError) as raised:
        parse_cell(value, 2, 3)
    assert message in str(raised.value)
    assert str(raised.value).startswith("Row 2, column 3")


def test_the_smallest_allowed_weights_are_accepted():
    assert parse_cell(MIN_ABS_VALUE, 1, 1) == MIN_ABS_VALUE
    assert parse_cell(-MAX_ABS_VALUE, 1, 1) == -MAX_ABS_VALUE
    assert parse_cell("0", 1, 1) == 0.0


def test_parsing_never_calls_eval():
    with mock.patch("builtins.eval", side_effect=AssertionError("eval was called")):
        with pytest.raises(KernelError):
            parse_kernel_text("__import__('os').system('echo hi')")
        with pytest.raises(KernelError):
            parse_cell("2**3", 1, 1)
        assert parse_kernel_text("1/2 3").tolist() == [[0.5, 3.0]]


# --------------------------------------------------------------------------- parse_kernel


def test_parse_kernel_accepts_lists_non_square_grids_and_object_arrays():
    np.testing.assert_array_equal(parse_kernel([[1, "2"], ["1/2", 0.25]]), [[1, 2], [0.5, 0.25]])
    assert parse_kernel([[1, 2, 3]]).shape == (1, 3)
    assert parse_kernel([[5]]).shape == (1, 1)
    grid = np.array([[1, "-1"], [None, 2]], dtype=object)
    grid[1, 0] = "3"  # as a data editor hands it back: mixed numbers and text
    assert parse_kernel(grid).tolist() == [[1.0, -1.0], [3.0, 2.0]]
    assert parse_kernel(np.ones((7, 7), dtype=np.int32)).dtype == np.float64


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([], "empty"),
        ([[]], "empty"),
        (np.zeros((0, 0)), "empty"),
        ([[1, 2], [3]], "Row 2 has 1 number but row 1 has 2"),
        (np.ones((8, 8)), "The kernel is 8×8 (rows×columns)"),
        ([[1] * 8], "1×8"),
        ([[1]] * 8, "8×1"),
        (np.ones((1000, 1000)), "1000×1000"),
        ([[1] * 1000] * 1000, "1000×1000"),
        (np.ones(3), "dimension"),
        ("1 2 3", "list of rows"),
        ([1, 2, 3], "Row 1"),
        ([[1, np.nan]], "Row 1, column 2 is empty"),
        ([[1, 2], [3, "x"]], "Row 2, column 2: 'x' is not a number"),
    ],
)
def test_parse_kernel_rejects_bad_grids(cells, message):
    with pytest.raises(KernelError) as raised:
        parse_kernel(cells)
    assert message in str(raised.value)


finite_weights = st.floats(-MAX_ABS_VALUE, MAX_ABS_VALUE, allow_nan=False, allow_infinity=False)
finite_weights = finite_weights.filter(lambda v: v == 0 or abs(v) >= MIN_ABS_VALUE)
grids = st.integers(1, MAX_SIZE).flatmap(
    lambda width: st.lists(
        st.lists(finite_weights, min_size=width, max_size=width), min_size=1, max_size=MAX_SIZE
    )
)


@given(grid=grids)
@settings(max_examples=60, deadline=None)
def test_numeric_grids_round_trip_through_parse_kernel_and_text(grid):
    expected = np.array(grid, dtype=np.float64)
    np.testing.assert_array_equal(parse_kernel(grid), expected)
    np.testing.assert_array_equal(parse_kernel([[str(v) for v in row] for row in grid]), expected)
    as_lines = "\n".join(" ".join(repr(v) for v in row) for row in grid)
    np.testing.assert_array_equal(parse_kernel_text(as_lines), expected)
    np.testing.assert_array_equal(parse_kernel_text(str(grid)), expected)  # "[[1.0, 2.0], …]"


# --------------------------------------------------------------------------- parse_kernel_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 2 1\n0 0 0\n-1 -2 -1", [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]),
        ("1, 2\n3; 4", [[1, 2], [3, 4]]),
        ("\n  1/9 1/9  \n\n 1/9 1/9 \n", [[1 / 9, 1 / 9], [1 / 9, 1 / 9]]),
        ("[[1,2],[3,4]]", [[1, 2], [3, 4]]),
        ("[[1, 2],\n [3, 4]]", [[1, 2], [3, 4]]),
        ("[[1. 2.]\n [3. 4.]]", [[1, 2], [3, 4]]),  # NumPy's printout
        ("[1, -2, 1]", [[1, -2, 1]]),
        ("1\r\n2", [[1], [2]]),
    ],
)
def test_parse_kernel_text_reads_lines_separators_and_pasted_lists(text, expected):
    np.testing.assert_array_equal(parse_kernel_text(text), np.array(expected, dtype=np.float64))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n  ", "empty"),
        ("1 2\n3", "Row 2 has 1 number"),
        ("1 two", "Row 1, column 2: 'two' is not a number"),
        ("[[1, 2], [3, 4]", "brackets"),  # a row left outside any brackets
        ("np.array([[1, 2]])", "brackets"),
        ("[[1,2],[3,4]] + 1", "brackets"),
        ("[1, [2, 3]]", "brackets"),  # a number outside the innermost row
        ("]1[", "brackets"),
        ("[]", "empty"),
        ("[" * 9 + "1" + "]" * 9, "brackets"),  # more brackets than a 7×7 kernel needs
        ("\n".join(["1 " * 8] * 3), "3×8"),
        ("\n".join(["1"] * 5000), "5000×1"),
        ("1 " * 20_000, "characters long"),
    ],
)
def test_parse_kernel_text_rejects_what_it_cannot_read(text, message):
    with pytest.raises(KernelError) as raised:
        parse_kernel_text(text)
    assert message in str(raised.value)


# --------------------------------------------------------------------------- kernel_sum_note


@pytest.mark.parametrize(
    ("kernel", "phrase"),
    [
        (np.full((3, 3), 1 / 9), "keeps overall brightness"),
        (np.array([[1.0, -1.0]]), "flat areas become 0: it responds only to change (edges)"),
        (np.array([[2.0]]), "scales brightness by 2: the image gets brighter"),
        (np.array([[0.5]]), "scales brightness by 0.5: the image gets darker"),
        (np.array([[-1.0]]), "scales brightness by -1"),
        (np.array([[np.nan]]), "not meaningful"),
    ],
)
def test_kernel_sum_note_explains_what_the_sum_does(kernel, phrase):
    assert phrase in kernel_sum_note(kernel)


# --------------------------------------------------------------------------- cost


def seconds_per_call(call, number: int) -> float:
    """The fastest of five runs, per call: robust against a busy machine."""

    def quietly() -> None:
        with contextlib.suppress(KernelError):
            call()

    return min(timeit.repeat(quietly, number=number, repeat=5)) / number


HOSTILE_CELLS = {
    "kv-1500": "1" * 700 + "/" + "1" * 700 + "x",  # once 7–10 s of CPU
    "cell-3000": "1" * 1500 + "/" + "1" * 1499 + "x",  # once 61 s
    "exponent": "1" * 2999 + "e",
    "spaced-fraction": "1" + " " * 1500 + "/" + " " * 1500 + "x",
}


@pytest.mark.parametrize("text", HOSTILE_CELLS.values(), ids=HOSTILE_CELLS.keys())
def test_a_hostile_cell_costs_no_more_than_fifty_simple_ones(text):
    simple = seconds_per_call(lambda: parse_cell("1/9", 1, 1), 2_000)
    assert seconds_per_call(lambda: parse_cell(text, 1, 1), 20) <= 50 * simple
    assert seconds_per_call(lambda: parse_kernel([["0", text]]), 20) <= 50 * simple


HOSTILE_TEXTS = {
    "digits-then-e": "1" * (MAX_TEXT_CHARS - 1) + "e",
    "brackets": "[" * (MAX_TEXT_CHARS - 1),
    "nested": "[1" * (MAX_TEXT_CHARS // 2),
    "closing": "]" * (MAX_TEXT_CHARS - 1),
    "bracket-rows": "[1]" * (MAX_TEXT_CHARS // 3),
    "lines": "1\n" * (MAX_TEXT_CHARS // 2 - 1),
    "cells": "1 " * (MAX_TEXT_CHARS // 2 - 1),
    "semicolons": ";" * (MAX_TEXT_CHARS - 1) + "x",
    "too-long": "1" * 1_000_000,
}


@pytest.mark.parametrize("text", HOSTILE_TEXTS.values(), ids=HOSTILE_TEXTS.keys())
def test_hostile_kernel_text_costs_no_more_than_an_honest_7_by_7_kernel(text):
    honest = "\n".join(" ".join(["-1.2345e-3/7"] * 7) for _ in range(7))
    budget = seconds_per_call(lambda: parse_kernel_text(honest), 10)
    with pytest.raises(KernelError):
        parse_kernel_text(text)
    assert seconds_per_call(lambda: parse_kernel_text(text), 10) <= budget
