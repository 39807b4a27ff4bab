"""Share links and exports: every valid set-up survives the round trip through a link, every
invalid or hostile value falls back to its default with a sentence, and CSVs are exact."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import share
from explorer.kernels import KERNELS, parse_kernel


def test_the_default_set_up_needs_no_parameters() -> None:
    assert share.encode(share.DEFAULTS) == {}
    assert share.decode({}) == (share.DEFAULTS, [])


def test_decode_does_not_share_the_defaults_lists() -> None:
    state, _ = share.decode({})
    state["conv_custom_cells"][0][0] = "9"
    assert share.DEFAULTS["conv_custom_cells"][0][0] == "0"


@pytest.mark.parametrize(
    "changes",
    [
        {"conv_preset": "laplacian_8", "conv_padding": 3, "conv_padding_mode": "replicate"},
        {"conv_stride": 2, "conv_dilation": 3, "conv_flip": True, "conv_res": 64},
        {"conv_source": "sample", "conv_sample": "ship", "conv_colour": "g",
         "conv_result_mode": "per_channel"},
        {"conv_source": "draw"},
        {"conv_source": "numbers", "conv_matrix_text": "1 2 3\n4 5 6"},
        {"conv_preset": "custom", "conv_custom_cells": [["1/9", "-2"], ["0.5", "1e-3"]]},
        {"conv_preset": "custom", "conv_custom_cells": [["7"]]},
    ],
)  # fmt: skip
def test_round_trip(changes: dict) -> None:
    state = {**share.DEFAULTS, **changes}
    params = share.encode(state)
    decoded, warnings = share.decode(params)
    assert warnings == []
    assert decoded == state


def test_every_preset_round_trips() -> None:
    for key in KERNELS:
        decoded, warnings = share.decode(share.encode({**share.DEFAULTS, "conv_preset": key}))
        assert (decoded["conv_preset"], warnings) == (key, [])


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"pad": "7"}, "conv_padding"),
        ({"pad": "-1"}, "conv_padding"),
        ({"pad": "１"}, "conv_padding"),  # a full-width digit: isdigit() but not ASCII
        ({"stride": "0"}, "conv_stride"),
        ({"stride": "1e9"}, "conv_stride"),
        ({"dil": " "}, "conv_dilation"),
        ({"res": "33"}, "conv_res"),
        ({"k": "sobel_x'; drop table"}, "conv_preset"),
        ({"k": "__class__"}, "conv_preset"),
        ({"sample": "../assets/weights"}, "conv_sample"),
        ({"src": "camera"}, "conv_source"),
        ({"mode": "circular"}, "conv_padding_mode"),
        ({"flip": "true"}, "conv_flip"),
        ({"ch": "rgb"}, "conv_colour"),
        ({"out": "x" * 10_000}, "conv_result_mode"),
        ({"k": "custom"}, "conv_preset"),
        ({"k": "custom", "kv": "1,2;3"}, "conv_preset"),
        ({"kv": "1,inf"}, "conv_custom_cells"),
        ({"kv": "1,nan"}, "conv_custom_cells"),
        ({"kv": "__import__('os')"}, "conv_custom_cells"),
        ({"kv": ",".join(["1"] * 8)}, "conv_custom_cells"),
        ({"kv": "1" * 5000}, "conv_custom_cells"),
        ({"m": "1 2;3"}, "conv_matrix_text"),
        ({"m": "1 x"}, "conv_matrix_text"),
        ({"m": "1 " * 3000}, "conv_matrix_text"),
    ],
)
def test_bad_values_keep_the_default_and_say_so(params: dict[str, str], key: str) -> None:
    state, warnings = share.decode(params)
    assert state[key] == share.DEFAULTS[key]
    assert len(warnings) == 1 and "link" in warnings[0]
    assert len(warnings[0]) < 400  # a huge value is not echoed back in full


def test_a_bad_value_does_not_spoil_the_good_ones() -> None:
    state, warnings = share.decode({"pad": "2", "stride": "x", "k": "emboss", "extra": "ignored"})
    assert (state["conv_padding"], state["conv_stride"], state["conv_preset"]) == (2, 1, "emboss")
    assert len(warnings) == 1 and "stride" in warnings[0]


def test_non_text_values_are_refused() -> None:
    state, warnings = share.decode({"pad": ["2"], "k": None})  # type: ignore[dict-item]
    assert state["conv_padding"] == 0 and len(warnings) == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (-2.0, "-2"), (0.5, "0.5"), (0.125, "1/8"), (1 / 9, "1/9"), (3 / 16, "3/16"),
     (0.1, "0.1"), (1e-3, "0.001"), (0.123456789, "0.123456789"),
     (float(np.float32(0.1)), "0.10000000149011612")],
)  # fmt: skip
def test_format_weight_is_readable_and_exact(value: float, text: str) -> None:
    assert share.format_weight(value) == text
    assert parse_kernel([[text]])[0, 0] == value


def test_kernel_cells_of_every_preset_parse_back_exactly() -> None:
    for preset in KERNELS.values():
        cells = share.kernel_cells(preset.values)
        np.testing.assert_array_equal(parse_kernel(cells), preset.values)


def test_result_csv_is_exact() -> None:
    values = np.random.default_rng(1).normal(size=(4, 5)) * 1e3
    text = share.result_csv(values).decode()
    np.testing.assert_array_equal(np.loadtxt(text.splitlines(), delimiter=","), values)


def test_per_channel_csv_has_one_row_per_pixel() -> None:
    values = np.arange(12.0).reshape(3, 2, 2) / 3
    lines = share.result_csv(values).decode().splitlines()
    assert lines[0] == "row,column,red,green,blue"
    assert lines[1:3] == [f"0,0,{0 / 3!r},{4 / 3!r},{8 / 3!r}", f"0,1,{1 / 3!r},{5 / 3!r},3.0"]
    assert len(lines) == 5


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8501/", "http://localhost:8501/convolution?k=emboss"),
        ("http://localhost:8501/network", "http://localhost:8501/convolution?k=emboss"),
        ("https://example.org/apps/cnn/convolution", "https://example.org/apps/cnn/convolution?k=emboss"),
        (None, "?k=emboss"),
    ],
)  # fmt: skip
def test_link(url: str | None, expected: str) -> None:
    assert share.link(url, {"k": "emboss"}) == expected


def test_link_keeps_fractions_readable() -> None:
    assert share.link(None, {"kv": "1/9,1/9;-1,2"}) == "?kv=1/9,1/9;-1,2"
