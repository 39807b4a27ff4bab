"""The pictures of "Inside the network": the outline sits exactly on the receptive field, the
overlay keeps the image where the map is 0, the pool step fills the pooled map up to its step."""

from __future__ import annotations

import re

import numpy as np

from explorer import inside_pictures as pics
from explorer.inside import pool_trace


def test_the_outline_dims_exactly_the_pixels_outside_the_field() -> None:
    image = np.full((32, 32, 3), 200, np.uint8)
    out = pics.outline_field(image, 1, 13, 18, 30, factor=8)  # rows 1–18, columns 13–30
    assert out.shape == (256, 256, 3)
    inside = out[8 * 1 + 4 : 8 * 19 - 4, 8 * 13 + 4 : 8 * 31 - 4]  # clear of the outline
    assert (inside == 200).all()
    outside = np.ones((256, 256), bool)
    outside[8:152, 104:248] = False
    assert (out[outside] < 200).all()  # dimmed everywhere else
    assert (out[8:152, 104] == (255, 214, 0)).all()  # the left edge: yellow, then a dark line
    assert (out[16:144, 106] == (20, 20, 20)).all()


def test_the_overlay_shows_the_image_where_the_map_is_zero() -> None:
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :16] = 255  # left half white
    heat = np.zeros((32, 32))
    heat[:, 24:] = 1.0
    out = pics.overlay(image, heat, "viridis", 0.0, 1.0, factor=1)
    assert out[0, 0].min() > 200  # white, a trace of colour: the map is 0 there
    assert tuple(out[0, 30]) != tuple(out[0, 20])  # the map's top colour where it is 1


def test_a_pool_step_fills_the_pooled_map_up_to_it() -> None:
    source = np.arange(64, dtype=np.float64).reshape(8, 8)
    trace = pool_trace(source)
    html = pics.pool_step_html(trace, 5, "relu3 map 0", "pool3 map 0")
    tables = html.split("<table")[1:]
    assert len(tables) == 3  # source, window, output
    output = tables[2]
    assert (
        output.count("<td") == 16 and output.count(">27</td>") == 1
    )  # step 5: cell (1, 1) = 8·3 + 3
    assert len(re.findall(r"rgb\(236,236,236\)", output)) == 16 - 6  # later cells empty
    assert tables[0].count(f"solid {pics.WINNER}") == 1
    assert tables[0].count(f"solid {pics.FRAME}") == 3  # the rest of the 2×2 window


def test_numbers_are_escaped_and_labelled() -> None:
    html = pics.number_grid_html(np.array([[1.5, -2.0]]), "diverging", label='a "b" <c>')
    assert 'aria-label="a &quot;b&quot; &lt;c&gt;"' in html
    assert ">1.5</td>" in html and ">−2</td>" in html  # a true minus, as in sentences
