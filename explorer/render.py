"""Arrays → pictures: colour maps, enlargements, montages, figures and HTML, shared by all pages.

Nothing here computes what is shown; it only maps numbers to colours and shapes. Every function
takes plain NumPy arrays (or records) and returns arrays, PNG bytes, Plotly figures, HTML or
Graphviz text, so it is testable without Streamlit.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from explorer.numbers import display_value, with_minus

if TYPE_CHECKING:
    from explorer.architecture import LayerRow

ColourMap = Literal["diverging", "gray", "viridis"]

# Anchor colours of each map, evenly spaced from the low end to the high end. The diverging map
# is ColorBrewer's RdBu reversed (blue = negative, white = zero, red = positive), the colour
# map readers of signed filters and activations expect; viridis is perceptually uniform.
COLOUR_ANCHORS: dict[ColourMap, list[tuple[int, int, int]]] = {
    "diverging": [
        (5, 48, 97),
        (33, 102, 172),
        (67, 147, 195),
        (146, 197, 222),
        (209, 229, 240),
        (247, 247, 247),
        (253, 219, 199),
        (244, 165, 130),
        (214, 96, 77),
        (178, 24, 43),
        (103, 0, 31),
    ],
    "gray": [(0, 0, 0), (255, 255, 255)],
    "viridis": [
        (68, 1, 84),
        (72, 40, 120),
        (62, 74, 137),
        (49, 104, 142),
        (38, 130, 142),
        (31, 158, 137),
        (53, 183, 121),
        (110, 206, 88),
        (181, 222, 43),
        (253, 231, 37),
    ],
}
PLOTLY_SCALES: dict[str, str] = {"diverging": "RdBu_r", "gray": "gray", "viridis": "Viridis"}


def _lut(name: ColourMap, n: int = 256) -> np.ndarray:
    anchors = np.asarray(COLOUR_ANCHORS[name], dtype=np.float64)
    positions = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, n)
    lut = np.stack([np.interp(t, positions, anchors[:, c]) for c in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


_LUTS = {name: _lut(name) for name in COLOUR_ANCHORS}


def value_range(
    values: np.ndarray, cmap: ColourMap, vmin: float | None = None, vmax: float | None = None
) -> tuple[float, float]:
    """The (low, high) the colours span. A diverging map is symmetric about zero so that white
    always means 0; the others span the data. A flat array gets a range of width 1 around it
    so it still draws (as a single colour) instead of dividing by zero."""
    finite = values[np.isfinite(values)] if values.size else values
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 0.0
    if vmin is not None:
        lo = vmin
    if vmax is not None:
        hi = vmax
    if cmap == "diverging" and vmin is None and vmax is None:
        m = max(abs(lo), abs(hi))
        lo, hi = -m, m
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def colourise(
    values: np.ndarray,
    cmap: ColourMap = "diverging",
    vmin: float | None = None,
    vmax: float | None = None,
) -> np.ndarray:
    """H×W numbers → H×W×3 uint8 colours (NaN is drawn mid-grey)."""
    values = np.asarray(values, dtype=np.float64)
    lo, hi = value_range(values, cmap, vmin, vmax)
    t = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    idx = np.nan_to_num(t * 255.0, nan=0.0).round().astype(np.intp)
    rgb = _LUTS[cmap][idx]
    rgb[~np.isfinite(values)] = (128, 128, 128)
    return rgb


def enlarge(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so every pixel stays a crisp square (H·f×W·f[×3])."""
    if factor <= 1:
        return img
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def enlarge_to(img: np.ndarray, min_side: int) -> np.ndarray:
    """Enlarge by the whole factor that makes the shorter side at least ``min_side``."""
    factor = max(1, -(-min_side // max(1, min(img.shape[:2]))))
    return enlarge(img, factor)


def png_bytes(img: np.ndarray) -> bytes:
    """H×W or H×W×3 uint8 → PNG file bytes. zlib level 1: half the encoding time of the default
    for a few percent more bytes (measured on a 526² stage montage: 5.5 vs 11.6 ms, 73 vs
    70 KB) — encoding was a third of a feature-maps rerun under load."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def montage(images: np.ndarray, cols: int, gap: int = 1, fill: int = 255) -> np.ndarray:
    """N×h×w×3 uint8 tiles → one grid image, ``cols`` tiles a row, ``gap`` px of ``fill``
    between them (rows·h + gaps) × (cols·w + gaps) × 3."""
    n, h, w = images.shape[:3]
    rows = -(-n // cols)
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), fill, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[i]
    return out


def heatmap_figure(
    values: np.ndarray,
    cmap: ColourMap = "diverging",
    title: str | None = None,
    colorbar_title: str = "value",
    vmin: float | None = None,
    vmax: float | None = None,
    height: int = 420,
    hover: str = "row %{y}, col %{x}<br>value %{z:.4g}",
) -> go.Figure:
    """An H×W array as a Plotly heatmap with a colour bar, row 0 at the top, square cells and
    the exact value on hover."""
    values = np.asarray(values, dtype=np.float64)
    lo, hi = value_range(values, cmap, vmin, vmax)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            colorscale=PLOTLY_SCALES[cmap],
            zmin=lo,
            zmax=hi,
            hovertemplate=hover + "<extra></extra>",
            colorbar={"title": {"text": colorbar_title}, "thickness": 14},
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showgrid=False)
    fig.update_xaxes(constrain="domain", showgrid=False)
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        plot_bgcolor="white",
    )
    return fig


def channels_picture(result: np.ndarray) -> np.ndarray:
    """A per-channel result (C×H×W numbers) → H×W×3 uint8 picture, values rounded and clipped
    to 0..255; one channel is repeated into gray."""
    picture = np.clip(np.rint(np.moveaxis(result, 0, -1)), 0, 255).astype(np.uint8)
    return picture if picture.shape[2] == 3 else np.repeat(picture[:, :, :1], 3, axis=2)


def result_png(result: np.ndarray) -> bytes:
    """A convolution result as PNG bytes: a colour picture for C×H×W (``channels_picture``),
    the diverging map for H×W."""
    picture = channels_picture(result) if result.ndim == 3 else colourise(result, "diverging")
    return png_bytes(picture)


def colour_bar_png(cmap: ColourMap, width: int = 256, height: int = 14) -> bytes:
    """A legend: ``cmap`` as a horizontal height×width ramp, low end left, as PNG bytes (the
    page prints the numbers the ends stand for beside it)."""
    ramp = np.tile(np.linspace(0.0, 1.0, width), (height, 1))
    return png_bytes(colourise(ramp, cmap, 0.0, 1.0))


def ink(red: int, green: int, blue: int) -> str:
    """The text colour for a cell of this colour: black or white, whichever contrasts more by
    WCAG 2's formula (relative luminance of sRGB), so every cell reaches at least 4.58:1 (a
    fixed threshold with #111 cannot reach 4.5:1 on mid-grey). player.js's textOn agrees."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    y = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return "#000" if (y + 0.05) / 0.05 >= 1.05 / (y + 0.05) else "#fff"


def grid_html(
    values: np.ndarray,
    cmap: ColourMap,
    cell_px: int = 44,
    vmin: float | None = None,
    vmax: float | None = None,
) -> str:
    """A small H×W matrix as an HTML table: each cell coloured by its value (``colourise``,
    over ``vmin``..``vmax`` when given) with the number written in it as the player writes
    numbers (with a true minus, −), dark text on light cells."""
    colours = colourise(values, cmap, vmin, vmax)
    font = max(9, min(15, cell_px // 3))
    texts = [[html.escape(display_value(v)) for v in row] for row in values]
    # Wide numbers (a learned filter's "−0.2385") get wider cells instead of touching the edges.
    longest = max((len(t) for row in texts for t in row), default=1)
    width = max(cell_px, round(longest * font * 0.62) + 10)
    rows = []
    for r in range(values.shape[0]):
        cells = []
        for c in range(values.shape[1]):
            red, green, blue = (int(v) for v in colours[r, c])
            cells.append(
                f'<td style="background:rgb({red},{green},{blue});color:{ink(red, green, blue)};'
                f"width:{width}px;height:{cell_px}px;min-width:{width}px;padding:0;"
                f'text-align:center;font-size:{font}px;border:1px solid #ddd">'
                f"{texts[r][c]}</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table style="border-collapse:collapse;margin:0 0 0.5rem 0;font-variant-numeric:'
        f'tabular-nums">{"".join(rows)}</table>'
    )


def colour_bar_html(values: np.ndarray, width_px: int = 320, cmap: ColourMap = "diverging") -> str:
    """The colour bar for ``values`` as HTML: its low end, a gradient, its high end and what
    the colours mean. Diverging: symmetric about 0, so white is always 0. Gray: the picture's
    own 0 (black) to 255 (white), values beyond them clipped."""
    if cmap == "gray":
        lo, hi, meaning = 0.0, 255.0, "black = 0 or less · white = 255 or more"
    else:
        lo, hi = value_range(values, "diverging")
        meaning = "blue = negative · white = 0 · red = positive"
    stops = ", ".join(f"rgb({r},{g},{b})" for r, g, b in COLOUR_ANCHORS[cmap])
    label = 'style="font-variant-numeric:tabular-nums;font-size:0.85rem"'
    return (
        '<div style="display:flex;align-items:center;gap:0.5rem;margin:0.25rem 0 0.5rem 0">'
        f"<span {label}>{html.escape(display_value(lo))}</span>"
        f'<span style="display:inline-block;width:{width_px}px;height:14px;border:1px solid #ccc;'
        f'background:linear-gradient(to right, {stops})"></span>'
        f"<span {label}>{html.escape(display_value(hi))}</span>"
        f'<span style="font-size:0.85rem;color:#555">{meaning}</span></div>'
    )


_LAYER_FILL = {"conv": "#fde0c5", "relu": "#dbe9f6", "pool": "#d5efd5", "fc": "#eedcf5"}


def layer_chain_dot(rows: Sequence[LayerRow]) -> str:
    """Graphviz DOT of the data flow, top to bottom: one box per layer
    (``architecture.layer_table`` rows, so it follows the model) with its output shape less
    the batch dimension, coloured by kind (conv, relu, pool, fc)."""
    nodes, names = [], []
    for r in rows:
        shape = " × ".join(str(d) for d in r.output_shape[1:])
        colour = next((c for p, c in _LAYER_FILL.items() if r.name.startswith(p)), "#eeeeee")
        nodes.append(f'{r.name} [label="{r.name}   {shape}", fillcolor="{colour}"]')
        names.append(r.name)
    return (
        "digraph G { rankdir=TB; nodesep=0.2; ranksep=0.12; "
        'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=12, '
        'width=2.2, height=0.3, margin="0.08,0.03"]; edge [arrowsize=0.5]; '
        + "; ".join(nodes)
        + "; "
        + " -> ".join(names)
        + "; }"
    )


def bars_html(values: Sequence[tuple[str, float]], highlight: str, fmt: str) -> str:
    """One row per (name, value), first item on top: the name, a bar as long as the value
    (relative to the largest |value|; negative values grow leftwards from a middle line) and
    the value written with ``fmt`` (``".1%"``, ``".3g"``). ``highlight``'s row is in the
    accent colour. Plain HTML: light to send, and the numbers are text a screen reader reads."""
    top = max((abs(v) for _, v in values), default=0.0) or 1.0
    signed = any(v < 0 for _, v in values)
    rows = []
    for name, value in values:
        colour = "#c0392b" if name == highlight else "#8894a0"
        share = 100 * abs(value) / top / (2 if signed else 1)
        left = (50 - share if value < 0 else 50) if signed else 0
        weight = "font-weight:600;" if name == highlight else ""
        written = html.escape(with_minus(format(value, fmt)))  # a true minus, as in sentences
        rows.append(
            f'<tr><td style="padding:1px 8px 1px 0;white-space:nowrap;{weight}">'
            f"{html.escape(name)}</td>"
            '<td style="width:100%;padding:1px 0"><div style="position:relative;height:16px;'
            'background:#f3f4f6">'
            f'<div style="position:absolute;left:{left:.2f}%;width:{share:.2f}%;top:0;'
            f'bottom:0;background:{colour}"></div></div></td>'
            f'<td style="padding:1px 0 1px 8px;text-align:right;white-space:nowrap;{weight}'
            f'font-variant-numeric:tabular-nums">{written}</td></tr>'
        )
    return f'<table style="width:100%;border-collapse:collapse">{"".join(rows)}</table>'
