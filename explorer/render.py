"""Arrays → pictures: colour maps, enlargements, montages and heatmap figures, shared by all pages.

Nothing here computes what is shown; it only maps numbers to colours. Every function takes
plain NumPy arrays and returns arrays, PNG bytes or Plotly figures, so it is testable without
Streamlit.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from PIL import Image

ColourMap = Literal["diverging", "gray", "viridis"]

# Anchor colours of each map, evenly spaced from the low end to the high end. The diverging map
# is ColorBrewer's RdBu reversed (blue = negative, white = zero, red = positive), the colour
# map readers of signed filters and activations expect; viridis is perceptually uniform.
_ANCHORS: dict[str, list[tuple[int, int, int]]] = {
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
    anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
    positions = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, n)
    lut = np.stack([np.interp(t, positions, anchors[:, c]) for c in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


_LUTS = {name: _lut(name) for name in _ANCHORS}


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
    """H×W or H×W×3 uint8 → PNG file bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", optimize=False)
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
