"""Pictures for the sharing lab: the channel the kernel slides over, with its zero padding
and the kernel outlined at the lettered positions, and output maps with the same positions
marked. Arrays in, RGB arrays out (``render.png_bytes`` makes the PNG); nothing here computes
what is shown (``explorer.sharing`` does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from explorer import render
from explorer.export.text import builtin_font

OUTLINE_DARK = (20, 20, 20)
OUTLINE_LIGHT = (255, 214, 0)  # yellow with a dark line inside: visible on any colour
HATCH_BACK = (236, 236, 236)
HATCH_LINE = (160, 160, 160)


def tag_px(factor: int) -> int:
    """A letter tag's side: readable once the picture is shrunk to a third of the screen."""
    return max(16, 2 * factor + 6)


def hatch(img: np.ndarray, mask: np.ndarray, factor: int) -> None:
    """Cells where ``mask`` (H×W) is set drawn light grey with diagonal lines, in place on
    ``img`` (H·factor×W·factor×3): the padding, or outputs that did not change."""
    big = render.enlarge(np.asarray(mask, bool), factor)
    yy, xx = np.indices(big.shape)
    lines = (yy + xx) % 6 == 0
    img[big] = HATCH_BACK
    img[big & lines] = HATCH_LINE


def _rectangle(img: np.ndarray, top: int, left: int, bottom: int, right: int) -> None:
    """A box around pixels [top, bottom) × [left, right): 2 px of yellow outside a 2 px dark
    line, drawn just inside the box's edges."""
    h, w = img.shape[:2]
    for inset, width, colour in ((0, 2, OUTLINE_LIGHT), (2, 2, OUTLINE_DARK)):
        t, lft = max(top + inset, 0), max(left + inset, 0)
        b, r = min(bottom - inset, h), min(right - inset, w)
        img[t : t + width, lft:r] = colour
        img[b - width : b, lft:r] = colour
        img[t:b, lft : lft + width] = colour
        img[t:b, r - width : r] = colour


def _tags(img: np.ndarray, boxes: Sequence[tuple[str, int, int, int, int]], tag: int) -> np.ndarray:
    """Each box's letter on a yellow ``tag``-px tag above its top-left corner (below it when
    there is no room above), on a copy of ``img``."""
    picture = Image.fromarray(img)
    draw = ImageDraw.Draw(picture)
    font = builtin_font(tag - 4)
    for letter, top, left, bottom, _right in boxes:
        y = top - tag if top >= tag else bottom
        x = min(max(left, 0), img.shape[1] - tag)
        draw.rectangle((x, y, x + tag - 1, y + tag - 1), fill=OUTLINE_LIGHT)
        centre = (x + tag / 2, y + tag / 2)
        draw.text(centre, letter, font=font, fill=OUTLINE_DARK, anchor="mm")
    return np.asarray(picture).copy()


def input_picture(
    padded: np.ndarray,
    padding: int,
    kernel: int,
    positions: Sequence[tuple[str, int, int]],
    factor: int = 12,
) -> np.ndarray:
    """The channel the kernel slides over (``padded``: with its padding) in grey from its
    darkest to its brightest pixel, the padding hatched, and the k×k window of each lettered
    output position (letter, row, col) outlined, enlarged ``factor`` times."""
    values = np.asarray(padded, dtype=np.float64)
    h, w = values.shape
    inner = values[padding : h - padding, padding : w - padding]
    img = render.enlarge(
        render.colourise(values, "gray", float(inner.min()), float(inner.max())), factor
    )
    ring = np.ones((h, w), bool)
    ring[padding : h - padding, padding : w - padding] = False
    hatch(img, ring, factor)
    boxes = []
    for letter, row, col in positions:
        top, left = row * factor, col * factor
        bottom, right = (row + kernel) * factor, (col + kernel) * factor
        _rectangle(img, top, left, bottom, right)
        boxes.append((letter, top, left, bottom, right))
    return _tags(img, boxes, tag_px(factor))


def output_picture(
    values: np.ndarray,
    lo: float,
    hi: float,
    positions: Sequence[tuple[str, int, int]],
    hatched: np.ndarray | None = None,
    factor: int = 12,
) -> np.ndarray:
    """An output map in blue–white–red on ``lo``…``hi``, the cells where ``hatched`` is set
    hatched, each lettered position's cell outlined, enlarged ``factor`` times."""
    img = render.enlarge(render.colourise(values, "diverging", lo, hi), factor)
    if hatched is not None:
        hatch(img, hatched, factor)
    boxes = []
    for letter, row, col in positions:
        top, left = row * factor, col * factor
        bottom, right = top + factor, left + factor
        _rectangle(img, top - 2, left - 2, bottom + 2, right + 2)
        boxes.append((letter, top - 2, left - 2, bottom + 2, right + 2))
    return _tags(img, boxes, tag_px(factor))


def counts_figure(
    sides: Sequence[int], series: Sequence[tuple[str, Sequence[int]]], current: int
) -> go.Figure:
    """Parameter counts against the input side, one line per (name, counts), on a log scale
    (a convolution's few thousand and a dense layer's billions on one chart), with the side
    chosen on the page marked."""
    fig = go.Figure()
    for (name, counts), dash in zip(series, ("solid", "dash", "dot", "dashdot"), strict=False):
        fig.add_trace(
            go.Scatter(
                x=list(sides),
                y=list(counts),
                name=name,
                mode="lines+markers",
                line={"dash": dash},
                hovertemplate="%{x}×%{x} px: %{y:,} parameters<extra>" + name + "</extra>",
            )
        )
    fig.add_vline(x=current, line={"color": "#888", "width": 1, "dash": "dot"})
    fig.update_xaxes(title="input image side (pixels)", tickvals=list(sides))
    values = [v for _, counts in series for v in counts if v > 0]
    low, high = np.log10(min(values)), np.log10(max(values))
    fig.update_yaxes(
        title="parameters (log scale)",
        type="log",
        exponentformat="power",
        dtick=1,  # every power of ten labelled, the convolutions' line included
        range=[np.floor(low) - 0.2, np.ceil(high) + 0.2],
    )
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": -0.25},
        plot_bgcolor="white",
    )
    return fig


__all__ = ["counts_figure", "hatch", "input_picture", "output_picture"]
