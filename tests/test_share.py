"""Exports: kernel weights written as a person types them and read back exactly, CSVs that
hold exactly the numbers, and the playground's full address."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import share
from explorer.kernels import KERNELS, parse_kernel


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-2.0, "-2"),
        (0.5, "0.5"),
        (0.125, "1/8"),
        (1 / 9, "1/9"),
        (3 / 16, "3/16"),
        (0.1, "0.1"),
        (1e-3, "0.001"),
        (0.123456789, "0.123456789"),
        (float(np.float32(0.1)), "0.10000000149011612"),
    ],
)
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
        (
            "https://example.org/apps/cnn/convolution",
            "https://example.org/apps/cnn/convolution?k=emboss",
        ),
        (None, "?k=emboss"),
    ],
)
def test_link(url: str | None, expected: str) -> None:
    assert share.link(url, {"k": "emboss"}) == expected


def test_link_keeps_fractions_readable() -> None:
    assert share.link(None, {"kv": "1/9,1/9;-1,2"}) == "?kv=1/9,1/9;-1,2"
