"""render: colour maps, montages, PNGs, figures, HTML and Graphviz text — what the pages draw,
checked without Streamlit."""

from __future__ import annotations

import io
import re

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from explorer import render
from explorer.architecture import layer_table
from explorer.model import SimpleCNN
from explorer.stage_pictures import colour_bar, stage_cmap


def is_white(rgb: np.ndarray) -> bool:
    """Within a step of the diverging map's middle colour, (247, 247, 247)."""
    return bool((np.abs(rgb.astype(int) - 247) <= 2).all())


def test_diverging_range_is_symmetric_so_white_is_zero() -> None:
    assert render.value_range(np.array([-1.0, 3.0]), "diverging") == (-3.0, 3.0)
    colours = render.colourise(np.array([[-1.0, 0.0, 3.0]]), "diverging")
    assert is_white(colours[0, 1])
    assert colours[0, 0, 2] > colours[0, 0, 0]  # negative: blue
    assert colours[0, 2, 0] > colours[0, 2, 2]  # positive: red


def test_colourise_draws_a_flat_array_and_nan_without_dividing_by_zero() -> None:
    colours = render.colourise(np.array([[5.0, 5.0, np.nan]]), "viridis")
    assert colours.shape == (1, 3, 3) and colours.dtype == np.uint8
    assert (colours[0, 0] == colours[0, 1]).all()
    assert tuple(colours[0, 2]) == (128, 128, 128)


def test_montage_places_tiles_in_rows_with_gaps() -> None:
    tiles = np.zeros((5, 4, 6, 3), np.uint8)
    out = render.montage(tiles, cols=2, gap=1, fill=255)
    assert out.shape == (3 * 4 + 2, 2 * 6 + 1, 3)
    assert (out[4] == 255).all()  # the gap below the first row
    assert (out[10:, 7:] == 255).all()  # no sixth tile: the last slot stays filled


def test_enlarge_repeats_every_pixel_as_a_square() -> None:
    img = np.arange(6, dtype=np.uint8).reshape(2, 3)
    big = render.enlarge(img, 3)
    assert big.shape == (6, 9)
    assert (big[3:6, 6:9] == img[1, 2]).all()
    assert render.enlarge(img, 1) is img
    assert render.enlarge_to(img, 7).shape == (8, 12)  # factor 4: the short side reaches 7


def test_png_bytes_round_trip_exactly() -> None:
    rng = np.random.default_rng(0)
    for img in (rng.integers(0, 256, (5, 7, 3), np.uint8), rng.integers(0, 256, (4, 3), np.uint8)):
        back = np.asarray(Image.open(io.BytesIO(render.png_bytes(img))))
        assert np.array_equal(back, img)


def test_heatmap_figure_puts_row_zero_on_top_with_the_symmetric_range() -> None:
    fig = render.heatmap_figure(np.array([[-2.0, 1.0]]), "diverging", "title")
    assert isinstance(fig, go.Figure)
    assert fig.layout.yaxis.autorange == "reversed"
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-2.0, 2.0)


def test_channels_picture_clips_rounds_and_repeats_a_single_channel() -> None:
    result = np.array([[[-5.0, 0.4, 254.6, 300.0]]] * 3)  # 3×1×4
    assert render.channels_picture(result)[0].tolist() == [[0] * 3, [0] * 3, [255] * 3, [255] * 3]
    one = render.channels_picture(np.array([[[7.0]]]))
    assert one.shape == (1, 1, 3) and one.tolist() == [[[7, 7, 7]]]


@pytest.mark.parametrize("kind", ["signed", "nonnegative", "probability"])
def test_colour_bar_png_matches_the_stage_colour_bar(kind: str) -> None:
    png = render.colour_bar_png(stage_cmap(kind))  # type: ignore[arg-type]
    assert png == render.png_bytes(colour_bar(kind, 0.0, 1.0))  # type: ignore[arg-type]
    assert Image.open(io.BytesIO(png)).size == (256, 14)


def test_grid_html_writes_each_number_in_its_coloured_cell() -> None:
    page = render.grid_html(np.array([[-1.0, 0.0], [0.5, 1 / 3]]), "diverging", 30)
    assert page.count("<tr>") == 2 and page.count("<td") == 4
    assert ">−1</td>" in page and ">0.5</td>" in page and ">0.3333</td>" in page  # a true minus
    assert "background:rgb(247,246,246);color:#000" in page  # 0 is white, written in dark ink


def test_grid_html_keeps_the_cell_size_for_short_numbers_and_widens_for_long_ones() -> None:
    short = render.grid_html(np.array([[-1.0, 0.0], [0.5, 2.0]]), "diverging", 30)
    assert "width:30px" in short
    long = render.grid_html(np.array([[-0.2385248, 0.0]]), "diverging", 30)
    width = int(re.search(r"min-width:(\d+)px", long).group(1))
    assert width > 30  # "−0.2385" does not fit in 30 px at the grid's font size


def test_colour_bar_html_shows_the_symmetric_ends() -> None:
    bar = render.colour_bar_html(np.array([-0.5, 2.0]), width_px=100)
    assert ">−2</span>" in bar and ">2</span>" in bar
    assert "width:100px" in bar and "linear-gradient(to right, rgb(5,48,97)" in bar


def test_the_gray_colour_bar_is_the_pictures_own_range() -> None:
    bar = render.colour_bar_html(np.array([-40.0, 900.0]), width_px=100, cmap="gray")
    assert ">0</span>" in bar and ">255</span>" in bar and "white = 255 or more" in bar


def test_layer_chain_dot_chains_every_layer_with_its_shape() -> None:
    rows = layer_table(SimpleCNN())
    dot = render.layer_chain_dot(rows)
    assert dot.startswith("digraph G {") and dot.endswith("}")
    assert " -> ".join(r.name for r in rows) in dot
    assert 'conv1 [label="conv1   32 × 32 × 32", fillcolor="#fde0c5"]' in dot
    assert 'flatten [label="flatten   2048"' in dot


def test_ink_contrasts_at_least_4_5_to_1_on_every_gray() -> None:
    def luminance(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    for v in range(256):
        ink = render.ink(v, v, v)
        y, text = luminance(v), 0.0 if ink == "#000" else 1.0
        ratio = (max(y, text) + 0.05) / (min(y, text) + 0.05)
        assert ratio >= 4.5, (v, ink, ratio)
