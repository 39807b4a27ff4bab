"""The playground's set-up as one object: every valid set-up survives the round trip through a
link, every invalid or hostile value falls back to its default with a sentence, and the
changes a student makes (a preset, a custom grid, its size) give the state the page shows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from explorer.convolution import ConvSettings
from explorer.kernels import KERNELS, KernelError
from explorer.playground import prepare_picture
from explorer.playground_state import CHOICES, CUSTOM, PlaygroundState, result_planes

DEFAULT = PlaygroundState()


def test_the_default_set_up_needs_no_parameters() -> None:
    assert DEFAULT.to_query() == {}
    assert PlaygroundState.from_query({}) == (DEFAULT, [])


@pytest.mark.parametrize(
    "changes",
    [
        {"preset": "laplacian_8", "padding": 3, "padding_mode": "replicate"},
        {"stride": 2, "dilation": 3, "flip": True, "res": 64},
        {"source": "sample", "sample": "ship", "colour": "g", "result_mode": "per_channel"},
        {"source": "draw"},
        {"source": "numbers", "matrix_text": "1 2 3\n4 5 6"},
        {"preset": CUSTOM, "custom_cells": (("1/9", "-2"), ("0.5", "1e-3"))},
        {"preset": CUSTOM, "custom_cells": (("7",),)},
    ],
)
def test_round_trip(changes: dict) -> None:
    state = replace(DEFAULT, **changes)
    decoded, warnings = PlaygroundState.from_query(state.to_query())
    assert warnings == []
    assert decoded == state


def test_every_choice_of_every_field_round_trips() -> None:
    for name, choice in CHOICES.items():
        for value in choice.labels:
            state = DEFAULT.choose(name, value)
            decoded, warnings = PlaygroundState.from_query(state.to_query())
            assert (getattr(decoded, name), warnings) == (value, []), (name, value)


def test_choose_refuses_what_is_not_a_choice() -> None:
    with pytest.raises(ValueError):
        DEFAULT.choose("stride", 4)
    with pytest.raises(ValueError):
        DEFAULT.choose("preset", "__class__")


def test_choosing_custom_starts_from_the_preset_shown() -> None:
    state = DEFAULT.choose("preset", "gaussian_3").choose("preset", CUSTOM)
    assert state.custom_cells[0] == ("1/16", "1/8", "1/16")
    assert state.kernel_origin == KERNELS["gaussian_3"].name
    np.testing.assert_array_equal(state.kernel(), KERNELS["gaussian_3"].values)


def test_resizing_keeps_the_cells_that_fit_and_fills_zeros() -> None:
    state = DEFAULT.with_kernel([["1", "2", "3"], ["4", "5", "6"]]).resized(3, 2)
    assert state.custom_cells == (("1", "2"), ("4", "5"), ("0", "0"))
    assert state.kernel_shape == (3, 2)


def test_an_edited_kernel_forgets_where_it_came_from() -> None:
    state = DEFAULT.choose("preset", "sobel_x").choose("preset", CUSTOM)
    assert state.kernel_origin == KERNELS["sobel_x"].name
    assert state.resized(3, 3).kernel_origin == KERNELS["sobel_x"].name  # the same size
    assert state.resized(3, 4).kernel_origin == ""


def test_typed_cells_are_read_by_position() -> None:
    """The editor's bug: a value typed into column c landed in column c+1 (and the last
    column raised IndexError). Cells are now a plain grid, read by position."""
    cells = [[f"{r}{c}" for c in range(7)] for r in range(7)]
    state = DEFAULT.with_kernel(cells)
    np.testing.assert_array_equal(
        state.kernel(), [[10 * r + c for c in range(7)] for r in range(7)]
    )
    assert state.to_query()["kv"].split(";")[6].split(",")[6] == "66"


def test_a_kernel_that_does_not_parse_stays_out_of_the_link() -> None:
    state = DEFAULT.with_kernel([["1", "x"]])
    with pytest.raises(KernelError, match="column 2"):
        state.kernel()
    assert "kv" not in state.to_query() and "k" not in state.to_query()


def test_settings_come_from_the_fields() -> None:
    state = replace(DEFAULT, padding=2, padding_mode="reflect", stride=3, dilation=2, flip=True)
    assert state.settings == ConvSettings(2, "reflect", 3, 2, True)


def test_result_planes_follow_the_mode() -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200
    picture = prepare_picture(rgb, "gray", 32)
    assert result_planes(picture, "animated") == (picture.full, "sum")
    planes, channels = result_planes(picture, "per_channel")
    assert planes.shape == (3, 4, 5) and channels == "per_channel"
    assert result_planes(picture, "sum")[1] == "sum"
    gray = prepare_picture(np.full((4, 5, 3), 9, np.uint8), "gray", 32)
    assert result_planes(gray, "per_channel")[0] is gray.full  # one plane: nothing to split


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pad": "7"}, "padding"),
        ({"pad": "-1"}, "padding"),
        ({"pad": "１"}, "padding"),  # a full-width digit: isdigit() but not ASCII
        ({"stride": "0"}, "stride"),
        ({"stride": "1e9"}, "stride"),
        ({"dil": " "}, "dilation"),
        ({"res": "33"}, "res"),
        ({"k": "sobel_x'; drop table"}, "preset"),
        ({"k": "__class__"}, "preset"),
        ({"sample": "../assets/weights"}, "sample"),
        ({"src": "webcam"}, "source"),
        ({"mode": "circular"}, "padding_mode"),
        ({"flip": "true"}, "flip"),
        ({"ch": "rgb"}, "colour"),
        ({"out": "x" * 10_000}, "result_mode"),
        ({"k": "custom"}, "preset"),
        ({"k": "custom", "kv": "1,2;3"}, "preset"),
        ({"kv": "1,inf"}, "custom_cells"),
        ({"kv": "1,nan"}, "custom_cells"),
        ({"kv": "__import__('os')"}, "custom_cells"),
        ({"kv": ",".join(["1"] * 8)}, "custom_cells"),
        ({"kv": "1" * 5000}, "custom_cells"),
        ({"m": "1 2;3"}, "matrix_text"),
        ({"m": "1 x"}, "matrix_text"),
        ({"m": "1 " * 3000}, "matrix_text"),
        ({"k": "![](//evil.example/i.png)"}, "preset"),
        ({"k": "[Log in again](http://evil.example)"}, "preset"),
    ],
)
def test_bad_values_keep_the_default_and_say_so(params: dict[str, str], field: str) -> None:
    state, warnings = PlaygroundState.from_query(params)
    assert getattr(state, field) == getattr(DEFAULT, field)
    assert len(warnings) == 1 and "link" in warnings[0]
    assert len(warnings[0]) < 400  # a huge value is not echoed back in full


def test_a_bad_value_does_not_spoil_the_good_ones() -> None:
    state, warnings = PlaygroundState.from_query(
        {"pad": "2", "stride": "x", "k": "emboss", "extra": "ignored"}
    )
    assert (state.padding, state.stride, state.preset) == (2, 1, "emboss")
    assert len(warnings) == 1 and "stride" in warnings[0]


def test_non_text_values_are_refused() -> None:
    state, warnings = PlaygroundState.from_query({"pad": ["2"], "k": None})
    assert state.padding == 0 and len(warnings) == 1


def test_result_colours_follow_the_kernel_unless_chosen() -> None:
    from explorer.playground_state import result_cmap

    blur, edges = KERNELS["box_blur_3"].values, KERNELS["sobel_x"].values
    assert result_cmap("auto", blur) == "gray" and result_cmap("auto", edges) == "diverging"
    assert result_cmap("picture", edges) == "gray" and result_cmap("signed", blur) == "diverging"
    assert result_cmap("auto", KERNELS["sharpen"].values) == "gray"


def test_long_numbers_are_shown_rounded_and_kept_exact() -> None:
    from explorer.playground_state import shown_cells, with_edits

    exact = (("0.10000000149011612", "1/9"), ("-0.23851234", "2"))
    shown = shown_cells(exact)
    assert shown == (("0.1", "1/9"), ("-0.2385", "2"))
    assert with_edits(exact, shown, shown) == exact  # nothing typed: every value stays exact
    typed = (("0.1", "5"), ("-0.2385", "2"))
    assert with_edits(exact, shown, typed) == (("0.10000000149011612", "5"), exact[1])
