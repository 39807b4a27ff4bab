"""explorer.pixels: gray levels, compositing transparency in integers, resizing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from explorer.errors import UserError
from explorer.pixels import (
    ImageError,
    composite,
    gray_to_rgb,
    resize_exact,
    resize_max_side,
    shrunk_size,
    to_grayscale,
)

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255,) * 3, (0,) * 3


def test_image_error_is_a_user_error():
    assert issubclass(ImageError, UserError) and issubclass(ImageError, ValueError)


def test_grayscale_uses_bt601_luma_rounded_to_integers():
    rgb = np.array([[RED, GREEN, BLUE, WHITE, BLACK]], dtype=np.uint8)
    gray = to_grayscale(rgb)
    assert gray.dtype == np.float64
    np.testing.assert_array_equal(gray, [[76, 150, 29, 255, 0]])


def test_grayscale_returns_gray_input_unchanged_as_float():
    gray = np.array([[1.5, 200.0]], dtype=np.float32)
    out = to_grayscale(gray)
    assert out.dtype == np.float64 and out is not gray
    np.testing.assert_array_equal(out, gray)


def test_gray_to_rgb_rounds_clips_and_repeats():
    out = gray_to_rgb(np.array([[-3.0, 1.4, 1.6, 300.0]]))
    assert out.dtype == np.uint8 and out.shape == (1, 4, 3)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 2, 255])
    assert (out[..., 0] == out[..., 2]).all()


@settings(max_examples=60, deadline=None)
@given(
    rgba=hnp.arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6), st.just(4))),
    background=st.tuples(*[st.integers(0, 255)] * 3),
)
def test_integer_compositing_equals_the_float_formula_rounded(rgba, background):
    alpha = rgba[..., 3:4] / 255.0
    expected = np.rint(rgba[..., :3] * alpha + np.array(background) * (1 - alpha))
    np.testing.assert_array_equal(composite(rgba, background), expected)


def test_compositing_works_in_blocks_of_rows(monkeypatch):
    from explorer import pixels

    monkeypatch.setattr(pixels, "_BLOCK_PIXELS", 7)  # several blocks, the last one partial
    rgba = np.random.default_rng(3).integers(0, 256, (23, 5, 4), dtype=np.uint8)
    blocked = composite(rgba, (10, 20, 30))
    monkeypatch.setattr(pixels, "_BLOCK_PIXELS", 1 << 20)
    np.testing.assert_array_equal(blocked, composite(rgba, (10, 20, 30)))


def test_float_rgba_is_rounded_to_whole_levels_first():
    rgba = np.array([[[254.6, -4.0, 300.0, 255.0], [0.0, 0.0, 0.0, np.nan]]])
    out = composite(rgba, WHITE)
    assert out.dtype == np.uint8
    assert tuple(out[0, 0]) == (255, 0, 255) and tuple(out[0, 1]) == WHITE


def test_composite_refuses_other_shapes():
    with pytest.raises(ImageError, match="H×W×4"):
        composite(np.zeros((4, 4, 3), np.uint8))


def test_resize_never_enlarges():
    small = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = resize_max_side(small, 100)
    np.testing.assert_array_equal(out, small)
    assert out is not small


def test_resize_shrinks_keeping_aspect_ratio_and_dtype():
    rgb = np.zeros((300, 600, 3), dtype=np.uint8)
    assert resize_max_side(rgb, 100).shape == (50, 100, 3)
    gray = np.full((600, 300), 7.25)
    out = resize_max_side(gray, 60)
    assert out.shape == (60, 30) and out.dtype == np.float64
    np.testing.assert_allclose(out, 7.25, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(height=st.integers(1, 80), width=st.integers(1, 80), max_side=st.integers(1, 80))
def test_resize_max_side_bounds_the_longer_side(height, width, max_side):
    out = resize_max_side(np.zeros((height, width, 3), dtype=np.uint8), max_side)
    assert out.shape[:2] == shrunk_size(height, width, max_side)
    assert max(out.shape[:2]) == min(max(height, width), max_side)
    assert min(out.shape[:2]) >= 1


def test_resize_exact_keeps_float_values_within_the_input_range():
    edge = np.zeros((8, 8))
    edge[:, 4:] = 255.0
    out = resize_exact(edge, 20, 20)  # enlarging with bicubic overshoots at the edge
    assert out.shape == (20, 20) and out.min() >= 0.0 and out.max() <= 255.0


def test_impossible_sizes_are_named_width_first():
    with pytest.raises(ImageError, match="A size of 20000×3 px"):
        resize_exact(np.zeros((4, 4)), 3, 20_000)
    with pytest.raises(ImageError, match="at least 1 pixel"):
        resize_max_side(np.zeros((4, 4)), 0)


def read_only(arr: np.ndarray) -> np.ndarray:
    arr = arr.copy()
    arr.flags.writeable = False
    return arr


def test_functions_do_not_mutate_their_inputs():
    rng = np.random.default_rng(1)
    rgb = read_only(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    rgba = read_only(rng.integers(0, 256, (20, 20, 4), dtype=np.uint8))
    gray = read_only(rng.random((50, 30)) * 255)
    copies = [a.copy() for a in (rgb, rgba, gray)]
    to_grayscale(rgb)
    to_grayscale(gray)
    resize_max_side(rgb, 10)
    resize_exact(gray, 7, 9)
    composite(rgba)
    gray_to_rgb(gray)
    for before, after in zip(copies, (rgb, rgba, gray), strict=True):
        np.testing.assert_array_equal(before, after)
